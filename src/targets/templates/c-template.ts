/**
 * How a C kernel template is put together: the options every C template is built for (the ISA of
 * the target CPU), the knobs every C template has (compiler flags and compiler hints) with the CPU
 * menu options that move them, and `defineCTemplate`, which assembles a template from its own
 * knobs and code generator so that every C template checks, legalizes and falls back to the naive
 * loop nest the same way.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { naiveBaseline } from '../c/baselines.js';
import { entryPointFor, type CKind } from '../c/entry-points.js';
import { FLAG_SETS, vectorWidths } from './c-common.js';
import { currentKnobNames, nearestLegal } from './knobs.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';

/**
 * What every C template is built for: the ISA flags of the CPU fingerprint, which decide the vector
 * widths offered, and the cores one candidate may use (the fingerprint's `threads`; default 1).
 */
export interface CTemplateOptions {
  isa: readonly string[];
  threads?: number;
}

/**
 * Thread counts offered up to `max`: 1, the powers of two below it, and `max` itself. On a
 * single-threaded target the knob has the one value 1, so no move changes it and the code is the
 * single-threaded code schedules were measured with before threads existed.
 */
export function threadCounts(max: number): number[] {
  const counts = [1];
  for (let t = 2; t < max; t *= 2) counts.push(t);
  if (max > 1) counts.push(max);
  return counts;
}

/** The `threads` knob of the templates that parallelize (gemm, batched gemm, conv2d); baseline 1. */
export function threadsKnob(options: CTemplateOptions): KnobSpec {
  const counts = threadCounts(options.threads ?? 1);
  return {
    name: 'threads',
    description: 'cores the kernel splits its independent work across (OpenMP)',
    values: () => [...counts],
  };
}

/** The menu option that moves the threads knob. */
export const PARALLELIZE_MOVES: KernelTemplate['moves'] = { 'cpu.parallelize': ['threads'] };

type Composites = NonNullable<KernelTemplate['composites']>;

/**
 * The composite moves of a template that parallelizes. On a target with several cores each
 * composite knob set runs on all of them (a packed micro-kernel measured on one core of the
 * allowance would lose to any parallel parent and never enter the beam), and `cpu.parallelize`
 * moves straight to every core: splitting the work pays on its own, and stepping 1, 2, 4, ...
 * costs samples. On one core the composites are as given.
 */
export function onAllCores(options: CTemplateOptions, composites: Composites): Composites {
  const threads = options.threads ?? 1;
  if (threads <= 1) return composites;
  const parallel: Composites = { 'cpu.parallelize': () => [{ threads }] };
  for (const [id, sets] of Object.entries(composites)) {
    if (sets) parallel[id] = (op) => sets(op).map((set) => ({ ...set, threads }));
  }
  return parallel;
}

/**
 * The knobs every C template has, after its own: code-generation flags set in the source, and
 * `restrict`, the compiler hints (`cpu.compiler_hints`), which every template realizes as
 * restrict-qualified pointers and the gemm templates also as ivdep and alignment assumptions.
 */
const COMMON_KNOBS: readonly KnobSpec[] = [
  { name: 'flags', description: 'code-generation flags set in the source', values: () => [...FLAG_SETS] },
  {
    name: 'restrict',
    description: 'restrict-qualified pointers (no aliasing between arguments)',
    values: () => [false, true],
  },
];
const COMMON_BASELINE: Knobs = { flags: 'none', restrict: false };
const COMMON_MOVES: KernelTemplate['moves'] = { 'cpu.compiler_flags': ['flags'], 'cpu.compiler_hints': ['restrict'] };

/** The widest vector (f32 lanes) a C template offers on this ISA: what composite moves vectorize with. */
export function widestVector(isa: readonly string[]): number {
  return Math.max(...vectorWidths(isa));
}

/** Positive integer dimension of an operation, with a BAD_INPUT error naming what is missing. */
export function dimOf(op: Operation, ...names: string[]): number {
  for (const n of names) {
    const v = op.dims[n];
    if (v !== undefined) return v;
  }
  throw new SkbError(
    'BAD_INPUT',
    `A ${op.kind} operation needs the dimension ${names.join(' or ')} (dims are ${Object.keys(op.dims).join(', ')})`,
  );
}

/**
 * Brings every knob into its legal set: a number becomes the largest legal value not above it (or
 * the smallest legal value), any other value that is not legal becomes the baseline's. Unknown
 * knobs are dropped and missing ones take the baseline's value.
 */
function legalizeKnobs(specs: readonly KnobSpec[], op: Operation, knobs: Knobs, baseline: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of specs) out[spec.name] = nearestLegal(knobs[spec.name], spec.values(op), baseline[spec.name]!);
  return out;
}

/** Throws unless every knob holds a legal value (generate's input check). */
function checkKnobs(specs: readonly KnobSpec[], op: Operation, knobs: Knobs): void {
  for (const spec of specs) {
    const v = knobs[spec.name];
    if (v === undefined || !spec.values(op).includes(v)) {
      throw new SkbError(
        'BAD_INPUT',
        `The ${op.kind} template's knob ${spec.name} = ${String(v)} is not legal here (legal: ${spec.values(op).join(', ')}); call legalize first`,
      );
    }
  }
}

/** The parts of a C template that differ from one template to the next. */
export interface CTemplateSpec<K extends CKind> {
  kind: K;
  /** The template's own knobs; the common ones (flags, restrict) follow them. */
  knobs: KnobSpec[];
  /** The own knobs' values of the naive loop nest. */
  baseline: Knobs;
  /** The C source for legal knobs other than the baseline's (which give the naive loop nest). */
  generate: (op: Operation, knobs: Knobs) => string;
  /** Which own knobs each CPU menu option moves. */
  moves: KernelTemplate['moves'];
  /** Composite moves by CPU menu option (see KernelTemplate.composites). */
  composites?: KernelTemplate['composites'];
  /** Rewrites requested values before they are snapped to legal ones (gemm: a tile as large as its dimension is no tiling). */
  clamp?: (op: Operation, knobs: Knobs) => Knobs;
  /** The template's own combination rules on legal knobs (e.g. a register budget). */
  resolve?: (knobs: Knobs) => Knobs;
  renamedKnobs?: KernelTemplate['renamedKnobs'];
  /**
   * Whether generate legalizes the knobs it is given instead of refusing illegal ones: the gemm
   * templates always have, and benchmarks and tests hand them knob sets written for other shapes.
   */
  generateLegalizes?: boolean;
}

/**
 * Assembles a C template: the common knobs follow the template's own, knobs are checked (or, with
 * `generateLegalizes`, legalized) on every generate, the baseline knobs generate exactly the naive
 * loop nest, and legalize reads old knob names, clamps, snaps to the legal values, then applies the
 * template's own rules.
 */
export function defineCTemplate<K extends CKind>(spec: CTemplateSpec<K>): KernelTemplate<K> {
  const knobs = [...spec.knobs, ...COMMON_KNOBS];
  const baseline = (): Knobs => ({ ...spec.baseline, ...COMMON_BASELINE });
  const template: KernelTemplate<K> = {
    kind: spec.kind,
    knobs,
    baseline,
    legalize(op, requested) {
      const named = currentKnobNames(template, requested);
      const legal = legalizeKnobs(knobs, op, spec.clamp ? spec.clamp(op, named) : named, baseline());
      return spec.resolve ? spec.resolve(legal) : legal;
    },
    generate(op, requested) {
      if (op.kind !== spec.kind)
        throw new SkbError('BAD_INPUT', `The ${spec.kind} template generates ${spec.kind} kernels, not ${op.kind}`);
      entryPointFor(op);
      const k = spec.generateLegalizes ? template.legalize(op, requested) : requested;
      checkKnobs(knobs, op, k);
      const base = baseline();
      if (knobs.every((s) => k[s.name] === base[s.name])) return naiveBaseline(op);
      return spec.generate(op, k);
    },
    moves: { ...spec.moves, ...COMMON_MOVES },
    ...(spec.composites ? { composites: spec.composites } : {}),
    ...(spec.renamedKnobs ? { renamedKnobs: spec.renamedKnobs } : {}),
  };
  return template;
}
