/**
 * The naive baseline of each operation kind: the loop nest a user would write first, with float
 * accumulation. A search starts from it, and its latency is the baseline a speedup is measured
 * against. The bodies follow `entryPointFor(op).contract`.
 */
import type { Operation } from '../../schedules/index.js';
import { entryPointFor } from './entry-points.js';

function epilogueLines(op: Operation, biasIndex: string): string {
  const lines: string[] = [];
  if (op.epilogue.includes('bias')) lines.push(`s += bias[${biasIndex}];`);
  if (op.epilogue.includes('relu')) lines.push('if (s < 0.0f) s = 0.0f;');
  return lines.join(' ');
}

/** C source of the naive kernel for `op` (throws BAD_INPUT where the C toolchain has no entry point). */
export function naiveBaseline(op: Operation): string {
  const ep = entryPointFor(op);
  const head = `#include <math.h>\n#include <stddef.h>\n\n${ep.signature} {\n`;
  switch (ep.kind) {
    case 'gemm':
      return `${head}  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s += A[(size_t)m * K + k] * B[(size_t)k * N + n];
      ${epilogueLines(op, 'n')}
      C[(size_t)m * N + n] = s;
    }
}
`;
    case 'batched_gemm':
      return `${head}  for (int b = 0; b < Bt; b++)
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        const float *a = A + (size_t)b * M * K;
        const float *bb = B + (size_t)b * K * N;
        float s = 0.0f;
        for (int k = 0; k < K; k++) s += a[(size_t)m * K + k] * bb[(size_t)k * N + n];
        ${epilogueLines(op, 'n')}
        C[((size_t)b * M + m) * N + n] = s;
      }
}
`;
    case 'conv2d':
      return `${head}  const int OH = (H + 2 * pad - R) / stride + 1, OW = (W + 2 * pad - S) / stride + 1;
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          float s = 0.0f;
          for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++)
              for (int q = 0; q < S; q++) {
                int ih = oh * stride - pad + r, iw = ow * stride - pad + q;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += in[(((size_t)n * C + c) * H + ih) * W + iw] * weight[(((size_t)k * C + c) * R + r) * S + q];
              }
          ${epilogueLines(op, 'k')}
          out[(((size_t)n * K + k) * OH + oh) * OW + ow] = s;
        }
}
`;
    case 'matvec':
      return `${head}  for (int m = 0; m < M; m++) {
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += A[(size_t)m * K + k] * x[k];
    y[m] = s;
  }
}
`;
    case 'softmax':
      return `${head}  for (int m = 0; m < M; m++) {
    const float *row = x + (size_t)m * N;
    float *dst = y + (size_t)m * N;
    float mx = row[0];
    for (int n = 1; n < N; n++) if (row[n] > mx) mx = row[n];
    float sum = 0.0f;
    for (int n = 0; n < N; n++) { dst[n] = expf(row[n] - mx); sum += dst[n]; }
    for (int n = 0; n < N; n++) dst[n] /= sum;
  }
}
`;
    case 'layernorm':
      return `${head}  for (int m = 0; m < M; m++) {
    const float *row = x + (size_t)m * N;
    float mean = 0.0f, var = 0.0f;
    for (int n = 0; n < N; n++) mean += row[n];
    mean /= N;
    for (int n = 0; n < N; n++) var += (row[n] - mean) * (row[n] - mean);
    var /= N;
    float rstd = 1.0f / sqrtf(var + 1e-5f);
    for (int n = 0; n < N; n++) y[(size_t)m * N + n] = (row[n] - mean) * rstd * gamma[n] + beta[n];
  }
}
`;
  }
}
