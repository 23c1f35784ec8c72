/** What every load-test phase shares: the server process, its readiness, its metrics, a checklist. */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { readFileSync } from 'node:fs';

export const fixture = (path: string) =>
  readFileSync(new URL(`../../test/fixtures/${path}`, import.meta.url));

export class Checklist {
  failures = 0;
  check(ok: boolean, what: string): void {
    console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
    if (!ok) this.failures++;
  }
}

export function startServer(port: number, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['dist/src/server.js'], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export async function waitReady(base: string, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const status = await fetch(`${base}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become ready');
}

export async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

/** Resident memory of a process, in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

export interface Answer {
  status: number;
  ms: number;
  retryAfter?: string;
  error?: string;
}

/** One request on a pooled keep-alive connection, timed from send to the last byte. */
export function request(
  agent: http.Agent,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request(url, { agent, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ms: performance.now() - t0,
          retryAfter: res.headers['retry-after'] as string | undefined,
        }),
      );
      res.resume();
    });
    req.on('error', (err) => resolve({ status: 0, ms: performance.now() - t0, error: err.message }));
    req.end(init.body);
  });
}

/** Probes /health/live and /health/ready every `everyMs` from its own process until stopped; latencies in ms. */
export function healthProbe(
  base: string,
  everyMs = 50,
): { stop: () => Promise<{ live: number[]; ready: number[] }> } {
  // fork() passes this process's loader flags on, so the prober runs from its .ts source under tsx.
  const child = fork(fileURLToPath(new URL('./health-probe.ts', import.meta.url)), [base, String(everyMs)]);
  const result = new Promise<{ live: number[]; ready: number[] }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { live: number[]; ready: number[] }));
    child.once('exit', (code) =>
      reject(new Error(`the health prober exited with code ${code} before reporting`)),
    );
  });
  return {
    stop: () => {
      child.send('stop');
      return result;
    },
  };
}

/** Samples a process's resident memory every `everyMs`; the peak and the samples in MB. */
export function rssSampler(pid: number, everyMs = 100): { stop: () => { peak: number; samples: number[] } } {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rssMb(pid)), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { peak: Math.max(...samples), samples };
    },
  };
}
