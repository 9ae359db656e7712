/**
 * The batched gemm template: the gemm template's code (gemm-template.ts) for one M x N x K product,
 * run for each batch (on several threads, batches and row slices of them shared out) with the
 * scratch buffers allocated once per call. The knobs are the gemm
 * knobs, with tiles ranged by the per-batch M, N, K; the baseline is the naive batched loop nest.
 */
import { defineCTemplate, type CTemplateOptions } from './c-template.js';
import { gemmParts, gemmSpec } from './gemm-template.js';
import type { KernelTemplate } from './template.js';

/** Creates the batched gemm template for a CPU with the given ISA extensions. */
export function createBatchedGemmTemplate(options: CTemplateOptions): KernelTemplate<'batched_gemm'> {
  return defineCTemplate({
    ...gemmSpec(options),
    kind: 'batched_gemm',
    generate(op, knobs) {
      const parts = gemmParts(op, knobs);
      return `${parts.head}
void kernel(int Bt, int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
${parts.alloc}  ${parts.run(true)}
${parts.free}}
`;
    },
  });
}
