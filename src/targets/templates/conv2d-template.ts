/**
 * NCHW conv2d template (any stride and padding, optional bias / relu epilogue). Two algorithms:
 * direct convolution, and im2col (unfold the input into a (C*R*S) x (OH*OW) matrix, then a
 * GEMM-like loop). Both compute a register block of `kb` output channels x `owb` vectors of output
 * pixels, with a cache tile over input channels, a loop order knob, unrolling over S, and (direct)
 * a zero-padded copy of the input so the inner loop has no bounds checks. At the edge of K a
 * one-channel block finishes the rest; at the edge of a row of pixels a vector block with masked
 * stores (its loads run into slack reserved after the buffers) rather than scalar code.
 */
import { conv2dOutputSize, type Operation } from '../../schedules/index.js';
import { flagsPragma, parallelForPragma, vectorPreludeExtra, vectorWidths } from './c-common.js';
import {
  PARALLELIZE_MOVES,
  defineCTemplate,
  dimOf,
  onAllCores,
  threadsKnob,
  widestVector,
  type CTemplateOptions,
} from './c-template.js';
import { numKnob } from './knobs.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';

interface ConvShape {
  C: number;
  K: number;
  S: number;
  OH: number;
  OW: number;
  stride: number;
}

function shape(op: Operation): ConvShape {
  const { outH, outW } = conv2dOutputSize(op);
  const stride = typeof op.attrs.stride === 'number' ? op.attrs.stride : 1;
  return { C: dimOf(op, 'C'), K: dimOf(op, 'K'), S: dimOf(op, 'S'), OH: outH, OW: outW, stride };
}

/** Creates the conv2d template for a CPU with these ISA flags. */
export function createConv2dTemplate(options: CTemplateOptions): KernelTemplate<'conv2d'> {
  const widths = vectorWidths(options.isa);
  const knobs: KnobSpec[] = [
    {
      name: 'algorithm',
      description: 'direct convolution, or im2col then a GEMM-like loop',
      values: () => ['direct', 'im2col'],
    },
    {
      name: 'order',
      description: 'output-channel blocks outside output rows, or rows outside channel blocks',
      values: () => ['k_outer', 'oh_outer'],
    },
    {
      name: 'kb',
      description: 'output channels per register block',
      values: (op) => [1, 2, 4, 8].filter((v) => v === 1 || v <= shape(op).K),
    },
    {
      name: 'vec',
      description: 'output pixels per vector',
      values: (op) => widths.filter((v) => v === 1 || v <= shape(op).OW * shape(op).OH),
    },
    { name: 'owb', description: 'vectors of output pixels per register block', values: () => [1, 2, 4] },
    {
      name: 'ctile',
      description: 'input channels per cache tile (0: all)',
      values: (op) => [0, 4, 16, 64].filter((v) => v === 0 || v < shape(op).C),
    },
    {
      name: 'ptile',
      description: 'pixels per cache tile of the unfolded matrix (im2col; 0: all)',
      values: (op) => [0, 256, 1024].filter((v) => v === 0 || v < shape(op).OH * shape(op).OW),
    },
    {
      name: 'pack',
      description: 'zero-padded copy of the input (direct): no bounds checks in the inner loop',
      values: () => [false, true],
    },
    { name: 'unroll', description: 'unroll factor of the loop over S', values: (op) => [...new Set([1, shape(op).S])] },
    threadsKnob(options),
  ];
  return defineCTemplate({
    kind: 'conv2d',
    knobs,
    baseline: {
      algorithm: 'direct',
      order: 'k_outer',
      kb: 1,
      vec: 1,
      owb: 1,
      ctile: 0,
      ptile: 0,
      pack: false,
      unroll: 1,
      threads: 1,
    },
    generate: generateConv,
    // Keep the accumulators of one register block within the 32 vector registers of AVX-512 / NEON.
    resolve(out) {
      while (numKnob(out, 'kb') * numKnob(out, 'owb') > 16) out.owb = numKnob(out, 'owb') / 2;
      return out;
    },
    moves: {
      'cpu.register_block': ['kb', 'owb'],
      'cpu.vectorize': ['vec'],
      'cpu.loop_reorder': ['order'],
      'cpu.cache_tile': ['ctile', 'ptile'],
      'cpu.pack': ['pack', 'algorithm'],
      'cpu.unroll': ['unroll'],
      'cpu.micro_kernel': ['kb', 'owb', 'vec', 'algorithm'],
      ...PARALLELIZE_MOVES,
    },
    // Register blocks at the widest vector: direct over a padded input with the S loop unrolled,
    // or im2col's GEMM-like loop. A wide vector alone, without a block of output channels to
    // share each input load, or a block alone at scalar width, pays little.
    composites: onAllCores(options, {
      'cpu.micro_kernel': (op) => {
        const vec = widestVector(options.isa);
        const direct = [2, 4, 8].flatMap((kb) =>
          [1, 2].map((owb) => ({
            algorithm: 'direct',
            order: 'oh_outer',
            kb,
            owb,
            vec,
            pack: true,
            unroll: shape(op).S,
            ctile: 0,
            restrict: true,
          })),
        );
        const im2col = [4, 8].flatMap((kb) =>
          [1, 2].map((owb) => ({
            algorithm: 'im2col',
            order: 'k_outer',
            kb,
            owb,
            vec,
            pack: false,
            unroll: 1,
            ctile: 0,
            restrict: true,
          })),
        );
        return [...direct, ...im2col];
      },
    }),
  });
}

/**
 * One register-block function: `kbr` output channels x `nv` vectors of pixels ('vec'), one scalar
 * pixel ('scalar'), or one vector of which only the first `cnt` pixels are kept ('tail': the edge
 * of a row; its loads may run past the row into slack the buffers reserve, and only its stores
 * are masked). It reduces over input channels [c0, c1), adding to what earlier channel tiles left
 * in `out` (bias on the first tile, relu on the last).
 */
function micro(kbr: number, nv: number, mode: 'vec' | 'scalar' | 'tail', k: Knobs, op: Operation): string {
  const scalar = mode === 'scalar';
  const tail = mode === 'tail';
  const T = scalar ? 'float' : 'vf';
  const W = scalar ? 1 : 'VL';
  const zero = scalar ? '0.0f' : 'VB(0.0f)';
  const load = (p: string): string => (scalar ? `*(${p})` : `VLOAD(${p})`);
  const rows = Array.from({ length: kbr }, (_, i) => i);
  const cols = Array.from({ length: mode === 'vec' ? nv : 1 }, (_, j) => j);
  const bias = op.epilogue.includes('bias');
  const relu = op.epilogue.includes('relu');
  const name = `mk${kbr}_${mode === 'vec' ? nv : mode[0]}`;
  const L: string[] = [];
  L.push(
    `static inline void ${name}(const struct cv *p, int k, int oh, int ow0, int c0, int c1${tail ? ', int cnt' : ''}) {`,
  );
  L.push('  const int P = p->OH * p->OW;');
  L.push('  float *o = p->out + ((size_t)p->n * p->K + k) * P + (size_t)oh * p->OW + ow0;');
  for (const i of rows) {
    for (const j of cols) {
      const init = bias ? (scalar ? `p->bias[k + ${i}]` : `VB(p->bias[k + ${i}])`) : zero;
      const prior = tail
        ? `({ vf t_ = VB(0.0f); for (int l = 0; l < cnt; l++) t_[l] = o[(size_t)${i} * P + l]; t_; })`
        : load(`o + (size_t)${i} * P + ${j} * ${W}`);
      L.push(`  ${T} a${i}_${j} = c0 == 0 ? ${init} : ${prior};`);
    }
  }
  const inputLoad = (j: number): string => {
    const iw0 = `(ow0 + ${j} * ${W}) * STRIDE - PAD + s`;
    if (k.algorithm === 'im2col') return load(`irow + ow0 + ${j} * ${W}`);
    if (k.pack === true) {
      if (scalar) return `irow[${iw0}]`;
      if (shapeStride(op) === 1) return `VLOAD(irow + ${iw0})`;
      return `({ vf t_; for (int l = 0; l < VL; l++) t_[l] = irow[${iw0} + l * STRIDE]; t_; })`;
    }
    if (scalar) return `({ int iw = ${iw0}; iw >= 0 && iw < p->W ? irow[iw] : 0.0f; })`;
    return `({ vf t_; for (int l = 0; l < VL; l++) { int iw = ${iw0} + l * STRIDE; t_[l] = iw >= 0 && iw < p->W ? irow[iw] : 0.0f; } t_; })`;
  };
  if (k.algorithm === 'im2col') {
    L.push('  const int RS = p->R * p->S, J = p->C * RS;');
    L.push('  for (int jj = c0 * RS; jj < c1 * RS; jj++) {');
    L.push('    const float *irow = p->src + (size_t)jj * P + (size_t)oh * p->OW;');
    for (const j of cols) L.push(`    ${T} x${j} = ${inputLoad(j)};`);
    for (const i of rows) {
      L.push(
        `    { const float w = p->weight[(size_t)(k + ${i}) * J + jj]; ${cols.map((j) => `a${i}_${j} += x${j} * w;`).join(' ')} }`,
      );
    }
    L.push('  }');
  } else {
    L.push('  for (int c = c0; c < c1; c++)');
    L.push('    for (int r = 0; r < p->R; r++) {');
    L.push('      const int ih = oh * STRIDE - PAD + r;');
    if (k.pack !== true) L.push('      if (ih < 0 || ih >= p->H) continue;');
    L.push(`      const float *irow = p->src + ((size_t)c * p->SH + ih + p->OFF) * p->SW + p->OFF;`);
    L.push('      const float *wp = p->weight + (((size_t)k * p->C + c) * p->R + r) * p->S;');
    L.push('      const size_t WK = (size_t)p->C * p->R * p->S;');
    L.push(`      #pragma GCC unroll ${numKnob(k, 'unroll')}`);
    L.push('      for (int s = 0; s < p->S; s++) {');
    for (const j of cols) L.push(`        ${T} x${j} = ${inputLoad(j)};`);
    for (const i of rows) {
      L.push(`        { const float w = wp[${i} * WK + s]; ${cols.map((j) => `a${i}_${j} += x${j} * w;`).join(' ')} }`);
    }
    L.push('      }');
    L.push('    }');
  }
  const store = (p: string, v: string): string =>
    scalar ? `*(${p}) = ${v};` : tail ? `for (int l = 0; l < cnt; l++) (${p})[l] = ${v}[l];` : `VSTORE(${p}, ${v});`;
  for (const i of rows) {
    for (const j of cols) {
      const v = `a${i}_${j}`;
      if (relu) L.push(`  if (c1 == p->C) ${v} = ${scalar ? `${v} < 0.0f ? 0.0f : ${v}` : `vmax(${v}, VB(0.0f))`};`);
      L.push(`  ${store(`o + (size_t)${i} * P + ${j} * ${W}`, v)}`);
    }
  }
  L.push('}');
  return L.join('\n');
}

function shapeStride(op: Operation): number {
  return typeof op.attrs.stride === 'number' ? op.attrs.stride : 1;
}

/** An OpenMP loop over the `threads` cores on its own line (nothing on one thread), before a `for`. */
function parallelFor(threads: number): string {
  return threads > 1 ? `\n${parallelForPragma(threads)}\n` : '';
}

/**
 * Parallel work of a convolution: output-channel blocks write disjoint channels, output rows
 * disjoint rows, and every input channel is unfolded or padded on its own. Rows are split where
 * they are the outer loop of a direct convolution (each thread then keeps its block of weights
 * hot for a row), channel blocks otherwise (im2col has a single "row").
 */
function generateConv(op: Operation, k: Knobs): string {
  const threads = numKnob(k, 'threads');
  const splitRows = threads > 1 && k.order === 'oh_outer' && k.algorithm !== 'im2col';
  const splitChannels = threads > 1 && !splitRows;
  const KB = numKnob(k, 'kb');
  const NV = numKnob(k, 'owb');
  const V = numKnob(k, 'vec');
  const CT = numKnob(k, 'ctile');
  const im2col = k.algorithm === 'im2col';
  const pack = k.pack === true && !im2col;
  const rq = k.restrict === true ? 'restrict ' : '';
  const stride = shapeStride(op);
  const pad = typeof op.attrs.pad === 'number' ? op.attrs.pad : 0;
  const kbs = [...new Set([KB, 1])];
  // A one-lane vector needs no masked tail: its leftover pixels go through the scalar block.
  const modes = V > 1 ? (['vec', 'tail'] as const) : (['vec', 'scalar'] as const);
  const micros = kbs.flatMap((kbr) => modes.map((m) => micro(kbr, NV, m, k, op))).join('\n\n');
  const PT = numKnob(k, 'ptile');
  // In im2col the "row" is a row of the unfolded matrix: oh stays 0 and ow runs over all OH*OW pixels.
  const rowsVar = im2col ? '1' : 'OH';
  const colsVar = im2col ? 'OH * OW' : 'OW';
  const kBlocks = (body: (kbr: number) => string): string =>
    splitChannels
      ? `{ const int kfull = K / ${KB} * ${KB};${parallelFor(threads)}        for (int k = 0; k < kfull; k += ${KB}) ${body(KB)}${parallelFor(threads)}        for (int k = kfull; k < K; k++) ${body(1)} }`
      : `{ int k = 0;
        for (; k + ${KB} <= K; k += ${KB}) ${body(KB)}
        for (; k < K; k++) ${body(1)} }`;
  // im2col with a pixel tile walks [p0, p1) of the unfolded matrix; otherwise whole rows.
  const [from, to] = im2col && PT > 0 ? ['p0', 'p1'] : ['0', colsVar];
  const owBlocks = (kbr: number): string =>
    `{ int ow0 = ${from};
          for (; ow0 + ${NV} * VL <= ${to}; ow0 += ${NV} * VL) mk${kbr}_${NV}(&p, k, oh, ow0, c0, c1);
          ${
            V > 1
              ? `for (; ow0 < ${to}; ow0 += VL) mk${kbr}_t(&p, k, oh, ow0, c0, c1, ${to} - ow0 < VL ? ${to} - ow0 : VL);`
              : `for (; ow0 < ${to}; ow0++) mk${kbr}_s(&p, k, oh, ow0, c0, c1);`
          } }`;
  const loops =
    k.order === 'k_outer'
      ? kBlocks((kbr) => `for (int oh = 0; oh < ${rowsVar}; oh++) ${owBlocks(kbr)}`)
      : `${splitRows ? parallelFor(threads) : ''}for (int oh = 0; oh < ${rowsVar}; oh++) ${kBlocks((kbr) => owBlocks(kbr))}`;
  const nest =
    im2col && PT > 0
      ? `for (int p0 = 0; p0 < OH * OW; p0 += ${PT}) { const int p1 = OH * OW - p0 < ${PT} ? OH * OW : p0 + ${PT}; ${loops} }`
      : loops;
  const prepare = im2col
    ? `${parallelFor(threads)}for (int c = 0; c < C; c++)
      for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++) {
          float *dst = buf + ((size_t)(c * R + r) * S + s) * OH * OW;
          for (int oh = 0; oh < OH; oh++) {
            const int ih = oh * STRIDE - PAD + r;
            for (int ow = 0; ow < OW; ow++) {
              const int iw = ow * STRIDE - PAD + s;
              dst[oh * OW + ow] = ih >= 0 && ih < H && iw >= 0 && iw < W ? img[((size_t)c * H + ih) * W + iw] : 0.0f;
            }
          }
        }
    memset(buf + (size_t)C * R * S * OH * OW, 0, VL * sizeof(float));
    p.src = buf;`
    : pack
      ? `memset(buf, 0, bufSize * sizeof(float));${parallelFor(threads)}
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++) memcpy(buf + ((size_t)c * p.SH + h + PAD) * p.SW + PAD, img + ((size_t)c * H + h) * W, (size_t)W * sizeof(float));
    p.src = buf;`
      : 'p.src = img;';
  // Slack after the buffer: a masked tail's loads run up to VL * STRIDE floats past the last row.
  const bufSize = im2col
    ? '(size_t)C * R * S * OH * OW + VL'
    : pack
      ? '(size_t)C * (H + 2 * PAD) * (W + 2 * PAD) + (size_t)VL * STRIDE'
      : '0';
  return `${flagsPragma(k.flags!)}#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

${vectorPreludeExtra(V)}
#define STRIDE ${stride}
#define PAD ${pad}

struct cv {
  const float *src, *weight, *bias;
  float *out;
  int n, C, H, W, K, R, S, OH, OW, SH, SW, OFF;
};

${micros}

void kernel(int N, int C, int H, int W, int K, int R, int S, int stride, int pad, const float *${rq}in, const float *${rq}weight, const float *${rq}bias, float *${rq}out) {
  (void)stride; (void)pad;
  const int OH = (H + 2 * PAD - R) / STRIDE + 1, OW = (W + 2 * PAD - S) / STRIDE + 1;
  const size_t bufSize = ${bufSize};
  float *buf = bufSize ? malloc(bufSize * sizeof(float)) : NULL;
  if (bufSize && !buf) return;
  struct cv p = { NULL, weight, bias, out, 0, C, H, W, K, R, S, OH, OW, ${pack ? 'H + 2 * PAD, W + 2 * PAD, PAD' : 'H, W, 0'} };
  for (int n = 0; n < N; n++) {
    const float *img = in + (size_t)n * C * H * W;
    p.n = n;
    ${prepare}
    for (int c0 = 0; c0 < C; c0 += ${CT > 0 ? CT : 'C'}) {
      const int c1 = C - c0 < ${CT > 0 ? CT : 'C'} ? C : c0 + ${CT > 0 ? CT : 'C'};
      ${nest}
    }
  }
  free(buf);
}
`;
}
