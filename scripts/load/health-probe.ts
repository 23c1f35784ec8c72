/**
 * The health prober, in a process of its own as a kubelet is: a prober sharing the load generator's
 * event loop would time that loop's delays, not the server's. Probes /health/live and /health/ready
 * every `everyMs` on a new connection each (as kubelet does) until its parent sends 'stop', then
 * sends back the latencies in ms. Started by healthProbe() in common.ts.
 */
import http from 'node:http';
import { request } from './common.js';

const [base, every] = process.argv.slice(2);
const everyMs = Number(every);
const agent = new http.Agent({ keepAlive: false });
const live: number[] = [];
const ready: number[] = [];
let running = true;
process.on('message', (msg) => {
  if (msg === 'stop') running = false;
});
while (running) {
  const [l, r] = await Promise.all([
    request(agent, `${base}/health/live`),
    request(agent, `${base}/health/ready`),
  ]);
  live.push(l.ms);
  ready.push(r.ms);
  await new Promise((res) => setTimeout(res, everyMs));
}
process.send?.({ live, ready }, () => process.disconnect());
