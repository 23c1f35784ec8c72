/**
 * MobileNetV2, Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (2018),
 * width multiplier 1.0, twice:
 *
 * - `mobilenet_v2_tv`: torchvision's layout and state_dict names (`features_2_conv_1_0`: block 2's
 *   depthwise conv). Padding is explicit and symmetric, as PyTorch pads; BN epsilon 1e-5.
 * - `mobilenet_v2`: Keras Applications' layout and names (`block_2_depthwise`). Differs from
 *   torchvision as Keras does: stride-2 depthwise convs are ZeroPadding2D(correct_pad) + "valid"
 *   (TensorFlow pads the bottom/right more), the stem conv is "same", BN epsilon 1e-3, and the
 *   classifier has no dropout and a softmax.
 *
 * An inverted residual expands with a 1x1 conv (t× channels; skipped when t = 1), filters each
 * channel with a 3x3 depthwise conv, and projects back with a linear 1x1 conv; the input is added
 * when the shapes agree. Input-size rule: at least 32x32.
 */
import type { NodeSpec, PaddingInput } from '../src/spec/types.js';
import { act, bn, conv, dense, dropout, globalAvgPool, residual, sequence, zeroPad } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';
import { convNormAct, makeDivisible } from './torchvision_ops.js';

/** The paper's Table 2: expansion t, output channels c, repeats n, first stride s. */
const STAGES: [t: number, c: number, n: number, s: number][] = [
  [1, 16, 1, 1], // 112x112x16
  [6, 24, 2, 2], // 56x56x24
  [6, 32, 3, 2], // 28x28x32
  [6, 64, 4, 2], // 14x14x64
  [6, 96, 3, 1], // 14x14x96
  [6, 160, 3, 2], // 7x7x160
  [6, 320, 1, 1], // 7x7x320
];
const STEM = 32;
const LAST = 1280;

/** Every block of the stage table in order: input and output channels, expansion, stride. */
function blocks(): { cin: number; cout: number; t: number; stride: number }[] {
  const out: { cin: number; cout: number; t: number; stride: number }[] = [];
  let cin = STEM;
  for (const [t, c, n, s] of STAGES) {
    for (let i = 0; i < n; i++) {
      out.push({ cin, cout: makeDivisible(c), t, stride: i === 0 ? s : 1 });
      cin = makeDivisible(c);
    }
  }
  return out;
}

// --- torchvision -----------------------------------------------------------------------------

const TV_EPS = 1e-5;

function tvBlock(index: number, b: ReturnType<typeof blocks>[number]): NodeSpec {
  const p = `features_${index}`;
  const hidden = Math.round(b.cin * b.t);
  const layers: NodeSpec[] = [];
  let i = 0;
  if (b.t !== 1)
    layers.push(...convNormAct(`${p}_conv_${i++}`, hidden, 1, { eps: TV_EPS, activation: 'relu6' }));
  layers.push(
    ...convNormAct(`${p}_conv_${i++}`, hidden, 3, {
      stride: b.stride,
      groups: hidden,
      eps: TV_EPS,
      activation: 'relu6',
    }),
  );
  layers.push(conv(`${p}_conv_${i++}`, b.cout, 1, { bias: false }), bn(`${p}_conv_${i++}`, TV_EPS));
  return b.stride === 1 && b.cin === b.cout
    ? residual(p, { body: layers, addName: `${p}_add` })
    : sequence(p, layers);
}

function buildTorchvision(o: ZooOptions = {}) {
  return {
    name: 'mobilenet_v2_tv',
    input: o.input ?? [224, 224, 3],
    layers: [
      ...convNormAct('features_0', STEM, 3, { stride: 2, eps: TV_EPS, activation: 'relu6' }), // 112x112x32
      ...blocks().map((b, i) => tvBlock(i + 1, b)), // → 7x7x320
      ...convNormAct('features_18', LAST, 1, { eps: TV_EPS, activation: 'relu6' }), // 7x7x1280
      ...(o.includeTop === false
        ? []
        : [globalAvgPool('avgpool'), dropout('classifier_0', 0.2), dense('classifier_1', o.classes ?? 1000)]),
    ],
  };
}

// --- Keras Applications ----------------------------------------------------------------------

const KERAS_EPS = 1e-3;

/** imagenet_utils.correct_pad for a 3x3 kernel: TensorFlow's "same" for stride 2, written explicitly. */
const correctPad = (size: number): Exclude<PaddingInput, 'same' | 'valid'> =>
  size % 2 === 0
    ? [
        [0, 1],
        [0, 1],
      ]
    : [
        [1, 1],
        [1, 1],
      ];

function kerasBlock(id: number, b: ReturnType<typeof blocks>[number], size: number): NodeSpec {
  const block = id === 0 ? 'expanded_conv' : `block_${id}`;
  const p = `${block}_`;
  const layers: NodeSpec[] = [];
  if (id !== 0) {
    layers.push(
      conv(`${p}expand`, b.cin * b.t, 1, { padding: 'same', bias: false }),
      bn(`${p}expand_BN`, KERAS_EPS),
      act(`${p}expand_relu`, 'relu6'),
    );
  }
  if (b.stride === 2) layers.push(zeroPad(`${p}pad`, correctPad(size)));
  layers.push(
    conv(`${p}depthwise`, b.cin * b.t, 3, {
      strides: b.stride,
      padding: b.stride === 1 ? 'same' : 'valid',
      groups: b.cin * b.t,
      bias: false,
    }),
    bn(`${p}depthwise_BN`, KERAS_EPS),
    act(`${p}depthwise_relu`, 'relu6'),
    conv(`${p}project`, b.cout, 1, { padding: 'same', bias: false }),
    bn(`${p}project_BN`, KERAS_EPS),
  );
  return b.stride === 1 && b.cin === b.cout
    ? residual(block, { body: layers, addName: `${p}add` })
    : sequence(block, layers);
}

function buildKeras(o: ZooOptions = {}) {
  const input = o.input ?? [224, 224, 3];
  let size = Math.ceil(input[0] / 2); // after Conv1 ("same", stride 2)
  const body = blocks().map((b, id) => {
    const block = kerasBlock(id, b, size);
    if (b.stride === 2) size = Math.floor((size + (size % 2 === 0 ? 1 : 2) - 3) / 2) + 1;
    return block;
  });
  return {
    name: 'mobilenet_v2',
    input,
    layers: [
      conv('Conv1', STEM, 3, { strides: 2, padding: 'same', bias: false }),
      bn('bn_Conv1', KERAS_EPS),
      act('Conv1_relu', 'relu6'), // 112x112x32
      ...body, // → 7x7x320
      conv('Conv_1', LAST, 1, { bias: false }),
      bn('Conv_1_bn', KERAS_EPS),
      act('out_relu', 'relu6'), // 7x7x1280
      ...(o.includeTop === false
        ? []
        : [globalAvgPool('global_average_pooling2d'), dense('predictions', o.classes ?? 1000, 'softmax')]),
    ],
  };
}

const common = {
  family: 'mobilenet' as const,
  defaultInput: [224, 224, 3] as const,
  defaultClasses: 1000,
  hasTop: true,
};

export const mobileNetV2s: ZooEntry[] = [
  {
    ...common,
    name: 'mobilenet_v2_tv',
    layout: 'torchvision',
    description: 'MobileNetV2 (width 1.0), torchvision layout and state_dict names',
    reference: 'Sandler et al. 2018 (arXiv:1801.04381); torchvision.models.mobilenet_v2',
    build: buildTorchvision,
  },
  {
    ...common,
    name: 'mobilenet_v2',
    layout: 'keras',
    description: 'MobileNetV2 (alpha 1.0), Keras Applications layout and layer names',
    reference: 'Sandler et al. 2018 (arXiv:1801.04381); keras.applications.MobileNetV2',
    build: buildKeras,
  },
];
