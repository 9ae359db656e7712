/**
 * Readable plan texts for template knob changes: "register-block 6x32 so the accumulators stay in
 * registers", "tile K by 256 so a panel of B stays in L2". The texts are what a person reads in a
 * schedule and what the LLM planner is shown as a seed's hint, so they name the values and say why.
 * Knob names are matched loosely (case, "_" and "-" ignored) so every template's spelling of the
 * same idea reads the same; a knob no rule knows reads "set <knob> to <value> (<description>)".
 */
import type { Operation } from '../schedules/index.js';
import type { KnobSpec, KnobValue, Knobs } from '../targets/index.js';

const norm = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');

const GEMM_LIKE = new Set(['gemm', 'batched_gemm']);

/** Loop letters of a GEMM nest in either convention (i-j-k or m-n-k). */
const LOOP_ROLE: Record<string, 'row' | 'col' | 'red'> = { i: 'row', m: 'row', j: 'col', n: 'col', k: 'red' };

function loopOrderPhrase(op: Operation, value: string): string {
  const letters = value.replace(/[^a-z]/gi, '').toLowerCase();
  const dashed = letters.split('').join('-');
  if (!GEMM_LIKE.has(op.kind) || letters.length === 0) return `reorder loops to ${dashed || value}`;
  const inner = LOOP_ROLE[letters[letters.length - 1]!];
  const why =
    inner === 'col'
      ? 'so the inner loop walks B and C contiguously'
      : inner === 'red'
        ? 'so the inner loop is a dot product along a row of A (B is read with stride N)'
        : inner === 'row'
          ? 'so the inner loop walks down columns of A and C'
          : '';
  return `reorder loops to ${dashed}${why ? ` ${why}` : ''}`;
}

function tileDimension(n: string): string | null {
  const m =
    /^(?:tile|block|blk|t|b)([mnkhwc]|rows?|cols?)$/.exec(n) ??
    /^([mnk])(?:c|tile|block|blk|b)$/.exec(n) ??
    /^([chw])(?:tile|block|blk)$/.exec(n);
  if (!m) return null;
  const d = m[1]!;
  if (d.startsWith('row')) return 'rows';
  if (d.startsWith('col')) return 'columns';
  return d.toUpperCase();
}

function tileReason(op: Operation, dim: string): string {
  if (op.kind === 'matvec' && dim === 'K') return 'so the slice of x a tile reads stays in L1';
  if (op.kind === 'conv2d' && dim === 'C') return 'so the input rows and weights of a tile of channels stay in cache';
  if (!GEMM_LIKE.has(op.kind)) return 'so the working set of the inner loops stays in cache';
  if (dim === 'K') return 'so a panel of B stays in L2';
  if (dim === 'M') return 'so a block of A stays in cache while it is reused across N';
  if (dim === 'N') return 'so a panel of B and C stays in cache while it is reused across M';
  return 'so the working set of the inner loops stays in cache';
}

const isOff = (v: KnobValue): boolean => v === false || v === 0 || v === 'none' || v === 'off' || v === '';

/** Register-block pairs: the knob that holds rows and the one that holds columns of the block. */
const REGISTER_PAIRS: Array<[string, string]> = [
  ['mr', 'nr'],
  ['rm', 'rn'],
  ['regm', 'regn'],
  ['registerm', 'registern'],
  ['blockrows', 'blockcols'],
];

function registerPair(name: string): [string, string] | null {
  const n = norm(name);
  return REGISTER_PAIRS.find(([r, c]) => r === n || c === n) ?? null;
}

function findKnob(knobs: Knobs, normName: string): string | undefined {
  return Object.keys(knobs).find((k) => norm(k) === normName);
}

/** The phrase for one knob taking `value` in the knob set `knobs` (which already holds it). */
export function knobPhrase(
  op: Operation,
  spec: Pick<KnobSpec, 'name' | 'description'>,
  value: KnobValue,
  knobs: Knobs,
): string {
  const n = norm(spec.name);
  if ((n === 'mr' || n === 'nv') && 'nv' in knobs) {
    const rows = Number(knobs.mr ?? 1);
    const vectors = Number(knobs.nv ?? 1);
    const lanes = Number(knobs.vec ?? 1);
    if (rows === 1 && vectors * lanes === 1) return 'stop register blocking: one accumulator per output (1x1)';
    const split =
      lanes > 1
        ? ` (${rows} row${rows === 1 ? '' : 's'} by ${vectors} vector${vectors === 1 ? '' : 's'} of ${lanes} floats)`
        : '';
    return `register-block ${rows}x${vectors * lanes} so the accumulators stay in registers${split}`;
  }
  if ((n === 'kb' || n === 'owb') && op.kind === 'conv2d') {
    const channels = Number(knobs.kb ?? 1);
    const vectors = Number(knobs.owb ?? 1);
    return `register-block ${channels} output channel${channels === 1 ? '' : 's'} by ${vectors} vector${vectors === 1 ? '' : 's'} of output pixels so the accumulators stay in registers`;
  }
  if (n === 'order' && op.kind === 'conv2d') {
    if (value === 'k_outer')
      return 'loop over output-channel blocks outside output rows so each block of weights is reused across the image (order = k_outer)';
    if (value === 'oh_outer')
      return 'loop over output rows outside output-channel blocks so each input row is reused across channels (order = oh_outer)';
  }
  if (n === 'algorithm') {
    if (value === 'im2col')
      return 'lower the convolution to im2col, then a GEMM-like loop over contiguous patches (algorithm = im2col)';
    if (value === 'direct') return 'compute the convolution directly on the input (algorithm = direct)';
  }
  if (n === 'pack' && op.kind === 'conv2d' && typeof value === 'boolean') {
    return value
      ? 'copy the input into a zero-padded buffer so the inner loop needs no bounds checks (pack on)'
      : 'read the input in place with bounds checks (pack off)';
  }
  if (n === 'ptile' && op.kind === 'conv2d' && typeof value === 'number') {
    return value === 0
      ? 'unfold every output pixel at once (ptile = 0: one im2col tile)'
      : `unfold ${value} output pixels at a time so a tile of the im2col matrix stays in cache (ptile = ${value})`;
  }
  if (n === 'threads' && typeof value === 'number') {
    return value === 1
      ? 'run on one core (threads = 1)'
      : `split the independent work across ${value} cores with OpenMP, each thread with its own scratch (threads = ${value})`;
  }
  const pair = registerPair(spec.name);
  if (pair) {
    const rows = knobs[findKnob(knobs, pair[0]) ?? ''] ?? 1;
    const cols = knobs[findKnob(knobs, pair[1]) ?? ''] ?? 1;
    if (rows === 1 && cols === 1) return 'stop register blocking: one accumulator per output (1x1)';
    return `register-block ${String(rows)}x${String(cols)} so the accumulators stay in registers`;
  }
  if (['order', 'looporder', 'loops', 'loopnest'].includes(n) && typeof value === 'string')
    return loopOrderPhrase(op, value);
  const dim = tileDimension(n);
  if (dim && typeof value === 'number') {
    const size = op.dims[dim];
    if (value === 0 || (size !== undefined && value >= size))
      return `stop tiling ${dim} (tile ${dim} = ${value}: one tile spans the whole dimension)`;
    return `tile ${dim} by ${value} ${tileReason(op, dim)}`;
  }
  if (n.includes('unroll')) {
    const loop = /unroll([a-z])$/.exec(n)?.[1];
    const which = loop ? `the ${loop} loop` : 'the inner loop';
    if (value === 1 || isOff(value)) return `stop unrolling ${which} (unroll ${String(value)})`;
    if (value === true) return `unroll ${which} to expose instruction-level parallelism`;
    return `unroll ${which} by ${String(value)} to expose instruction-level parallelism and cut loop overhead`;
  }
  if (n === 'restrict') {
    return value === true
      ? 'give the compiler no-alias hints (restrict pointers; in gemm also ivdep loops and aligned panels) so it may vectorize without alias checks (restrict on)'
      : 'drop the no-alias hints (restrict off)';
  }
  if (['vec', 'vector', 'vectorize', 'simd', 'vecwidth', 'vw', 'vlen', 'width', 'lanes', 'isa'].includes(n)) {
    if (isOff(value) || value === 1 || value === 'scalar')
      return `use scalar code in the inner loop (${spec.name} = ${String(value)})`;
    if (typeof value === 'number')
      return `vectorize the inner loop ${value} floats wide so each instruction does ${value} multiply-adds`;
    if (value === true) return 'vectorize the inner loop with SIMD vectors';
    return `vectorize the inner loop with ${value}`;
  }
  if (n === 'pack' && typeof value === 'string') {
    if (isOff(value)) return 'stop packing operands (pack = none)';
    const operands = value.toUpperCase().split('').join(' and ');
    return `pack ${operands} into aligned, zero-padded panels in the order the micro-kernel reads them (pack = ${value})`;
  }
  if (n.startsWith('pack')) {
    const operand = n.slice(4).toUpperCase() || 'the operands';
    return value === true || (typeof value === 'string' && !isOff(value))
      ? `pack ${operand}${typeof value === 'string' ? ` (${value})` : ''} into a contiguous aligned buffer in the order the inner kernel reads it`
      : `stop packing ${operand}`;
  }
  if (n.startsWith('prefetch')) {
    if (isOff(value)) return 'stop prefetching (prefetch off)';
    const unit = /reduction step/.test(spec.description)
      ? 'reduction steps'
      : /float/.test(spec.description)
        ? 'floats'
        : 'elements';
    if (typeof value === 'number') return `prefetch ${value} ${unit} ahead of the loads so they hit in cache`;
    return 'prefetch the next block ahead so loads hit in cache';
  }
  if (['flags', 'cflags', 'compilerflags', 'copts', 'opt', 'optflags'].includes(n)) {
    if (isOff(value) || value === 'default') return 'compile with the default flags (no extra optimize pragma)';
    const flags = String(value)
      .split(',')
      .filter((f) => f.length > 0)
      .map((f) => (f.startsWith('-') ? f : `-f${f}`));
    return `compile with ${flags.join(' ')} (set in the source with #pragma GCC optimize)`;
  }
  if (['aligned', 'align', 'assumealigned', 'alignment'].includes(n)) {
    return isOff(value)
      ? 'stop assuming aligned pointers'
      : `assume ${typeof value === 'number' ? `${value}-byte ` : ''}aligned pointers (__builtin_assume_aligned) so the compiler emits aligned vector loads`;
  }
  if (n === 'hoist' || n === 'hoisting') {
    return isOff(value)
      ? 'keep address arithmetic in the inner loop (no hoisting)'
      : 'hoist invariant loads and address arithmetic out of the inner loop';
  }
  if (['fuse', 'fused', 'fusion', 'onepass', 'singlepass'].includes(n)) {
    return isOff(value)
      ? 'keep separate passes over each row'
      : 'fuse the passes over each row so it is read from memory fewer times';
  }
  if (n === 'passes' && typeof value === 'string') {
    if (value === 'online')
      return 'fuse the max and exp-sum passes into one online pass, then normalize, so each row is read fewer times (passes = online)';
    if (value === 'three')
      return 'run max, exp-sum and normalize as three separate passes over each row (passes = three)';
  }
  if (n === 'stats' && typeof value === 'string') {
    if (value === 'one_pass')
      return 'compute mean and variance in one pass over shifted data so each row is read once fewer (stats = one_pass)';
    if (value === 'two_pass') return 'compute mean and variance in two passes over each row (stats = two_pass)';
  }
  if (n === 'exp' && typeof value === 'string') {
    if (value === 'poly') return 'compute exp with a vectorizable polynomial instead of calling libm (exp = poly)';
    if (value === 'libm') return "compute exp with libm's expf (exp = libm)";
  }
  if (n === 'recip' && typeof value === 'boolean') {
    return value
      ? 'multiply by 1/sum, computed once per row, instead of dividing each element (recip on)'
      : 'divide each element by the sum (recip off)';
  }
  if (n === 'rows' && typeof value === 'number' && op.kind === 'matvec') {
    return value === 1
      ? 'compute one row of A at a time (rows = 1, no register blocking)'
      : `register-block ${value} rows of A so each load of x is shared by ${value} rows`;
  }
  if (['passes', 'npasses'].includes(n) && typeof value === 'number') {
    return `read each row in ${value} pass${value === 1 ? '' : 'es'}${value < 3 ? ' (passes fused) so it is read from memory fewer times' : ''}`;
  }
  if (['acc', 'accs', 'accumulators', 'naccumulators', 'accum'].includes(n) && typeof value === 'number') {
    return value === 1
      ? 'use a single accumulator'
      : `use ${value} independent accumulators to hide the latency of the adds`;
  }
  return `set ${spec.name} to ${String(value)} (${spec.description})`;
}

/**
 * Phrases for every knob that differs between `before` and `after`, in the template's knob order;
 * a register-block pair that moved together reads as one phrase.
 */
export function describeKnobChanges(op: Operation, specs: readonly KnobSpec[], before: Knobs, after: Knobs): string[] {
  const phrases: string[] = [];
  for (const spec of specs) {
    const value = after[spec.name];
    if (value === undefined || before[spec.name] === value) continue;
    const phrase = knobPhrase(op, spec, value, after);
    if (!phrases.includes(phrase)) phrases.push(phrase);
  }
  return phrases;
}

/** Joins phrases into one sentence-like plan text. */
export function joinPhrases(phrases: readonly string[]): string {
  if (phrases.length === 0) return '';
  const [first, ...rest] = phrases;
  const head = first!.charAt(0).toUpperCase() + first!.slice(1);
  return rest.length ? `${head}; ${rest.join('; ')}.` : `${head}.`;
}
