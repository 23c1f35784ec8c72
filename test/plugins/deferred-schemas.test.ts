// Route schemas compile on first use (src/plugins/deferred-schemas.ts): a request still gets
// Fastify's validation and serialization, and compilePendingSchemas() compiles every schema no
// request needed, so a schema that does not compile fails here rather than at a first request.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { deferredCompilers } from '../../src/plugins/deferred-schemas.js';

t.test('every route schema compiles, once', async (t) => {
  const app = await buildApp(testConfig({ serveModels: false }));
  t.teardown(() => app.close());
  await app.ready();
  const bad = await app.inject({ method: 'POST', url: '/analyze', payload: { model: 7 } });
  t.equal(bad.statusCode, 400, 'a validator compiled on its first request rejects a wrong type');
  t.match(bad.json(), { statusCode: 400 });
  const compiled = app.compilePendingSchemas();
  t.ok(compiled > 10, `compiled the ${compiled} schemas no request had needed`);
  t.equal(app.compilePendingSchemas(), 0, 'nothing is compiled twice');
  const ok = await app.inject({ method: 'POST', url: '/analyze', payload: { model: 'seed_5x5' } });
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().totals.macs, 120_422_400, 'the response serializer keeps the report');
});

t.test('a deferred validator reports its errors where Fastify reads them', async (t) => {
  const { compilersFactory, compilePending } = deferredCompilers();
  const compile = compilersFactory.buildValidator({}, { customOptions: {} } as never);
  const validate = compile({
    schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
    method: 'POST',
    url: '/x',
    httpPart: 'body',
  }) as ((data: unknown) => boolean) & { errors?: { instancePath: string }[] | null };
  t.equal(validate({ n: 1 }), true);
  t.equal(validate({ n: 'one' }), false);
  t.equal(validate.errors?.[0]?.instancePath, '/n');
  t.equal(validate({ n: 2 }), true);
  t.notOk(validate.errors, 'a later success clears them');
  t.equal(compilePending(), 0, 'compiled by its first call');
  const broken = compile({ schema: { type: 'nonsense' }, method: 'GET', url: '/y', httpPart: 'querystring' });
  t.throws(() => compilePending(), 'a schema that does not compile throws when compiled');
  t.ok(broken);
});
