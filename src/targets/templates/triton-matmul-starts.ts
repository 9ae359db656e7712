/**
 * Where a Triton matmul search starts: the configurations that were the fastest of their shape in
 * the exhaustive sweep of the template's space on an H200 (bench/gpu/RESULTS.md, part 1), per dtype
 * path, then sized for the operation at hand. A cold search of 12 to 16 samples cannot sweep 150 to
 * 700 configurations; starting from the sweep's winners, it measures first what won elsewhere and
 * spends the rest of its budget on neighbours. Before these starts every search entered Triton at
 * 128x128x64 with 4 warps, which in f32 spills its accumulator and ran 5x slower than cuBLAS.
 */
import type { Operation } from '../../schedules/index.js';
import type { Knobs } from './template.js';

type Start = Readonly<Knobs>;

const tile = (m: number, n: number, k: number, group: number, warps: number, stages: number, precision: string) => ({
  block_m: m,
  block_n: n,
  block_k: k,
  group_m: group,
  num_warps: warps,
  num_stages: stages,
  precision,
});

/** f16 / bf16 on tensor cores: the winners of the square, LLM, batched, fused, skinny and small cases. */
const NATIVE_STARTS: readonly Start[] = [
  tile(128, 256, 64, 8, 8, 3, 'native'),
  tile(128, 256, 64, 8, 8, 4, 'native'),
  tile(128, 128, 128, 8, 8, 3, 'native'),
  tile(128, 128, 64, 8, 4, 4, 'native'),
  tile(64, 32, 128, 1, 4, 4, 'native'),
];

/** f32 FMA products: the winners of the square, LLM, skinny and fused f32 cases. */
const IEEE_STARTS: readonly Start[] = [
  tile(64, 64, 64, 1, 4, 3, 'ieee'),
  tile(128, 64, 32, 1, 4, 3, 'ieee'),
  tile(64, 128, 32, 8, 8, 4, 'ieee'),
];

/**
 * f32 through three TF32 tensor-core products (about f32 accuracy, at tensor-core speed): the
 * winners of the small and batched f32 cases, and 128x128x32 over 8 warps for large products,
 * which keeps the split operands' registers and 3 stages of f32 tiles within budget.
 */
const TF32X3_STARTS: readonly Start[] = [
  tile(128, 128, 32, 8, 8, 3, 'tf32x3'),
  tile(32, 64, 64, 1, 4, 4, 'tf32x3'),
  tile(256, 64, 32, 8, 8, 4, 'tf32x3'),
];

/** What sizing a start needs from the template: its legalization, launch size and one-step shrink. */
export interface StartSizing {
  legalize(knobs: Knobs): Knobs;
  /** Programs (thread blocks) one launch has with these knobs. */
  programs(knobs: Knobs): number;
  /** The knobs with the larger block one legal size smaller; null when both are at their smallest. */
  shrink(knobs: Knobs): Knobs | null;
  /** Streaming multiprocessors of the GPU; without it the starts are only legalized. */
  multiprocessors?: number;
}

/**
 * The starts of this operation's dtype path, fastest-elsewhere first, before sizing. f32 tries
 * 3xTF32 first, the only f32 path that can beat cuBLAS's SGEMM (its products run on tensor cores):
 * it met the harness's f32 tolerance on KernelBench's problems (uniform inputs, outputs far from
 * zero) up to K = 8192, and missed it on the sweep's normal inputs from K = 2048, whose outputs
 * straddle zero, so the f32 FMA starts follow and the harness decides.
 */
function startsFor(op: Operation): readonly Start[] {
  return op.dtype === 'f32' ? [...TF32X3_STARTS, ...IEEE_STARTS] : NATIVE_STARTS;
}

/**
 * The starting configurations for this operation: its dtype path's winners, each legalized for the
 * shape and its tiles shrunk while the launch would leave more than half of the SMs idle (a
 * 128x256 tile is 8 programs on a 512^2 product, for 132 SMs), without repeats, in order.
 */
export function tritonMatmulStarts(op: Operation, sizing: StartSizing): Knobs[] {
  const sms = sizing.multiprocessors;
  const seen = new Set<string>();
  const out: Knobs[] = [];
  for (const start of startsFor(op)) {
    let knobs = sizing.legalize({ ...start, impl: 'triton' });
    while (sms !== undefined && sizing.programs(knobs) * 2 < sms) {
      const smaller = sizing.shrink(knobs);
      if (!smaller) break;
      knobs = sizing.legalize(smaller);
    }
    const key = JSON.stringify(Object.entries(knobs).sort(([a], [b]) => a.localeCompare(b)));
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(knobs);
  }
  return out;
}
