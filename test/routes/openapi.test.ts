// Self-description: /openapi.json is a valid OpenAPI 3 document generated from the route schemas,
// it describes every route with its request and response schemas, and /docs serves the UI.
import t from 'tap';
import SwaggerParser from '@apidevtools/swagger-parser';
import { servingApp } from '../helpers/app.js';

const app = await servingApp();
t.teardown(() => app.close());

t.test('/openapi.json validates as OpenAPI 3 and covers every route', async (t) => {
  const res = await app.inject('/openapi.json');
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.match(doc.openapi, /^3\./);
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
    ['get', '/v2/health/live'],
    ['get', '/v2/health/ready'],
    ['get', '/v2/models/{name}'],
    ['get', '/v2/models/{name}/ready'],
    ['post', '/v2/models/{name}/infer'],
  ];
  for (const [method, path] of expected) {
    const op = doc.paths[path]?.[method];
    t.ok(op, `${method.toUpperCase()} ${path} is documented`);
    if (!op) continue;
    t.ok(op.responses?.['200'], `${method.toUpperCase()} ${path} documents its 200 response`);
    if (method === 'post') t.ok(op.requestBody, `${method.toUpperCase()} ${path} documents its request body`);
  }
  t.ok(doc.paths['/analyze'].post.responses['400'], '/analyze documents its errors');
});

t.test('/docs serves the UI', async (t) => {
  const res = await app.inject('/docs/');
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /html/);
});
