// The rows of bench/kernels: one case per operation instance. To add a kind, register its template
// in TEMPLATES, write a sweep (the knob sets the bench tries, in stages), and add cases.
//
// A case:    { label, op, template, sweep, reference? }
//   op        an OperationInput (parsed by run.mjs)
//   template  a key of TEMPLATES
//   sweep     (template, op, isa) => stages: an array of functions (best knobs so far) => knob sets;
//             run.mjs times each stage's candidates and keeps the fastest before the next stage
//             (a greedy coordinate sweep: the bench measures the template's ceiling, not the search)
//   reference optional key of REFERENCES: an outside library timed through the same harness

/** Template factories, by key: the dist/ module and the exported factory taking { isa }. */
export const TEMPLATES = {
  gemm: { module: 'targets/templates/gemm-template.js', factory: 'createGemmTemplate' },
  batched_gemm: { module: 'targets/templates/batched-gemm-template.js', factory: 'createBatchedGemmTemplate' },
  conv2d: { module: 'targets/templates/conv2d-template.js', factory: 'createConv2dTemplate' },
  matvec: { module: 'targets/templates/matvec-template.js', factory: 'createMatvecTemplate' },
  softmax: { module: 'targets/templates/softmax-template.js', factory: 'createSoftmaxTemplate' },
  layernorm: { module: 'targets/templates/layernorm-template.js', factory: 'createLayernormTemplate' },
};

const epilogueC = (op, index) => {
  const lines = [];
  if (op.epilogue?.includes('bias')) lines.push(`s += bias[${index}];`);
  if (op.epilogue?.includes('relu')) lines.push('if (s < 0.0f) s = 0.0f;');
  return lines.join(' ');
};

const OPENBLAS_HEAD = `#include <stddef.h>
/* Declared here rather than through cblas.h, whose include path differs between Debian's variants. */
extern void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);
extern void openblas_set_num_threads(int n);
enum { ROW_MAJOR = 101, NO_TRANS = 111 };
`;

/** OpenBLAS on `threads` cores, like OPENBLAS_NUM_THREADS (the sandbox passes no environment to the candidate). */
const openblasThreads = (threads) =>
  `__attribute__((constructor)) static void skb_threads(void) { openblas_set_num_threads(${threads}); }\n`;

/**
 * Outside references: C source for the operation's `kernel` and the extra link flags. They are
 * timed by the project's own C harness, so their numbers compare one to one with the templates'.
 */
export const REFERENCES = {
  openblas: {
    label: 'OpenBLAS',
    // Debian's gcc links with --as-needed, and the toolchain puts its flags before the sources.
    cflags: ['-Wl,--no-as-needed', '-lopenblas'],
    source(op, threads = 1) {
      const head = `${OPENBLAS_HEAD}${openblasThreads(threads)}`;
      const epi = epilogueC(op, 'n');
      const fixup = epi
        ? `for (int m = 0; m < M; m++) for (int n = 0; n < N; n++) { float s = c[(size_t)m * N + n]; ${epi} c[(size_t)m * N + n] = s; }`
        : '';
      if (op.kind === 'gemm') {
        return `${head}
void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
  (void)bias;
  float *c = C;
  cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
  ${fixup}
}
`;
      }
      if (op.kind === 'batched_gemm') {
        return `${head}
void kernel(int Bt, int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
  (void)bias;
  for (int b = 0; b < Bt; b++) {
    float *c = C + (size_t)b * M * N;
    cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, 1.0f, A + (size_t)b * M * K, K, B + (size_t)b * K * N, N, 0.0f, c, N);
    ${fixup}
  }
}
`;
      }
      throw new Error(`bench/kernels: no OpenBLAS reference for ${op.kind}`);
    },
  },
};

/**
 * The gemm sweep: register block first (widest vector, packed A and B), then cache tiles, then the
 * small knobs. Register blocks that would not fit the vector registers are left out.
 */
export function gemmSweep(template, op, isa) {
  const values = (name) => template.knobs.find((k) => k.name === name).values(op);
  const vec = Math.max(...values('vec'));
  const regs = isa.includes('avx512f') ? 32 : 16;
  const legal = (k) => template.legalize(op, k);
  const pick = (name, wanted) => wanted.filter((v) => values(name).includes(v));
  return [
    () =>
      [4, 6, 8, 10, 12, 14].flatMap((mr) =>
        [1, 2, 3]
          .filter((nv) => mr * nv + nv + 1 <= regs)
          .map((nv) =>
            legal({
              order: 'jik',
              mc: 96,
              nc: 2048,
              kc: 256,
              mr,
              nv,
              vec,
              unroll: 4,
              pack: 'ab',
              prefetch: 0,
              flags: 'none',
              hints: true,
            }),
          ),
      ),
    (best) =>
      pick('kc', [0, 128, 192, 256, 384, 512]).flatMap((kc) =>
        pick('mc', [0, 48, 96, 144, 192, 256]).map((mc) => legal({ ...best, kc, mc })),
      ),
    (best) => [
      ...pick('nc', [0, 256, 512, 1024, 2048, 4096]).map((nc) => legal({ ...best, nc })),
      ...pick('order', ['jik', 'ijk']).map((order) => legal({ ...best, order })),
    ],
    (best) => [
      ...pick('unroll', [1, 2, 4, 8]).map((unroll) => legal({ ...best, unroll })),
      ...pick('prefetch', [0, 2, 4, 8, 16]).map((prefetch) => legal({ ...best, prefetch })),
      ...pick('flags', ['none', 'unroll-loops']).map((flags) => legal({ ...best, flags })),
    ],
  ];
}

export const CASES = [
  {
    label: 'gemm 256x256x256',
    op: { kind: 'gemm', dims: { M: 256, N: 256, K: 256 } },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'gemm 512x512x512',
    op: { kind: 'gemm', dims: { M: 512, N: 512, K: 512 } },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'gemm 1024x1024x1024',
    op: { kind: 'gemm', dims: { M: 1024, N: 1024, K: 1024 } },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'gemm 1000x1000x1000 bias+relu',
    op: { kind: 'gemm', dims: { M: 1000, N: 1000, K: 1000 }, epilogue: ['bias', 'relu'] },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'batched_gemm 16x128x128x128',
    op: { kind: 'batched_gemm', dims: { B: 16, M: 128, N: 128, K: 128 } },
    template: 'batched_gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'batched_gemm 8x256x256x256 bias',
    op: { kind: 'batched_gemm', dims: { B: 8, M: 256, N: 256, K: 256 }, epilogue: ['bias'] },
    template: 'batched_gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
];

/** Helpers for the sweeps below: a knob's legal values here, and a filter to the legal ones. */
const sweepTools = (template, op) => {
  const values = (name) => template.knobs.find((k) => k.name === name).values(op);
  return {
    values,
    legal: (k) => template.legalize(op, k),
    pick: (name, wanted) => wanted.filter((v) => values(name).includes(v)),
    widest: Math.max(...values('vec')),
  };
};

/** conv2d: algorithm and register block at the widest vector first, then cache tiles and loop order, then the small knobs. */
export function conv2dSweep(template, op) {
  const { values, legal, pick, widest } = sweepTools(template, op);
  const S = op.dims.S;
  return [
    () => [
      ...pick('kb', [2, 4, 8]).flatMap((kb) =>
        [1, 2].map((owb) =>
          legal({
            algorithm: 'direct',
            order: 'oh_outer',
            kb,
            owb,
            vec: widest,
            pack: true,
            unroll: S,
            ctile: 0,
            flags: 'none',
            restrict: true,
          }),
        ),
      ),
      ...pick('kb', [4, 8]).flatMap((kb) =>
        [1, 2].map((owb) =>
          legal({
            algorithm: 'im2col',
            order: 'k_outer',
            kb,
            owb,
            vec: widest,
            pack: false,
            unroll: 1,
            ctile: 0,
            flags: 'none',
            restrict: true,
          }),
        ),
      ),
    ],
    (best) => [
      ...values('ctile').map((ctile) => legal({ ...best, ctile })),
      ...values('ptile').map((ptile) => legal({ ...best, ptile })),
      ...values('order').map((order) => legal({ ...best, order })),
    ],
    (best) => [
      ...values('vec')
        .filter((v) => v >= 4)
        .map((vec) => legal({ ...best, vec })),
      ...values('flags').map((flags) => legal({ ...best, flags })),
    ],
  ];
}

/** matvec: rows per block and accumulators at the widest vector, then K tile and prefetch, then flags. */
export function matvecSweep(template, op) {
  const { values, legal, pick, widest } = sweepTools(template, op);
  return [
    () =>
      pick('rows', [1, 2, 4, 8]).flatMap((rows) =>
        pick('acc', [1, 2, 4]).map((acc) =>
          legal({ rows, acc, vec: widest, ktile: 0, prefetch: 0, flags: 'none', restrict: true }),
        ),
      ),
    (best) => [
      ...values('ktile').map((ktile) => legal({ ...best, ktile })),
      ...values('prefetch').map((prefetch) => legal({ ...best, prefetch })),
    ],
    (best) => [
      ...values('vec')
        .filter((v) => v >= 4)
        .map((vec) => legal({ ...best, vec })),
      ...values('flags').map((flags) => legal({ ...best, flags })),
    ],
  ];
}

/** softmax: passes, exp and accumulators at the widest vector, then vector width, reciprocal and flags. */
export function softmaxSweep(template, op) {
  const { values, legal, pick, widest } = sweepTools(template, op);
  return [
    () =>
      ['three', 'online'].flatMap((passes) =>
        pick('acc', [1, 2, 4]).map((acc) =>
          legal({ passes, acc, vec: widest, exp: 'poly', recip: true, flags: 'none', restrict: true }),
        ),
      ),
    (best) => [
      ...values('vec')
        .filter((v) => v >= 4)
        .map((vec) => legal({ ...best, vec })),
      ...values('recip').map((recip) => legal({ ...best, recip })),
      ...values('flags').map((flags) => legal({ ...best, flags })),
    ],
  ];
}

/** layernorm: statistics passes and accumulators at the widest vector, then vector width and flags. */
export function layernormSweep(template, op) {
  const { values, legal, pick, widest } = sweepTools(template, op);
  return [
    () =>
      ['two_pass', 'one_pass'].flatMap((stats) =>
        pick('acc', [1, 2, 4]).map((acc) => legal({ stats, acc, vec: widest, flags: 'none', restrict: true })),
      ),
    (best) => [
      ...values('vec')
        .filter((v) => v >= 4)
        .map((vec) => legal({ ...best, vec })),
      ...values('flags').map((flags) => legal({ ...best, flags })),
    ],
  ];
}

CASES.push(
  {
    label: 'conv2d 1x64x56x56 k64 3x3 pad1',
    op: { kind: 'conv2d', dims: { N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3 }, attrs: { stride: 1, pad: 1 } },
    template: 'conv2d',
    sweep: conv2dSweep,
  },
  {
    label: 'conv2d 1x128x28x28 k128 3x3 s2 pad1 bias+relu',
    op: {
      kind: 'conv2d',
      dims: { N: 1, C: 128, H: 28, W: 28, K: 128, R: 3, S: 3 },
      attrs: { stride: 2, pad: 1 },
      epilogue: ['bias', 'relu'],
    },
    template: 'conv2d',
    sweep: conv2dSweep,
  },
  {
    label: 'conv2d 1x256x14x14 k256 1x1',
    op: { kind: 'conv2d', dims: { N: 1, C: 256, H: 14, W: 14, K: 256, R: 1, S: 1 } },
    template: 'conv2d',
    sweep: conv2dSweep,
  },
  {
    label: 'matvec 4096x4096',
    op: { kind: 'matvec', dims: { M: 4096, K: 4096 } },
    template: 'matvec',
    sweep: matvecSweep,
  },
  {
    label: 'matvec 1024x1024',
    op: { kind: 'matvec', dims: { M: 1024, K: 1024 } },
    template: 'matvec',
    sweep: matvecSweep,
  },
  {
    label: 'softmax 4096x1024',
    op: { kind: 'softmax', dims: { M: 4096, N: 1024 } },
    template: 'softmax',
    sweep: softmaxSweep,
  },
  {
    label: 'softmax 256x32000',
    op: { kind: 'softmax', dims: { M: 256, N: 32000 } },
    template: 'softmax',
    sweep: softmaxSweep,
  },
  {
    label: 'layernorm 4096x1024',
    op: { kind: 'layernorm', dims: { M: 4096, N: 1024 } },
    template: 'layernorm',
    sweep: layernormSweep,
  },
  {
    label: 'layernorm 512x4096',
    op: { kind: 'layernorm', dims: { M: 512, N: 4096 } },
    template: 'layernorm',
    sweep: layernormSweep,
  },
);

/** The shapes of bench/search (the service's own searches are compared with these sweeps). */
export const SEARCH_CASES = [
  {
    label: 'gemm 512x2048x512',
    op: { kind: 'gemm', dims: { M: 512, N: 2048, K: 512 } },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'gemm 1024x1024x1024',
    op: { kind: 'gemm', dims: { M: 1024, N: 1024, K: 1024 } },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'gemm 128x4096x1024',
    op: { kind: 'gemm', dims: { M: 128, N: 4096, K: 1024 } },
    template: 'gemm',
    sweep: gemmSweep,
    reference: 'openblas',
  },
  {
    label: 'conv2d resnet50 res3 1x128x28x28 k128 3x3 pad1',
    op: { kind: 'conv2d', dims: { N: 1, C: 128, H: 28, W: 28, K: 128, R: 3, S: 3 }, attrs: { pad: 1 } },
    template: 'conv2d',
    sweep: conv2dSweep,
  },
  {
    label: 'conv2d resnet50 res4 1x256x14x14 k1024 1x1',
    op: { kind: 'conv2d', dims: { N: 1, C: 256, H: 14, W: 14, K: 1024, R: 1, S: 1 } },
    template: 'conv2d',
    sweep: conv2dSweep,
  },
  {
    label: 'layernorm 2048x768',
    op: { kind: 'layernorm', dims: { M: 2048, N: 768 } },
    template: 'layernorm',
    sweep: layernormSweep,
  },
  {
    label: 'softmax 1024x4096',
    op: { kind: 'softmax', dims: { M: 1024, N: 4096 } },
    template: 'softmax',
    sweep: softmaxSweep,
  },
];
