// Block detection on imported graphs (src/interop/blocks.ts): symbolic tests, no arithmetic.
// Known shapes come back as blocks; odd wiring gives fewer blocks, never an exception; and on
// random DAGs every detected block is internally consistent.
import t from 'tap';
import fc from 'fast-check';
import { detectBlocks, findBlocks } from '../../src/interop/blocks.js';
import type { GraphNode } from '../../src/spec/types.js';

const KINDS = ['conv2d', 'batchnorm', 'activation', 'maxpool', 'add', 'concat'] as const;

/** A graph node with placeholder attributes: detection reads only names, kinds and wiring. */
const node = (name: string, kind: GraphNode['kind'], inputs: string[]): GraphNode =>
  ({
    name,
    kind,
    attrs: kind === 'activation' ? { function: 'relu' } : kind === 'add' ? { scale: 1 } : {},
    inputs,
    blockPath: [],
    specPath: name,
  }) as GraphNode;

t.test('a concat of a tensor with something computed from it is not an inception module', async (t) => {
  const { blocks } = findBlocks([node('c', 'conv2d', ['input']), node('cat', 'concat', ['input', 'c'])]);
  t.same(blocks, [], 'DenseNet-style concat: one "branch" is the fork itself');
});

t.test('adding a tensor to itself is no residual block', async (t) => {
  t.same(findBlocks([node('c', 'conv2d', ['input']), node('add', 'add', ['c', 'c'])]).blocks, []);
});

t.test('branches straight off the network input form a module whose fork is the input', async (t) => {
  const { blocks, blockPaths } = findBlocks([
    node('a', 'conv2d', ['input']),
    node('b', 'maxpool', ['input']),
    node('mixed', 'concat', ['a', 'b']),
  ]);
  t.same(blocks, [
    {
      type: 'branches',
      name: 'mixed',
      blockPath: [],
      nodes: ['a', 'b', 'mixed'],
      branches: [
        { name: 'mixed_branch1', nodes: ['a'] },
        { name: 'mixed_branch2', nodes: ['b'] },
      ],
      concatNode: 'mixed',
      merge: 'concat',
    },
  ]);
  t.same(blockPaths.get('a'), ['mixed', 'mixed_branch1']);
  t.same(blockPaths.get('mixed'), ['mixed']);
});

t.test('a module inside a residual body is nested in it', async (t) => {
  const { blocks, blockPaths } = findBlocks([
    node('x', 'conv2d', ['input']),
    node('a', 'conv2d', ['x']),
    node('b', 'conv2d', ['x']),
    node('m', 'concat', ['a', 'b']),
    node('up', 'conv2d', ['m']),
    node('res_add', 'add', ['x', 'up']),
    node('res_out', 'activation', ['res_add']),
  ]);
  t.same(
    blocks.map((b) => [b.type, b.name, b.blockPath]),
    [
      ['branches', 'm', ['res']],
      ['residual', 'res', []],
    ],
  );
  t.same(blockPaths.get('a'), ['res', 'm', 'm_branch1']);
  t.same(blockPaths.get('res_out'), ['res'], 'the activation after the add is the post-activation');
});

t.test('a merge whose fork is further back than the scan limit is skipped, not an error', async (t) => {
  const nodes: GraphNode[] = [node('side', 'conv2d', ['input'])];
  let previous = 'input';
  for (let i = 0; i < 5000; i++) {
    nodes.push(node(`chain${i}`, 'activation', [previous]));
    previous = `chain${i}`;
  }
  nodes.push(node('cat', 'concat', ['side', previous]));
  t.same(findBlocks(nodes).blocks, []);
});

t.test('on random DAGs detection never throws and every block is consistent', async (t) => {
  const dag = fc.integer({ min: 1, max: 40 }).chain((n) =>
    fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.record({
          kind: fc.constantFrom(...KINDS),
          picks: fc.array(fc.integer({ min: -1, max: i - 1 }), { minLength: 1, maxLength: 4 }),
        }),
      ),
    ),
  );
  fc.assert(
    fc.property(dag, (spec) => {
      const nodes = spec.map(({ kind, picks }, i) => {
        const merge = kind === 'add' || kind === 'concat';
        const inputs = (merge ? picks : picks.slice(0, 1)).map((j) => (j < 0 ? 'input' : `n${j}`));
        return node(`n${i}`, kind, inputs);
      });
      const { blocks, blockPaths } = findBlocks(nodes);
      const position = new Map(nodes.map((n, i) => [n.name, i]));
      const labels = new Set<string>();
      for (const b of blocks) {
        if (labels.has(b.name)) return false;
        labels.add(b.name);
        if (b.type === 'branches') for (const br of b.branches) labels.add(br.name);
      }
      for (const b of blocks) {
        const inside = new Set(b.nodes);
        const ordered = b.nodes.every(
          (n, i) => position.has(n) && (i === 0 || position.get(b.nodes[i - 1])! < position.get(n)!),
        );
        if (!ordered || inside.size !== b.nodes.length) return false;
        if (b.type === 'residual') {
          if (!inside.has(b.addNode) || !b.shortcutNodes.every((n) => inside.has(n))) return false;
        } else {
          const seen = new Set<string>();
          for (const br of b.branches) {
            for (const n of br.nodes) {
              if (!inside.has(n) || seen.has(n)) return false;
              seen.add(n);
            }
          }
          if (
            !inside.has(b.concatNode) ||
            b.branches.length !== nodes[position.get(b.concatNode)!].inputs.length
          )
            return false;
        }
        if (!b.nodes.every((n) => blockPaths.get(n)?.includes(b.name))) return false;
      }
      for (const path of blockPaths.values()) if (!path.every((p) => labels.has(p))) return false;
      // Deterministic, and the guarded entry point gives the same answer when nothing throws.
      return (
        JSON.stringify(findBlocks(nodes).blocks) === JSON.stringify(blocks) &&
        JSON.stringify(detectBlocks(nodes).blocks) === JSON.stringify(blocks)
      );
    }),
    { numRuns: 300 },
  );
  t.pass('300 random graphs');
});
