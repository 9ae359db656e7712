/**
 * The C entry point of each operation kind: the one function a candidate defines, and everything
 * the harness needs to call and check it. The template planner generates code for these
 * signatures; the LLM planner is shown `signature` and `contract`.
 *
 * All arrays are dense, row-major f32, allocated 64-byte aligned by the harness; the candidate
 * must not keep pointers between calls, and it is called many times with the same arguments.
 *
 * | kind         | signature                                                                                   |
 * |--------------|---------------------------------------------------------------------------------------------|
 * | gemm         | void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) |
 * | batched_gemm | void kernel(int Bt, int M, int N, int K, const float *A, const float *B, const float *bias, float *C) |
 * | conv2d       | void kernel(int N, int C, int H, int W, int K, int R, int S, int stride, int pad, const float *in, const float *weight, const float *bias, float *out) |
 * | matvec       | void kernel(int M, int K, const float *A, const float *x, float *y)                         |
 * | softmax      | void kernel(int M, int N, const float *x, float *y)                                         |
 * | layernorm    | void kernel(int M, int N, const float *x, const float *gamma, const float *beta, float *y)  |
 */
import { SkbError, conv2dOutputSize, type Operation } from '../../schedules/index.js';
import { isPlainLayernorm, layernormForm } from '../templates/layernorm-form.js';

export const C_KINDS = ['gemm', 'batched_gemm', 'conv2d', 'matvec', 'softmax', 'layernorm'] as const;
export type CKind = (typeof C_KINDS)[number];

/** What a harness needs to know about one operation instance. */
export interface EntryPoint {
  kind: CKind;
  /** The C prototype the candidate defines (without the trailing semicolon). */
  signature: string;
  /** The contract in words: layouts, what is computed, the epilogue. */
  contract: string;
  /** C code (inside main) that allocates and fills the inputs and the output `out` of `OUT_COUNT` floats. */
  setup: string;
  /** C code that fills `ref[i]` and `tol[i]` (doubles) for every output element. */
  reference: string;
  /** The kernel call. */
  call: string;
  /** Number of output floats. */
  outputCount: number;
  /** Bytes of all inputs and outputs (decides whether caches are flushed between timed runs). */
  workingSetBytes: number;
  /** Length of the longest sum behind one output (sets the tolerance). */
  reductionLength: number;
}

const GEMM_EPILOGUES = new Set(['bias', 'relu']);

function dim(op: Operation, name: string, ...fallbacks: string[]): number {
  for (const n of [name, ...fallbacks]) {
    const v = op.dims[n];
    if (v !== undefined) return v;
  }
  throw new SkbError(
    'BAD_INPUT',
    `A ${op.kind} operation needs the dimension ${name} (dims are ${Object.keys(op.dims).join(', ')})`,
  );
}

function epilogue(op: Operation): { bias: boolean; relu: boolean } {
  for (const e of op.epilogue) {
    if (!GEMM_EPILOGUES.has(e))
      throw new SkbError('BAD_INPUT', `The C toolchain supports the epilogues bias and relu, not "${e}"`);
  }
  const bias = op.epilogue.includes('bias');
  const relu = op.epilogue.includes('relu');
  if (bias && relu && op.epilogue.indexOf('relu') < op.epilogue.indexOf('bias')) {
    throw new SkbError('BAD_INPUT', 'The epilogue order relu then bias is not supported: write ["bias", "relu"]');
  }
  return { bias, relu };
}

function noEpilogue(op: Operation): void {
  if (op.epilogue.length)
    throw new SkbError(
      'BAD_INPUT',
      `A ${op.kind} operation takes no epilogue in the C toolchain (got ${op.epilogue.join(', ')})`,
    );
}

const ELEMENT_LIMIT = 2 ** 31 - 1;

function checkSize(op: Operation, ...counts: number[]): void {
  for (const c of counts) {
    if (c > ELEMENT_LIMIT)
      throw new SkbError(
        'BAD_INPUT',
        `The ${op.kind} operation is too large for int indexing (${c} elements in one array)`,
      );
  }
}

/**
 * The double-precision reference of one gemm (M x K times K x N, row-major) into `ref` and `tol`
 * from element `offset` on. Loops run m-k-n, so B is read along its rows rather than strided by N;
 * each element still sums its products in k order. `tol` first accumulates |products|, then
 * becomes the tolerance.
 */
function gemmReference(a: string, b: string, offset: string, bias: boolean, relu: boolean, tolFactor: string): string {
  return `for (int m = 0; m < M; m++) {
    double *s = ref + ${offset} + (size_t)m * N, *abs_sum = tol + ${offset} + (size_t)m * N;
    for (int n = 0; n < N; n++) { s[n] = 0; abs_sum[n] = 0; }
    for (int k = 0; k < K; k++) {
      const double x = ${a}[(size_t)m * K + k]; const float *row = ${b} + (size_t)k * N;
      for (int n = 0; n < N; n++) { double p = x * row[n]; s[n] += p; abs_sum[n] += fabs(p); }
    }
    for (int n = 0; n < N; n++) {
      ${bias ? 's[n] += bias[n]; abs_sum[n] += fabs(bias[n]);' : ''}
      ${relu ? 'if (s[n] < 0) s[n] = 0;' : ''}
      abs_sum[n] = ${tolFactor} * abs_sum[n] + 1e-30;
    }
  }`;
}

/** Relative accumulation tolerance for a sum of `n` f32 products, against a double reference. */
const reductionTol = (n: number): string => `(FLT_EPSILON * (8.0 * sqrt((double)${n}) + 8.0))`;

/** The C harness's correctness rule in words (what `reference` code fills `tol` with), for a schedule's evidence. */
export const C_TOLERANCE_RULE =
  '|out - ref| <= tol for every output element, tol = FLT_EPSILON x (8 sqrt(n) + 8) x the magnitude of the n-term reduction behind it (n = reduction length; softmax and layernorm add 1e-5 relative); checked on the first call and again after timing';

/** The C harness computes its reference in double precision. */
export const C_REFERENCE_PRECISION = 'f64 (double-precision reference of the f32 operation)';

/** What a C candidate for `op` must satisfy, as planners are shown it: the prototype, then the contract in words. */
export function cCandidateContract(op: Operation): string {
  const ep = entryPointFor(op);
  return `${ep.signature}\n${ep.contract}`;
}

/** The entry point of `op`, or a BAD_INPUT error that says what the C toolchain supports. */
export function entryPointFor(op: Operation): EntryPoint {
  if (op.dtype !== 'f32')
    throw new SkbError('BAD_INPUT', `The C toolchain evaluates f32 operations; this one is ${op.dtype}`);
  switch (op.kind) {
    case 'gemm': {
      const [M, N, K] = [dim(op, 'M'), dim(op, 'N'), dim(op, 'K')];
      const { bias, relu } = epilogue(op);
      checkSize(op, M * K, K * N, M * N);
      return {
        kind: 'gemm',
        signature: 'void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C)',
        contract: `C[m][n] = sum_k A[m][k] * B[k][n]${bias ? ' + bias[n]' : ''}${relu ? ', then max(0, .)' : ''}. A is M x K, B is K x N, C is M x N, all row-major.${bias ? '' : ' bias is NULL.'}`,
        setup: `const int M = ${M}, N = ${N}, K = ${K};
  float *A = falloc((size_t)M * K); fill(A, (size_t)M * K);
  float *B = falloc((size_t)K * N); fill(B, (size_t)K * N);
  float *bias = ${bias ? 'falloc(N)' : 'NULL'}; ${bias ? 'fill(bias, N);' : ''}
  float *out = falloc((size_t)M * N);`,
        reference: gemmReference('A', 'B', '0', bias, relu, reductionTol(K)),
        call: 'kernel(M, N, K, A, B, bias, out)',
        outputCount: M * N,
        workingSetBytes: 4 * (M * K + K * N + M * N),
        reductionLength: K,
      };
    }
    case 'batched_gemm': {
      const [Bt, M, N, K] = [dim(op, 'B'), dim(op, 'M'), dim(op, 'N'), dim(op, 'K')];
      const { bias, relu } = epilogue(op);
      checkSize(op, Bt * M * K, Bt * K * N, Bt * M * N);
      return {
        kind: 'batched_gemm',
        signature:
          'void kernel(int Bt, int M, int N, int K, const float *A, const float *B, const float *bias, float *C)',
        contract: `For each batch b < Bt: C[b][m][n] = sum_k A[b][m][k] * B[b][k][n]${bias ? ' + bias[n] (one bias shared by all batches)' : ''}${relu ? ', then max(0, .)' : ''}. A is Bt x M x K, B is Bt x K x N, C is Bt x M x N, all row-major.${bias ? '' : ' bias is NULL.'} The batch count is the operation's dimension B.`,
        setup: `const int Bt = ${Bt}, M = ${M}, N = ${N}, K = ${K};
  float *A = falloc((size_t)Bt * M * K); fill(A, (size_t)Bt * M * K);
  float *B = falloc((size_t)Bt * K * N); fill(B, (size_t)Bt * K * N);
  float *bias = ${bias ? 'falloc(N)' : 'NULL'}; ${bias ? 'fill(bias, N);' : ''}
  float *out = falloc((size_t)Bt * M * N);`,
        reference: `for (int b = 0; b < Bt; b++) {
    const float *a_ = A + (size_t)b * M * K; const float *b_ = B + (size_t)b * K * N;
    ${gemmReference('a_', 'b_', '(size_t)b * M * N', bias, relu, reductionTol(K))}
  }`,
        call: 'kernel(Bt, M, N, K, A, B, bias, out)',
        outputCount: Bt * M * N,
        workingSetBytes: 4 * Bt * (M * K + K * N + M * N),
        reductionLength: K,
      };
    }
    case 'conv2d': {
      const [N, C, H, W, K, R, S] = [
        dim(op, 'N'),
        dim(op, 'C'),
        dim(op, 'H'),
        dim(op, 'W'),
        dim(op, 'K'),
        dim(op, 'R'),
        dim(op, 'S'),
      ];
      const stride = typeof op.attrs.stride === 'number' ? op.attrs.stride : 1;
      const pad = typeof op.attrs.pad === 'number' ? op.attrs.pad : 0;
      if (stride < 1 || pad < 0)
        throw new SkbError('BAD_INPUT', `conv2d needs stride >= 1 and pad >= 0 (got stride ${stride}, pad ${pad})`);
      if (op.layout !== undefined && op.layout !== 'nchw')
        throw new SkbError('BAD_INPUT', `The C toolchain's conv2d is NCHW; layout "${op.layout}" is not supported`);
      const { outH, outW } = conv2dOutputSize(op);
      if (outH < 1 || outW < 1)
        throw new SkbError(
          'BAD_INPUT',
          `This conv2d has an empty output (${outH} x ${outW}); check H, W, R, S, stride and pad`,
        );
      const { bias, relu } = epilogue(op);
      checkSize(op, N * C * H * W, K * C * R * S, N * K * outH * outW);
      return {
        kind: 'conv2d',
        signature:
          'void kernel(int N, int C, int H, int W, int K, int R, int S, int stride, int pad, const float *in, const float *weight, const float *bias, float *out)',
        contract: `NCHW direct convolution (cross-correlation): out[n][k][oh][ow] = sum_{c,r,s} in[n][c][oh*stride - pad + r][ow*stride - pad + s] * weight[k][c][r][s], input taken as 0 outside H x W${bias ? ', + bias[k]' : ''}${relu ? ', then max(0, .)' : ''}. OH = (H + 2*pad - R) / stride + 1, OW likewise. in is N x C x H x W, weight is K x C x R x S, out is N x K x OH x OW.${bias ? '' : ' bias is NULL.'}`,
        setup: `const int N = ${N}, C = ${C}, H = ${H}, W = ${W}, K = ${K}, R = ${R}, S = ${S}, stride = ${stride}, pad = ${pad};
  const int OH = ${outH}, OW = ${outW};
  float *in = falloc((size_t)N * C * H * W); fill(in, (size_t)N * C * H * W);
  float *weight = falloc((size_t)K * C * R * S); fill(weight, (size_t)K * C * R * S);
  float *bias = ${bias ? 'falloc(K)' : 'NULL'}; ${bias ? 'fill(bias, K);' : ''}
  float *out = falloc((size_t)N * K * OH * OW);`,
        reference: `for (int n = 0; n < N; n++) for (int k = 0; k < K; k++) for (int oh = 0; oh < OH; oh++) for (int ow = 0; ow < OW; ow++) {
    double s = 0, a = 0;
    for (int c = 0; c < C; c++) for (int r = 0; r < R; r++) for (int q = 0; q < S; q++) {
      int ih = oh * stride - pad + r, iw = ow * stride - pad + q;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      double p = (double)in[(((size_t)n * C + c) * H + ih) * W + iw] * weight[(((size_t)k * C + c) * R + r) * S + q];
      s += p; a += fabs(p);
    }
    ${bias ? 's += bias[k]; a += fabs(bias[k]);' : ''}
    ${relu ? 'if (s < 0) s = 0;' : ''}
    size_t i = (((size_t)n * K + k) * OH + oh) * OW + ow;
    ref[i] = s; tol[i] = ${reductionTol(C * R * S)} * a + 1e-30;
  }`,
        call: 'kernel(N, C, H, W, K, R, S, stride, pad, in, weight, bias, out)',
        outputCount: N * K * outH * outW,
        workingSetBytes: 4 * (N * C * H * W + K * C * R * S + N * K * outH * outW),
        reductionLength: C * R * S,
      };
    }
    case 'matvec': {
      const M = dim(op, 'M');
      const K = dim(op, 'K', 'N');
      noEpilogue(op);
      checkSize(op, M * K);
      return {
        kind: 'matvec',
        signature: 'void kernel(int M, int K, const float *A, const float *x, float *y)',
        contract:
          'y[m] = sum_k A[m][k] * x[k]. A is M x K row-major, x has K elements, y has M. (An operation may name the second dimension N instead of K.)',
        setup: `const int M = ${M}, K = ${K};
  float *A = falloc((size_t)M * K); fill(A, (size_t)M * K);
  float *x = falloc(K); fill(x, K);
  float *out = falloc(M);`,
        reference: `for (int m = 0; m < M; m++) {
    double s = 0, a = 0;
    for (int k = 0; k < K; k++) { double p = (double)A[(size_t)m * K + k] * x[k]; s += p; a += fabs(p); }
    ref[m] = s; tol[m] = ${reductionTol(K)} * a + 1e-30;
  }`,
        call: 'kernel(M, K, A, x, out)',
        outputCount: M,
        workingSetBytes: 4 * (M * K + K + M),
        reductionLength: K,
      };
    }
    case 'softmax': {
      const [M, N] = [dim(op, 'M'), dim(op, 'N')];
      noEpilogue(op);
      checkSize(op, M * N);
      return {
        kind: 'softmax',
        signature: 'void kernel(int M, int N, const float *x, float *y)',
        contract:
          'Row-wise softmax: y[m][n] = exp(x[m][n] - max_j x[m][j]) / sum_j exp(x[m][j] - max_j x[m][j]). x and y are M x N row-major.',
        setup: `const int M = ${M}, N = ${N};
  float *x = falloc((size_t)M * N); fill(x, (size_t)M * N); scale(x, (size_t)M * N, 4.0f);
  float *out = falloc((size_t)M * N);`,
        reference: `for (int m = 0; m < M; m++) {
    const float *row = x + (size_t)m * N;
    double mx = row[0], sum = 0;
    for (int n = 1; n < N; n++) if (row[n] > mx) mx = row[n];
    for (int n = 0; n < N; n++) sum += exp((double)row[n] - mx);
    for (int n = 0; n < N; n++) {
      size_t i = (size_t)m * N + n;
      ref[i] = exp((double)row[n] - mx) / sum;
      tol[i] = (1e-5 + ${reductionTol(N)}) * ref[i] + 1e-12;
    }
  }`,
        call: 'kernel(M, N, x, out)',
        outputCount: M * N,
        workingSetBytes: 4 * 2 * M * N,
        reductionLength: N,
      };
    }
    case 'layernorm': {
      const [M, N] = [dim(op, 'M'), dim(op, 'N')];
      noEpilogue(op);
      if (!isPlainLayernorm(layernormForm(op)))
        throw new SkbError(
          'BAD_INPUT',
          'The C toolchain computes layer normalisation of rows with weight and bias at eps 1e-5 (dims M, N; no attrs.rms, attrs.affine or attrs.eps other than 0, 1 and "1e-5"); RMS normalisation, no weight, another eps and columns have Triton templates on KernelBench targets',
        );
      checkSize(op, M * N);
      return {
        kind: 'layernorm',
        signature: 'void kernel(int M, int N, const float *x, const float *gamma, const float *beta, float *y)',
        contract:
          'Row-wise layer normalization: mean and biased variance of each row of x, y[m][n] = (x[m][n] - mean) / sqrt(var + 1e-5) * gamma[n] + beta[n]. x and y are M x N row-major; gamma and beta have N elements.',
        setup: `const int M = ${M}, N = ${N};
  float *x = falloc((size_t)M * N); fill(x, (size_t)M * N);
  float *gamma = falloc(N); fill(gamma, N); shift(gamma, N, 1.0f);
  float *beta = falloc(N); fill(beta, N);
  float *out = falloc((size_t)M * N);`,
        reference: `for (int m = 0; m < M; m++) {
    const float *row = x + (size_t)m * N;
    double mean = 0, var = 0;
    for (int n = 0; n < N; n++) mean += row[n];
    mean /= N;
    for (int n = 0; n < N; n++) var += (row[n] - mean) * (row[n] - mean);
    var /= N;
    double rstd = 1.0 / sqrt(var + 1e-5);
    for (int n = 0; n < N; n++) {
      size_t i = (size_t)m * N + n;
      double norm = (row[n] - mean) * rstd;
      ref[i] = norm * gamma[n] + beta[n];
      tol[i] = (1e-5 + ${reductionTol(N)}) * (fabs(norm) * fabs(gamma[n]) + fabs(beta[n]) + 1.0) + 1e-30;
    }
  }`,
        call: 'kernel(M, N, x, gamma, beta, out)',
        outputCount: M * N,
        workingSetBytes: 4 * (2 * M * N + 2 * N),
        reductionLength: N,
      };
    }
    default:
      throw new SkbError(
        'BAD_INPUT',
        `The C toolchain has no entry point for "${op.kind}"; it supports ${C_KINDS.join(', ')}`,
      );
  }
}
