/**
 * Additions to c-common.ts for the conv2d, matvec, softmax and layernorm templates: knob checks,
 * unaligned vector load / store macros, broadcast, min / max, horizontal reductions and a vector exp.
 * Vector code uses GCC vector extensions only, so every variant compiles on any GCC target.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { naiveBaseline } from '../c/baselines.js';
import { entryPointFor, type CKind } from '../c/entry-points.js';
import { FLAG_SETS, nearestLegal, optimizePragma, vectorPrelude } from './c-common.js';
import type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';

/** Options every template factory takes: the ISA flags of the CPU fingerprint. */
export interface TemplateOptions {
  isa: readonly string[];
}

/** The pragma line for a `flags` knob value (empty for "none"), checked against c-common's FLAG_SETS. */
export function flagsPragma(flags: KnobValue): string {
  if (typeof flags !== 'string' || !(FLAG_SETS as readonly string[]).includes(flags)) {
    throw new SkbError('BAD_INPUT', `The flags knob takes ${FLAG_SETS.join(', ')}, not "${String(flags)}"`);
  }
  return optimizePragma(flags);
}

/** The two knobs every template has: compiler flags and restrict hints. */
export function commonKnobs(): KnobSpec[] {
  return [
    { name: 'flags', description: 'code-generation flags set in the source', values: () => [...FLAG_SETS] },
    { name: 'restrict', description: 'restrict-qualified pointers (no aliasing between arguments)', values: () => [false, true] },
  ];
}

/** Positive integer dimension of an operation, with a BAD_INPUT error naming what is missing. */
export function dimOf(op: Operation, ...names: string[]): number {
  for (const n of names) {
    const v = op.dims[n];
    if (v !== undefined) return v;
  }
  throw new SkbError('BAD_INPUT', `A ${op.kind} operation needs the dimension ${names.join(' or ')} (dims are ${Object.keys(op.dims).join(', ')})`);
}

/**
 * Brings every knob into its legal set: a number becomes the largest legal value not above it (or
 * the smallest legal value), any other value that is not legal becomes the baseline's. Unknown
 * knobs are dropped and missing ones take the baseline's value.
 */
export function legalizeKnobs(specs: KnobSpec[], op: Operation, knobs: Knobs, baseline: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of specs) out[spec.name] = nearestLegal(knobs[spec.name], spec.values(op), baseline[spec.name]!);
  return out;
}

/** Whether `knobs` equals `baseline` on every knob of `specs`. */
export function isBaseline(specs: KnobSpec[], knobs: Knobs, baseline: Knobs): boolean {
  return specs.every((s) => knobs[s.name] === baseline[s.name]);
}

/** Throws unless every knob holds a legal value (generate's input check). */
export function checkKnobs(specs: KnobSpec[], op: Operation, knobs: Knobs): void {
  for (const spec of specs) {
    const v = knobs[spec.name];
    if (v === undefined || !spec.values(op).includes(v)) {
      throw new SkbError('BAD_INPUT', `The ${op.kind} template's knob ${spec.name} = ${String(v)} is not legal here (legal: ${spec.values(op).join(', ')}); call legalize first`);
    }
  }
}

/** Number of a knob, with the check that it is one. */
export function num(knobs: Knobs, name: string): number {
  const v = knobs[name];
  if (typeof v !== 'number') throw new SkbError('INTERNAL', `Knob ${name} should be a number, got ${String(v)}`);
  return v;
}

/**
 * c-common's vector typedefs for `V` floats (V = 1 is a one-lane vector, which GCC supports and
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
 * Assembles a template from its parts: knobs are checked on every generate, the baseline knobs
 * generate exactly the naive loop nest, and legalize clamps to the legal values (then `refit`, when
 * given, applies the template's own rules, e.g. a register budget).
 */
export function defineCTemplate(spec: {
  kind: CKind;
  knobs: KnobSpec[];
  baseline: Knobs;
  generate: (op: Operation, knobs: Knobs) => string;
  moves: KernelTemplate['moves'];
  refit?: (knobs: Knobs) => Knobs;
}): KernelTemplate {
  const baseline = (): Knobs => ({ ...spec.baseline });
  return {
    kind: spec.kind,
    knobs: spec.knobs,
    baseline,
    legalize(op, knobs) {
      const legal = legalizeKnobs(spec.knobs, op, knobs, baseline());
      return spec.refit ? spec.refit(legal) : legal;
    },
    generate(op, knobs) {
      entryPointFor(op);
      checkKnobs(spec.knobs, op, knobs);
      if (isBaseline(spec.knobs, knobs, baseline())) return naiveBaseline(op);
      return spec.generate(op, knobs);
    },
    moves: spec.moves,
  };
}
