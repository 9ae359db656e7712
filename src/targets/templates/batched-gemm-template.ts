/**
 * The batched gemm template: the gemm template's code (gemm-template.ts) for one M x N x K product,
 * called for each batch with the scratch buffers allocated once per call. The knobs are the gemm
 * knobs, with tiles ranged by the per-batch M, N, K; the baseline is the naive batched loop nest.
 */
import { SkbError } from '../../schedules/index.js';
import { naiveBaseline } from '../c/baselines.js';
import { GEMM_BASELINE, GEMM_MOVES, gemmKnobSpecs, gemmParts, isGemmBaseline, legalizeGemmKnobs, type GemmTemplateOptions } from './gemm-template.js';
import type { KernelTemplate, Knobs } from './template.js';

/** Creates the batched gemm template for a CPU with the given ISA extensions. */
export function createBatchedGemmTemplate(options: GemmTemplateOptions): KernelTemplate {
  const knobs = gemmKnobSpecs(options.isa);
  const legalize: KernelTemplate['legalize'] = (op, k) => legalizeGemmKnobs(knobs, op, k);
  return {
    kind: 'batched_gemm',
    knobs,
    baseline: (): Knobs => ({ ...GEMM_BASELINE }),
    legalize,
    generate(op, requested) {
      if (op.kind !== 'batched_gemm') throw new SkbError('BAD_INPUT', `The batched gemm template generates batched_gemm kernels, not ${op.kind}`);
      const k = legalize(op, requested);
      if (isGemmBaseline(k)) return naiveBaseline(op);
      const parts = gemmParts(op, k);
      return `${parts.head}
void kernel(int Bt, int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
${parts.alloc}  for (int bt = 0; bt < Bt; bt++) {
    ${parts.call('A + (size_t)bt * M * K', 'B + (size_t)bt * K * N', 'C + (size_t)bt * M * N')}
  }
${parts.free}}
`;
    },
    moves: GEMM_MOVES,
  };
}
