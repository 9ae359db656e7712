/**
 * Row-wise layernorm template. Faster variants vectorize with several accumulators and fuse the
 * mean and variance passes into one pass over shifted data (sums of x - x[0] and its square, which
 * avoids the cancellation of a plain sum / sum-of-squares when the mean is large against the spread),
 * so each row is read twice instead of three times; normalize and affine are one fused pass.
 */
import type { Operation } from '../../schedules/index.js';
import { flagsPragma, vectorPreludeExtra, vectorWidths } from './c-common.js';
import { defineCTemplate, dimOf, widestVector, type CTemplateOptions } from './c-template.js';
import { numKnob } from './knobs.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';

const rowLength = (op: Operation): number => dimOf(op, 'N');

/** Creates the layernorm template for a CPU with these ISA flags. */
export function createLayernormTemplate(options: CTemplateOptions): KernelTemplate<'layernorm'> {
  const widths = vectorWidths(options.isa);
  const knobs: KnobSpec[] = [
    {
      name: 'stats',
      description: 'mean and variance in two passes, or one pass over shifted data',
      values: () => ['two_pass', 'one_pass'],
    },
    {
      name: 'vec',
      description: 'floats per vector',
      values: (op) => widths.filter((v) => v === 1 || v <= rowLength(op)),
    },
    {
      name: 'acc',
      description: 'independent accumulators per reduction (unrolls the row loop)',
      values: (op) => [1, 2, 4].filter((a) => a === 1 || a <= rowLength(op)),
    },
  ];
  return defineCTemplate({
    kind: 'layernorm',
    knobs,
    baseline: { stats: 'two_pass', vec: 1, acc: 1 },
    generate: (_op, k) => generateLayernorm(k),
    moves: {
      'cpu.fuse': ['stats'],
      'cpu.vectorize': ['vec'],
      'cpu.unroll': ['acc'],
      'cpu.micro_kernel': ['vec', 'acc'],
    },
    // The widest vector with several accumulators and restrict, for either statistics pass.
    composites: {
      'cpu.micro_kernel': () =>
        ['two_pass', 'one_pass'].flatMap((stats) =>
          [1, 2, 4].map((acc) => ({ stats, acc, vec: widestVector(options.isa), restrict: true })),
        ),
    },
  });
}

/** A vectorized reduction over the row: `body(v, a)` is added to accumulator a for each vector v. */
function reduce(A: number, names: string[], body: (v: string) => string[]): string {
  const acc = Array.from({ length: A }, (_, a) => a);
  const lines: string[] = [];
  for (const a of acc) lines.push(`    vf ${names.map((n) => `${n}${a} = VB(0.0f)`).join(', ')};`);
  lines.push('    int n = 0;');
  lines.push(`    for (; n + ${A} * VL <= N; n += ${A} * VL) {`);
  for (const a of acc) {
    const terms = body(`v${a}`);
    lines.push(
      `      { vf v${a} = VLOAD(row + n + ${a} * VL); ${names.map((n, i) => `${n}${a} += ${terms[i]};`).join(' ')} }`,
    );
  }
  lines.push('    }');
  const t0 = body('v');
  lines.push(
    `    for (; n + VL <= N; n += VL) { vf v = VLOAD(row + n); ${names.map((n, i) => `${n}0 += ${t0[i]};`).join(' ')} }`,
  );
  for (const n of names) lines.push(`    float ${n} = hsum(${acc.map((a) => `${n}${a}`).join(' + ')});`);
  return lines.join('\n');
}

function generateLayernorm(k: Knobs): string {
  const V = numKnob(k, 'vec');
  const A = numKnob(k, 'acc');
  const rq = k.restrict === true ? 'restrict ' : '';
  const stats =
    k.stats === 'two_pass'
      ? `${reduce(A, ['s'], (v) => [v])}
    for (; n < N; n++) s += row[n];
    const float mean = s / N;
    {
${reduce(A, ['q'], (v) => [`(${v} - mean) * (${v} - mean)`])}
    for (; n < N; n++) q += (row[n] - mean) * (row[n] - mean);
    var = q / N;
    }`
      : `    const float shift = row[0];
${reduce(A, ['s', 'q'], (v) => [`(${v} - shift)`, `(${v} - shift) * (${v} - shift)`])}
    for (; n < N; n++) { float d = row[n] - shift; s += d; q += d * d; }
    const float mean = shift + s / N;
    var = (q - s * (s / N)) / N;
    if (var < 0.0f) var = 0.0f;`;
  return `${flagsPragma(k.flags!)}#include <math.h>
#include <stddef.h>

${vectorPreludeExtra(V)}
void kernel(int M, int N, const float *${rq}x, const float *${rq}gamma, const float *${rq}beta, float *${rq}y) {
  for (int m = 0; m < M; m++) {
    const float *${rq}row = x + (size_t)m * N;
    float *${rq}dst = y + (size_t)m * N;
    float var;
${stats}
    const float rstd = 1.0f / sqrtf(var + 1e-5f);
    int j = 0;
    for (; j + VL <= N; j += VL) VSTORE(dst + j, (VLOAD(row + j) - mean) * rstd * VLOAD(gamma + j) + VLOAD(beta + j));
    for (; j < N; j++) dst[j] = (row[j] - mean) * rstd * gamma[j] + beta[j];
  }
}
`;
}
