/**
 * A small GEMM template for the planner's unit tests: loop order, k tiling, unrolling and restrict,
 * with one combination rule (k tiling needs the i-k-j order) so that `legalize` can undo a move.
 * Its code is real C that the C toolchain accepts.
 */
import type { Operation } from '../../src/schedules/index.js';
import type { KernelTemplate, Knobs } from '../../src/targets/templates/template.js';

const K_TILES = [0, 16, 32, 64, 128, 256];

export const toyGemmTemplate: KernelTemplate = {
  kind: 'gemm',
  knobs: [
    { name: 'order', description: 'loop order', values: () => ['ijk', 'ikj'] },
    {
      name: 'ktile',
      description: 'k per cache tile (0: none)',
      values: (op) => K_TILES.filter((t) => t === 0 || t < op.dims.K!),
    },
    { name: 'unroll', description: 'inner loop unroll factor', values: () => [1, 2, 4] },
    { name: 'restrict', description: 'restrict-qualified pointers', values: () => [false, true] },
  ],
  baseline: () => ({ order: 'ijk', ktile: 0, unroll: 1, restrict: false }),
  legalize(op: Operation, knobs: Knobs): Knobs {
    const out = { ...knobs };
    if (out.order !== 'ikj') out.ktile = 0;
    if (typeof out.ktile === 'number' && out.ktile >= op.dims.K!) out.ktile = 0;
    return out;
  },
  generate(_op: Operation, knobs: Knobs): string {
    const r = knobs.restrict ? 'restrict ' : '';
    const unroll = knobs.unroll !== 1 ? `#pragma GCC unroll ${String(knobs.unroll)}\n` : '';
    const head = `#include <stddef.h>\nvoid kernel(int M, int N, int K, const float *${r}A, const float *${r}B, const float *${r}bias, float *${r}C) {\n`;
    if (knobs.order === 'ijk') {
      return `${head}  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      float s = bias ? bias[n] : 0.0f;
${unroll}      for (int k = 0; k < K; k++) s += A[(size_t)m * K + k] * B[(size_t)k * N + n];
      C[(size_t)m * N + n] = s;
    }
}
`;
    }
    const kt = knobs.ktile === 0 ? 'K' : String(knobs.ktile);
    return `${head}  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) C[(size_t)m * N + n] = bias ? bias[n] : 0.0f;
  for (int k0 = 0; k0 < K; k0 += ${kt}) {
    int k1 = k0 + ${kt} < K ? k0 + ${kt} : K;
    for (int m = 0; m < M; m++)
      for (int k = k0; k < k1; k++) {
        float a = A[(size_t)m * K + k];
${unroll}        for (int n = 0; n < N; n++) C[(size_t)m * N + n] += a * B[(size_t)k * N + n];
      }
  }
}
`;
  },
  moves: {
    'cpu.loop_reorder': ['order'],
    'cpu.cache_tile': ['ktile'],
    'cpu.unroll': ['unroll'],
    'cpu.compiler_hints': ['restrict'],
  },
};
