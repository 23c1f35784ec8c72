/**
 * Examples for the OpenAPI document, recorded from the service: every request is one it accepts
 * and every response is what it answered (test/routes/openapi.test.ts asks again and compares).
 */
import { CONVENTIONS } from '../../src/analysis/conventions.js';

export const analyzeRequestExamples = {
  seed5x5: {
    summary: 'A built-in architecture: one 5x5 conv on 28x28x192 (120,422,400 MACs)',
    value: {
      model: 'seed_5x5',
    },
  },
  resized: {
    summary: 'A built-in architecture at another input size, with 10 classes',
    value: {
      model: 'resnet50',
      input: [128, 128, 3],
      classes: 10,
    },
  },
  spec: {
    summary: 'An architecture spec: the same 5x5 conv, without its ReLU',
    value: {
      spec: {
        name: 'conv5x5',
        input: [28, 28, 192],
        layers: [
          {
            kind: 'conv2d',
            name: 'conv5x5',
            filters: 32,
            kernel: 5,
            padding: 'same',
          },
        ],
      },
    },
  },
  compare: {
    summary: 'Two architectures side by side: B - A and B / A',
    value: {
      compare: ['seed_5x5', 'seed_5x5_bottleneck'],
    },
  },
};

export const analyzeResponseExamples = {
  seed5x5: {
    summary: 'The report for {"model": "seed_5x5"}',
    value: {
      model: 'seed_5x5',
      input: [28, 28, 192],
      output: [28, 28, 32],
      batch: 1,
      // Every report carries the conventions as written once in the analyzer.
      conventions: CONVENTIONS,
      layers: [
        {
          index: 0,
          name: 'conv5x5',
          kind: 'conv2d',
          blockPath: [],
          inputs: ['input'],
          inputShapes: [[28, 28, 192]],
          outputShape: [28, 28, 32],
          params: 153632,
          trainableParams: 153632,
          nonTrainableParams: 0,
          weights: [
            {
              name: 'kernel',
              shape: [5, 5, 192, 32],
              trainable: true,
              torch: {
                name: 'weight',
                perm: [2, 3, 1, 0],
              },
            },
            {
              name: 'bias',
              shape: [32],
              trainable: true,
              torch: {
                name: 'bias',
              },
            },
          ],
          macs: 120422400,
          elementOps: 25088,
          outputElements: 25088,
          outputBytes: 100352,
          receptiveField: [5, 5],
          receptiveFieldStride: [1, 1],
        },
        {
          index: 1,
          name: 'conv5x5_relu',
          kind: 'activation',
          blockPath: [],
          inputs: ['conv5x5'],
          inputShapes: [[28, 28, 32]],
          outputShape: [28, 28, 32],
          params: 0,
          trainableParams: 0,
          nonTrainableParams: 0,
          weights: [],
          macs: 0,
          elementOps: 25088,
          outputElements: 25088,
          outputBytes: 100352,
          receptiveField: [5, 5],
          receptiveFieldStride: [1, 1],
        },
      ],
      totals: {
        layers: 2,
        params: 153632,
        trainableParams: 153632,
        nonTrainableParams: 0,
        macs: 120422400,
        flops: 240844800,
        elementOps: 50176,
        weightBytes: 614528,
        activationBytesPerImage: 200704,
        peakActivationBytes: 702464,
        peakActivationLayer: 'conv5x5',
      },
      blocks: {
        residual: [],
        inception: [],
      },
      bottlenecks: [],
      topLayers: [
        {
          name: 'conv5x5',
          kind: 'conv2d',
          outputShape: [28, 28, 32],
          macs: 120422400,
          params: 153632,
          macShare: 1,
        },
      ],
    },
  },
};

export const analyzeErrorExamples = {
  400: {
    shortInput: {
      summary: 'input with two sizes instead of [H, W, C]',
      value: {
        statusCode: 400,
        code: 'VALIDATION_ERROR',
        error: 'Bad Request',
        message: 'body.input: expected NOT have fewer than 3 items; received [224,224]',
        field: 'body.input',
        received: '[224,224]',
        expected: 'NOT have fewer than 3 items',
      },
    },
  },
  404: {
    unknownModel: {
      summary: 'A name that is no architecture, with the closest ones',
      value: {
        statusCode: 404,
        code: 'UNKNOWN_MODEL',
        error: 'Not Found',
        message:
          'model: expected a built-in architecture or a served model; received "resnet5". Did you mean "resnet50" or "resnet152" or "resnet18"? Available: resnet50, resnet101, resnet152, resnet50v2, resnet101v2, resnet152v2, inception_v3, inception_resnet_v2, resnet18, resnet34, resnet50_tv, resnet101_tv, resnet152_tv, googlenet, googlenet_tv, mobilenet_v2_tv, mobilenet_v2, mobilenet_v3_small_tv, efficientnet_b0_tv, plain18, plain34, seed_5x5, seed_5x5_bottleneck, inception_3a, fashion_resnet, fashion_inception, fashion-inception, fashion-resnet',
        field: 'model',
        received: 'resnet5',
        expected: 'a built-in architecture or served model name',
        suggestions: ['resnet50', 'resnet152', 'resnet18'],
        available: [
          'resnet50',
          'resnet101',
          'resnet152',
          'resnet50v2',
          'resnet101v2',
          'resnet152v2',
          'inception_v3',
          'inception_resnet_v2',
          'resnet18',
          'resnet34',
          'resnet50_tv',
          'resnet101_tv',
          'resnet152_tv',
          'googlenet',
          'googlenet_tv',
          'mobilenet_v2_tv',
          'mobilenet_v2',
          'mobilenet_v3_small_tv',
          'efficientnet_b0_tv',
          'plain18',
          'plain34',
          'seed_5x5',
          'seed_5x5_bottleneck',
          'inception_3a',
          'fashion_resnet',
          'fashion_inception',
          'fashion-inception',
          'fashion-resnet',
        ],
      },
    },
  },
};
