/**
 * The gemm kernel template (f32, row-major, optional bias and ReLU epilogue). At its baseline knobs
 * it is exactly the naive i-j-k loop nest of src/targets/c/baselines.ts; as knobs move it becomes a
 * tiled scalar loop nest in any of three loop orders, and, once a register block, a vector width or
 * packing is chosen, a BLIS-style kernel: cache tiles NC / KC / MC, B (and A) panels packed into
 * aligned, zero-padded buffers, and an MR x NR micro-kernel whose accumulators are GCC vector
 * extension values, so the same source is correct on any ISA and fast where the width matches.
 *
 * Edges: a partial register tile runs the micro-kernel on the zero-padded packed panels into a
 * scratch tile when every operand it reads is padded, and a scalar loop over the original matrices
 * otherwise, so no knob combination reads outside the inputs or needs sizes divisible by a tile.
 *
 * Threads (target allowing more than one core): rows of C are split across an OpenMP loop, each
 * slice a gemm of its own on its thread's scratch; one thread generates the single-threaded code.
 *
 * The batched gemm template (batched-gemm-template.ts) shares `gemmSpec` and `gemmParts`.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { flagsPragma, parallelForPragma, unrollPragma, vectorPrelude, vectorWidths } from './c-common.js';
import {
  PARALLELIZE_MOVES,
  defineCTemplate,
  onAllCores,
  threadsKnob,
  widestVector,
  type CTemplateOptions,
  type CTemplateSpec,
} from './c-template.js';
import { numKnob, strKnob } from './knobs.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';

/** Cache tile sizes offered, before filtering to those smaller than the dimension they tile. */
const TILE_SIZES = [8, 16, 24, 32, 48, 64, 96, 128, 144, 192, 256, 320, 384, 512, 768, 1024, 2048, 4096];
const LOOP_ORDERS = ['ijk', 'ikj', 'jik'] as const;
const PACKINGS = ['none', 'b', 'ab'] as const;
const MR_VALUES = [1, 2, 3, 4, 5, 6, 8, 10, 12, 14];
const NV_VALUES = [1, 2, 3, 4];
const UNROLL_VALUES = [1, 2, 4, 8];
const PREFETCH_VALUES = [0, 2, 4, 8, 16];

/** 0 (no tiling) and every offered tile size smaller than `extent`. */
function tileValues(extent: number): number[] {
  return [0, ...TILE_SIZES.filter((t) => t < extent)];
}

/** The M, N, K of a gemm or of one batch of a batched gemm. */
interface GemmDims {
  M: number;
  N: number;
  K: number;
}

function gemmDims(op: Operation): GemmDims {
  const get = (name: string): number => {
    const v = op.dims[name];
    if (v === undefined)
      throw new SkbError(
        'BAD_INPUT',
        `A ${op.kind} operation needs the dimension ${name} (dims are ${Object.keys(op.dims).join(', ')})`,
      );
    return v;
  };
  return { M: get('M'), N: get('N'), K: get('K') };
}

/** The own knobs of gemm and batched gemm (tiles depend on M, N, K; widths on the ISA; threads on the target). */
function gemmKnobSpecs(options: CTemplateOptions): KnobSpec[] {
  const widths = vectorWidths(options.isa);
  return [
    {
      name: 'order',
      description: 'loop order of the point loops (blocked kernel: i* walks row blocks outermost)',
      values: () => [...LOOP_ORDERS],
    },
    {
      name: 'mc',
      description: 'rows of A per cache tile, whole register blocks (0: no tiling)',
      values: (op) => tileValues(gemmDims(op).M),
    },
    {
      name: 'nc',
      description: 'columns of B per cache tile, whole register blocks (0: no tiling)',
      values: (op) => tileValues(gemmDims(op).N),
    },
    {
      name: 'kc',
      description: 'reduction depth per cache tile (0: no tiling)',
      values: (op) => tileValues(gemmDims(op).K),
    },
    { name: 'mr', description: 'rows of C per register block', values: () => [...MR_VALUES] },
    {
      name: 'nv',
      description: 'vectors of columns of C per register block (NR = nv * vec)',
      values: () => [...NV_VALUES],
    },
    { name: 'vec', description: 'f32 lanes per vector (1: scalar)', values: () => [...widths] },
    { name: 'unroll', description: 'unroll factor of the innermost loop', values: () => [...UNROLL_VALUES] },
    {
      name: 'pack',
      description: 'operands copied into aligned, zero-padded panels (none, B, A and B)',
      values: () => [...PACKINGS],
    },
    {
      name: 'prefetch',
      description: 'software prefetch distance in reduction steps (0: none)',
      values: () => [...PREFETCH_VALUES],
    },
    threadsKnob(options),
  ];
}

/** The own knobs of the naive loop nest. */
const GEMM_BASELINE: Knobs = {
  order: 'ijk',
  mc: 0,
  nc: 0,
  kc: 0,
  mr: 1,
  nv: 1,
  vec: 1,
  unroll: 1,
  pack: 'none',
  prefetch: 0,
  threads: 1,
};

/** Which own knobs each CPU menu option moves, for gemm and batched gemm. */
const GEMM_MOVES: KernelTemplate['moves'] = {
  'cpu.cache_tile': ['mc', 'nc', 'kc'],
  'cpu.register_block': ['mr', 'nv'],
  'cpu.loop_reorder': ['order'],
  'cpu.vectorize': ['vec'],
  'cpu.unroll': ['unroll'],
  'cpu.pack': ['pack'],
  'cpu.prefetch': ['prefetch'],
  'cpu.micro_kernel': ['mr', 'nv', 'vec', 'pack', 'mc', 'nc', 'kc'],
  ...PARALLELIZE_MOVES,
};

/**
 * The gemm templates called their compiler-hints knob `hints` before it became the common
 * `restrict` of every C template; the shipped seed schedules and stored searches still say `hints`.
 */
const GEMM_RENAMED_KNOBS = { hints: 'restrict' } as const;

/** A cache tile as large as its dimension is no tiling at all, not the largest smaller tile. */
function clampGemmTiles(op: Operation, knobs: Knobs): Knobs {
  const { M, N, K } = gemmDims(op);
  const extents: Record<string, number> = { mc: M, nc: N, kc: K };
  const out = { ...knobs };
  for (const [name, extent] of Object.entries(extents)) {
    const requested = out[name];
    if (typeof requested === 'number' && requested >= extent) out[name] = 0;
  }
  return out;
}

/**
 * The packed micro-kernel moves (`cpu.micro_kernel`): packed panels, the widest vector of the ISA,
 * and every MR x NV register block whose accumulators, B vectors and A broadcast fit the vector
 * registers (32 with AVX-512, else 16), in two cache-tile shapes that legalize clamps on small
 * shapes: BLIS-like tiles for L2 and L3 (MC 96, NC 2048, KC 256, A and B packed), and tiles whose B
 * panel stays in L1 and L2 (MC 32, NC 96, KC 128, only B packed), which the fastest stored gemm
 * schedules of this template use. Packing alone, or a register block alone, is slower than the
 * scalar ikj loop GCC auto-vectorizes; together they are the kernel the template exists for.
 */
function packedMicroKernels(isa: readonly string[]): Knobs[] {
  const vec = widestVector(isa);
  const registers = vec >= 16 ? 32 : 16;
  const tiles = [
    { mc: 96, nc: 2048, kc: 256, pack: 'ab' },
    { mc: 32, nc: 96, kc: 128, pack: 'b' },
  ];
  return tiles.flatMap((tile) =>
    [4, 6, 8, 12, 14].flatMap((mr) =>
      [1, 2, 3, 4]
        .filter((nv) => mr * nv + nv + 1 <= registers)
        .map((nv) => ({ order: 'jik', ...tile, mr, nv, vec, unroll: 4, prefetch: 0, restrict: true })),
    ),
  );
}

/** Everything of a gemm template but its kind and code: shared by gemm and batched gemm. */
export function gemmSpec(options: CTemplateOptions): Omit<CTemplateSpec<'gemm' | 'batched_gemm'>, 'kind' | 'generate'> {
  return {
    knobs: gemmKnobSpecs(options),
    baseline: GEMM_BASELINE,
    moves: GEMM_MOVES,
    composites: onAllCores(options, { 'cpu.micro_kernel': () => packedMicroKernels(options.isa) }),
    clamp: clampGemmTiles,
    renamedKnobs: GEMM_RENAMED_KNOBS,
    generateLegalizes: true,
  };
}

/** The pieces of a generated gemm: file-level code, and how a kernel allocates and calls it. */
export interface GemmParts {
  /** Pragmas, includes, types and the static function `skb_gemm`. */
  head: string;
  /** Statements that allocate the scratch buffers `skb_ap` and `skb_bp` (may be empty). */
  alloc: string;
  /**
   * Statements computing the kernel's products: one M x N x K product of A, B and C, or (batched)
   * `Bt` of them stored one after another.
   */
  run(batched: boolean): string;
  /** Statements that free the scratch buffers. */
  free: string;
}

interface Epilogue {
  bias: boolean;
  relu: boolean;
}

/** The epilogue of an operation whose entry point defineCTemplate has validated (names and order). */
function epilogueOf(op: Operation): Epilogue {
  return { bias: op.epilogue.includes('bias'), relu: op.epilogue.includes('relu') };
}

/** Generates skb_gemm for legal `knobs`; the dims only size the scratch buffers' upper bounds. */
export function gemmParts(op: Operation, knobs: Knobs): GemmParts {
  const ep = epilogueOf(op);
  const blocked =
    numKnob(knobs, 'mr') > 1 ||
    numKnob(knobs, 'nv') > 1 ||
    numKnob(knobs, 'vec') > 1 ||
    strKnob(knobs, 'pack') !== 'none';
  return blocked ? blockedParts(knobs, ep) : scalarParts(knobs, ep);
}

function headerLines(knobs: Knobs): string {
  return `${flagsPragma(strKnob(knobs, 'flags'))}#include <math.h>\n#include <stddef.h>\n#include <stdlib.h>\n#include <string.h>\n${
    numKnob(knobs, 'threads') > 1 ? THREAD_ID : ''
  }\n`;
}

/** The running OpenMP thread, whose scratch a work item uses (0 where OpenMP is off). */
const THREAD_ID = `#ifdef _OPENMP
#include <omp.h>
#define SKB_TID omp_get_thread_num()
#else
#define SKB_TID 0
#endif
`;

/** The tiled scalar loop nest: C starts as the bias (or 0), every tile accumulates into it. */
function scalarParts(knobs: Knobs, ep: Epilogue): GemmParts {
  const order = strKnob(knobs, 'order');
  const hints = knobs.restrict === true;
  const R = hints ? ' restrict' : '';
  const unroll = numKnob(knobs, 'unroll');
  const pf = numKnob(knobs, 'prefetch');
  const tile = (name: string, dim: string): string => (numKnob(knobs, name) > 0 ? String(numKnob(knobs, name)) : dim);
  const inner = (ind: string): string => `${unrollPragma(unroll, ind)}${hints ? `${ind}#pragma GCC ivdep\n` : ''}`;
  const dot = (ind: string): string =>
    `${ind}float s = C[(size_t)i * N + j];\n${inner(ind)}${ind}for (int k = k0; k < k1; k++) {\n${
      pf > 0 ? `${ind}  __builtin_prefetch(&B[(size_t)(k + ${pf}) * N + j]);\n` : ''
    }${ind}  s += A[(size_t)i * K + k] * B[(size_t)k * N + j];\n${ind}}\n${ind}C[(size_t)i * N + j] = s;\n`;
  let points: string;
  const I = '        ';
  if (order === 'ijk') {
    points = `${I}for (int i = i0; i < i1; i++)\n${I}  for (int j = j0; j < j1; j++) {\n${dot(`${I}    `)}${I}  }\n`;
  } else if (order === 'jik') {
    points = `${I}for (int j = j0; j < j1; j++)\n${I}  for (int i = i0; i < i1; i++) {\n${dot(`${I}    `)}${I}  }\n`;
  } else {
    points = `${I}for (int i = i0; i < i1; i++)
${I}  for (int k = k0; k < k1; k++) {
${I}    const float a = A[(size_t)i * K + k];
${I}    const float *${R} b = B + (size_t)k * N;
${I}    float *${R} c = C + (size_t)i * N;
${pf > 0 ? `${I}    __builtin_prefetch(b + (size_t)${pf} * N + j0);\n` : ''}${inner(`${I}    `)}${I}    for (int j = j0; j < j1; j++) c[j] += a * b[j];
${I}  }
`;
  }
  const head = `${headerLines(knobs)}static void skb_gemm(int M, int N, int K, const float *${R} A, const float *${R} B, const float *${R} bias, float *${R} C) {
  (void)bias;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) C[(size_t)i * N + j] = ${ep.bias ? 'bias[j]' : '0.0f'};
  const int MC = ${tile('mc', 'M')}, NC = ${tile('nc', 'N')}, KC = ${tile('kc', 'K')};
  for (int i0 = 0; i0 < M; i0 += MC)
    for (int j0 = 0; j0 < N; j0 += NC)
      for (int k0 = 0; k0 < K; k0 += KC) {
        const int i1 = i0 + MC < M ? i0 + MC : M, j1 = j0 + NC < N ? j0 + NC : N, k1 = k0 + KC < K ? k0 + KC : K;
${points}      }
${ep.relu ? '  for (size_t i = 0; i < (size_t)M * N; i++) if (C[i] < 0.0f) C[i] = 0.0f;\n' : ''}}
`;
  return {
    head,
    alloc: '',
    run: (batched) =>
      productsLoop(
        numKnob(knobs, 'threads'),
        1,
        batched,
        (p) => `skb_gemm(${p.m}, N, K, ${p.a}, ${p.b}, bias, ${p.c});`,
      ),
    free: '',
  };
}

/** One product (or row slice of one) that productsLoop hands to skb_gemm, as C expressions. */
interface GemmCall {
  m: string;
  a: string;
  b: string;
  c: string;
  /** The OpenMP thread running it, whose scratch it uses ('0' on one thread). */
  thread: string;
}

/**
 * The loop over a kernel's products. On one thread: each product in turn, as before threads
 * existed. On T threads: an OpenMP loop over work items, each a slice of whole register blocks of
 * rows of one product (a gemm of its own with the same leading dimensions, on its thread's
 * scratch). A product is cut into as many slices as it takes to give every thread work
 * (ceil(T / batches), 1 once the batches alone are enough), so a batch of small products does not
 * pay a parallel region each, and only the last slice of a product has a partial register block.
 */
function productsLoop(threads: number, mr: number, batched: boolean, gemm: (call: GemmCall) => string): string {
  if (threads === 1) {
    const one = (b: string): GemmCall => ({
      m: 'M',
      a: b ? `A + (size_t)${b} * M * K` : 'A',
      b: b ? `B + (size_t)${b} * K * N` : 'B',
      c: b ? `C + (size_t)${b} * M * N` : 'C',
      thread: '0',
    });
    return batched ? `for (int bt = 0; bt < Bt; bt++) {\n    ${gemm(one('bt'))}\n  }` : gemm(one(''));
  }
  const batches = batched ? 'Bt' : '1';
  const batchOffset = (perBatch: string): string => (batched ? ` + (size_t)skb_b * ${perBatch}` : '');
  return `{
    const int skb_s = ${batched ? `Bt >= ${threads} ? 1 : (${threads} + Bt - 1) / Bt` : String(threads)};
    const int skb_chunk = ((M + skb_s - 1) / skb_s + ${mr - 1}) / ${mr} * ${mr};
${parallelForPragma(threads)}
    for (int skb_w = 0; skb_w < ${batches} * skb_s; skb_w++) {
      const int skb_b = skb_w / skb_s, skb_m0 = skb_w % skb_s * skb_chunk;
      const int skb_m1 = skb_m0 + skb_chunk < M ? skb_m0 + skb_chunk : M;
      (void)skb_b;
      if (skb_m0 < skb_m1) ${gemm({
        m: 'skb_m1 - skb_m0',
        a: `A${batchOffset('M * K')} + (size_t)skb_m0 * K`,
        b: `B${batchOffset('K * N')}`,
        c: `C${batchOffset('M * N')} + (size_t)skb_m0 * N`,
        thread: 'SKB_TID',
      })}
    }
  }`;
}

/** The BLIS-style kernel: NC / KC / MC cache tiles, optional packing, an MR x NR vector micro-kernel. */
function blockedParts(knobs: Knobs, ep: Epilogue): GemmParts {
  const MR = numKnob(knobs, 'mr');
  const VEC = numKnob(knobs, 'vec');
  const NV = numKnob(knobs, 'nv');
  const NR = NV * VEC;
  const pack = strKnob(knobs, 'pack');
  const packA = pack === 'ab';
  const packB = pack !== 'none';
  const hints = knobs.restrict === true;
  const R = hints ? ' restrict' : '';
  const unroll = numKnob(knobs, 'unroll');
  const pf = numKnob(knobs, 'prefetch');
  const order = strKnob(knobs, 'order');
  // Cache tiles are rounded down to whole register blocks, so only the matrix edge has partial ones.
  const tile = (name: string, dim: string): string => {
    const size = numKnob(knobs, name);
    const block = name === 'mc' ? MR : name === 'nc' ? NR : 1;
    return size > 0 ? String(Math.max(block, Math.floor(size / block) * block)) : dim;
  };

  const rows = Array.from({ length: MR }, (_, r) => r);
  const vecs = Array.from({ length: NV }, (_, v) => v);
  const acc = (r: number, v: number): string => `c${r}_${v}`;
  const aExpr = (r: number): string => (packA ? `a[k * ${MR} + ${r}]` : `a[(size_t)${r} * lda + k]`);
  const bExpr = (v: number): string =>
    packB ? `*(const vf *)(b + (size_t)k * ${NR} + ${v * VEC})` : `vf_loadu(b + (size_t)k * ldb + ${v * VEC})`;
  const prefetches: string[] = [];
  if (pf > 0) {
    if (packA) {
      for (let off = 0; off < MR; off += 16)
        prefetches.push(`__builtin_prefetch(a + (size_t)(k + ${pf}) * ${MR} + ${off});`);
    } else {
      for (const r of rows) prefetches.push(`__builtin_prefetch(a + (size_t)${r} * lda + k + ${pf * 16});`);
    }
    for (let off = 0; off < NR; off += 16) {
      prefetches.push(
        packB
          ? `__builtin_prefetch(b + (size_t)(k + ${pf}) * ${NR} + ${off});`
          : `__builtin_prefetch(b + (size_t)(k + ${pf}) * ldb + ${off});`,
      );
    }
  }
  const body = [
    ...prefetches,
    ...vecs.map((v) => `const vf b${v} = ${bExpr(v)};`),
    ...rows.flatMap((r) => [
      `{ const vf ar = vf_splat(${aExpr(r)});`,
      ...vecs.map((v) => `  ${acc(r, v)} += ar * b${v};`),
      '}',
    ]),
  ]
    .map((l) => `    ${l}`)
    .join('\n');
  const cPrefetch = pf > 0 ? `${rows.map((r) => `  __builtin_prefetch(c + (size_t)${r} * ldc, 1);`).join('\n')}\n` : '';
  const store = rows
    .flatMap((r) =>
      vecs.map(
        (v) => `  { float *p = c + (size_t)${r} * ldc + ${v * VEC}; vf t = ${acc(r, v)};
    if (accumulate) t += vf_loadu(p);${ep.bias ? ` else if (bias) t += vf_loadu(bias + ${v * VEC});` : ''}
    ${ep.relu ? 'if (relu) t = vf_relu(t); ' : ''}vf_storeu(p, t); }`,
      ),
    )
    .join('\n');

  const ukr = `/* The ${MR} x ${NR} micro-kernel: C tile (+)= A sliver x B sliver over kc steps, then the epilogue. */
static inline __attribute__((always_inline)) void skb_ukr(int kc, const float *${R} a, const float *${R} b, int lda, int ldb,
    float *${R} c, int ldc, const float *${R} bias, int accumulate, int relu) {
  (void)lda; (void)ldb; (void)bias; (void)relu;
${hints && packB ? `  b = (const float *)__builtin_assume_aligned(b, ${4 * VEC});\n` : ''}${cPrefetch}  ${rows.map((r) => vecs.map((v) => `vf ${acc(r, v)} = {0};`).join(' ')).join('\n  ')}
${unrollPragma(unroll, '  ')}  for (int k = 0; k < kc; k++) {
${body}
  }
${store}
}
`;
  const packAFn = packA
    ? `/* A rows [0, mcb) x [0, kcb) into slivers of ${MR} rows, k-major inside a sliver, zero-padded to ${MR} rows. */
static void skb_pack_a(int mcb, int kcb, const float *${R} A, int lda, float *${R} ap) {
  for (int i = 0; i < mcb; i += ${MR}) {
    const int m = mcb - i < ${MR} ? mcb - i : ${MR};
    float *${R} dst = ap + (size_t)i * kcb;
    for (int r = 0; r < ${MR}; r++) {
      if (r < m) { const float *${R} src = A + (size_t)(i + r) * lda; for (int k = 0; k < kcb; k++) dst[(size_t)k * ${MR} + r] = src[k]; }
      else for (int k = 0; k < kcb; k++) dst[(size_t)k * ${MR} + r] = 0.0f;
    }
  }
}
`
    : '';
  const packBFn = packB
    ? `/* B [0, kcb) x columns [0, ncb) into slivers of ${NR} columns, row by row, zero-padded to ${NR} columns. */
static void skb_pack_b(int kcb, int ncb, const float *${R} B, int ldb, float *${R} bp) {
  for (int j = 0; j < ncb; j += ${NR}) {
    const int n = ncb - j < ${NR} ? ncb - j : ${NR};
    float *${R} dst = bp + (size_t)j * kcb;
    for (int k = 0; k < kcb; k++) {
      const float *${R} src = B + (size_t)k * ldb + j;
      if (n == ${NR}) memcpy(dst + (size_t)k * ${NR}, src, sizeof(float) * ${NR});
      else { for (int q = 0; q < n; q++) dst[(size_t)k * ${NR} + q] = src[q]; for (int q = n; q < ${NR}; q++) dst[(size_t)k * ${NR} + q] = 0.0f; }
    }
  }
}
`
    : '';

  // With A and B both packed every edge is padded, and the scalar edge path is not generated.
  const padded = [packA ? '' : `m == ${MR}`, packB ? '' : `n == ${NR}`].filter((s) => s).join(' && ');
  const merge = (src: string): string => `for (int r = 0; r < m; r++)
              for (int q = 0; q < n; q++) {
                float t = ${src};
                float *p = c + (size_t)r * N + q;
                if (!first) t += *p;${ep.bias ? ' else t += bias[jc + jr + q];' : ''}
                ${ep.relu ? 'if (last && t < 0.0f) t = 0.0f;\n                ' : ''}*p = t;
              }`;
  const tileBody = `            const int m = mcb - ir < ${MR} ? mcb - ir : ${MR}, n = ncb - jr < ${NR} ? ncb - jr : ${NR};
            const float *a = ${packA ? 'ap + (size_t)ir * kcb' : 'A + (size_t)(ic + ir) * K + pc'};
            const float *b = ${packB ? 'bp + (size_t)jr * kcb' : 'B + (size_t)pc * N + jc + jr'};
            float *c = C + (size_t)(ic + ir) * N + jc + jr;
            if (m == ${MR} && n == ${NR}) {
              skb_ukr(kcb, a, b, K, N, c, N, ${ep.bias ? 'first ? bias + jc + jr : NULL' : 'NULL'}, !first, last);
            } else${padded ? ` if (${padded})` : ''} {
              float tmp[${MR * NR}] __attribute__((aligned(64)));
              skb_ukr(kcb, a, b, K, N, tmp, ${NR}, NULL, 0, 0);
              ${merge(`tmp[r * ${NR} + q]`)}
            }${
              padded
                ? ` else {
              ${merge(`skb_dot(kcb, A + (size_t)(ic + ir + r) * K + pc, B + (size_t)pc * N + jc + jr + q, N)`)}
            }`
                : ''
            }
`;
  const irLoop = (ind: string, inner: string): string =>
    `${ind}for (int ir = 0; ir < mcb; ir += ${MR}) {\n${inner}${ind}}\n`;
  const jrLoop = (ind: string, inner: string): string =>
    `${ind}for (int jr = 0; jr < ncb; jr += ${NR}) {\n${inner}${ind}}\n`;
  const micro =
    order === 'jik'
      ? jrLoop('        ', irLoop('          ', tileBody))
      : irLoop('        ', jrLoop('          ', tileBody));

  const dotFn = padded
    ? `/* One scalar dot product of a row of A and a column of B, for edge tiles that cannot be padded. */
static float skb_dot(int kc, const float *a, const float *b, int ldb) {
  float s = 0.0f;
  for (int k = 0; k < kc; k++) s += a[k] * b[(size_t)k * ldb];
  return s;
}
`
    : '';
  const head = `${headerLines(knobs)}${vectorPrelude(VEC)}
${dotFn}
${ukr}
${packAFn}${packBFn}
static void skb_gemm(int M, int N, int K, const float *${R} A, const float *${R} B, const float *${R} bias, float *${R} C, float *${R} ap, float *${R} bp) {
  (void)ap; (void)bp; (void)bias;
  const int MC = ${tile('mc', 'M')}, NC = ${tile('nc', 'N')}, KC = ${tile('kc', 'K')};
  for (int jc = 0; jc < N; jc += NC) {
    const int ncb = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      const int kcb = K - pc < KC ? K - pc : KC;
      const int first = pc == 0, last = pc + kcb == K;
      (void)last;
${packB ? '      skb_pack_b(kcb, ncb, B + (size_t)pc * N + jc, N, bp);\n' : ''}      for (int ic = 0; ic < M; ic += MC) {
        const int mcb = M - ic < MC ? M - ic : MC;
${packA ? '        skb_pack_a(mcb, kcb, A + (size_t)ic * K + pc, K, ap);\n' : ''}${micro}      }
    }
  }
}
`;
  // Scratch per thread: one MC x KC block of A and one KC x NC block of B, rounded up to whole
  // slivers and to 64 bytes (16 floats), so every thread's panels stay aligned.
  const threads = numKnob(knobs, 'threads');
  const alloc = `  const int skb_mc = ${tile('mc', 'M')} < M ? ${tile('mc', 'M')} : M, skb_nc = ${tile('nc', 'N')} < N ? ${tile('nc', 'N')} : N, skb_kc = ${tile('kc', 'K')} < K ? ${tile('kc', 'K')} : K;
  const size_t skb_ap_n = ${packA ? `((size_t)(skb_mc + ${MR - 1}) / ${MR} * ${MR} * skb_kc + 15) / 16 * 16` : '0'};
  const size_t skb_bp_n = ${packB ? `((size_t)(skb_nc + ${NR - 1}) / ${NR} * ${NR} * skb_kc + 15) / 16 * 16` : '0'};
  float *skb_ap = skb_ap_n ? (float *)aligned_alloc(64, ${threads} * skb_ap_n * sizeof(float)) : NULL;
  float *skb_bp = skb_bp_n ? (float *)aligned_alloc(64, ${threads} * skb_bp_n * sizeof(float)) : NULL;
  (void)skb_mc; (void)skb_nc; (void)skb_kc;
`;
  const scratch = (buf: string, thread: string): string =>
    thread === '0' ? buf : `(${buf} ? ${buf} + ${thread} * ${buf}_n : NULL)`;
  return {
    head,
    alloc,
    run: (batched) =>
      productsLoop(
        threads,
        MR,
        batched,
        (p) =>
          `skb_gemm(${p.m}, N, K, ${p.a}, ${p.b}, bias, ${p.c}, ${scratch('skb_ap', p.thread)}, ${scratch('skb_bp', p.thread)});`,
      ),
    free: '  free(skb_ap);\n  free(skb_bp);\n',
  };
}

/** Creates the gemm template for a CPU with the given ISA extensions. */
export function createGemmTemplate(options: CTemplateOptions): KernelTemplate<'gemm'> {
  return defineCTemplate({
    ...gemmSpec(options),
    kind: 'gemm',
    generate(op, knobs) {
      const parts = gemmParts(op, knobs);
      return `${parts.head}
void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
${parts.alloc}  ${parts.run(false)}
${parts.free}}
`;
    },
  });
}
