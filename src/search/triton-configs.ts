/**
 * Triton autotune configs from stored schedules: the Triton matmul schedules of an export, as a
 * Python list a Triton user pastes into `@triton.autotune(configs=[...])`, one
 * `triton.Config({'BLOCK_M': .., 'BLOCK_N': .., 'BLOCK_K': .., 'GROUP_M': ..}, num_warps=..,
 * num_stages=..)` per distinct configuration, best first, each under a comment naming the schedule
 * it came from.
 *
 * A stored schedule is outside input (an import, another replica): every value printed is checked
 * to be a positive integer of a knob the template has, and comment text is reduced to printable
 * ASCII, so the output is always Python that parses and holds nothing but literals.
 */
import { SkbError, type Operation, type ReuseTier, type Schedule, type TargetRecord } from '../schedules/index.js';
import {
  TRITON_MATMUL_META_PARAMETERS,
  kernelTemplateFor,
  tritonMatmulOptionsFor,
  type Knobs,
} from '../targets/index.js';
import { lineageKnobs } from './template-planner.js';

/** The meta-parameter names of a config, as the template's kernel declares them. */
export type TritonMetaName = (typeof TRITON_MATMUL_META_PARAMETERS)[keyof typeof TRITON_MATMUL_META_PARAMETERS];

/** One Triton launch configuration of the template's matmul kernel. */
export interface TritonConfig {
  meta: Record<TritonMetaName, number>;
  numWarps: number;
  numStages: number;
  /** The dtype path of the products (the template's `precision` knob); said in the comment, not a Config field. */
  precision: string;
  /**
   * Whether the measured kernel first copied misaligned operands into 16-byte-aligned rows (the
   * template's `align` knob): the launcher's work, not a Config field, so the comment says it.
   */
  aligned: boolean;
}

/** A schedule offered to the export, with the target it was measured on and, for a similar-to export, its retrieval. */
export interface TritonConfigSource {
  schedule: Schedule;
  /** Absent when the database has no record of the schedule's target: the schedule is skipped. */
  target: TargetRecord | undefined;
  retrieval?: { tier: ReuseTier; score: number };
}

/** Why one schedule gives no config. */
export interface SkippedSchedule {
  scheduleId: string;
  reason: string;
}

/** A schedule's Triton config, or why it has none. */
export type TritonConfigOf = { ok: true; config: TritonConfig } | { ok: false; reason: string };

/** Largest knob value printed: far above any tile or pipeline depth a GPU takes, far below anything unsafe. */
const MAX_KNOB = 4096;
/** Knobs whose values Triton needs as powers of two (tl.arange extents, warps per program). */
const POWER_OF_TWO = new Set(['block_m', 'block_n', 'block_k', 'num_warps']);
/** The constant each knob is written as at the top of the template's generated source. */
const SOURCE_CONSTANTS: Record<string, string> = {
  ...TRITON_MATMUL_META_PARAMETERS,
  num_warps: 'NUM_WARPS',
  num_stages: 'NUM_STAGES',
};

function validKnob(name: string, value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= 1 &&
    value <= MAX_KNOB &&
    (!POWER_OF_TWO.has(name) || (value & (value - 1)) === 0)
  );
}

function constantOf(code: string, name: string): string | undefined {
  return new RegExp(`^${name} = (.*)$`, 'm').exec(code)?.[1]?.trim();
}

/**
 * The Triton config of a schedule's best kernel, or why it has none: it must be a gemm or batched
 * gemm measured on a GPU (KernelBench) target whose best kernel is the Triton template's, not
 * torch.matmul. The knobs come from the steps (their changes applied over the template's baseline,
 * lineageKnobs); the template also writes them as constants at the top of the final code, and a
 * schedule whose final code says otherwise is skipped rather than trusted either way.
 */
export function tritonConfigOf(schedule: Schedule, target: TargetRecord | undefined): TritonConfigOf {
  if (!target) return { ok: false, reason: 'its target is not in the knowledge base' };
  if (target.fingerprint.kind !== 'gpu') return { ok: false, reason: 'it was measured on a CPU target' };
  const op = schedule.operation;
  const template = kernelTemplateFor('kernelbench', op.kind, tritonMatmulOptionsFor(target.fingerprint));
  if (!template) return { ok: false, reason: `${op.kind} has no Triton matmul template` };
  let knobs: Knobs;
  try {
    knobs = lineageKnobs(template, op, schedule.steps);
  } catch (error) {
    // The template refuses the operation (a dtype or epilogue it does not generate).
    if (error instanceof SkbError && error.code !== 'INTERNAL') return { ok: false, reason: error.message };
    throw error;
  }
  if (knobs.impl !== 'triton') {
    const best = knobs.impl === 'compile' ? 'torch.compile' : 'torch.matmul (cuBLAS)';
    return { ok: false, reason: `its best kernel is ${best}, not Triton` };
  }
  for (const name of Object.keys(SOURCE_CONSTANTS)) {
    if (!validKnob(name, knobs[name]))
      return {
        ok: false,
        reason: `its ${name} is not a whole number from 1 to ${MAX_KNOB}${POWER_OF_TWO.has(name) ? ' and a power of two' : ''}`,
      };
  }
  const precisions = template.knobs.find((k) => k.name === 'precision')?.values(op) ?? [];
  if (typeof knobs.precision !== 'string' || !precisions.includes(knobs.precision))
    return { ok: false, reason: `its precision is not one of ${precisions.join(', ')}` };
  for (const [name, constant] of Object.entries(SOURCE_CONSTANTS)) {
    const written = constantOf(schedule.finalCode, constant);
    if (written === undefined) return { ok: false, reason: "its final code is not the Triton template's kernel" };
    if (written !== String(knobs[name]))
      return { ok: false, reason: `its steps and its final code disagree on ${constant}` };
  }
  const num = (name: string): number => knobs[name] as number;
  return {
    ok: true,
    config: {
      meta: {
        BLOCK_M: num('block_m'),
        BLOCK_N: num('block_n'),
        BLOCK_K: num('block_k'),
        GROUP_M: num('group_m'),
      },
      numWarps: num('num_warps'),
      numStages: num('num_stages'),
      precision: knobs.precision,
      aligned: knobs.align === 1,
    },
  };
}

/**
 * The order of expected benefit. With retrieval (a similar-to export): the retrieval score, best
 * first: exact shape, then the same structure by shape distance, then similar operations, each by
 * measured speedup (src/search/retrieve.ts). Without: measured speedup, highest first. Ties by id,
 * so the same knowledge base always prints the same list.
 */
function byBenefit(a: TritonConfigSource, b: TritonConfigSource): number {
  const byScore = (b.retrieval?.score ?? 0) - (a.retrieval?.score ?? 0);
  const bySpeedup = b.schedule.speedup - a.schedule.speedup;
  const byId = a.schedule.id < b.schedule.id ? -1 : a.schedule.id > b.schedule.id ? 1 : 0;
  return byScore || bySpeedup || byId;
}

/** Comment text: printable ASCII only, so nothing stored can end the comment line or the list. */
function commentText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

/** Matmul dimensions in the order people write them (storage sorts them by name). */
const DIM_ORDER = ['B', 'M', 'N', 'K'];

function shapeText(op: Operation): string {
  const rank = (name: string): number => (DIM_ORDER.includes(name) ? DIM_ORDER.indexOf(name) : DIM_ORDER.length);
  const dims = Object.entries(op.dims)
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const epilogue = op.epilogue.length ? ` +${op.epilogue.join('+')}` : '';
  const layout = op.layout ? ` ${op.layout}` : '';
  return `${op.kind} ${dims} ${op.dtype}${layout}${epilogue}`;
}

function configLine(c: TritonConfig): string {
  const meta = (Object.entries(c.meta) as Array<[TritonMetaName, number]>).map(([k, v]) => `'${k}': ${v}`).join(', ');
  return `triton.Config({${meta}}, num_warps=${c.numWarps}, num_stages=${c.numStages}),`;
}

function sourceComment(source: TritonConfigSource, config: TritonConfig, twins: number): string {
  const s = source.schedule;
  const parts = [
    `${s.id}: ${shapeText(s.operation)}`,
    `${s.speedup.toFixed(2)}x over its baseline on ${source.target?.name ?? s.targetKey}`,
    `${config.precision} products`,
    ...(config.aligned ? ['measured with misaligned operands copied to 16-byte-aligned rows first'] : []),
    ...(source.retrieval ? [`${source.retrieval.tier} match`] : []),
    ...(twins > 0 ? [`same config in ${twins} more schedule(s)`] : []),
  ];
  return `# ${commentText(parts.join(', '))}`;
}

/** The text of a Triton configs export, and what was left out. */
export interface TritonConfigsExport {
  text: string;
  configs: TritonConfig[];
  skipped: SkippedSchedule[];
}

/**
 * Formats the Triton matmul schedules among `sources` as a Python list of `triton.Config`s in the
 * order of expected benefit (byBenefit), one entry per distinct config (the best schedule's), each
 * under a comment with its schedule id, shape and speedup; schedules that are not Triton matmul
 * schedules are skipped and listed in the header. Throws NOT_FOUND when none qualifies.
 */
export function formatTritonConfigs(sources: readonly TritonConfigSource[]): TritonConfigsExport {
  const skipped: SkippedSchedule[] = [];
  const entries = new Map<string, { source: TritonConfigSource; config: TritonConfig; twins: number }>();
  for (const source of [...sources].sort(byBenefit)) {
    const result = tritonConfigOf(source.schedule, source.target);
    if (!result.ok) {
      skipped.push({ scheduleId: source.schedule.id, reason: result.reason });
      continue;
    }
    const key = configLine(result.config);
    const seen = entries.get(key);
    if (seen) seen.twins++;
    else entries.set(key, { source, config: result.config, twins: 0 });
  }
  if (entries.size === 0) {
    const why = skipped.length
      ? `None of the ${skipped.length} matching schedule(s) is a Triton matmul schedule (${[...new Set(skipped.map((s) => s.reason))].join('; ')})`
      : 'No schedule matches the export';
    throw new SkbError(
      'NOT_FOUND',
      `${why}, so there are no Triton configs to print. Triton configs come from gemm and batched_gemm schedules whose best kernel is the Triton template on a GPU target: search one there first, or export these schedules as JSON Lines.`,
      { skipped },
    );
  }
  const order = sources.some((s) => s.retrieval)
    ? 'retrieval order: exact shape, then same structure by shape distance, then similar operations, each by measured speedup'
    : 'measured speedup, highest first';
  const lines = [
    `# Triton matmul configs from schedule-kb for @triton.autotune(configs=...): ${entries.size} distinct, best first (${order}).`,
    `# Meta-parameters as the template's kernel names them: ${Object.values(TRITON_MATMUL_META_PARAMETERS).join(', ')}.`,
    ...skipped.map((s) => `# skipped ${s.scheduleId}: ${commentText(s.reason)}`),
    '[',
    ...[...entries.values()].flatMap(({ source, config, twins }) => [
      `    ${sourceComment(source, config, twins)}`,
      `    ${configLine(config)}`,
    ]),
    ']',
    '',
  ];
  return { text: lines.join('\n'), configs: [...entries.values()].map((e) => e.config), skipped };
}
