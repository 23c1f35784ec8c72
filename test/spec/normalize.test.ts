// Symbolic tests of normalisation (authoring spec → graph): names, wiring, block records, errors
// and limits. No arithmetic here; shapes and costs are tested in test/analysis.
import t from 'tap';
import { ZOO } from '../../models/index.js';
import { SpecError, SpecLimitError } from '../../src/errors.js';
import { DEFAULT_SPEC_LIMITS, normalizeSpec, type SpecLimits } from '../../src/spec/normalize.js';
import type {
  BranchesBlockInfo,
  Graph,
  GraphNode,
  NodeSpec,
  ResidualBlockInfo,
} from '../../src/spec/types.js';

const conv = (extra: Record<string, unknown> = {}): NodeSpec =>
  ({ kind: 'conv2d', filters: 4, kernel: 1, ...extra }) as NodeSpec;
const relu = (name?: string): NodeSpec => ({
  kind: 'activation',
  function: 'relu',
  ...(name ? { name } : {}),
});
const graphOf = (layers: unknown[], limits?: SpecLimits): Graph =>
  normalizeSpec({ input: [8, 8, 4], layers }, limits);
const names = (g: Graph) => g.nodes.map((n) => n.name);
const node = (g: Graph, name: string): GraphNode => {
  const found = g.nodes.find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name} in ${names(g).join(', ')}`);
  return found;
};
const residualBlock = (g: Graph, name: string) =>
  g.blocks.find((b): b is ResidualBlockInfo => b.type === 'residual' && b.name === name)!;
const branchesBlock = (g: Graph, name: string) =>
  g.blocks.find((b): b is BranchesBlockInfo => b.type === 'branches' && b.name === name)!;

/** Calls fn and returns the error it throws (failing the test if it does not throw). */
function thrown(t: { fail: (msg: string) => unknown }, fn: () => unknown): SpecError & SpecLimitError {
  try {
    fn();
  } catch (err) {
    return err as SpecError & SpecLimitError;
  }
  t.fail('expected an error, but nothing was thrown');
  return Object.assign(new Error('nothing was thrown'), {
    name: 'NothingThrown',
    detail: {},
  }) as unknown as SpecError & SpecLimitError;
}

// ---------------------------------------------------------------------------------------------
// names
// ---------------------------------------------------------------------------------------------

t.test('omitted names are generated Keras-style, counted per stem', async (t) => {
  const g = graphOf([
    conv(),
    { kind: 'batchnorm' },
    relu(),
    conv(),
    { kind: 'batchnorm' },
    relu(),
    { kind: 'maxpool', pool: 2 },
    { kind: 'zeropad', padding: 1 },
    { kind: 'avgpool', pool: 2 },
    { kind: 'dropout', rate: 0.1 },
    { kind: 'globalavgpool' },
    { kind: 'dense', units: 2 },
  ]);
  t.same(names(g), [
    'conv2d',
    'batch_normalization',
    'activation',
    'conv2d_1',
    'batch_normalization_1',
    'activation_1',
    'max_pooling2d',
    'zero_padding2d',
    'average_pooling2d',
    'dropout',
    'global_average_pooling2d',
    'dense',
  ]);
  t.same(
    graphOf([{ kind: 'globalmaxpool' }, { kind: 'flatten' }]).nodes.map((n) => n.name),
    ['global_max_pooling2d', 'flatten'],
  );
});

t.test('generated names skip names already taken', async (t) => {
  const g = graphOf([conv({ name: 'conv2d_1' }), conv(), conv()]);
  t.same(names(g), ['conv2d_1', 'conv2d', 'conv2d_2']);
});

t.test(
  'inside a named composite, generated names carry its name; unnamed sequences add no scope',
  async (t) => {
    const g = graphOf([
      { kind: 'sequence', name: 'stage', layers: [conv(), relu(), conv({ name: 'explicit' })] },
      { kind: 'sequence', layers: [conv(), relu()] },
      { kind: 'residual', name: 'block1', body: [conv(), { kind: 'batchnorm' }, conv()], post: [relu()] },
    ]);
    t.same(names(g), [
      'stage_conv2d',
      'stage_activation',
      'explicit',
      'conv2d',
      'activation',
      'block1_conv2d',
      'block1_batch_normalization',
      'block1_conv2d_1',
      'block1_add',
      'block1_activation',
    ]);
    t.same(node(g, 'stage_conv2d').blockPath, ['stage']);
    t.same(node(g, 'conv2d').blockPath, [], 'an unnamed sequence is not a block');
    t.same(node(g, 'block1_activation').blockPath, ['block1']);
  },
);

t.test('unnamed composites get generated names too', async (t) => {
  const g = graphOf([
    { kind: 'residual', body: [conv()] },
    { kind: 'residual', body: [conv()] },
    { kind: 'branches', branches: [{ layers: [conv()] }] },
  ]);
  t.same(names(g), [
    'residual_conv2d',
    'residual_add',
    'residual_1_conv2d',
    'residual_1_add',
    'branches_branch1_conv2d',
    'branches',
  ]);
});

t.test('repeat copies are named <name>_<i>, and names inside a copy carry the copy name', async (t) => {
  const g = graphOf([
    { kind: 'repeat', name: 'r', count: 3, layers: [conv({ name: 'c' }), { kind: 'batchnorm' }] },
  ]);
  t.same(names(g), [
    'r_1_c',
    'r_1_batch_normalization',
    'r_2_c',
    'r_2_batch_normalization',
    'r_3_c',
    'r_3_batch_normalization',
  ]);
  t.same(node(g, 'r_2_c').blockPath, ['r', 'r_2']);
  t.same(node(g, 'r_2_c').inputs, ['r_1_batch_normalization'], 'copies are chained');
  t.same(node(g, 'r_1_c').inputs, ['input']);
  const unnamed = graphOf([{ kind: 'repeat', count: 2, layers: [relu()] }]);
  t.same(names(unnamed), ['repeat_1_activation', 'repeat_2_activation']);
});

t.test('a residual block inside a repeat copy: the block and its add are prefixed once', async (t) => {
  const g = graphOf([
    {
      kind: 'repeat',
      name: 'r',
      count: 2,
      layers: [{ kind: 'residual', name: 'blk', body: [conv({ name: 'c' })] }],
    },
  ]);
  t.ok(names(g).includes('r_1_blk_c'), 'explicit leaf name inside the copy');
  t.equal(residualBlock(g, 'r_1_blk')?.name, 'r_1_blk', 'block name');
  // README: "A residual's add is named <block>_add"; the block is r_1_blk.
  t.same(names(g), ['r_1_blk_c', 'r_1_blk_add', 'r_2_blk_c', 'r_2_blk_add']);
});

t.test('branches inside a repeat copy: default branch names are prefixed once', async (t) => {
  const g = graphOf([
    {
      kind: 'repeat',
      name: 'r',
      count: 2,
      layers: [
        { kind: 'branches', name: 'm', branches: [{ layers: [conv()] }, { name: 'p', layers: [relu()] }] },
      ],
    },
  ]);
  const block = branchesBlock(g, 'r_1_m');
  t.ok(block, 'module r_1_m');
  // The first branch defaults to <module>_branch1 = r_1_m_branch1; the explicit "p" is qualified by the copy.
  t.same(
    block?.branches.map((b) => b.name),
    ['r_1_m_branch1', 'r_1_p'],
  );
  t.same(names(g).slice(0, 3), ['r_1_m_branch1_conv2d', 'r_1_p_activation', 'r_1_m']);
});

t.test('duplicate names are rejected with the path of the second use', async (t) => {
  const e1 = thrown(t, () => graphOf([conv({ name: 'a' }), relu(), conv({ name: 'a' })]));
  t.ok(e1 instanceof SpecError);
  t.equal(e1.statusCode, 400);
  t.equal(e1.detail.field, 'layers[2].name');
  t.equal(e1.detail.received, 'a');
  t.match(e1.message, /^layers\[2\]\.name: expected a name not used/);

  const e2 = thrown(t, () => graphOf([conv(), conv({ name: 'conv2d' })]));
  t.equal(e2.detail.field, 'layers[1].name', 'an explicit name may not take a generated one');

  const e3 = thrown(t, () => graphOf([{ kind: 'residual', name: 'b', body: [conv({ name: 'b_add' })] }]));
  t.equal(e3.detail.field, 'layers[0].addName', 'the generated add name collides with a body layer');

  const e4 = thrown(t, () => graphOf([conv({ name: 'input' })]));
  t.equal(e4.detail.field, 'layers[0].name', '"input" is reserved for the network input');

  const e5 = thrown(t, () =>
    graphOf([{ kind: 'residual', name: 'x', body: [{ kind: 'sequence', name: 'x', layers: [conv()] }] }]),
  );
  t.equal(e5.detail.field, 'layers[0].body[0].name', 'a block name is taken like a layer name');

  const e6 = thrown(t, () =>
    graphOf([
      conv({ name: 'r_1_c' }),
      { kind: 'repeat', name: 'r', count: 2, layers: [conv({ name: 'c' })] },
    ]),
  );
  t.equal(e6.detail.field, 'layers[1].layers[0].name', 'a copy-qualified name colliding with an outer one');
});

t.test('names must be well-formed', async (t) => {
  for (const bad of ['', '1abc', 'a b', 'x/y', 'a'.repeat(201), 5, null]) {
    const e = thrown(t, () => graphOf([conv({ name: bad })]));
    t.equal(e.detail.field, 'layers[0].name', `rejects ${JSON.stringify(bad)?.slice(0, 20)}`);
  }
  t.same(
    names(graphOf([conv({ name: 'layer1.0.conv-a_b' })])),
    ['layer1.0.conv-a_b'],
    'dots and dashes are allowed (torchvision paths)',
  );
});

// ---------------------------------------------------------------------------------------------
// wiring
// ---------------------------------------------------------------------------------------------

t.test(
  'residual v1: body reads the block input, add reads [shortcut, body], post reads the add',
  async (t) => {
    const g = graphOf([
      conv({ name: 'stem' }),
      {
        kind: 'residual',
        name: 'b',
        body: [conv({ name: 'b1' }), conv({ name: 'b2' })],
        post: [relu('b_out')],
      },
    ]);
    t.same(node(g, 'b1').inputs, ['stem']);
    t.same(node(g, 'b2').inputs, ['b1']);
    t.same(node(g, 'b_add').inputs, ['stem', 'b2'], 'identity shortcut first, body second');
    t.equal(node(g, 'b_add').kind, 'add');
    t.same(node(g, 'b_out').inputs, ['b_add']);
    t.equal(g.output, 'b_out');
    const block = residualBlock(g, 'b');
    t.same(block, {
      type: 'residual',
      name: 'b',
      blockPath: [],
      nodes: ['b1', 'b2', 'b_add', 'b_out'],
      shortcut: 'identity',
      shortcutNodes: [],
      addNode: 'b_add',
      preactivation: false,
    });
  },
);

t.test(
  'residual v2: preact feeds the body; the shortcut reads the raw input or, with from: preact, the pre-activation',
  async (t) => {
    const preact = [{ kind: 'batchnorm', name: 'pbn' }, relu('prelu')];
    const identity = graphOf([
      conv({ name: 'stem' }),
      { kind: 'residual', name: 'v2', preact, body: [conv({ name: 'c' })] },
    ]);
    t.same(node(identity, 'pbn').inputs, ['stem']);
    t.same(node(identity, 'c').inputs, ['prelu'], 'body reads the pre-activation');
    t.same(node(identity, 'v2_add').inputs, ['stem', 'c'], 'identity shortcut reads the raw input');
    t.equal(residualBlock(identity, 'v2').preactivation, true);

    const fromPreact = graphOf([
      conv({ name: 'stem' }),
      {
        kind: 'residual',
        name: 'v2',
        preact,
        body: [conv({ name: 'c' })],
        shortcut: { from: 'preact', layers: [conv({ name: 'proj' })] },
      },
    ]);
    t.same(node(fromPreact, 'proj').inputs, ['prelu']);
    t.same(node(fromPreact, 'v2_add').inputs, ['proj', 'c']);

    const fromInput = graphOf([
      conv({ name: 'stem' }),
      {
        kind: 'residual',
        name: 'v2',
        preact,
        body: [conv({ name: 'c' })],
        shortcut: { layers: [{ kind: 'maxpool', name: 'pool', pool: 1 }] },
      },
    ]);
    t.same(node(fromInput, 'pool').inputs, ['stem'], 'from defaults to input');
    t.same(node(fromInput, 'v2_add').inputs, ['pool', 'c']);
  },
);

t.test('residual block info: identity, projection and pooling shortcuts; addName; scale', async (t) => {
  const g = graphOf([
    { kind: 'residual', name: 'id', body: [conv()], shortcut: 'identity' },
    {
      kind: 'residual',
      name: 'proj',
      body: [conv()],
      shortcut: { layers: [conv({ name: 'proj_sc' }), { kind: 'batchnorm', name: 'proj_sc_bn' }] },
    },
    {
      kind: 'residual',
      name: 'pool',
      body: [conv()],
      shortcut: { layers: [{ kind: 'avgpool', name: 'pool_sc', pool: 1 }] },
    },
    { kind: 'residual', name: 'named', addName: 'named_out', scale: 0.2, body: [conv()] },
    { kind: 'residual', name: 'self', addName: 'self', body: [conv()] },
  ]);
  t.equal(residualBlock(g, 'id').shortcut, 'identity');
  t.equal(residualBlock(g, 'proj').shortcut, 'projection');
  t.same(residualBlock(g, 'proj').shortcutNodes, ['proj_sc', 'proj_sc_bn']);
  t.equal(residualBlock(g, 'pool').shortcut, 'pooling');
  t.same(residualBlock(g, 'pool').shortcutNodes, ['pool_sc']);
  t.equal(residualBlock(g, 'named').addNode, 'named_out');
  t.same(node(g, 'named_out').attrs, { scale: 0.2 });
  t.same(node(g, 'id_add').attrs, { scale: 1 }, 'scale defaults to 1');
  t.equal(residualBlock(g, 'self').addNode, 'self', 'the add may carry the block name (Inception-ResNet)');
  t.equal(node(g, 'self').kind, 'add');
  t.equal(g.blocks.filter((b) => b.type === 'residual').length, 5);
});

t.test('branches: each branch reads the module input; the concat carries the module name', async (t) => {
  const g = graphOf([
    conv({ name: 'stem' }),
    {
      kind: 'branches',
      name: 'mixed',
      branches: [
        { layers: [conv(), relu()] },
        { name: 'pool', layers: [{ kind: 'maxpool', pool: 1 }, conv()] },
        { layers: [] },
      ],
    },
    relu('after'),
  ]);
  t.same(node(g, 'mixed_branch1_conv2d').inputs, ['stem']);
  t.same(node(g, 'pool_max_pooling2d').inputs, ['stem']);
  t.same(
    node(g, 'mixed').inputs,
    ['mixed_branch1_activation', 'pool_conv2d', 'stem'],
    'concat in branch order; an empty branch passes its input',
  );
  t.equal(node(g, 'mixed').kind, 'concat');
  t.same(node(g, 'after').inputs, ['mixed']);
  t.same(node(g, 'pool_conv2d').blockPath, ['mixed', 'pool']);
  const block = branchesBlock(g, 'mixed');
  t.same(block.branches, [
    { name: 'mixed_branch1', nodes: ['mixed_branch1_conv2d', 'mixed_branch1_activation'] },
    { name: 'pool', nodes: ['pool_max_pooling2d', 'pool_conv2d'] },
    { name: 'mixed_branch3', nodes: [] },
  ]);
  t.equal(block.concatNode, 'mixed');
  t.same(block.nodes, [
    'mixed_branch1_conv2d',
    'mixed_branch1_activation',
    'pool_max_pooling2d',
    'pool_conv2d',
    'mixed',
  ]);
});

t.test('every node reads only nodes produced before it', async (t) => {
  const g = graphOf([
    {
      kind: 'repeat',
      name: 'r',
      count: 2,
      layers: [
        {
          kind: 'residual',
          name: 'b',
          preact: [relu()],
          body: [
            { kind: 'branches', name: 'm', branches: [{ layers: [conv()] }, { layers: [conv()] }] },
            conv(),
          ],
          shortcut: { from: 'preact', layers: [conv()] },
        },
      ],
    },
  ]);
  const seen = new Set(['input']);
  for (const n of g.nodes) {
    for (const i of n.inputs) t.ok(seen.has(i), `${n.name} reads ${i} after it is produced`);
    seen.add(n.name);
  }
  t.equal(new Set(names(g)).size, g.nodes.length, 'unique names');
});

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

t.test('attribute errors name the path, the value received and what was expected', async (t) => {
  const cases: [string, unknown[], string, unknown, RegExp][] = [
    [
      'filters 0 in a residual body',
      [conv(), { kind: 'residual', body: [conv({ filters: 0 })] }],
      'layers[1].body[0].filters',
      0,
      /integer from 1/,
    ],
    [
      'fractional kernel',
      [conv({ kernel: 2.5 })],
      'layers[0].kernel',
      2.5,
      /positive integer|integer from 1/,
    ],
    ['kernel with one element', [conv({ kernel: [3] })], 'layers[0].kernel', [3], /\[height, width\]/],
    ['negative stride in a pair', [conv({ strides: [1, -2] })], 'layers[0].strides[1]', -2, /integer from 1/],
    ['unknown padding keyword', [conv({ padding: 'full' })], 'layers[0].padding', 'full', /"same", "valid"/],
    [
      'ragged explicit padding',
      [conv({ padding: [[1, 2], [3]] })],
      'layers[0].padding',
      [[1, 2], [3]],
      /\[\[top, bottom\], \[left, right\]\]/,
    ],
    [
      'negative explicit padding',
      [
        conv({
          padding: [
            [1, -1],
            [0, 0],
          ],
        }),
      ],
      'layers[0].padding[0][1]',
      -1,
      /integer from 0/,
    ],
    [
      'groups not dividing filters',
      [conv({ filters: 6, groups: 4 })],
      'layers[0].groups',
      4,
      /divisor of filters \(6\)/,
    ],
    ['bias not boolean', [conv({ bias: 'yes' })], 'layers[0].bias', 'yes', /true or false/],
    [
      'unknown activation',
      [{ kind: 'activation', function: 'mish' }],
      'layers[0].function',
      'mish',
      /relu, relu6, sigmoid, tanh, softmax, linear/,
    ],
    [
      'dense activation',
      [{ kind: 'flatten' }, { kind: 'dense', units: 2, activation: 'selu' }],
      'layers[1].activation',
      'selu',
      /one of relu/,
    ],
    ['dropout rate 1', [{ kind: 'dropout', rate: 1 }], 'layers[0].rate', 1, /from 0 to/],
    ['negative epsilon', [{ kind: 'batchnorm', epsilon: -1 }], 'layers[0].epsilon', -1, /from 0 to 1/],
    [
      'zeropad keyword',
      [{ kind: 'zeropad', padding: 'same' }],
      'layers[0].padding',
      'same',
      /non-negative integer/,
    ],
    ['pool size 0', [{ kind: 'maxpool', pool: 0 }], 'layers[0].pool', 0, /integer from 1/],
    [
      'ceil mode with same',
      [{ kind: 'avgpool', pool: 2, padding: 'same', ceilMode: true }],
      'layers[0].ceilMode',
      true,
      /false when padding is "same"/,
    ],
    [
      'repeat count 0',
      [{ kind: 'repeat', count: 0, layers: [relu()] }],
      'layers[0].count',
      0,
      /integer from 1 to 10000/,
    ],
    [
      'bad shortcut source',
      [{ kind: 'residual', body: [], shortcut: { from: 'output', layers: [] } }],
      'layers[0].shortcut.from',
      'output',
      /"input" or "preact"/,
    ],
    [
      'non-numeric scale',
      [{ kind: 'residual', body: [], scale: 'x' }],
      'layers[0].scale',
      'x',
      /finite number/,
    ],
    ['residual without body', [{ kind: 'residual' }], 'layers[0].body', undefined, /array of layers/],
    ['empty branches', [{ kind: 'branches', branches: [] }], 'layers[0].branches', [], /at least one branch/],
    [
      'layers not an array',
      [{ kind: 'sequence', layers: 'conv' }],
      'layers[0].layers',
      'conv',
      /array of layers/,
    ],
    ['a layer that is not an object', [conv(), 42], 'layers[1]', 42, /layer object/],
    [
      'deep path',
      [
        {
          kind: 'sequence',
          name: 's',
          layers: [
            {
              kind: 'branches',
              branches: [{ layers: [relu(), { kind: 'residual', body: [conv({ dilation: 0 })] }] }],
            },
          ],
        },
      ],
      'layers[0].layers[0].branches[0].layers[1].body[0].dilation',
      0,
      /integer from 1/,
    ],
  ];
  for (const [label, layers, field, received, expected] of cases) {
    const e = thrown(t, () => graphOf(layers));
    t.ok(e instanceof SpecError, `${label}: a SpecError`);
    t.equal(e.statusCode, 400, `${label}: 400`);
    t.equal(e.detail.field, field, `${label}: field`);
    t.same(e.detail.received, received, `${label}: received`);
    t.match(e.detail.expected, expected, `${label}: expected`);
    t.ok(e.message.startsWith(`${field}: expected `), `${label}: message starts with the path`);
  }
});

t.test('unknown kinds are UNKNOWN_LAYER_KIND and list every supported kind', async (t) => {
  for (const kind of ['conv3d', 'Conv2D', 'toString', '__proto__', 7, undefined]) {
    const e = thrown(t, () => graphOf([relu(), { kind: 'residual', body: [{ kind }] }]));
    t.equal(e.code, 'UNKNOWN_LAYER_KIND', `kind ${String(kind)}`);
    t.equal(e.detail.field, 'layers[1].body[0].kind');
    for (const k of [
      'conv2d',
      'batchnorm',
      'activation',
      'zeropad',
      'maxpool',
      'avgpool',
      'globalavgpool',
      'globalmaxpool',
      'flatten',
      'dense',
      'dropout',
      'sequence',
      'residual',
      'branches',
      'repeat',
    ]) {
      if (!e.message.includes(k)) t.fail(`message lists ${k}: ${e.message}`);
    }
  }
  const add = thrown(t, () => graphOf([{ kind: 'add' }]));
  t.equal(add.code, 'UNKNOWN_LAYER_KIND', 'add and concat come from composites, not from users');
});

t.test('top-level errors: input, layers and name', async (t) => {
  const bad: [unknown, string][] = [
    [{ input: [8, 8], layers: [relu()] }, 'input'],
    [{ input: [8, 0, 3], layers: [relu()] }, 'input[1]'],
    [{ input: [9000, 8, 3], layers: [relu()] }, 'input[0]'],
    [{ input: [8, 8, 3], layers: [] }, 'layers'],
    [{ input: [8, 8, 3] }, 'layers'],
    [{ input: [8, 8, 3], layers: [relu()], name: 3 }, 'name'],
    [null, 'spec'],
    [[1, 2], 'spec'],
  ];
  for (const [spec, field] of bad) {
    const e = thrown(t, () => normalizeSpec(spec));
    t.ok(e instanceof SpecError, `${JSON.stringify(spec)} is a SpecError`);
    t.equal(e.detail.field, field, `${JSON.stringify(spec)} names ${field}`);
  }
  t.equal(
    normalizeSpec({ input: [8, 8, 3], layers: [relu()] }).name,
    'custom',
    'an unnamed spec is "custom"',
  );
});

// ---------------------------------------------------------------------------------------------
// limits
// ---------------------------------------------------------------------------------------------

const small = (overrides: Partial<SpecLimits>): SpecLimits => ({ ...DEFAULT_SPEC_LIMITS, ...overrides });

t.test('more layers than the limit is a 413 SpecLimitError; exactly the limit is fine', async (t) => {
  t.equal(
    graphOf([{ kind: 'repeat', count: 10, layers: [relu()] }], small({ maxLayers: 10 })).nodes.length,
    10,
  );
  const e = thrown(t, () =>
    graphOf([{ kind: 'repeat', count: 11, layers: [relu()] }], small({ maxLayers: 10 })),
  );
  t.ok(e instanceof SpecLimitError);
  t.equal(e.statusCode, 413);
  t.equal(e.code, 'SPEC_TOO_LARGE');
  t.match(e.message, /at most 10 layers/);
  // The default limit: 10,000 copies of 3 layers = 30,000 > 20,000.
  const big = thrown(t, () =>
    graphOf([{ kind: 'repeat', count: 10_000, layers: [conv(), { kind: 'batchnorm' }, relu()] }]),
  );
  t.equal(big.statusCode, 413);
  // Adds and concats count as layers too.
  const adds = thrown(t, () =>
    graphOf(
      [{ kind: 'repeat', count: 6, layers: [{ kind: 'residual', body: [] }] }],
      small({ maxLayers: 5 }),
    ),
  );
  t.equal(adds.statusCode, 413, 'six empty residual blocks are six add layers');
});

t.test('nested empty repeats are refused within the limit instead of expanding without bound', async (t) => {
  // 19 outer copies × 10,000 empty inner copies = 190,000 copies of nothing, under a 5-layer limit.
  // The guard ("at most 4 × maxLayers visits") must count this work; otherwise the default-limit
  // shape (10,000 × 10,000) runs for tens of seconds and then overflows a Set (a RangeError).
  const spec = [{ kind: 'repeat', count: 19, layers: [{ kind: 'repeat', count: 10_000, layers: [] }] }];
  const e = thrown(t, () => graphOf(spec, small({ maxLayers: 5 })));
  t.ok(e instanceof SpecLimitError, `a SpecLimitError, got ${(e as Error)?.name}`);
  t.equal(e.statusCode, 413);
});

t.test('composites nested deeper than maxDepth are a 413', async (t) => {
  const nest = (depth: number, wrap: (inner: NodeSpec, i: number) => NodeSpec) => {
    let n: NodeSpec = conv();
    for (let i = 0; i < depth; i++) n = wrap(n, i);
    return n;
  };
  const named = (inner: NodeSpec, i: number): NodeSpec => ({
    kind: 'sequence',
    name: `s${i}`,
    layers: [inner],
  });
  t.equal(graphOf([nest(64, named)]).nodes.length, 1, '64 deep is allowed');
  const e = thrown(t, () => graphOf([nest(65, named)]));
  t.ok(e instanceof SpecLimitError, '65 named sequences');
  t.match(e.message, /nested at most 64 deep/);
  const residuals = thrown(t, () => graphOf([nest(70, (inner) => ({ kind: 'residual', body: [inner] }))]));
  t.equal(residuals.statusCode, 413, '70 nested residual blocks');
  const e3 = thrown(t, () => graphOf([nest(5, named)], small({ maxDepth: 4 })));
  t.equal(e3.statusCode, 413, 'the limit is configurable');
});

t.test('deeply nested unnamed sequences are a SpecLimitError, not a stack overflow', async (t) => {
  // An unnamed sequence is a composite too; without a depth check the walk recurses until the
  // call stack runs out (a RangeError, which the service would answer with a 500).
  let n: NodeSpec = conv();
  for (let i = 0; i < 100_000; i++) n = { kind: 'sequence', layers: [n] };
  const e = thrown(t, () => graphOf([n]));
  t.ok(
    e instanceof SpecLimitError,
    `a SpecLimitError, got ${(e as Error)?.name}: ${(e as Error)?.message?.slice(0, 60)}`,
  );
});

// ---------------------------------------------------------------------------------------------
// the zoo
// ---------------------------------------------------------------------------------------------

interface Expected {
  residual: number;
  branches: number;
  shortcuts: Record<string, number>;
  explicit: string[];
}

/** Walks an authoring spec on its own terms: blocks (times repeat counts), shortcut kinds, explicit leaf names. */
function expectedFrom(
  layers: NodeSpec[],
  acc: Expected = { residual: 0, branches: 0, shortcuts: {}, explicit: [] },
  times = 1,
): Expected {
  for (const n of layers) {
    switch (n.kind) {
      case 'sequence':
        expectedFrom(n.layers, acc, times);
        break;
      case 'repeat':
        expectedFrom(n.layers, acc, times * n.count);
        break;
      case 'residual': {
        acc.residual += times;
        const sc = n.shortcut === undefined || n.shortcut === 'identity' ? [] : n.shortcut.layers;
        const kind = sc.some((l) => l.kind === 'conv2d' || l.kind === 'dense')
          ? 'projection'
          : sc.length
            ? 'pooling'
            : 'identity';
        acc.shortcuts[kind] = (acc.shortcuts[kind] ?? 0) + times;
        for (const part of [n.preact ?? [], n.body, sc, n.post ?? []]) expectedFrom(part, acc, times);
        break;
      }
      case 'branches':
        acc.branches += times;
        for (const b of n.branches) expectedFrom(b.layers, acc, times);
        break;
      default:
        if (n.name !== undefined) acc.explicit.push(n.name);
    }
  }
  return acc;
}

t.test(
  'every zoo entry normalises with unique names and reports each residual and branches block',
  async (t) => {
    t.ok(ZOO.size >= 20, `zoo has ${ZOO.size} entries`);
    for (const entry of ZOO.values()) {
      const spec = entry.build();
      const g = normalizeSpec(spec);
      const all = names(g);
      t.equal(new Set(all).size, all.length, `${entry.name}: unique layer names`);
      const expected = expectedFrom(spec.layers);
      const residual = g.blocks.filter((b): b is ResidualBlockInfo => b.type === 'residual');
      const branches = g.blocks.filter((b): b is BranchesBlockInfo => b.type === 'branches');
      t.equal(residual.length, expected.residual, `${entry.name}: residual blocks`);
      t.equal(branches.length, expected.branches, `${entry.name}: branches blocks`);
      const kinds: Record<string, number> = {};
      for (const b of residual) kinds[b.shortcut] = (kinds[b.shortcut] ?? 0) + 1;
      t.same(kinds, expected.shortcuts, `${entry.name}: shortcut kinds`);
      t.equal(
        new Set(g.blocks.map((b) => b.name)).size,
        g.blocks.length,
        `${entry.name}: unique block names`,
      );
      const byName = new Map(g.nodes.map((n) => [n.name, n]));
      const missing = expected.explicit.filter((n) => !byName.has(n));
      t.same(missing, [], `${entry.name}: every explicit layer name is kept verbatim`);
      const mergeKind = { concat: 'concat', add: 'add', multiply: 'multiply' } as const;
      const badRefs = g.blocks.filter((b) =>
        b.type === 'residual'
          ? byName.get(b.addNode)?.kind !== 'add'
          : byName.get(b.concatNode)?.kind !== mergeKind[b.merge],
      );
      t.same(
        badRefs.map((b) => b.name),
        [],
        `${entry.name}: each block points at its add, concat or multiply`,
      );
    }
  },
);

t.test('zoo block counts match the published architectures', async (t) => {
  const count = (name: string) => {
    const g = normalizeSpec(ZOO.get(name)!.build());
    const res = g.blocks.filter((b): b is ResidualBlockInfo => b.type === 'residual');
    const tally = (k: string) => res.filter((b) => b.shortcut === k).length;
    return {
      residual: res.length,
      projection: tally('projection'),
      pooling: tally('pooling'),
      branches: g.blocks.length - res.length,
    };
  };
  // ResNet-50 v1: stages of 3, 4, 6, 3 bottlenecks; the first of each stage projects.
  t.same(count('resnet50'), { residual: 16, projection: 4, pooling: 0, branches: 0 });
  // ResNet-152 v1: 3, 8, 36, 3.
  t.same(count('resnet152'), { residual: 50, projection: 4, pooling: 0, branches: 0 });
  // ResNet-50 v2 (Keras): the first block of each stage projects; stride-2 happens in the last
  // block of stages 1–3, whose shortcut is a 1x1 max pool.
  t.same(count('resnet50v2'), { residual: 16, projection: 4, pooling: 3, branches: 0 });
  // torchvision ResNet-18/34: basic blocks 2,2,2,2 and 3,4,6,3; stages 2–4 project.
  t.same(count('resnet18'), { residual: 8, projection: 3, pooling: 0, branches: 0 });
  t.same(count('resnet34'), { residual: 16, projection: 3, pooling: 0, branches: 0 });
  t.same(count('plain34'), { residual: 0, projection: 0, pooling: 0, branches: 0 });
  // GoogLeNet: nine inception modules (3a–5b).
  t.equal(count('googlenet').branches, 9);
  t.equal(count('googlenet_tv').branches, 9);
  // Inception v3: mixed0–mixed10, plus the two inner concatenations in each of mixed9 and mixed10.
  t.equal(count('inception_v3').branches, 15);
  // Inception-ResNet v2: 10 × block35, 20 × block17, 10 × block8 (the last one without activation);
  // each block's branches are a module, plus mixed_5b, mixed_6a and mixed_7a.
  t.same(
    count('inception_resnet_v2'),
    { residual: 40, projection: 0, pooling: 0, branches: 43 },
    'identity shortcuts around each scaled block',
  );
  t.equal(count('inception_3a').branches, 1);
});
