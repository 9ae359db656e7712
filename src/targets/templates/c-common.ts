/**
 * C snippets shared by the kernel templates: vector types of a chosen width (GCC vector
 * extensions, which GCC lowers on any ISA, so code generated for a wider machine still compiles and
 * runs correctly on a narrower one) with loads, stores, reductions and a vector exp, ISA-dependent
 * vector widths, and compiler flags realized in the source.
 */
import { SkbError } from '../../schedules/index.js';
import type { KnobValue } from './template.js';

/** Vector widths (f32 lanes) worth offering on a CPU with these ISA extensions; 1 is scalar. */
export function vectorWidths(isa: readonly string[]): number[] {
  const has = new Set(isa.map((s) => s.toLowerCase()));
  const widths = [1, 4];
  if (has.has('avx') || has.has('avx2')) widths.push(8);
  if (has.has('avx512f')) widths.push(16);
  return widths;
}

/**
 * Typedefs and helpers for `vf` (a vector of `width` floats) and `vi` (the matching int vector),
 * prefixed so several widths could coexist. Loads and stores go through memcpy, which GCC turns
 * into one unaligned vector move, so no alignment is assumed anywhere but in packed buffers.
 */
export function vectorPrelude(width: number): string {
  return `typedef float vf __attribute__((vector_size(${4 * width})));
typedef int vi __attribute__((vector_size(${4 * width})));
static inline __attribute__((always_inline)) vf vf_loadu(const float *p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline __attribute__((always_inline)) void vf_storeu(float *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) vf vf_relu(vf v) { vf z = {0}; return (vf)((vi)v & (v > z)); }
static inline __attribute__((always_inline)) vf vf_splat(float x) { return (vf){${Array.from({ length: width }, () => 'x').join(', ')}}; }
`;
}

/** Values of the `flags` knob: code-generation options a candidate may request for itself. */
export const FLAG_SETS = ['none', 'unroll-loops', 'fast-math', 'unroll-loops,fast-math'] as const;

/**
 * The `#pragma GCC optimize` line for a flags knob value ('' for none). Flags live in the source
 * because the toolchain compiles every candidate with the same command line.
 */
function optimizePragma(flags: string): string {
  if (flags === 'none') return '';
  const opts = flags
    .split(',')
    .filter((f) => f.length > 0)
    .map((f) => `"${f}"`);
  return `#pragma GCC optimize(${opts.join(', ')})\n`;
}

/** The pragma line for a `flags` knob value (empty for "none"), checked against FLAG_SETS. */
export function flagsPragma(flags: KnobValue): string {
  if (typeof flags !== 'string' || !(FLAG_SETS as readonly string[]).includes(flags)) {
    throw new SkbError('BAD_INPUT', `The flags knob takes ${FLAG_SETS.join(', ')}, not "${String(flags)}"`);
  }
  return optimizePragma(flags);
}

/** `#pragma GCC unroll n` for n > 1, else nothing (GCC's own choice). */
export function unrollPragma(n: number, indent: string): string {
  return n > 1 ? `${indent}#pragma GCC unroll ${n}\n` : '';
}

/**
 * The vector typedefs above for `V` floats (V = 1 is a one-lane vector, which GCC supports and
 * compiles to scalar code) plus: unaligned VLOAD / VSTORE, VB broadcast, vmax / vmin, hsum / hmax,
 * and with `withExp` a polynomial exp (Cephes expf, about 2 ulp on [-87, 88]) for softmax.
 */
export function vectorPreludeExtra(V: number, withExp = false): string {
  const exp = withExp
    ? `
static inline vf vexp(vf x) {
  x = vmin(vmax(x, VB(-87.33654f)), VB(88.37626f));
  vf t = x * 1.44269504088896341f;
  /* round to nearest by truncating a positive value: immune to fast-math reassociation */
  vi n = __builtin_convertvector(t + 128.5f, vi) - 128;
  vf fn = __builtin_convertvector(n, vf);
  vf r = x - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  vf p = VB(1.9875691500E-4f);
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.0f;
  vf scale = (vf)((n + 127) << 23);
  return p * scale;
}
`
    : '';
  return `${vectorPrelude(V)}#define VL ${V}
#define VLOAD(p) vf_loadu(p)
#define VSTORE(p, v) vf_storeu((p), (v))
#define VB(c) ((vf){0} + (c))
static inline vf vmax(vf a, vf b) { vi m = a > b; return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline vf vmin(vf a, vf b) { vi m = a < b; return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline float hsum(vf v) { float s = 0.0f; for (int i = 0; i < VL; i++) s += v[i]; return s; }
static inline float hmax(vf v) { float s = v[0]; for (int i = 1; i < VL; i++) s = v[i] > s ? v[i] : s; return s; }
${exp}`;
}

/**
 * The OpenMP pragma that splits the `for` loop after it across `threads` cores, in equal static
 * chunks (each iteration of the templates' parallel loops costs about the same).
 */
export function parallelForPragma(threads: number): string {
  return `#pragma omp parallel for num_threads(${threads}) schedule(static)`;
}
