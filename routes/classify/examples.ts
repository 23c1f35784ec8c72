/**
 * Examples for the OpenAPI document, recorded from the service serving models/: a Fashion-MNIST
 * test image (test/fixtures/fashion/0_9.png, an ankle boot) classified by fashion-resnet.
 * The timings are those of that run.
 */
export const classifyRequestExamples = {
  ankleBoot: {
    summary: 'One base64 PNG (0_9.png, an ankle boot), the top 3 labels',
    value: {
      images: [
        {
          b64: 'iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAABVUlEQVR42mNgGNaAmZGBgZ1BFV2YkYlBOoQbwi7HkGRgiOjPA7HEYrPQJVkYTBsrJq+fu6x91ooeNDkmBu7OpoYFG+Yv3zR1+gQk85gYGZgZGIqLsjpXzJyzdHn/3HnccKtAjmRgiOyOips5tXn6yjX981cawA1kASlI6sjLzVvUPmHq/OUT5q0EO5eJCegDIJDKKU3OL+2Y0zZr1pwFvZPnbAIbBgKipjGl+enFjW39s5aumjV9Vn/XtKXaQHFxM0ef0LKG6vzCsvra7taOBT2zF06YvWbhXjsGBpe4qPyi/KLi+vaO/rp6oJ4ptYsWTeiaueiIFYPbysaMpJS4xKS0nKzyisapc5bv23fk2LHdR/fuUGEQqFu9Z8+O1TPbK+rqJ+08fPHC/4sbv/75/fv7nXOGIMfwOGct2Xn80uVLF/ZNC+IACmy6sGf9onnTuYdWYgIA6AOCsXYoh80AAAAASUVORK5CYII=',
          name: '0_9.png',
        },
      ],
      topk: 3,
    },
  },
};

export const classifyResponseExamples = {
  ankleBoot: {
    summary: "fashion-resnet's top 3 for 0_9.png",
    value: {
      model: 'fashion-resnet',
      version: 1,
      backend: 'onnxruntime-cpu',
      results: [
        {
          file: '0_9.png',
          predictions: [
            {
              label: 'Ankle boot',
              index: 9,
              probability: 0.9311925768852234,
            },
            {
              label: 'Sneaker',
              index: 7,
              probability: 0.009212003089487553,
            },
            {
              label: 'T-shirt/top',
              index: 0,
              probability: 0.008733089081943035,
            },
          ],
        },
      ],
      timings: {
        decodeMs: 34.073247000000265,
        queueMs: 0.8705209999970975,
        inferMs: 4.291330000000016,
      },
    },
  },
};

export const classifyErrorExamples = {
  415: {
    unsupportedType: {
      summary: 'A body that is neither an image, multipart nor JSON',
      value: {
        statusCode: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        error: 'Unsupported Media Type',
        message:
          'content-type: expected one this route accepts (application/json; /classify also multipart/form-data and image/*); received "text/plain"',
        field: 'content-type',
        received: 'text/plain',
      },
    },
  },
};
