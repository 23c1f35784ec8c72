/**
 * The zoo: every built-in architecture by name. Each entry is a spec generator; nothing here
 * computes shapes or costs (the analyzer does, and a test recomputes every figure).
 */
import { efficientNets } from './efficientnet.js';
import { fashionModels } from './fashion.js';
import { googlenets } from './googlenet.js';
import { inceptionResnetV2 } from './inception_resnet_v2.js';
import { inceptionV3 } from './inception_v3.js';
import { lectureExamples } from './lecture.js';
import { mobileNetV2s } from './mobilenet_v2.js';
import { mobileNetV3s } from './mobilenet_v3.js';
import type { ZooEntry } from './registry-types.js';
import { kerasResNets } from './resnet_keras.js';
import { plainNets, torchvisionResNets } from './resnet_torchvision.js';

export type { ZooEntry, ZooOptions } from './registry-types.js';

export const ZOO: ReadonlyMap<string, ZooEntry> = new Map(
  [
    ...kerasResNets,
    inceptionV3,
    inceptionResnetV2,
    ...torchvisionResNets,
    ...googlenets,
    ...mobileNetV2s,
    ...mobileNetV3s,
    ...efficientNets,
    ...plainNets,
    ...lectureExamples,
    ...fashionModels,
  ].map((e) => [e.name, e]),
);

export const zooNames = (): string[] => [...ZOO.keys()];
