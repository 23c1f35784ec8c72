// int8 keeps what the default model predicts on this machine's CPU: built as served (calibrated on
// the model folder's images, weights within the range this CPU's int8 kernels sum without
// saturating: src/engines/int8-weights.ts), it must agree with fp32 on at least 99% of the first
// 2,000 Fashion-MNIST test images and lose at most 0.5 points of accuracy there (the limits a load
// enforces on the calibration images). With full-range weights on a CPU without VNNI it agreed on
// 94.8% of the test set and lost 3.27 points.
import t from 'tap';
import { fashionPrecision } from '../../bench/lib/precision.js';

t.test('fashion-resnet in int8 agrees with fp32 and keeps its accuracy on 2,000 test images', async (t) => {
  const [r] = await fashionPrecision(() => {}, { models: ['fashion-resnet'], images: 2000 });
  t.equal(r.testImages, 2000);
  t.ok(r.agreement >= 99, `top-1 agreement ${r.agreement.toFixed(2)}% (at least 99%)`);
  t.ok(
    r.fp32Accuracy - r.int8Accuracy <= 0.5,
    `accuracy fp32 ${r.fp32Accuracy.toFixed(2)}%, int8 ${r.int8Accuracy.toFixed(2)}% (at most 0.5 points lost)`,
  );
});
