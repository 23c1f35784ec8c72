// SIGTERM and SIGINT sent to the process the README's start command creates (`npm start`) drain
// the server and end every process, whoever the signalled process's parent is: npm passes the
// signal to node (the start script execs node, so no shell sits in between and keeps it alive).
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} to \`npm start\` drains and ends npm and node, exit code 0`, async (t) => {
    const port = await freePort();
    const npm = spawn('npm', ['start'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        SHUTDOWN_DELAY_MS: '0',
        MODELS: 'fashion-resnet',
        WORKERS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    npm.stdout.on('data', (d) => (log += d));
    npm.stderr.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    const ready = await waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (r) => r.ok,
          () => false,
        ),
      60_000,
    );
    t.ok(ready, 'the server became ready');
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(npm.pid)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    t.equal(children.length, 1, 'npm runs one child');
    npm.kill(signal);
    t.equal(await exited, 0, 'npm exits 0 (node drained and exited 0)');
    t.ok(await waitFor(() => !children.some(alive), 10_000), 'no node process is left');
    const refused = await fetch(`http://127.0.0.1:${port}/health/live`).then(
      () => false,
      () => true,
    );
    t.ok(refused, 'the port is closed');
    t.match(log, /drain/i, 'the drain was logged');
  });
}
