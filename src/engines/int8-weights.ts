/**
 * How wide int8 weights may be on this CPU. ONNX Runtime's int8 kernels (MLAS) multiply uint8
 * activations by int8 weights. With VNNI (AVX-512 VNNI or AVX-VNNI) each product is summed in 32
 * bits; without it, x86 kernels use vpmaddubsw, which adds two products in 16 bits and saturates:
 * 2 x 255 x 127 overflows 32,767. Weights quantized to +-64 keep the pair within range
 * (2 x 255 x 64 = 32,640), as onnxruntime's own quantization tool does with `reduce_range` on
 * such machines. Measured on a 2-core AMD EPYC with AVX2 and no VNNI: the default models in int8
 * lost 3.27 and 2.15 points of Fashion-MNIST test accuracy with full-range weights.
 * ARM's dot-product kernels accumulate in 32 bits, so arm64 keeps the full range.
 */
import { readFileSync } from 'node:fs';

/** The largest weight magnitude of an int8 kernel: 127, or 64 where int8 products pairwise saturate. */
export type Int8WeightLimit = 127 | 64;

/** The limit for a CPU described by `arch` and the flags of /proc/cpuinfo (`undefined`: unknown). */
export function int8WeightLimitFor(arch: string, cpuFlags: string | undefined): Int8WeightLimit {
  if (arch !== 'x64' && arch !== 'ia32') return 127;
  // Without /proc/cpuinfo (macOS, Windows) the CPU may lack VNNI: the narrower range is safe anywhere.
  if (cpuFlags === undefined) return 64;
  return /\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(cpuFlags) ? 127 : 64;
}

let cached: Int8WeightLimit | undefined;

/** This machine's limit (read once). */
export function int8WeightLimit(): Int8WeightLimit {
  cached ??= int8WeightLimitFor(process.arch, cpuFlags());
  return cached;
}

function cpuFlags(): string | undefined {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^flags\s*:(.*)$/m.exec(info)?.[1];
  } catch {
    return undefined;
  }
}
