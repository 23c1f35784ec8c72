/**
 * The peer in the benchmark: bench/peer/torch_service.py, the FastAPI + PyTorch service a user might
 * write instead, run with Debian's own python3 (the first python3 on PATH may lack Debian's torch).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const APP_DIR = fileURLToPath(new URL('../peer/', import.meta.url));
const NEEDS = 'python3-torch, python3-torchvision, python3-fastapi and python3-uvicorn';

/** Whether the peer can run here; if not, why (said in the bench's output, never silently). */
export function peerAvailability(): { ok: true } | { ok: false; reason: string } {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision, fastapi, uvicorn'], {
    encoding: 'utf8',
  });
  if (probe.error) return { ok: false, reason: `${PYTHON} not found (${probe.error.message})` };
  if (probe.status !== 0) {
    const missing = probe.stderr.trim().split('\n').pop();
    return { ok: false, reason: `${missing}; it needs Debian's ${NEEDS}` };
  }
  return { ok: true };
}

export function startPeer(port: number): ChildProcess {
  return spawn(
    PYTHON,
    [
      '-m',
      'uvicorn',
      'torch_service:app',
      '--app-dir',
      APP_DIR,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
  );
}

/**
 * Waits for the peer's /health, then sends it a few images (its first inferences are slow, as
 * convnet-serve's are before its own warm-up); returns what /health says (torch version, threads).
 */
export async function peerReady(
  port: number,
  image: Buffer,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const health = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => (r.ok ? (r.json() as Promise<Record<string, unknown>>) : undefined),
      () => undefined,
    );
    if (health) {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/classify`, {
          method: 'POST',
          body: new Uint8Array(image),
        });
        if (!res.ok) throw new Error(`the peer answered ${res.status}: ${await res.text()}`);
      }
      return health;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the peer on ${port} did not start`);
}
