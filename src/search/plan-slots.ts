/**
 * The plan slots of the beam search. A plan slot draws a dropout menu for one parent (from its own
 * generator, derived from (seed, iteration, parent, slot), so no generator state has to survive a
 * crash), may follow a seed step, asks the planner for one plan and its implementations, and
 * evaluates them; a replay slot applies a seed's whole sequence in one go. Each returns exactly its
 * samples, failed ones included; storing them is the loop's business.
 */
import {
  INVENTED_OPTION_ID,
  REPLAY_OPTION_ID,
  SkbError,
  seedOfCandidate,
  withHereNote,
  type CandidateRecord,
  type MeasuredPoint,
  type SearchConfig,
} from '../schedules/index.js';
import type { CandidateResult } from '../targets/index.js';
import { candidateRecord, tried, type BeamNode, type SampleFields, type SearchState } from './beam-state.js';
import type { Menu, MenuOption } from './menus/menu.js';
import type { CandidateView, ForcedStep, Implementation, Plan, Planner, PlanningTask } from './planner.js';
import { createRng, deriveSeed, type Rng } from './rng.js';

/** Error kind of a sample whose plan or code the planner failed to produce. */
export const PLANNER_ERROR_KIND = 'planner';

/**
 * Warm start's hook: for one plan slot, the seed step it must follow, or undefined to explore with
 * menu dropout. Called once per slot, in slot order; the slot's plan then carries `forced`.
 */
export interface SeedHook {
  forcedStep(slot: {
    iteration: number;
    parent: CandidateView;
    planIndex: number;
    /** The nearest seed step on the parent's path to the root (the parent included), or null: the seed this lineage descends from. */
    lineageSeed: { scheduleId: string; stepIndex: number } | null;
    rng: Rng;
  }): ForcedStep | undefined;
  /**
   * Seeds to replay whole in the first optimize iteration: one extra plan slot of one sample each,
   * on the best candidate of the beam (the baseline when there are no translate iterations), before
   * its normal slots. Skipped when the planner has no `replay`; each counts against the budget.
   */
  readonly replays?: ReadonlyArray<SeedReplay>;
}

/** One seed schedule to replay whole. */
export interface SeedReplay {
  scheduleId: string;
  steps: ForcedStep[];
}

/** What the slots need of the search: the task and its settings, the planner, the target, the seeds. */
export interface SlotContext {
  task: PlanningTask;
  config: SearchConfig;
  menu: Menu;
  planner: Planner;
  /**
   * Evaluates codes on the target, one result per code, in order; rejects when `signal` aborts.
   * `stopAboveMs`: the latency above which a candidate cannot enter the beam, so timing it further is waste.
   */
  evaluate(codes: string[], signal?: AbortSignal, options?: { stopAboveMs?: number }): Promise<CandidateResult[]>;
  seeds?: SeedHook;
  /** Measured points of the knowledge base for the task's structure and hardware family (none for a cold search). */
  prior?: readonly MeasuredPoint[];
  signal?: AbortSignal;
}

/** One plan slot: `samples` are its sample numbers, one per implementation. */
export interface PlanSlot {
  phase: 'translate' | 'optimize';
  /** The iteration's menu (translate or optimize options), before dropout. */
  options: MenuOption[];
  parent: BeamNode;
  planIndex: number;
  samples: number[];
  /** The most a child may take and still enter the beam (the parent's latency times the iteration's widest factor). */
  admitBelowMs: number;
}

/** A replay slot: seed number `index` of the replays, applied to `parent` as sample `sample`. */
export interface ReplaySlot {
  parent: BeamNode;
  index: number;
  seed: SeedReplay;
  sample: number;
}

/** A sample's fields before its outcome is known. */
type Attempt = Omit<SampleFields, 'code' | 'correct' | 'latencyMs' | 'errorKind' | 'output' | 'feedback'> & {
  code?: string;
};

/** Plans, implements and evaluates one plan slot of the current iteration. */
export async function runPlanSlot(ctx: SlotContext, state: SearchState, slot: PlanSlot): Promise<CandidateRecord[]> {
  const { config, signal } = ctx;
  const { parent, samples } = slot;
  const rng = createRng(deriveSeed(config.seed, state.iteration, parent.record.sample, slot.planIndex));
  // What the planner can act on from this parent, for the slot's draw and for any further plan.
  const applicable = applicableTo(ctx, parent, slot.options);
  const { offered, forced, invent } = drawChoices(ctx, state, slot, applicable, rng);
  const base = {
    parentId: parent.record.id,
    iteration: state.iteration,
    forcedFrom: forced ? { scheduleId: forced.scheduleId, stepIndex: forced.stepIndex } : null,
  };
  const failAll = (plan: Plan | null, error: string, model: string | null): CandidateRecord[] =>
    samples.map((sample) =>
      failedSample(
        state,
        {
          ...base,
          sample,
          optionId: plan?.optionId ?? null,
          optionLabel: plan?.optionLabel ?? null,
          plan: plan?.text ?? null,
          params: plan?.params ?? null,
          model,
        },
        error,
      ),
    );
  // Codes of this slot's implementations so far count as tried: a further plan must not repeat them.
  const pending = new Set<string>();
  const triedHere = (code: string): boolean => pending.has(code) || tried(state, code);

  const first = await planAndImplement(ctx, state, slot, { offered, forced, invent, rng, tried: triedHere });
  if (!first.ok) return failAll(first.plan, first.error, first.model);
  const parts: PlannedPart[] = [first];
  for (const impl of first.impls) pending.add(impl.code);
  // A plan can have fewer distinct implementations than the slot has samples (a switch into the
  // library has exactly one): a further plan of another applicable option of the iteration's menu
  // takes the samples left, so none of the budget is spent on an implementation that does not exist.
  const usedOptions = new Set([first.plan.optionId]);
  let filled = first.impls.length;
  while (filled < samples.length) {
    const rest = applicable.filter((o) => !usedOptions.has(o.id));
    if (rest.length === 0) break;
    const next = await planAndImplement(
      ctx,
      state,
      { ...slot, samples: samples.slice(filled) },
      { offered: rest, forced: undefined, invent: false, rng: rng.fork(), tried: triedHere },
    );
    if (!next.ok) break;
    usedOptions.add(next.plan.optionId);
    for (const impl of next.impls) pending.add(impl.code);
    parts.push(next);
    filled += next.impls.length;
  }

  const bySample = parts.flatMap((part) => part.impls.map((impl) => ({ part, impl })));
  const runnable = bySample.flatMap(({ impl }) => (impl.code.trim() !== '' ? [impl] : []));
  const results = runnable.length
    ? await ctx.evaluate(
        runnable.map((impl) => impl.code),
        signal,
        { stopAboveMs: slot.admitBelowMs },
      )
    : [];
  if (results.length !== runnable.length)
    throw new SkbError('INTERNAL', `The target returned ${results.length} results for ${runnable.length} candidates`);
  const returned = bySample.length;
  let next = 0;
  return samples.map((sample, i) => {
    // Samples past the implementations of every part stay with the last part's plan, failed.
    const part = bySample[i]?.part ?? parts[parts.length - 1]!;
    const impl = bySample[i]?.impl;
    const attempt = {
      ...base,
      ...(part === first ? {} : { forcedFrom: null }),
      sample,
      optionId: part.plan.optionId,
      optionLabel: part.plan.optionLabel,
      plan: impl?.plan ?? part.plan.text,
      model: impl?.model ?? part.plan.model ?? null,
    };
    if (!impl || impl.code.trim() === '') {
      const error = impl
        ? 'the implementation is empty'
        : `the planner returned ${returned} of ${samples.length} implementations`;
      return failedSample(state, { ...attempt, params: part.plan.params ?? null, code: impl?.code ?? '' }, error);
    }
    return measuredSample(
      state,
      { ...attempt, params: impl.params ?? part.plan.params ?? null, code: impl.code },
      results[next++]!,
    );
  });
}

/** One plan of a slot and its implementations (at most one per sample it was asked for). */
interface PlannedPart {
  ok: true;
  plan: Plan;
  impls: Implementation[];
}

/** Asks the planner for one plan on `choices.offered` and for implementations of it, one per sample of `slot`. */
async function planAndImplement(
  ctx: SlotContext,
  state: SearchState,
  slot: PlanSlot,
  choices: {
    offered: MenuOption[];
    forced: ForcedStep | undefined;
    invent: boolean;
    rng: Rng;
    tried: (code: string) => boolean;
  },
): Promise<PlannedPart | { ok: false; plan: Plan | null; error: string; model: string | null }> {
  const { config, menu, planner, signal } = ctx;
  const { offered, forced, invent, rng } = choices;
  const abortable = signal ? { signal } : {};
  const common = {
    task: ctx.task,
    parent: slot.parent.view,
    rules: menu.rules,
    tried: choices.tried,
    ...(state.evidence ? { evidence: state.evidence } : {}),
    ...abortable,
  };
  const proposed = await planner.propose({
    ...common,
    iteration: state.iteration,
    iterations: config.iterations,
    phase: slot.phase,
    menu: offered,
    invent,
    ...(forced ? { forced } : {}),
    rng: rng.fork(),
  });
  signal?.throwIfAborted();
  if (!proposed.ok) return { ok: false, plan: null, error: proposed.error, model: null };
  const plan = proposed.value;
  const refusal = refusalOf(plan, offered, invent);
  if (refusal) return { ok: false, plan, error: refusal, model: plan.model ?? null };

  const withForced: Plan = forced ? { ...plan, forced } : plan;
  const implemented = await planner.implement({
    ...common,
    plan: withForced,
    count: slot.samples.length,
    rng: rng.fork(),
  });
  signal?.throwIfAborted();
  if (!implemented.ok) return { ok: false, plan: withForced, error: implemented.error, model: plan.model ?? null };
  return { ok: true, plan, impls: implemented.value.slice(0, slot.samples.length) };
}

/** Replays a seed's whole sequence on `parent` in one planner call: one sample. */
export async function runReplaySlot(
  ctx: SlotContext,
  state: SearchState,
  slot: ReplaySlot,
): Promise<CandidateRecord[]> {
  const { config, signal } = ctx;
  const { parent, seed, sample } = slot;
  // Its own generator, apart from every plan slot's (plan indexes are never negative).
  const rng = createRng(deriveSeed(config.seed, state.iteration, parent.record.sample, -1 - slot.index));
  const plan = `Replay the seed's ${seed.steps.length} steps in order: ${seed.steps.map((step, i) => `${i + 1}. [${step.optionId}] ${step.plan}`).join(' ')}`;
  const base = {
    parentId: parent.record.id,
    iteration: state.iteration,
    sample,
    optionId: REPLAY_OPTION_ID,
    optionLabel: `Replay of seed schedule ${seed.scheduleId}`,
    forcedFrom: { scheduleId: seed.scheduleId, stepIndex: seed.steps.length },
  };
  const fail = (error: string): CandidateRecord[] => [
    failedSample(state, { ...base, plan, params: null, model: null }, error),
  ];

  const replayed = await ctx.planner.replay!({
    task: ctx.task,
    parent: parent.view,
    steps: seed.steps,
    rules: ctx.menu.rules,
    rng,
    tried: (code) => tried(state, code),
    ...(signal ? { signal } : {}),
  });
  signal?.throwIfAborted();
  if (!replayed.ok) return fail(replayed.error);
  const impl = replayed.value[0];
  if (!impl || impl.code.trim() === '')
    return fail(impl ? 'the replay implementation is empty' : 'the planner returned no replay implementation');
  const [result] = await ctx.evaluate([impl.code], signal);
  if (!result) throw new SkbError('INTERNAL', 'The target returned no result for a replay candidate');
  return [
    measuredSample(
      state,
      {
        ...base,
        plan: withHereNote(plan, impl.plan),
        params: impl.params ?? null,
        code: impl.code,
        model: impl.model ?? null,
      },
      result,
    ),
  ];
}

/** The options of `options` the planner can act on from `parent` (all of them for a planner that does not say). */
function applicableTo(ctx: SlotContext, parent: BeamNode, options: MenuOption[]): MenuOption[] {
  return ctx.planner.applicableOptions?.(ctx.task, options, parent.view) ?? options;
}

/**
 * The slot's draws, in this order from its generator: the dropout menu (never empty), the seed
 * step it follows (optimize iterations, with warm start), and whether it invents an option.
 */
function drawChoices(
  ctx: SlotContext,
  state: SearchState,
  slot: PlanSlot,
  applicable: MenuOption[],
  rng: Rng,
): { offered: MenuOption[]; forced: ForcedStep | undefined; invent: boolean } {
  const { config, menu } = ctx;
  const { options, parent, planIndex } = slot;
  // Every option takes its draw (so the draws after it do not depend on which options are
  // never dropped); a never-dropped option stays whatever it drew.
  const dropped = options.filter((o) => rng.next() < config.menuKeep || o.neverDropped === true);
  const drawn = dropped.length ? dropped : [options[rng.int(options.length)]!];
  // A planner that can act on only some options keeps those of the draw, and a draw with none of
  // them takes one it can act on (one more draw, only there), so no sample is spent on a menu the
  // planner can do nothing with and every other draw stays as it was.
  const kept = drawn.filter((o) => applicable.includes(o));
  const sampleMenu =
    applicable.length === 0 ? drawn : kept.length > 0 ? kept : [applicable[rng.int(applicable.length)]!];
  const forced =
    slot.phase === 'optimize'
      ? ctx.seeds?.forcedStep({
          iteration: state.iteration,
          parent: parent.view,
          planIndex,
          lineageSeed: seedOfCandidate(state.byId, parent.record),
          rng: rng.fork(),
        })
      : undefined;
  const forcedOption = forced
    ? [...menu.options, ...menu.translateOptions].find((o) => o.id === forced.optionId)
    : undefined;
  const invent = !forced && rng.next() < config.inventProbability;
  const offered = forcedOption && !sampleMenu.includes(forcedOption) ? [forcedOption, ...sampleMenu] : sampleMenu;
  return { offered, forced, invent };
}

/** Why a proposed plan cannot be implemented (an option it was not offered, no text), or null. */
function refusalOf(plan: Plan, offered: MenuOption[], invent: boolean): string | null {
  const allowed = new Set(offered.map((o) => o.id));
  if (invent) allowed.add(INVENTED_OPTION_ID);
  if (plan.text.trim() === '') return 'the plan chose an empty plan';
  if (!allowed.has(plan.optionId)) return `the plan chose option "${plan.optionId}", which was not on its menu`;
  return null;
}

/** A sample the planner failed to produce: not evaluated, the planner's error as its output and feedback. */
function failedSample(state: SearchState, attempt: Attempt, error: string): CandidateRecord {
  return candidateRecord(state.searchId, {
    code: '',
    ...attempt,
    correct: false,
    latencyMs: null,
    errorKind: PLANNER_ERROR_KIND,
    output: error,
    feedback: [`the planner failed: ${error.slice(0, 300)}`],
  });
}

/** A sample evaluated on the target. */
function measuredSample(
  state: SearchState,
  attempt: Attempt & { code: string },
  result: CandidateResult,
): CandidateRecord {
  return candidateRecord(state.searchId, {
    ...attempt,
    correct: result.correct,
    latencyMs: result.latencyMs,
    errorKind: result.errorKind,
    output: result.output,
    feedback: result.feedback,
    ...(result.suspect ? { suspect: result.suspect } : {}),
    ...(result.evidence ? { evidence: result.evidence } : {}),
  });
}
