/**
 * The built server (`node dist/src/server.js`, what `npm start` runs) in its own process on
 * 127.0.0.1, for tests whose client must not share the server's event loop.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the server with `env` on top of the defaults; stopped when `t` ends. Resolves once it is live. */
export async function serverProcess(
  t: Test,
  env: Record<string, string> = {},
): Promise<{ url: string; log: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DELAY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
    const live = await fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) return { url, log: () => output };
    if (Date.now() > deadline) throw new Error(`the server did not come up within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
