// Over-limit bodies, as real clients send them over a real socket on 127.0.0.1: Node's http (a
// declared length, chunked, and Expect: 100-continue), Python's http.client and urllib, and curl
// (which asks for 100-continue on large bodies, and also without it). Every one must read the
// 413 JSON, on /classify (raw and multipart), /analyze (JSON and a model file) and /v2 infer; and
// the server keeps serving.
import t, { type Test as Tap } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { servingApp } from '../helpers/app.js';

const run = promisify(execFile);
const LIMIT = 1024 * 1024; // BODY_LIMIT, MODEL_UPLOAD_LIMIT
const JSON_LIMIT = 64 * 1024; // ANALYZE_BODY_LIMIT
const app = await servingApp({
  bodyLimit: LIMIT,
  analyzeBodyLimit: JSON_LIMIT,
  modelUploadLimit: LIMIT,
  onlyModels: ['fashion-resnet'],
  modelsDir: new URL('../../models/', import.meta.url).pathname,
});
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as { port: number };
const base = `http://127.0.0.1:${port}`;
t.teardown(() => app.close());

const dir = mkdtempSync(path.join(tmpdir(), 'limits-'));
const big = Buffer.alloc(3 * LIMIT, 7);
const bigFile = path.join(dir, 'big.bin');
writeFileSync(bigFile, big);
const bigJson = Buffer.from(JSON.stringify({ model: 'resnet18', pad: 'x'.repeat(3 * JSON_LIMIT) }));
const bigJsonFile = path.join(dir, 'big.json');
writeFileSync(bigJsonFile, bigJson);

interface Answer {
  status: number;
  body: string;
  continued?: boolean;
}

/** Node's http client: writes the whole body (declared length or chunked), then reads the answer. */
function nodePost(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  opts: { chunked?: boolean; expect?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${url}`, {
      method: 'POST',
      headers: {
        ...headers,
        ...(opts.chunked ? {} : { 'content-length': String(body.length) }),
        ...(opts.expect ? { expect: '100-continue' } : {}),
      },
    });
    let continued = false;
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), continued }),
      );
    });
    req.on('error', reject);
    if (opts.expect) return;
    if (opts.chunked) {
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

const multipart = (field: string, file: Buffer) => {
  const boundary = 'limitsBOUNDARY';
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
};

const CASES: { name: string; url: string; headers: Record<string, string>; body: Buffer; limit: number }[] = [
  {
    name: '/classify raw image',
    url: '/classify',
    headers: { 'content-type': 'image/png' },
    body: big,
    limit: LIMIT,
  },
  { name: '/classify multipart', url: '/classify', ...multipart('image', big), limit: LIMIT },
  {
    name: '/analyze JSON',
    url: '/analyze',
    headers: { 'content-type': 'application/json' },
    body: bigJson,
    limit: JSON_LIMIT,
  },
  {
    name: '/analyze model file',
    url: '/analyze',
    headers: { 'content-type': 'application/octet-stream' },
    body: big,
    limit: LIMIT,
  },
  {
    name: '/v2 infer',
    url: '/v2/models/fashion-resnet/infer',
    headers: { 'content-type': 'application/json' },
    body: Buffer.concat([Buffer.from('{"inputs": ['), big, Buffer.from(']}')]),
    limit: LIMIT,
  },
];

function is413(t: Tap, a: Answer, label: string) {
  t.equal(a.status, 413, `${label}: 413 (${a.body.slice(0, 100)})`);
  const body = (() => {
    try {
      return JSON.parse(a.body);
    } catch {
      return {};
    }
  })();
  // /v2 answers in the protocol's {"error"} shape; every other route in ours.
  t.match(body.code ?? body.error, /BODY_TOO_LARGE|FILE_TOO_LARGE|at most/, `${label}: the JSON says why`);
}

for (const c of CASES) {
  t.test(`${c.name}: Node's http client reads the 413`, async (t) => {
    is413(t, await nodePost(c.url, c.body, c.headers), 'declared length');
    if (!c.headers['content-type'].startsWith('multipart'))
      is413(t, await nodePost(c.url, c.body, c.headers, { chunked: true }), 'chunked');
    const expect = await nodePost(c.url, c.body, c.headers, { expect: true });
    is413(t, expect, 'Expect: 100-continue');
    t.notOk(expect.continued, 'answered before the body was sent: no 100 Continue');
  });
}

const PYTHON = '/usr/bin/python3';
t.test(
  "Python's http.client and urllib read the 413",
  { skip: existsSync(PYTHON) ? false : 'no /usr/bin/python3 here' },
  async (t) => {
    const script = `
import http.client, json, sys, urllib.request, urllib.error
url, path, ctype = sys.argv[1], sys.argv[2], sys.argv[3]
body = open(path, 'rb').read()
conn = http.client.HTTPConnection('127.0.0.1', int(sys.argv[4]), timeout=30)
conn.request('POST', url, body=body, headers={'content-type': ctype})
r = conn.getresponse()
out = {'client': [r.status, r.read().decode()]}
try:
    urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:' + sys.argv[4] + url, data=body, headers={'content-type': ctype}), timeout=30)
except urllib.error.HTTPError as e:
    out['urllib'] = [e.code, e.read().decode()]
print(json.dumps(out))
`;
    for (const c of CASES.filter((x) => !x.headers['content-type'].startsWith('multipart'))) {
      const file = c.body === bigJson ? bigJsonFile : path.join(dir, `${c.name.replace(/\W+/g, '_')}.bin`);
      if (c.body !== bigJson) writeFileSync(file, c.body);
      const { stdout } = await run(PYTHON, [
        '-c',
        script,
        c.url,
        file,
        c.headers['content-type'],
        String(port),
      ]);
      const out = JSON.parse(stdout) as Record<string, [number, string]>;
      is413(t, { status: out.client[0], body: out.client[1] }, `${c.name}, http.client`);
      is413(t, { status: out.urllib?.[0] ?? 0, body: out.urllib?.[1] ?? '' }, `${c.name}, urllib`);
    }
  },
);

t.test(
  'curl reads the 413, with and without Expect: 100-continue',
  { skip: existsSync('/usr/bin/curl') ? false : 'no curl here' },
  async (t) => {
    for (const expect of [[], ['-H', 'Expect:']]) {
      const label = expect.length ? 'no Expect' : "Expect: 100-continue (curl's default for large bodies)";
      const raw = await run('/usr/bin/curl', [
        '-s',
        '-o',
        '-',
        '-w',
        '\\n%{http_code}',
        ...expect,
        '-H',
        'content-type: image/png',
        '--data-binary',
        `@${bigFile}`,
        `${base}/classify`,
      ]);
      const [body, status] = raw.stdout.split('\n');
      is413(t, { status: Number(status), body }, `raw, ${label}`);
      const form = await run('/usr/bin/curl', [
        '-s',
        '-o',
        '-',
        '-w',
        '\\n%{http_code}',
        ...expect,
        '-F',
        `image=@${bigFile};type=image/png`,
        `${base}/classify`,
      ]);
      const [fbody, fstatus] = form.stdout.split('\n');
      is413(t, { status: Number(fstatus), body: fbody }, `multipart, ${label}`);
      const json = await run('/usr/bin/curl', [
        '-s',
        '-o',
        '-',
        '-w',
        '\\n%{http_code}',
        ...expect,
        '-H',
        'content-type: application/json',
        '--data-binary',
        `@${bigJsonFile}`,
        `${base}/analyze`,
      ]);
      const [jbody, jstatus] = json.stdout.split('\n');
      is413(t, { status: Number(jstatus), body: jbody }, `/analyze JSON, ${label}`);
    }
  },
);

t.test('the server keeps serving, and a body far past the bound is cut off', async (t) => {
  const health = await fetch(`${base}/health/live`);
  t.equal(health.status, 200);
  // 4× the limit is read and thrown away at most; a client that sends far more is disconnected.
  const huge = Buffer.alloc(12 * LIMIT, 1);
  const outcome = await nodePost('/classify', huge, { 'content-type': 'image/png' }).then(
    (a) => `answered ${a.status}`,
    (err: Error) => `disconnected (${err.message})`,
  );
  t.match(outcome, /answered 413|disconnected/, outcome);
  t.equal((await fetch(`${base}/health/live`)).status, 200, 'and still serves');
});
