/**
 * Matrix-vector template: y = A x with A row-major. Faster variants compute several rows at once
 * (sharing each load of x), vectorize the dot product with several accumulators per row, tile K so
 * the slice of x stays in L1, and prefetch A ahead of the loads.
 */
import type { Operation } from '../../schedules/index.js';
import { flagsPragma, vectorPreludeExtra, vectorWidths } from './c-common.js';
import { defineCTemplate, dimOf, widestVector, type CTemplateOptions } from './c-template.js';
import { numKnob } from './knobs.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';

const dims = (op: Operation): { M: number; K: number } => ({ M: dimOf(op, 'M'), K: dimOf(op, 'K', 'N') });

/** Creates the matvec template for a CPU with these ISA flags. */
export function createMatvecTemplate(options: CTemplateOptions): KernelTemplate<'matvec'> {
  const widths = vectorWidths(options.isa);
  const knobs: KnobSpec[] = [
    {
      name: 'rows',
      description: 'rows of A per register block (share each load of x)',
      values: (op) => [1, 2, 4, 8].filter((r) => r === 1 || r <= dims(op).M),
    },
    {
      name: 'vec',
      description: 'floats per vector in the dot product',
      values: (op) => widths.filter((v) => v === 1 || v <= dims(op).K),
    },
    {
      name: 'acc',
      description: 'independent accumulators per row (unrolls the k loop)',
      values: (op) => [1, 2, 4].filter((a) => a === 1 || a <= dims(op).K),
    },
    {
      name: 'ktile',
      description: 'columns of A per cache tile (0: no tiling)',
      values: (op) => [0, 1024, 4096].filter((t) => t === 0 || t < dims(op).K),
    },
    {
      name: 'prefetch',
      description: 'prefetch distance ahead of the loads of A, in floats (0: none)',
      values: () => [0, 64, 256],
    },
  ];
  return defineCTemplate({
    kind: 'matvec',
    knobs,
    baseline: { rows: 1, vec: 1, acc: 1, ktile: 0, prefetch: 0 },
    generate: (_op, k) => generateMatvec(k),
    moves: {
      'cpu.register_block': ['rows'],
      'cpu.vectorize': ['vec'],
      'cpu.unroll': ['acc'],
      'cpu.cache_tile': ['ktile'],
      'cpu.prefetch': ['prefetch'],
      'cpu.micro_kernel': ['rows', 'acc', 'vec'],
    },
    // Row blocks that share each load of x, at the widest vector with several accumulators.
    composites: {
      'cpu.micro_kernel': () =>
        [1, 2, 4, 8].flatMap((rows) =>
          [1, 2, 4].map((acc) => ({ rows, acc, vec: widestVector(options.isa), restrict: true })),
        ),
    },
  });
}

/** A function computing `R` rows' partial dot products over columns [k0, k1), added to y. */
function blockFunction(R: number, A: number, pf: number, rq: string): string {
  const lines: string[] = [];
  const rowsIdx = Array.from({ length: R }, (_, r) => r);
  const accIdx = Array.from({ length: A }, (_, a) => a);
  lines.push(
    `static inline void rows${R}(int K, const float *${rq}a, const float *${rq}x, float *${rq}y, int k0, int k1) {`,
  );
  for (const r of rowsIdx) lines.push(`  const float *${rq}a${r} = a + (size_t)${r} * K;`);
  for (const r of rowsIdx) for (const a of accIdx) lines.push(`  vf s${r}_${a} = VB(0.0f);`);
  lines.push('  int k = k0;');
  lines.push(`  for (; k + ${A} * VL <= k1; k += ${A} * VL) {`);
  if (pf > 0) for (const r of rowsIdx) lines.push(`    __builtin_prefetch(a${r} + k + ${pf}, 0, 0);`);
  for (const a of accIdx) lines.push(`    vf x${a} = VLOAD(x + k + ${a} * VL);`);
  for (const r of rowsIdx)
    for (const a of accIdx) lines.push(`    s${r}_${a} += VLOAD(a${r} + k + ${a} * VL) * x${a};`);
  lines.push('  }');
  if (A > 1) {
    lines.push('  for (; k + VL <= k1; k += VL) {');
    lines.push('    vf x0 = VLOAD(x + k);');
    for (const r of rowsIdx) lines.push(`    s${r}_0 += VLOAD(a${r} + k) * x0;`);
    lines.push('  }');
  }
  for (const r of rowsIdx) {
    const sum = accIdx.map((a) => `s${r}_${a}`).join(' + ');
    lines.push(`  float t${r} = hsum(${sum});`);
  }
  lines.push('  for (; k < k1; k++) {');
  lines.push('    float xv = x[k];');
  for (const r of rowsIdx) lines.push(`    t${r} += a${r}[k] * xv;`);
  lines.push('  }');
  for (const r of rowsIdx) lines.push(`  y[${r}] += t${r};`);
  lines.push('}');
  return lines.join('\n');
}

function generateMatvec(k: Knobs): string {
  const R = numKnob(k, 'rows');
  const V = numKnob(k, 'vec');
  const A = numKnob(k, 'acc');
  const tile = numKnob(k, 'ktile');
  const pf = numKnob(k, 'prefetch');
  const rq = k.restrict === true ? 'restrict ' : '';
  const blocks = [...new Set([R, 1])].map((r) => blockFunction(r, A, pf, rq)).join('\n\n');
  const kStep = tile > 0 ? tile : 'K';
  return `${flagsPragma(k.flags!)}#include <math.h>
#include <stddef.h>

${vectorPreludeExtra(V)}
${blocks}

void kernel(int M, int K, const float *${rq}A, const float *${rq}x, float *${rq}y) {
  for (int m = 0; m < M; m++) y[m] = 0.0f;
  for (int k0 = 0; k0 < K; k0 += ${kStep}) {
    int k1 = K - k0 < ${kStep} ? K : k0 + ${kStep};
    int m = 0;
    for (; m + ${R} <= M; m += ${R}) rows${R}(K, A + (size_t)m * K, x, y + m, k0, k1);
    for (; m < M; m++) rows1(K, A + (size_t)m * K, x, y + m, k0, k1);
  }
}
`;
}
