// The page's plumbing, without a browser: `/` serves index.html and `/ui/` its assets, both open
// when API keys are on, with a Content Security Policy that only allows this origin; nothing in
// public/ points anywhere else.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const PUBLIC = fileURLToPath(new URL('../../public/', import.meta.url));

const app = await buildApp(testConfig({ apiKeys: ['secret-key'] }));
t.teardown(() => app.close());

t.test('/ is the page, open without a key, with a same-origin CSP', async (t) => {
  const res = await app.inject('/');
  t.equal(res.statusCode, 200, 'no API key needed');
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.body, /<script type="module" src="\/ui\/app\.js"><\/script>/);
  const csp = String(res.headers['content-security-policy']);
  for (const directive of [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
  ]) {
    t.ok(csp.includes(directive), `CSP has ${directive}`);
  }
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'nosniff');
});

t.test('/ui/ serves the assets with their types; nothing outside public/', async (t) => {
  const js = await app.inject('/ui/app.js');
  t.equal(js.statusCode, 200, 'no API key needed');
  t.match(js.headers['content-type'], /javascript/, 'ES modules need a JavaScript type');
  t.match((await app.inject('/ui/styles.css')).headers['content-type'], /text\/css/, 'stylesheet');
  t.equal((await app.inject('/ui/js/report.js')).statusCode, 200, 'modules under public/js/');
  t.equal((await app.inject('/ui/nope.js')).statusCode, 404, 'a missing asset is a 404');
  for (const url of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json']) {
    const res = await app.inject(url);
    t.ok(
      res.statusCode >= 400 && !res.body.includes('"devDependencies"'),
      `${url}: ${res.statusCode}, no file outside public/`,
    );
  }
});

t.test('the API stays behind the key while the page is open', async (t) => {
  t.equal((await app.inject('/architectures')).statusCode, 401, 'no key, no API');
  t.equal(
    (await app.inject({ url: '/architectures', headers: { 'x-api-key': 'secret-key' } })).statusCode,
    200,
    'with the key',
  );
  t.equal(
    (await app.inject('/architectures')).headers['content-security-policy'],
    undefined,
    'the page headers stay on the page',
  );
});

t.test('public/ refers to nothing outside this origin', async (t) => {
  const files = (function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  })(PUBLIC).filter((f) => /\.(html|js|css)$/.test(f));
  t.ok(files.length >= 5, `${files.length} files checked`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    // The SVG namespace is an identifier, never fetched.
    const urls = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)]
      .map((m) => m[0])
      .filter((u) => !u.endsWith('www.w3.org/2000/svg'));
    t.same(urls, [], `${path.relative(PUBLIC, file)} has no external URL`);
    if (file.endsWith('.js'))
      t.notMatch(
        text,
        /\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write/,
        `${path.relative(PUBLIC, file)} builds DOM from text, never from HTML strings`,
      );
  }
});
