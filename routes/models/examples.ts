/**
 * Examples for the OpenAPI document, recorded from the service serving models/ (fashion-resnet and
 * fashion-inception, TFJS_BACKEND=wasm). Load, warm-up and per-engine timings are those of that run.
 */

/** How both Fashion-MNIST models of models/ preprocess an image (also in KServe's model metadata). */
export const fashionPreprocess = {
  resize: 'stretch',
  cropFraction: 1,
  interpolation: 'bilinear',
  channelOrder: 'RGB',
  scale: 0.00392156862745098,
  mean: [0.286],
  std: [0.353],
  size: [28, 28],
  channels: 1,
};

const fashionInception = {
  name: 'fashion-inception',
  version: 1,
  state: 'ready',
  backend: 'onnxruntime-cpu',
  architecture: 'fashion_inception',
  source: 'zoo',
  input: [28, 28, 1],
  classes: 10,
  labels: 10,
  preprocess: fashionPreprocess,
  topk: 3,
  engine: 'onnxruntime',
  engineTimings: {
    msPerImage: {
      onnxruntime: 0.5631210000028659,
      tfjs: 95.70448599999872,
    },
    stoppedEarly: ['tfjs'],
  },
  precision: 'fp32',
  precisionCheck: null,
  tfjsBackend: {
    name: 'wasm',
    skipped: [],
    wasm: {
      simd: true,
      threads: 1,
    },
  },
  params: 327834,
  macs: 29249216,
  totals: {
    layers: 90,
    params: 327834,
    trainableParams: 325554,
    nonTrainableParams: 2280,
    macs: 29249216,
    flops: 58498432,
    elementOps: 851444,
    weightBytes: 1311336,
    activationBytesPerImage: 2282216,
    peakActivationBytes: 282240,
    peakActivationLayer: 'mixed2_b4_pool',
  },
  weights: {
    file: 'weights.safetensors',
    sha256: 'f4d94d807b02369c521dc0911eb12d3c6cd391f77e31f3f12547a59cf191cbc8',
    bytes: 1323064,
    keyStyle: 'layer-names',
    format: 'safetensors',
  },
  loadMs: 10502.984245999996,
  warmupMs: 1134.5923170000024,
  batching: {
    maxBatch: 8,
    maxDelayMs: 5,
    queueLimit: 256,
    timeoutMs: 30000,
    concurrency: 2,
  },
  versions: [{ version: 1, state: 'ready' }],
  explain: {
    method: 'gradcam',
    computedBy: 'tfjs, in a copy each worker loads on its first explain request',
    defaultLayer: 'mixed4',
    layers: ['conv1_conv', 'conv1_bn', 'conv1_relu', '…', 'mixed4_b4_relu', 'mixed4'],
  },
};

const fashionResnet = {
  name: 'fashion-resnet',
  version: 1,
  state: 'ready',
  backend: 'onnxruntime-cpu',
  architecture: 'fashion_resnet',
  source: 'zoo',
  input: [28, 28, 1],
  classes: 10,
  labels: 10,
  preprocess: fashionPreprocess,
  topk: 3,
  engine: 'onnxruntime',
  engineTimings: {
    msPerImage: {
      onnxruntime: 1.115111999999499,
      tfjs: 24.233626000001095,
    },
    stoppedEarly: ['tfjs'],
  },
  precision: 'fp32',
  precisionCheck: null,
  tfjsBackend: {
    name: 'wasm',
    skipped: [],
    wasm: {
      simd: true,
      threads: 1,
    },
  },
  params: 679594,
  macs: 66057984,
  totals: {
    layers: 44,
    params: 679594,
    trainableParams: 677482,
    nonTrainableParams: 2112,
    macs: 66057984,
    flops: 132115968,
    elementOps: 388884,
    weightBytes: 2718376,
    activationBytesPerImage: 2208296,
    peakActivationBytes: 301056,
    peakActivationLayer: 'conv2_block1_1_bn',
  },
  weights: {
    file: 'weights.safetensors',
    sha256: '032ecaeb9e0ceadcb523846fae42652061f22550bd2add9468d5197d84f86af8',
    bytes: 2724560,
    keyStyle: 'layer-names',
    format: 'safetensors',
  },
  loadMs: 949.2271389999987,
  warmupMs: 262.5354619999998,
  batching: {
    maxBatch: 8,
    maxDelayMs: 5,
    queueLimit: 256,
    timeoutMs: 30000,
    concurrency: 2,
  },
  versions: [{ version: 1, state: 'ready' }],
  explain: {
    method: 'gradcam',
    computedBy: 'tfjs, in a copy each worker loads on its first explain request',
    defaultLayer: 'conv4_block2_out',
    layers: ['conv1_conv', 'conv1_bn', 'conv1_relu', '…', 'conv4_block2_add', 'conv4_block2_out'],
  },
};

export const modelsResponseExamples = {
  fashion: {
    summary: 'The two Fashion-MNIST models of models/',
    value: { default: 'fashion-resnet', models: [fashionInception, fashionResnet] },
  },
};

export const modelResponseExamples = {
  fashionResnet: { summary: 'GET /models/fashion-resnet', value: fashionResnet },
};

export const modelErrorExamples = {
  404: {
    misspelt: {
      summary: 'A name that is not served, with the closest one',
      value: {
        statusCode: 404,
        code: 'MODEL_NOT_FOUND',
        error: 'Not Found',
        message:
          'model: expected one of fashion-inception, fashion-resnet; received "fashion-resnett". Did you mean "fashion-resnet"?',
        field: 'model',
        received: 'fashion-resnett',
        suggestions: ['fashion-resnet'],
        available: ['fashion-inception', 'fashion-resnet'],
      },
    },
  },
};
