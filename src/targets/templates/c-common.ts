/**
 * C snippets shared by the kernel templates: vector types of a chosen width (GCC vector
 * extensions, which GCC lowers on any ISA, so code generated for a wider machine still compiles and
 * runs correctly on a narrower one), ISA-dependent knob ranges, and compiler flags realized in the
 * source.
 */
import type { Knobs, KnobValue } from './template.js';

/** Vector widths (f32 lanes) worth offering on a CPU with these ISA extensions; 1 is scalar. */
export function vectorWidths(isa: readonly string[]): number[] {
  const has = new Set(isa.map((s) => s.toLowerCase()));
  const widths = [1, 4];
  if (has.has('avx') || has.has('avx2')) widths.push(8);
  if (has.has('avx512f')) widths.push(16);
  return widths;
}

/** Architectural vector registers available to a register block (AVX-512: 32, x86 otherwise 16). */
export function vectorRegisterCount(isa: readonly string[]): number {
  const has = new Set(isa.map((s) => s.toLowerCase()));
  if (has.has('avx512f') || has.has('asimd') || has.has('neon') || has.has('sve')) return 32;
  return 16;
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
export function optimizePragma(flags: string): string {
  if (flags === 'none') return '';
  const opts = flags
    .split(',')
    .filter((f) => f.length > 0)
    .map((f) => `"${f}"`);
  return `#pragma GCC optimize(${opts.join(', ')})\n`;
}

/** `#pragma GCC unroll n` for n > 1, else nothing (GCC's own choice). */
export function unrollPragma(n: number, indent: string): string {
  return n > 1 ? `${indent}#pragma GCC unroll ${n}\n` : '';
}

/**
 * Brings one knob value into `legal`: an exact member stays; a number becomes the largest legal
 * number not above it (or the smallest legal one); anything else becomes `fallback`.
 */
export function nearestLegal(value: KnobValue | undefined, legal: readonly KnobValue[], fallback: KnobValue): KnobValue {
  if (value === undefined) return fallback;
  if (legal.includes(value)) return value;
  if (typeof value === 'number') {
    const nums = legal.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
    if (nums.length === 0) return fallback;
    let best = nums[0]!;
    for (const n of nums) if (n <= value) best = n;
    return best;
  }
  return fallback;
}

/** Reads a numeric knob that `legalize` has already checked. */
export function numKnob(knobs: Knobs, name: string): number {
  const v = knobs[name];
  return typeof v === 'number' ? v : Number(v);
}

/** Reads a string knob that `legalize` has already checked. */
export function strKnob(knobs: Knobs, name: string): string {
  return String(knobs[name]);
}
