/**
 * The beam search (Autocomp's loop): for every candidate of the beam, `plansPerCandidate` plan
 * samples (each with its own dropout menu), `implementationsPerPlan` implementations per plan, every
 * implementation evaluated on the target; children that beat their parent by the keep factor join
 * the old beam, and the fastest `beamWidth` go on.
 *
 * Pure orchestration: the planner, the evaluation and the persistence are passed in. Two properties
 * make a search resumable after a crash without spending its budget twice:
 * - sample numbers are fixed by position (iteration, parent, plan slot, implementation), and every
 *   slot yields exactly its samples, failed ones included, stored in one write;
 * - each plan slot draws from its own generator derived from (seed, iteration, parent, slot), so
 *   no generator state has to survive the crash.
 * A resumed run replays the stored samples through the same loop (no planner call, no evaluation)
 * and continues with the first sample that is missing.
 */
import { SkbError, type CandidateRecord, type LineageStep, type ProgressEvent, type SearchConfig } from '../schedules/index.js';
import type { CandidateResult } from '../targets/toolchain.js';
import { INVENTED_OPTION_ID, type Menu, type MenuOption } from './menus/menu.js';
import type { CandidateView, ForcedStep, Implementation, Plan, Planner, PlanningTask } from './planner.js';
import { createRng, type Rng } from './rng.js';

/** Error kind of a sample whose plan or code the planner failed to produce. */
export const PLANNER_ERROR_KIND = 'planner';

/** Where the engine stands, written after every plan slot and iteration. */
export interface SearchProgress {
  iteration: number;
  samplesUsed: number;
  baselineLatencyMs: number | null;
  bestLatencyMs: number | null;
  bestCandidateId: string | null;
}

/** Persistence of a running search. */
export interface BeamSearchSink {
  /** Stores the samples of one plan slot (or the baseline) in one write: a crash leaves a slot whole or absent. */
  storeCandidates(records: CandidateRecord[]): Promise<void>;
  /** Marks candidates that entered the beam. */
  markAdmitted(ids: string[]): Promise<void>;
  progress(state: SearchProgress): Promise<void>;
}

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
  readonly replays?: ReadonlyArray<{ scheduleId: string; steps: ForcedStep[] }>;
}

/** Option id of a candidate that replayed a whole seed schedule in one go. */
export const REPLAY_OPTION_ID = 'seed.replay';

export interface BeamSearchInput {
  searchId: string;
  task: PlanningTask;
  config: SearchConfig;
  menu: Menu;
  planner: Planner;
  /** The root's code and planner state (the task's code, or the planner's naive baseline). */
  baseline: { code: string; params?: Record<string, unknown> };
  /** Evaluates codes on the target, one result per code, in order; rejects when `signal` aborts. */
  evaluate(codes: string[], signal?: AbortSignal): Promise<CandidateResult[]>;
  sink: BeamSearchSink;
  /** Candidates stored by an earlier run of this search: replayed, never evaluated again. */
  stored?: CandidateRecord[];
  seeds?: SeedHook;
  signal?: AbortSignal;
  onEvent?(event: ProgressEvent): void;
}

export interface BeamSearchResult {
  samplesUsed: number;
  /** Iterations run (fewer than configured after an early stop or when the budget ran out). */
  iterations: number;
  stoppedEarly: boolean;
  baseline: CandidateRecord;
  best: CandidateRecord;
  /** Steps from the root to the best candidate (empty when nothing beat the baseline). */
  bestLineage: LineageStep[];
  /** Every candidate, in sample order. */
  candidates: CandidateRecord[];
}

interface Node {
  record: CandidateRecord;
  view: CandidateView;
  lineage: LineageStep[];
}

/** Checks settings that depend on the menu; BAD_INPUT with what to change. */
export function checkSearchConfig(config: SearchConfig, menu: Menu): void {
  if (config.translateIterations > 0 && menu.translateOptions.length === 0) {
    throw new SkbError('BAD_INPUT', `The ${menu.toolchain} toolchain has no translate menu: set translateIterations to 0`);
  }
  if (config.translateIterations > config.iterations) {
    throw new SkbError('BAD_INPUT', `translateIterations (${config.translateIterations}) counts within iterations (${config.iterations}): lower it or raise iterations`);
  }
  if (menu.options.length === 0) throw new SkbError('BAD_INPUT', `The ${menu.toolchain} menu has no options`);
}

/** Keep factor of an iteration: lenient in translate iterations, Autocomp's 1.1 early, then strict. */
export function keepFactorFor(config: SearchConfig, iteration: number): number {
  if (iteration <= config.translateIterations) return config.translateKeepFactor;
  if (iteration - config.translateIterations <= config.earlyIterations) return config.keepFactorEarly;
  return config.keepFactor;
}

/** A 32-bit seed from several integers (FNV-1a over their bytes, then an avalanche). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    let v = part >>> 0;
    for (let i = 0; i < 4; i++) {
      h = Math.imul(h ^ (v & 0xff), 0x01000193);
      v >>>= 8;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The search was aborted', 'AbortError');
}

/** Runs (or resumes) one search to its end; rejects with the signal's reason when aborted. */
export async function runBeamSearch(input: BeamSearchInput): Promise<BeamSearchResult> {
  const { searchId, task, config, menu, sink, signal } = input;
  checkSearchConfig(config, menu);
  const stored = new Map((input.stored ?? []).map((c) => [c.sample, c]));
  const all: CandidateRecord[] = [];
  const nodes = new Map<string, Node>();
  const firstCorrectSampleOfCode = new Map<string, number>();
  // Codes of every sample so far, in sample order: the same set on a resumed run as on the first.
  const evaluatedCodes = new Set<string>();
  const tried = (code: string): boolean => evaluatedCodes.has(code);
  const budget = config.budget;
  let used = 0;
  let iteration = 0;

  const checkAbort = (): void => {
    if (signal?.aborted) throw abortError(signal);
  };

  const emit = (type: ProgressEvent['type'], best: Node | null, baselineMs: number | null, message?: string): void => {
    const bestMs = best?.record.latencyMs ?? null;
    input.onEvent?.({
      searchId,
      type,
      status: 'running',
      iteration,
      iterations: config.iterations,
      samplesUsed: used,
      budget,
      baselineLatencyMs: baselineMs,
      bestLatencyMs: bestMs,
      speedup: baselineMs !== null && bestMs ? baselineMs / bestMs : null,
      ...(message !== undefined ? { message } : {}),
    });
  };

  const record = (partial: Omit<CandidateRecord, 'id' | 'searchId' | 'createdAt' | 'admitted'>): CandidateRecord => ({
    id: `${searchId}.${partial.sample}`,
    searchId,
    createdAt: new Date().toISOString(),
    admitted: false,
    ...partial,
  });

  const remember = (r: CandidateRecord): void => {
    all.push(r);
    if (r.code !== '') evaluatedCodes.add(r.code);
    if (r.correct && !firstCorrectSampleOfCode.has(r.code)) firstCorrectSampleOfCode.set(r.code, r.sample);
  };

  // The root.
  let root = stored.get(0);
  if (!root) {
    checkAbort();
    const [result] = await input.evaluate([input.baseline.code], signal);
    if (!result) throw new SkbError('INTERNAL', 'The target returned no result for the baseline');
    checkAbort();
    root = record({
      parentId: null,
      iteration: 0,
      sample: 0,
      optionId: null,
      optionLabel: null,
      plan: null,
      params: input.baseline.params ?? null,
      code: input.baseline.code,
      correct: result.correct,
      latencyMs: result.latencyMs,
      errorKind: result.errorKind,
      output: result.output,
      feedback: result.feedback,
      forcedFrom: null,
      model: null,
    });
    root.admitted = root.correct;
    await sink.storeCandidates([root]);
  }
  remember(root);
  if (!root.correct || root.latencyMs === null) {
    throw new SkbError('BAD_INPUT', `The baseline code is not correct (${root.feedback.join('; ') || root.errorKind || 'no result'}): start from code that matches the reference`);
  }
  const baselineMs = root.latencyMs;
  const rootNode: Node = { record: root, view: viewOf(root, []), lineage: [] };
  nodes.set(root.id, rootNode);
  let beam: Node[] = [rootNode];
  let best = rootNode;
  let sinceBest = 0;
  let stoppedEarly = false;
  let iterationsRun = 0;
  emit('started', best, baselineMs);
  await sink.progress({ iteration, samplesUsed: used, baselineLatencyMs: baselineMs, bestLatencyMs: baselineMs, bestCandidateId: root.id });

  for (iteration = 1; iteration <= config.iterations && used < budget; iteration++) {
    const phase = iteration <= config.translateIterations ? 'translate' : 'optimize';
    const options = phase === 'translate' ? menu.translateOptions : menu.options;
    const factor = keepFactorFor(config, iteration);
    const children: Node[] = [];

    /** One plan slot of `count` samples: replayed from the store when an earlier run stored it, else run and stored. */
    const slot = async (parent: Node, count: number, run: (samples: number[]) => Promise<CandidateRecord[]>): Promise<void> => {
      const samples = Array.from({ length: count }, (_, i) => used + 1 + i);
      const replayed = samples.map((s) => stored.get(s));
      let records: CandidateRecord[];
      if (replayed.every((r): r is CandidateRecord => r !== undefined)) {
        const stray = replayed.find((r) => r.parentId !== parent.record.id || r.iteration !== iteration);
        if (stray) {
          throw new SkbError('INTERNAL', `Stored sample ${stray.sample} of search ${searchId} does not follow from its earlier samples (parent ${stray.parentId}, expected ${parent.record.id}): the search cannot be resumed`);
        }
        records = replayed;
      } else if (replayed.some((r) => r !== undefined)) {
        throw new SkbError('INTERNAL', `Search ${searchId} has only part of samples ${samples[0]}-${samples[samples.length - 1]} stored: the search cannot be resumed`);
      } else {
        checkAbort();
        records = await run(samples);
        checkAbort();
        await sink.storeCandidates(records);
      }
      used += count;
      for (const r of records) {
        remember(r);
        children.push(childNode(r, parent));
      }
      emit('sample', best, baselineMs);
      await sink.progress({ iteration, samplesUsed: used, baselineLatencyMs: baselineMs, bestLatencyMs: best.record.latencyMs, bestCandidateId: best.record.id });
    };

    if (iteration === config.translateIterations + 1 && input.planner.replay) {
      const parent = beam[0]!;
      for (const [index, seed] of (input.seeds?.replays ?? []).entries()) {
        if (used >= budget) break;
        await slot(parent, 1, (samples) => runReplay({ iteration, parent, index, seed, sample: samples[0]! }));
      }
    }

    slots: for (const parent of beam) {
      for (let planIndex = 0; planIndex < config.plansPerCandidate; planIndex++) {
        if (used >= budget) break slots;
        await slot(parent, Math.min(config.implementationsPerPlan, budget - used), (samples) => runSlot({ iteration, phase, options, parent, planIndex, samples }));
      }
    }

    const admissible = admit(children, factor);
    const next = [...beam, ...admissible].sort(byLatency).slice(0, config.beamWidth);
    const entered = next.filter((n) => children.includes(n));
    for (const n of entered) n.record.admitted = true;
    await sink.markAdmitted(entered.map((n) => n.record.id));
    beam = next;
    const top = beam[0]!;
    if (top.record.latencyMs! < best.record.latencyMs!) {
      best = top;
      sinceBest = 0;
    } else {
      sinceBest++;
    }
    iterationsRun = iteration;
    emit('iteration', best, baselineMs);
    await sink.progress({ iteration, samplesUsed: used, baselineLatencyMs: baselineMs, bestLatencyMs: best.record.latencyMs, bestCandidateId: best.record.id });
    if (config.earlyStopPatience > 0 && sinceBest >= config.earlyStopPatience && iteration < config.iterations && used < budget) {
      stoppedEarly = true;
      break;
    }
  }
  return {
    samplesUsed: used,
    iterations: iterationsRun,
    stoppedEarly,
    baseline: root,
    best: best.record,
    bestLineage: best.lineage,
    candidates: all,
  };

  function childNode(r: CandidateRecord, parent: Node): Node {
    const lineage =
      r.correct && r.latencyMs !== null
        ? [
            ...parent.lineage,
            {
              candidateId: r.id,
              optionId: r.optionId ?? INVENTED_OPTION_ID,
              optionLabel: r.optionLabel ?? '',
              plan: r.plan ?? '',
              params: r.params,
              latencyBeforeMs: parent.record.latencyMs!,
              latencyAfterMs: r.latencyMs,
            },
          ]
        : parent.lineage;
    const node: Node = { record: r, view: viewOf(r, lineage), lineage };
    nodes.set(r.id, node);
    return node;
  }

  /** Children that may join the beam: correct, faster than parent x factor, and not duplicates. */
  function admit(children: Node[], factor: number): Node[] {
    let ok = children.filter((c) => {
      const parent = nodes.get(c.record.parentId ?? '');
      return c.record.correct && c.record.latencyMs !== null && parent !== undefined && c.record.latencyMs < parent.record.latencyMs! * factor;
    });
    if (config.dedupe === 'plan') {
      const bestOfPlan = new Map<string, Node>();
      for (const c of [...ok].sort(byLatency)) {
        const key = `${c.record.parentId}\u0000${c.record.plan ?? ''}`;
        if (!bestOfPlan.has(key)) bestOfPlan.set(key, c);
      }
      const keep = new Set(bestOfPlan.values());
      ok = ok.filter((c) => keep.has(c));
    } else if (config.dedupe === 'code') {
      ok = ok.filter((c) => firstCorrectSampleOfCode.get(c.record.code) === c.record.sample);
    }
    return ok;
  }

  /** The nearest seed step on a node's path to the root (the node included). */
  function seedOf(node: Node): { scheduleId: string; stepIndex: number } | null {
    let at: Node | undefined = node;
    while (at) {
      if (at.record.forcedFrom) return at.record.forcedFrom;
      at = at.record.parentId ? nodes.get(at.record.parentId) : undefined;
    }
    return null;
  }

  /** A replay sample: the seed's whole sequence applied to `parent` by the planner in one go. */
  async function runReplay(slot: { iteration: number; parent: Node; index: number; seed: { scheduleId: string; steps: ForcedStep[] }; sample: number }): Promise<CandidateRecord[]> {
    const { parent, seed, sample } = slot;
    // Its own generator, apart from every plan slot's (plan indexes are never negative).
    const rng = createRng(deriveSeed(config.seed, slot.iteration, parent.record.sample, -1 - slot.index));
    const listed = seed.steps.map((step, i) => `${i + 1}. [${step.optionId}] ${step.plan}`).join(' ');
    const base = {
      parentId: parent.record.id,
      iteration: slot.iteration,
      sample,
      optionId: REPLAY_OPTION_ID,
      optionLabel: `Replay of seed schedule ${seed.scheduleId}`,
      forcedFrom: { scheduleId: seed.scheduleId, stepIndex: seed.steps.length },
    };
    const failed = (error: string): CandidateRecord[] => [
      record({ ...base, plan: `Replay the seed's ${seed.steps.length} steps in order: ${listed}`, params: null, code: '', correct: false, latencyMs: null, errorKind: PLANNER_ERROR_KIND, output: error, feedback: [`the planner failed: ${error.slice(0, 300)}`], model: null }),
    ];
    const replayed = await input.planner.replay!({ task, parent: parent.view, steps: seed.steps, rules: menu.rules, rng, tried, ...(signal ? { signal } : {}) });
    checkAbort();
    if (!replayed.ok) return failed(replayed.error);
    const impl = replayed.value[0];
    if (!impl || impl.code.trim() === '') return failed(impl ? 'the replay implementation is empty' : 'the planner returned no replay implementation');
    const [result] = await input.evaluate([impl.code], signal);
    if (!result) throw new SkbError('INTERNAL', 'The target returned no result for a replay candidate');
    return [
      record({
        ...base,
        plan: `Replay the seed's ${seed.steps.length} steps in order: ${listed}${impl.plan ? ` (here: ${impl.plan})` : ''}`,
        params: impl.params ?? null,
        code: impl.code,
        correct: result.correct,
        latencyMs: result.latencyMs,
        errorKind: result.errorKind,
        output: result.output,
        feedback: result.feedback,
        model: impl.model ?? null,
      }),
    ];
  }

  async function runSlot(slot: {
    iteration: number;
    phase: 'translate' | 'optimize';
    options: MenuOption[];
    parent: Node;
    planIndex: number;
    samples: number[];
  }): Promise<CandidateRecord[]> {
    const { parent, samples } = slot;
    const rng = createRng(deriveSeed(config.seed, slot.iteration, parent.record.sample, slot.planIndex));
    const dropped = slot.options.filter(() => rng.next() < config.menuKeep);
    const sampleMenu = dropped.length ? dropped : [slot.options[rng.int(slot.options.length)]!];
    const forced =
      slot.phase === 'optimize'
        ? input.seeds?.forcedStep({ iteration: slot.iteration, parent: parent.view, planIndex: slot.planIndex, lineageSeed: seedOf(parent), rng: rng.fork() })
        : undefined;
    const forcedOption = forced ? [...menu.options, ...menu.translateOptions].find((o) => o.id === forced.optionId) : undefined;
    const invent = !forced && rng.next() < config.inventProbability;
    const offered = forcedOption && !sampleMenu.includes(forcedOption) ? [forcedOption, ...sampleMenu] : sampleMenu;
    const base = { parentId: parent.record.id, iteration: slot.iteration, forcedFrom: forced ? { scheduleId: forced.scheduleId, stepIndex: forced.stepIndex } : null };
    const failed = (plan: Plan | null, error: string, model: string | null): CandidateRecord[] =>
      samples.map((sample) =>
        record({
          ...base,
          sample,
          optionId: plan?.optionId ?? null,
          optionLabel: plan?.optionLabel ?? null,
          plan: plan?.text ?? null,
          params: plan?.params ?? null,
          code: '',
          correct: false,
          latencyMs: null,
          errorKind: PLANNER_ERROR_KIND,
          output: error,
          feedback: [`the planner failed: ${error.slice(0, 300)}`],
          model,
        }),
      );

    const proposed = await input.planner.propose({
      task,
      parent: parent.view,
      iteration: slot.iteration,
      iterations: config.iterations,
      phase: slot.phase,
      menu: offered,
      invent,
      ...(forced ? { forced } : {}),
      rules: menu.rules,
      rng: rng.fork(),
      tried,
      ...(signal ? { signal } : {}),
    });
    checkAbort();
    if (!proposed.ok) return failed(null, proposed.error, null);
    const plan = proposed.value;
    const allowed = new Set(offered.map((o) => o.id));
    if (invent) allowed.add(INVENTED_OPTION_ID);
    if (!allowed.has(plan.optionId) || plan.text.trim() === '') {
      const why = plan.text.trim() === '' ? 'an empty plan' : `option "${plan.optionId}", which was not on its menu`;
      return failed(plan, `the plan chose ${why}`, plan.model ?? null);
    }
    const withForced: Plan = forced ? { ...plan, forced } : plan;
    const implemented = await input.planner.implement({
      task,
      parent: parent.view,
      plan: withForced,
      count: samples.length,
      rules: menu.rules,
      rng: rng.fork(),
      tried,
      ...(signal ? { signal } : {}),
    });
    checkAbort();
    if (!implemented.ok) return failed(withForced, implemented.error, plan.model ?? null);
    const impls: Array<Implementation | undefined> = samples.map((_, i) => implemented.value[i]);
    const runnable = impls.filter((impl): impl is Implementation => impl !== undefined && impl.code.trim() !== '');
    const results = runnable.length ? await input.evaluate(runnable.map((impl) => impl.code), signal) : [];
    if (results.length !== runnable.length) throw new SkbError('INTERNAL', `The target returned ${results.length} results for ${runnable.length} candidates`);
    let next = 0;
    return samples.map((sample, i) => {
      const impl = impls[i];
      const common = {
        ...base,
        sample,
        optionId: plan.optionId,
        optionLabel: plan.optionLabel,
        plan: impl?.plan ?? plan.text,
        model: impl?.model ?? plan.model ?? null,
      };
      if (!impl || impl.code.trim() === '') {
        const error = impl ? 'the implementation is empty' : `the planner returned ${implemented.value.length} of ${samples.length} implementations`;
        return record({ ...common, params: plan.params ?? null, code: impl?.code ?? '', correct: false, latencyMs: null, errorKind: PLANNER_ERROR_KIND, output: error, feedback: [`the planner failed: ${error}`] });
      }
      const result = results[next++]!;
      return record({
        ...common,
        params: impl.params ?? plan.params ?? null,
        code: impl.code,
        correct: result.correct,
        latencyMs: result.latencyMs,
        errorKind: result.errorKind,
        output: result.output,
        feedback: result.feedback,
      });
    });
  }
}

function byLatency(a: Node, b: Node): number {
  return a.record.latencyMs! - b.record.latencyMs! || a.record.sample - b.record.sample;
}

function viewOf(r: CandidateRecord, lineage: LineageStep[]): CandidateView {
  return {
    id: r.id,
    code: r.code,
    latencyMs: r.latencyMs ?? Number.POSITIVE_INFINITY,
    feedback: r.feedback,
    ...(r.params ? { params: r.params } : {}),
    lineage: lineage.map((s) => ({ optionId: s.optionId, plan: s.plan })),
  };
}
