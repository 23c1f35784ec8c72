// Self-description: /openapi.json is a valid OpenAPI 3.1 document generated from the route schemas.
// It describes every route with its request and response schemas, under one of six tags, with a
// summary, a description and examples. Every example validates against the schema beside it, and
// the examples are what the service answers (asked again here). /docs serves the UI under the
// project's name, version and logo.
import t from 'tap';
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { servingApp } from '../helpers/app.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const TAG_NAMES = ['classify', 'analyze', 'models', 'kserve-v2', 'health', 'ops'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const app = await servingApp();
t.teardown(() => app.close());
const doc = (await app.inject('/openapi.json')).json();

interface Media {
  schema?: object;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  parameters?: { name: string; schema?: object; example?: unknown }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}

/** A key as one step of a JSON pointer (RFC 6901). */
const pointerPart = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

const operations: { id: string; pointer: string; op: Operation }[] = Object.entries(
  doc.paths as Record<string, Record<string, Operation>>,
).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({
      id: `${method.toUpperCase()} ${path}`,
      pointer: `#/paths/${pointerPart(path)}/${method}`,
      op,
    })),
);

/** The example values of a media type: OpenAPI's `example`, or each of `examples`. */
function examplesOf(media: Media): [string, unknown][] {
  return [
    ...(media.example !== undefined ? [['example', media.example] as [string, unknown]] : []),
    ...Object.entries(media.examples ?? {}).map(([name, e]): [string, unknown] => [name, e.value]),
  ];
}

const isBinary = (media: Media) => (media.schema as { format?: string } | undefined)?.format === 'binary';

t.test('/openapi.json validates as OpenAPI 3.1 and covers every route', async (t) => {
  t.equal(doc.openapi, '3.1.0');
  await t.resolves(SwaggerParser.validate(structuredClone(doc)), 'the document is valid');
  const expected: [string, string][] = [
    ['post', '/classify'],
    ['post', '/analyze'],
    ['get', '/architectures'],
    ['get', '/architectures/{name}/model.json'],
    ['get', '/models'],
    ['get', '/models/{name}'],
    ['get', '/models/{name}/model.onnx'],
    ['get', '/health/live'],
    ['get', '/health/ready'],
    ['get', '/v2/'],
    ['get', '/v2/health/live'],
    ['get', '/v2/health/ready'],
    ['get', '/v2/models/{name}'],
    ['get', '/v2/models/{name}/versions/{version}'],
    ['get', '/v2/models/{name}/ready'],
    ['get', '/v2/models/{name}/versions/{version}/ready'],
    ['post', '/v2/repository/index'],
    ['post', '/v2/repository/models/{name}/load'],
    ['post', '/v2/repository/models/{name}/unload'],
    ['post', '/v2/models/{name}/infer'],
    ['post', '/v2/models/{name}/versions/{version}/infer'],
    ['get', '/metrics'],
    ['get', '/openapi.json'],
  ];
  t.same(operations.map((o) => o.id).sort(), expected.map(([m, p]) => `${m.toUpperCase()} ${p}`).sort());
  for (const [method, path] of expected) {
    const op = doc.paths[path]?.[method];
    t.ok(op.responses?.['200'], `${method.toUpperCase()} ${path} documents its 200 response`);
    if (method === 'post') t.ok(op.requestBody, `${method.toUpperCase()} ${path} documents its request body`);
  }
  t.ok(doc.paths['/analyze'].post.responses['400'], '/analyze documents its errors');
  t.same(
    Object.keys(doc.paths['/classify'].post.requestBody.content).sort(),
    [
      'application/json',
      'application/octet-stream',
      'image/avif',
      'image/gif',
      'image/jpeg',
      'image/png',
      'image/tiff',
      'image/webp',
      'multipart/form-data',
    ],
    '/classify: JSON, multipart and raw image bodies',
  );
  t.ok(
    doc.paths['/models/{name}/model.onnx'].get.responses['200'].content['application/octet-stream'],
    'the ONNX export is application/octet-stream',
  );
});

t.test(
  "the title and version are package.json's, in the document, the UI and KServe's metadata",
  async (t) => {
    t.equal(doc.info.title, 'convnet-serve');
    t.equal(doc.info.title, pkg.name);
    t.equal(doc.info.version, pkg.version);
    t.equal(doc.info.license?.name, pkg.license);
    t.same((await app.inject('/v2')).json(), {
      name: pkg.name,
      version: pkg.version,
      extensions: ['model_repository'],
    });
    const page = await app.inject('/docs/');
    t.equal(page.statusCode, 200);
    t.match(page.headers['content-type'], /html/);
    t.match(page.body, `<title>${pkg.name} ${pkg.version} API</title>`, "the page's title");
    const initializer = (await app.inject('/docs/static/swagger-initializer.js')).body;
    const logo = readFileSync(new URL('../../public/logo.svg', import.meta.url));
    const fastifyLogo = readFileSync(
      new URL('../../node_modules/@fastify/swagger-ui/static/logo.svg', import.meta.url),
    );
    t.ok(initializer.includes(logo.toString('base64')), "the top bar shows the project's logo");
    t.notOk(initializer.includes(fastifyLogo.toString('base64')), "and not Fastify's");
  },
);

t.test('/docs loads only from the service itself', async (t) => {
  for (const url of ['/docs/', '/docs/static/swagger-initializer.js', '/docs/json']) {
    const csp = String((await app.inject(url)).headers['content-security-policy']);
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ])
      t.ok(csp.includes(directive), `${url}: CSP has ${directive}`);
  }
});

t.test(
  'tags: the six, described, and every operation has exactly one, a summary and a description',
  async (t) => {
    t.same(
      doc.tags.map((tag: { name: string }) => tag.name),
      TAG_NAMES,
    );
    for (const tag of doc.tags) t.ok(tag.description, `${tag.name} is described`);
    for (const { id, op } of operations) {
      t.equal(op.tags?.length, 1, `${id}: one tag`);
      t.ok(TAG_NAMES.includes(op.tags?.[0] ?? ''), `${id}: tagged ${op.tags?.[0]}`);
      t.ok(op.summary, `${id}: a summary`);
      t.ok(op.description || op.summary, `${id}: described`);
    }
    for (const tag of TAG_NAMES)
      t.ok(
        operations.some(({ op }) => op.tags?.[0] === tag),
        `${tag} has operations`,
      );
  },
);

t.test('every operation has a request example (if it has a body) and a 2xx response example', async (t) => {
  for (const { id, op } of operations) {
    if (op.requestBody) {
      const count = Object.values(op.requestBody.content).flatMap(examplesOf).length;
      t.ok(count > 0, `${id}: ${count} request examples`);
    }
    const success = Object.entries(op.responses).filter(([status]) => /^2/.test(status));
    t.ok(success.length > 0, `${id}: a 2xx response`);
    for (const [status, response] of success) {
      const media = Object.values(response.content ?? {});
      // A binary answer (the ONNX export) has no example a JSON document could hold.
      if (media.every(isBinary)) continue;
      const count = media.flatMap(examplesOf).length;
      t.ok(count > 0, `${id}: ${count} examples of its ${status}`);
    }
  }
});

t.test('every example validates against the schema beside it', async (t) => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(structuredClone(doc), 'doc');
  const check = (pointer: string, examples: [string, unknown][], where: string) => {
    if (examples.length === 0) return 0;
    const validate = ajv.getSchema(`doc${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    for (const [name, value] of examples)
      t.ok(validate(value), `${where} ${name}`, { errors: validate.errors?.slice(0, 3) });
    return examples.length;
  };
  let checked = 0;
  for (const { id, op, pointer } of operations) {
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {}))
      checked += check(
        `${pointer}/requestBody/content/${pointerPart(type)}/schema`,
        examplesOf(media),
        `${id} request`,
      );
    for (const [status, response] of Object.entries(op.responses))
      for (const [type, media] of Object.entries(response.content ?? {}))
        checked += check(
          `${pointer}/responses/${status}/content/${pointerPart(type)}/schema`,
          examplesOf(media),
          `${id} ${status}`,
        );
    for (const [i, p] of (op.parameters ?? []).entries())
      if (p.example !== undefined)
        checked += check(
          `${pointer}/parameters/${i}/schema`,
          [['example', p.example]],
          `${id} parameter ${p.name}`,
        );
  }
  t.ok(checked >= 30, `${checked} examples checked`);

  // The check can fail: examples that drift from their schemas are refused.
  const schemaAt = (pointer: string) => {
    const validate = ajv.getSchema(`doc${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    return validate;
  };
  const json = pointerPart('application/json');
  t.notOk(
    schemaAt(`#/paths/${pointerPart('/health/live')}/get/responses/200/content/${json}/schema`)({
      status: 1,
    }),
    'a /health/live answer whose status is a number is refused',
  );
  const inferRequest = example('/v2/models/{name}/infer', 'post', 'request', 'uniform') as object;
  t.notOk(
    schemaAt(`#/paths/${pointerPart('/v2/models/{name}/infer')}/post/requestBody/content/${json}/schema`)({
      ...inferRequest,
      inputs: [],
    }),
    'an infer request without an input is refused',
  );
});

/** The example named `name` of an operation's request body or response, as the document has it. */
function example(path: string, method: string, where: 'request' | string, name: string): unknown {
  const op = doc.paths[path][method] as Operation;
  const content = where === 'request' ? op.requestBody?.content : op.responses[where]?.content;
  const found = Object.values(content ?? {})
    .flatMap(examplesOf)
    .find(([n]) => n === name);
  if (!found) throw new Error(`${method} ${path}: no example ${name} for ${where}`);
  return found[1];
}

t.test('the analyze examples are what the service answers', async (t) => {
  const ask = (body: unknown) => app.inject({ method: 'POST', url: '/analyze', payload: body as object });
  const seed = await ask(example('/analyze', 'post', 'request', 'seed5x5'));
  t.equal(seed.statusCode, 200);
  t.strictSame(seed.json(), example('/analyze', 'post', '200', 'seed5x5'), 'the seed_5x5 report');
  t.equal(seed.json().totals.macs, 28 * 28 * 32 * 5 * 5 * 192, '120,422,400 MACs');
  for (const name of ['resized', 'spec', 'compare'])
    t.equal((await ask(example('/analyze', 'post', 'request', name))).statusCode, 200, `${name} is accepted`);
  const spec = (await ask(example('/analyze', 'post', 'request', 'spec'))).json();
  t.equal(spec.totals.macs, 28 * 28 * 32 * 5 * 5 * 192, 'the spec example costs the same');
  const short = await ask({ model: 'resnet50', input: [224, 224] });
  t.strictSame(short.json(), example('/analyze', 'post', '400', 'shortInput'), 'the 400');

  const listed = (await app.inject('/architectures')).json().architectures as { name: string }[];
  const abridged = example('/architectures', 'get', '200', 'abridged') as {
    architectures: { name: string }[];
  };
  for (const entry of abridged.architectures)
    t.strictSame(
      listed.find((a) => a.name === entry.name),
      entry,
      `/architectures lists ${entry.name} as the example does`,
    );
  t.strictSame(
    (await app.inject('/architectures/seed_5x5/model.json')).json(),
    example('/architectures/{name}/model.json', 'get', '200', 'seed5x5'),
    'seed_5x5 as model.json',
  );
  t.strictSame((await app.inject('/health/live')).json(), example('/health/live', 'get', '200', 'live'));
  t.strictSame((await app.inject('/v2')).json(), example('/v2/', 'get', '200', 'server'));
  const start = example('/openapi.json', 'get', '200', 'abridged') as Record<string, unknown>;
  for (const key of Object.keys(start))
    t.strictSame(doc[key], start[key], `/openapi.json begins as its example: ${key}`);
});

t.test('the serving examples are what the models of models/ answer', async (t) => {
  const served: FastifyInstance = await buildApp(
    testConfig({ serveModels: true, workers: 1, onlyModels: ['fashion-resnet'] }),
  );
  t.teardown(() => served.close());
  await served.models.loadAll();
  const near = (a: number[], b: number[]) =>
    a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-4);

  type Classified = {
    model: string;
    results: { file: string; predictions: { label: string; index: number; probability: number }[] }[];
  };
  const request = example('/classify', 'post', 'request', 'ankleBoot');
  const answer = (
    await served.inject({ method: 'POST', url: '/classify', payload: request as object })
  ).json();
  const expected = example('/classify', 'post', '200', 'ankleBoot') as Classified;
  const got = answer as Classified;
  t.equal(got.model, expected.model);
  t.same(
    got.results[0].predictions.map((p) => [p.label, p.index]),
    expected.results[0].predictions.map((p) => [p.label, p.index]),
    'the same labels',
  );
  t.ok(
    near(
      got.results[0].predictions.map((p) => p.probability),
      expected.results[0].predictions.map((p) => p.probability),
    ),
    'the same probabilities (within 1e-4: the engine may differ)',
  );

  type Inferred = { outputs: { name: string; shape: number[]; data: number[] }[] };
  const infer = example('/v2/models/{name}/infer', 'post', 'request', 'uniform');
  const inferred = (
    await served.inject({ method: 'POST', url: '/v2/models/fashion-resnet/infer', payload: infer as object })
  ).json() as Inferred;
  const recorded = example('/v2/models/{name}/infer', 'post', '200', 'uniform') as Inferred;
  t.same(
    inferred.outputs.map((o) => [o.name, o.shape]),
    recorded.outputs.map((o) => [o.name, o.shape]),
  );
  for (const [i, o] of recorded.outputs.entries())
    t.ok(near(inferred.outputs[i].data, o.data), `${o.name} within 1e-4`);

  const model = (await served.inject('/models/fashion-resnet')).json();
  const described = example('/models/{name}', 'get', '200', 'fashionResnet') as Record<string, unknown>;
  for (const key of [
    'architecture',
    'source',
    'input',
    'classes',
    'labels',
    'preprocess',
    'params',
    'macs',
    'totals',
    'weights',
  ])
    t.same(model[key], described[key], `/models/fashion-resnet: ${key}`);
  const meta = (await served.inject('/v2/models/fashion-resnet')).json();
  const metaExample = example('/v2/models/{name}', 'get', '200', 'fashionResnet') as Record<string, unknown>;
  for (const key of ['name', 'versions', 'inputs', 'outputs'])
    t.same(meta[key], metaExample[key], `/v2/models/fashion-resnet: ${key}`);
});
