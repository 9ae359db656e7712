/**
 * Row-wise softmax template. Faster variants vectorize every pass with several accumulators, use a
 * polynomial exp (about 2 ulp, well inside the harness's 1e-5 relative tolerance), multiply by the
 * reciprocal of the sum, and fuse the max and sum passes into one online pass (running max with a
 * rescaled running sum), so each row is read twice instead of three times.
 */
import type { Operation } from '../../schedules/index.js';
import { flagsPragma, vectorPreludeExtra, vectorWidths } from './c-common.js';
import { defineCTemplate, dimOf, widestVector, type CTemplateOptions } from './c-template.js';
import { numKnob } from './knobs.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';

const rowLength = (op: Operation): number => dimOf(op, 'N');

/** Creates the softmax template for a CPU with these ISA flags. */
export function createSoftmaxTemplate(options: CTemplateOptions): KernelTemplate<'softmax'> {
  const widths = vectorWidths(options.isa);
  const knobs: KnobSpec[] = [
    {
      name: 'passes',
      description: 'max, exp-sum and normalize as three passes, or online max+sum then normalize',
      values: () => ['three', 'online'],
    },
    {
      name: 'vec',
      description: 'floats per vector',
      values: (op) => widths.filter((v) => v === 1 || v <= rowLength(op)),
    },
    {
      name: 'acc',
      description: 'independent accumulators per pass (unrolls the row loop)',
      values: (op) => [1, 2, 4].filter((a) => a === 1 || a <= rowLength(op)),
    },
    { name: 'exp', description: 'exp from libm, or a vectorizable polynomial', values: () => ['libm', 'poly'] },
    { name: 'recip', description: 'multiply by 1/sum instead of dividing each element', values: () => [false, true] },
  ];
  return defineCTemplate({
    kind: 'softmax',
    knobs,
    baseline: { passes: 'three', vec: 1, acc: 1, exp: 'libm', recip: false },
    generate: (_op, k) => generateSoftmax(k),
    moves: {
      'cpu.fuse': ['passes'],
      'cpu.vectorize': ['vec'],
      'cpu.unroll': ['acc'],
      'cpu.simplify': ['exp'],
      'cpu.hoist': ['recip'],
      'cpu.micro_kernel': ['vec', 'exp', 'acc'],
    },
    // A vector width pays only with the polynomial exp (libm's is scalar), and best with several
    // accumulators and the reciprocal: one move for all of them, for either pass structure.
    composites: {
      'cpu.micro_kernel': () =>
        ['three', 'online'].flatMap((passes) =>
          [1, 2, 4].map((acc) => ({
            passes,
            acc,
            vec: widestVector(options.isa),
            exp: 'poly',
            recip: true,
            restrict: true,
          })),
        ),
    },
  });
}

function generateSoftmax(k: Knobs): string {
  const V = numKnob(k, 'vec');
  const A = numKnob(k, 'acc');
  const poly = k.exp === 'poly';
  const rq = k.restrict === true ? 'restrict ' : '';
  const acc = Array.from({ length: A }, (_, a) => a);
  const each = (f: (a: number) => string): string => acc.map(f).join('\n');
  const scale = k.recip === true ? '* inv' : '/ sum';
  const head = `${flagsPragma(k.flags!)}#include <math.h>
#include <stddef.h>

${vectorPreludeExtra(V, poly)}
${poly ? '' : 'static inline vf vexp(vf t) { vf e; for (int l = 0; l < VL; l++) e[l] = expf(t[l]); return e; }\n'}
static inline float sexp(float t) { return ${poly ? 'vexp(VB(t))[0]' : 'expf(t)'}; }
`;
  const normalize = `    ${k.recip === true ? 'const float inv = 1.0f / sum;' : ''}
    int j = 0;
    for (; j + VL <= N; j += VL) VSTORE(dst + j, VEXPR(j) ${scale});
    for (; j < N; j++) dst[j] = SEXPR(j) ${scale};`;

  if (k.passes === 'three') {
    return `${head}
void kernel(int M, int N, const float *${rq}x, float *${rq}y) {
  for (int m = 0; m < M; m++) {
    const float *${rq}row = x + (size_t)m * N;
    float *${rq}dst = y + (size_t)m * N;
${each((a) => `    vf m${a} = VB(row[0]);`)}
    int n = 0;
    for (; n + ${A} * VL <= N; n += ${A} * VL) {
${each((a) => `      m${a} = vmax(m${a}, VLOAD(row + n + ${a} * VL));`)}
    }
    for (; n + VL <= N; n += VL) m0 = vmax(m0, VLOAD(row + n));
    float mx = hmax(m0);
${each((a) => (a ? `    mx = fmaxf(mx, hmax(m${a}));` : ''))}
    for (; n < N; n++) mx = row[n] > mx ? row[n] : mx;
${each((a) => `    vf s${a} = VB(0.0f);`)}
    n = 0;
    for (; n + ${A} * VL <= N; n += ${A} * VL) {
${each((a) => `      { vf e = vexp(VLOAD(row + n + ${a} * VL) - mx); VSTORE(dst + n + ${a} * VL, e); s${a} += e; }`)}
    }
    for (; n + VL <= N; n += VL) { vf e = vexp(VLOAD(row + n) - mx); VSTORE(dst + n, e); s0 += e; }
    float sum = hsum(${acc.map((a) => `s${a}`).join(' + ')});
    for (; n < N; n++) { dst[n] = sexp(row[n] - mx); sum += dst[n]; }
#define VEXPR(j) VLOAD(dst + (j))
#define SEXPR(j) dst[j]
${normalize}
  }
}
`;
  }
  // Online: per lane a running max and a sum rescaled whenever the max grows.
  return `${head}
void kernel(int M, int N, const float *${rq}x, float *${rq}y) {
  for (int m = 0; m < M; m++) {
    const float *${rq}row = x + (size_t)m * N;
    float *${rq}dst = y + (size_t)m * N;
${each((a) => `    vf m${a} = VB(row[0]), s${a} = VB(0.0f);`)}
    int n = 0;
    for (; n + ${A} * VL <= N; n += ${A} * VL) {
${each((a) => `      { vf v = VLOAD(row + n + ${a} * VL); vf nm = vmax(m${a}, v); s${a} = s${a} * vexp(m${a} - nm) + vexp(v - nm); m${a} = nm; }`)}
    }
    for (; n + VL <= N; n += VL) { vf v = VLOAD(row + n); vf nm = vmax(m0, v); s0 = s0 * vexp(m0 - nm) + vexp(v - nm); m0 = nm; }
    float mx = row[0], ts = 0.0f;
    for (; n < N; n++) { float nm = row[n] > mx ? row[n] : mx; ts = ts * sexp(mx - nm) + sexp(row[n] - nm); mx = nm; }
    float tm = mx;
${each((a) => `    mx = fmaxf(mx, hmax(m${a}));`)}
    float sum = ts * sexp(tm - mx);
${each((a) => `    sum += hsum(s${a} * vexp(m${a} - mx));`)}
#define VEXPR(j) vexp(VLOAD(row + (j)) - mx)
#define SEXPR(j) sexp(row[j] - mx)
${normalize}
  }
}
`;
}
