/**
 * Examples for the OpenAPI document, recorded from the service serving models/ (fashion-resnet).
 * The inference input is a uniform image that is already normalised: 28·28 zeros.
 */
import { PACKAGE } from '../../src/config.js';
import { fashionPreprocess } from '../models/examples.js';

export const serverMetadataExamples = {
  server: {
    summary: 'This service',
    value: {
      name: PACKAGE.name,
      version: PACKAGE.version,
      extensions: ['model_repository'],
    },
  },
};

export const serverLiveExamples = {
  live: {
    summary: 'The process answers',
    value: {
      live: true,
    },
  },
};
export const serverReadyExamples = {
  ready: {
    summary: 'Every model is ready',
    value: {
      ready: true,
    },
  },
};

export const modelMetadataExamples = {
  fashionResnet: {
    summary: 'GET /v2/models/fashion-resnet',
    value: {
      name: 'fashion-resnet',
      versions: ['1'],
      platform: 'convnet-serve_onnxruntime',
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [-1, 28, 28, 1],
        },
      ],
      outputs: [
        {
          name: 'logits',
          datatype: 'FP32',
          shape: [-1, 10],
        },
        {
          name: 'probabilities',
          datatype: 'FP32',
          shape: [-1, 10],
        },
      ],
      parameters: {
        engine: 'onnxruntime',
        backend: 'onnxruntime-cpu',
        state: 'ready',
        preprocess: fashionPreprocess,
        precision: 'fp32',
        precisionCheck: null,
      },
    },
  },
};

export const modelReadyExamples = {
  fashionResnet: {
    summary: 'GET /v2/models/fashion-resnet/ready',
    value: {
      name: 'fashion-resnet',
      version: '1',
      ready: true,
    },
  },
};

export const inferRequestExamples = {
  uniform: {
    summary: 'One 28x28x1 image, every value 0 after normalisation',
    value: {
      id: 'grey-1',
      inputs: [
        {
          name: 'input',
          shape: [1, 28, 28, 1],
          datatype: 'FP32',
          data: new Array(28 * 28).fill(0),
        },
      ],
    },
  },
};

export const inferResponseExamples = {
  uniform: {
    summary: "fashion-resnet's logits and probabilities for it",
    value: {
      model_name: 'fashion-resnet',
      model_version: '1',
      id: 'grey-1',
      outputs: [
        {
          name: 'logits',
          datatype: 'FP32',
          shape: [1, 10],
          data: [
            2.6763598918914795, 0.06471201032400131, -1.2812460660934448, -0.49668586254119873,
            -1.449716329574585, -0.44986942410469055, -1.6892274618148804, 0.43541741371154785,
            1.632291555404663, 0.9170666933059692,
          ],
        },
        {
          name: 'probabilities',
          datatype: 'FP32',
          shape: [1, 10],
          data: [
            0.544164776802063, 0.039949022233486176, 0.010398339480161667, 0.022787367925047874,
            0.00878614280372858, 0.023879557847976685, 0.006914804689586163, 0.05787639319896698,
            0.1915566772222519, 0.09368694573640823,
          ],
        },
      ],
    },
  },
};

export const v2ErrorExamples = {
  404: {
    misspelt: {
      summary: 'A model that is not served, in the error body of the protocol',
      value: {
        error:
          'model: expected one of fashion-inception, fashion-resnet; received "fashion-resnett". Did you mean "fashion-resnet"?',
      },
    },
  },
};

export const repositoryIndexRequestExamples = {
  all: { summary: 'Every model folder', value: {} },
  ready: { summary: 'Only the versions ready to serve', value: { ready: true } },
};

export const repositoryIndexExamples = {
  served: {
    summary: 'Two models served, one of them with a second version loading, and a folder unloaded',
    value: [
      { name: 'fashion-inception', version: '1', state: 'READY', reason: '' },
      { name: 'fashion-resnet', version: '1', state: 'READY', reason: '' },
      { name: 'fashion-resnet', version: '2', state: 'LOADING', reason: '' },
      { name: 'resnet50_tv', state: 'UNAVAILABLE', reason: 'unloaded' },
    ],
  },
};

export const repositoryControlRequestExamples = {
  empty: { summary: 'No parameters', value: {} },
};

export const repositoryLoadExamples = {
  loaded: {
    summary: 'POST /v2/repository/models/fashion-resnet/load',
    value: { name: 'fashion-resnet', versions: [{ version: '1', state: 'ready' }] },
  },
};

export const repositoryUnloadExamples = {
  unloaded: {
    summary: 'POST /v2/repository/models/fashion-resnet/unload',
    value: { name: 'fashion-resnet' },
  },
};
