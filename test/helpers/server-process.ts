/**
 * The built server (`node dist/src/server.js`, what `npm start` runs) in its own process on
 * 127.0.0.1, for tests whose client must not share the server's event loop, or that read what the
 * process writes.
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

export interface ServerProcess {
  url: string;
  /** stdout and stderr so far, interleaved. */
  log: () => string;
  /** SIGTERM, then the exit code and each stream read to its end. */
  stop: () => Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Starts the server with `env` on top of the defaults (an `undefined` value removes an inherited
 * variable); stopped when `t` ends if not before. Resolves once it is live.
 */
export async function serverProcess(
  t: Test,
  env: Record<string, string | undefined> = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const merged: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SHUTDOWN_DELAY_MS: '0',
    ...env,
  };
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: root,
    env: Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    output += d;
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
    stderr += d;
  });
  // 'close', not 'exit': both streams are read to their end.
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return { code: await closed, stdout, stderr };
  };
  t.teardown(stop);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${output}`);
    const live = await fetch(`${url}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) return { url, log: () => output, stop };
    if (Date.now() > deadline) throw new Error(`the server did not come up within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
