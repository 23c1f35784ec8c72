// Names are unique across the whole graph, repeat copies included: explicit names (drawn from a pool
// chosen to collide with generated ones: `r_1`, `r_1_conv2d`, `b_add`, …) either yield a graph in which
// every layer and block has its own name (a branches module shares its merge layer's), or a SpecError naming the `.name` (or `.addName`) field that clashed.
import t from 'tap';
import fc from 'fast-check';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { SpecError } from '../../src/errors.js';

const POOL = [
  'r',
  'r_0',
  'r_1',
  'r_2',
  'r_1_conv2d',
  'r_1_x',
  'r_1_1',
  'x',
  'b',
  'b_add',
  'b_branch1',
  'conv2d',
  'conv2d_1',
];
const name = fc.option(fc.constantFrom(...POOL), { nil: undefined, freq: 2 });
const conv = name.map((n) => ({ kind: 'conv2d', filters: 2, kernel: 1, ...(n ? { name: n } : {}) }));

const layer: fc.Memo<Record<string, unknown>> = fc.memo((depth) =>
  depth <= 1
    ? conv
    : fc.oneof(
        conv,
        fc
          .record({
            name,
            count: fc.integer({ min: 1, max: 3 }),
            layers: fc.array(layer(depth - 1), { minLength: 1, maxLength: 3 }),
          })
          .map(({ name: n, ...r }) => ({ kind: 'repeat', ...r, ...(n ? { name: n } : {}) })),
        fc
          .record({
            name,
            branches: fc.array(fc.array(layer(depth - 1), { maxLength: 2 }), { minLength: 2, maxLength: 3 }),
          })
          .map(({ name: n, branches }) => ({
            kind: 'branches',
            merge: 'add',
            branches: branches.map((layers) => ({ layers })),
            ...(n ? { name: n } : {}),
          })),
        fc
          .record({ name, body: fc.array(layer(depth - 1), { minLength: 1, maxLength: 2 }) })
          .map(({ name: n, body }) => ({ kind: 'residual', body, ...(n ? { name: n } : {}) })),
      ),
);

t.test('every layer and block name is unique, or the clash is refused at its name', async (t) => {
  let graphs = 0;
  let clashes = 0;
  fc.assert(
    fc.property(fc.array(layer(3), { minLength: 1, maxLength: 4 }), (layers) => {
      let graph: ReturnType<typeof normalizeSpec>;
      try {
        graph = normalizeSpec({ name: 'names', input: [4, 4, 2], layers } as never);
      } catch (err) {
        if (!(err instanceof SpecError)) throw err;
        clashes++;
        return (
          /\.(name|addName)$/.test(String(err.detail.field)) &&
          /not used by any other layer or block/.test(err.message)
        );
      }
      graphs++;
      // A branches module is named after its merge layer, as Keras names inception outputs (mixed0…):
      // that one pair shares a name by design; every other name is used once.
      const merges = new Set(graph.blocks.flatMap((b) => (b.type === 'branches' ? [b.concatNode] : [])));
      const names = [
        ...graph.nodes.map((n) => n.name),
        ...graph.blocks.filter((b) => !(b.type === 'branches' && merges.has(b.name))).map((b) => b.name),
      ];
      const seen = new Set<string>();
      for (const n of names) {
        if (seen.has(n)) throw new Error(`${n} names two layers or blocks`);
        seen.add(n);
      }
      return true;
    }),
    { numRuns: 400, seed: 20261201 },
  );
  t.ok(graphs > 50, `graphs built (${graphs})`);
  t.ok(clashes > 20, `clashes refused (${clashes})`);
});

t.test('a layer named like a repeat copy is refused wherever it stands', async (t) => {
  const repeat = { kind: 'repeat', name: 'r', count: 2, layers: [{ kind: 'conv2d', filters: 2, kernel: 1 }] };
  const named = (n: string) => ({ kind: 'conv2d', filters: 2, kernel: 1, name: n });
  for (const layers of [
    [named('r_1'), repeat],
    [repeat, named('r_2')],
    [repeat, named('r_1_conv2d')],
  ]) {
    t.throws(() => normalizeSpec({ name: 'n', input: [4, 4, 2], layers } as never), {
      code: 'INVALID_SPEC',
      detail: { field: /\.name$/ },
    });
  }
});
