/**
 * Examples for the OpenAPI document, recorded from the service (test/routes/openapi.test.ts asks
 * again and compares).
 */
/** GET /architectures, abridged to three of its entries. */
export const architecturesResponseExamples = {
  abridged: {
    summary: 'Three of the built-in architectures (the answer lists them all)',
    value: {
      architectures: [
        {
          name: 'resnet50',
          family: 'resnet',
          layout: 'keras',
          description: 'ResNet-50 v1, Keras Applications layout and layer names',
          reference: 'He et al. 2015 (arXiv:1512.03385); keras.applications.resnet',
          input: [224, 224, 3],
          classes: 1000,
          params: 25636712,
          trainableParams: 25583592,
          macs: 3857973248,
        },
        {
          name: 'seed_5x5',
          family: 'lecture',
          layout: 'lecture',
          description: '5x5 same conv, 32 filters, on 28x28x192 (no bottleneck)',
          reference: 'Szegedy et al. 2014 §5 motivation; lecture example',
          input: [28, 28, 192],
          classes: 0,
          params: 153632,
          trainableParams: 153632,
          macs: 120422400,
        },
        {
          name: 'seed_5x5_bottleneck',
          family: 'lecture',
          layout: 'lecture',
          description: '1x1 conv to 16 channels, then the 5x5 same conv to 32, on 28x28x192',
          reference: 'Szegedy et al. 2014 §5 (1x1 reductions); lecture example',
          input: [28, 28, 192],
          classes: 0,
          params: 15920,
          trainableParams: 15920,
          macs: 12443648,
        },
      ],
    },
  },
};

export const modelJsonResponseExamples = {
  seed5x5: {
    summary: 'GET /architectures/seed_5x5/model.json',
    value: {
      format: 'layers-model',
      generatedBy: 'convnet-serve',
      convertedBy: null,
      modelTopology: {
        class_name: 'Functional',
        config: {
          name: 'seed_5x5',
          layers: [
            {
              class_name: 'InputLayer',
              config: {
                batch_input_shape: [null, 28, 28, 192],
                dtype: 'float32',
                sparse: false,
                ragged: false,
                name: 'input',
              },
              name: 'input',
              inbound_nodes: [],
            },
            {
              class_name: 'Conv2D',
              config: {
                name: 'conv5x5',
                trainable: true,
                dtype: 'float32',
                filters: 32,
                kernel_size: [5, 5],
                strides: [1, 1],
                padding: 'same',
                data_format: 'channels_last',
                dilation_rate: [1, 1],
                activation: 'linear',
                use_bias: true,
                bias_initializer: {
                  class_name: 'Zeros',
                  config: {},
                },
                bias_regularizer: null,
                activity_regularizer: null,
                bias_constraint: null,
                groups: 1,
                kernel_initializer: {
                  class_name: 'GlorotUniform',
                  config: {
                    seed: null,
                  },
                },
                kernel_regularizer: null,
                kernel_constraint: null,
              },
              name: 'conv5x5',
              inbound_nodes: [[['input', 0, 0, {}]]],
            },
            {
              class_name: 'Activation',
              config: {
                name: 'conv5x5_relu',
                trainable: true,
                dtype: 'float32',
                activation: 'relu',
              },
              name: 'conv5x5_relu',
              inbound_nodes: [[['conv5x5', 0, 0, {}]]],
            },
          ],
          input_layers: [['input', 0, 0]],
          output_layers: [['conv5x5_relu', 0, 0]],
        },
        keras_version: '2.15.0',
        backend: 'tensorflow',
      },
      weightsManifest: [
        {
          paths: [],
          weights: [
            {
              name: 'conv5x5/kernel',
              shape: [5, 5, 192, 32],
              dtype: 'float32',
            },
            {
              name: 'conv5x5/bias',
              shape: [32],
              dtype: 'float32',
            },
          ],
        },
      ],
    },
  },
};
