/**
 * The lecture's cost examples, on the 28x28x192 feature map that feeds GoogLeNet's inception(3a):
 * a 5x5 "same" conv to 32 channels costs 28·28·32·5·5·192 = 120,422,400 MACs; putting a 1x1 conv to
 * 16 channels in front costs 28·28·16·192 + 28·28·32·5·5·16 = 2,408,448 + 10,035,200 = 12,443,648.
 * The generators ignore `classes` and `includeTop`: these are single modules, not classifiers.
 */
import { conv, relu } from './layers.js';
import { GOOGLENET_MODULES, paperInception } from './googlenet.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

const common = {
  family: 'lecture',
  layout: 'lecture',
  defaultInput: [28, 28, 192],
  defaultClasses: 0,
  hasTop: false,
} as const;

export const lectureExamples: ZooEntry[] = [
  {
    ...common,
    name: 'seed_5x5',
    description: '5x5 same conv, 32 filters, on 28x28x192 (no bottleneck)',
    reference: 'Szegedy et al. 2014 §5 motivation; lecture example',
    build: (o: ZooOptions = {}) => ({
      name: 'seed_5x5',
      input: o.input ?? [28, 28, 192],
      layers: [conv('conv5x5', 32, 5, { padding: 'same' }), relu('conv5x5_relu')], // 28x28x32
    }),
  },
  {
    ...common,
    name: 'seed_5x5_bottleneck',
    description: '1x1 conv to 16 channels, then the 5x5 same conv to 32, on 28x28x192',
    reference: 'Szegedy et al. 2014 §5 (1x1 reductions); lecture example',
    build: (o: ZooOptions = {}) => ({
      name: 'seed_5x5_bottleneck',
      input: o.input ?? [28, 28, 192],
      layers: [
        conv('reduce1x1', 16, 1),
        relu('reduce1x1_relu'), // 28x28x16
        conv('conv5x5', 32, 5, { padding: 'same' }),
        relu('conv5x5_relu'), // 28x28x32
      ],
    }),
  },
  {
    ...common,
    name: 'inception_3a',
    description: "GoogLeNet's inception(3a) module on 28x28x192, as in the paper (output 28x28x256)",
    reference: 'Szegedy et al. 2014, Table 1, row inception (3a)',
    build: (o: ZooOptions = {}) => ({
      name: 'inception_3a',
      input: o.input ?? [28, 28, 192],
      layers: [paperInception('3a', GOOGLENET_MODULES['3a'])],
    }),
  },
];
