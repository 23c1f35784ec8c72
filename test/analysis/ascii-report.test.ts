// A report of a built-in model is ASCII from end to end: our own text in it (the conventions, the
// report builders' words) keeps to ASCII because Node encodes an ASCII string to UTF-8 with a block
// copy and any other string character by character (ResNet-152's report: 0.03 against 0.5 ms, on
// every uncached POST /analyze). One `·` or `×` added to a convention would slow every answer.
import t from 'tap';
import { zooNames } from '../../models/index.js';
import { analyzeTarget } from '../../src/services/analysis.js';
import { runAnalysisJob } from '../../src/services/analysis-job.js';
import { DEFAULT_ANALYZE_LIMITS } from '../../src/services/analysis.js';

const firstNonAscii = (text: string) => {
  for (let at = 0; at < text.length; at++)
    if (text.charCodeAt(at) > 0x7f) return { at, near: text.slice(Math.max(0, at - 40), at + 10) };
  return undefined;
};

t.test('every built-in model: the report JSON, with the training section, is ASCII', async (t) => {
  for (const model of zooNames()) {
    const report = analyzeTarget({ model }, { training: { optimizer: 'adam' } });
    t.equal(firstNonAscii(JSON.stringify(report)), undefined, model);
  }
});

t.test('the bytes an analysis worker sends are that ASCII JSON, unchanged', async (t) => {
  const bytes = runAnalysisJob({
    kind: 'target',
    target: { model: 'inception_v3' },
    limits: DEFAULT_ANALYZE_LIMITS,
    page: { layers: 'all', offset: 0, limit: 100_000 },
  });
  const text = Buffer.from(bytes).toString('latin1');
  t.equal(firstNonAscii(text), undefined);
  t.same(JSON.parse(text), JSON.parse(JSON.stringify(analyzeTarget({ model: 'inception_v3' }))));
});

t.test('a name past ASCII still reaches the client intact (UTF-8)', async (t) => {
  const spec = {
    name: 'réseau',
    input: [8, 8, 3],
    layers: [{ kind: 'conv2d', name: 'c', filters: 2, kernel: 3 }],
  };
  const bytes = runAnalysisJob({
    kind: 'target',
    target: { spec } as never,
    limits: DEFAULT_ANALYZE_LIMITS,
    page: { layers: 'all', offset: 0, limit: 100 },
  });
  t.equal(JSON.parse(Buffer.from(bytes).toString('utf8')).model, 'réseau');
});
