/** Examples for the OpenAPI document, recorded from the service serving models/ with one worker. */
export const liveResponseExamples = {
  live: {
    summary: 'The process answers',
    value: {
      status: 'live',
    },
  },
};

export const readyResponseExamples = {
  ready: {
    summary: 'Every model loaded and warmed up',
    value: {
      status: 'ready',
      models: [
        {
          name: 'fashion-inception',
          state: 'ready',
          engine: 'onnxruntime',
          backend: 'onnxruntime-cpu',
        },
        {
          name: 'fashion-resnet',
          state: 'ready',
          engine: 'onnxruntime',
          backend: 'onnxruntime-cpu',
        },
      ],
      tfjsBackend: 'wasm',
      workers: {
        live: 1,
        size: 1,
      },
    },
  },
};
