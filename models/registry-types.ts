import type { ArchitectureSpec, Shape3 } from '../src/spec/types.js';

/** Options every zoo generator takes; omitted values take the model's published defaults. */
export interface ZooOptions {
  /** [H, W, C] of one input image. */
  input?: Shape3;
  classes?: number;
  /** With the classifier head (global pooling + dense), as Keras' include_top. */
  includeTop?: boolean;
}

export type ZooLayout = 'keras' | 'torchvision' | 'paper' | 'lecture' | 'default-model';

export interface ZooEntry {
  name: string;
  family: 'resnet' | 'inception' | 'mobilenet' | 'efficientnet' | 'plain' | 'lecture';
  layout: ZooLayout;
  description: string;
  /** Where the architecture comes from (paper and reference implementation). */
  reference: string;
  defaultInput: Readonly<Shape3>;
  defaultClasses: number;
  /** Whether the generator has a classifier head to drop (lecture examples do not). */
  hasTop: boolean;
  build(options?: ZooOptions): ArchitectureSpec;
}
