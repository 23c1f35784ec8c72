// Which int8 weight range each CPU gets (src/engines/int8-weights.ts): the full +-127 only where
// int8 products are summed in 32 bits (VNNI on x86, every arm64), +-64 elsewhere on x86.
import t from 'tap';
import { int8WeightLimit, int8WeightLimitFor } from '../../src/engines/int8-weights.js';

const AVX2 = ' fpu vme sse sse2 ssse3 fma avx avx2 bmi2';

t.test('x86 without VNNI: +-64', async (t) => {
  t.equal(int8WeightLimitFor('x64', AVX2), 64, 'AVX2 only');
  t.equal(int8WeightLimitFor('x64', `${AVX2} avx512f avx512bw avx512vl`), 64, 'AVX-512 without VNNI');
  t.equal(int8WeightLimitFor('x64', `${AVX2} avx512_vnnix`), 64, 'whole flag names only');
  t.equal(int8WeightLimitFor('x64', undefined), 64, 'flags unknown (no /proc/cpuinfo)');
});

t.test('x86 with VNNI, and arm64: the full +-127', async (t) => {
  t.equal(int8WeightLimitFor('x64', `${AVX2} avx512f avx512_vnni avx512_bf16`), 127, 'AVX-512 VNNI');
  t.equal(int8WeightLimitFor('x64', `${AVX2} avx_vnni`), 127, 'AVX-VNNI');
  t.equal(int8WeightLimitFor('arm64', undefined), 127, 'arm64');
});

t.test("this machine's limit is one of the two, the same at every call", async (t) => {
  const limit = int8WeightLimit();
  t.ok(limit === 127 || limit === 64);
  t.equal(int8WeightLimit(), limit);
});
