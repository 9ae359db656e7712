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
 *
 * This file is the loop; the state it advances is in beam-state.ts, the plan slots in plan-slots.ts.
 */
import {
  SkbError,
  isMeasured,
  speedupOf,
  type CandidateRecord,
  type LineageStep,
  type MeasuredBaseline,
  type MeasuredPoint,
  type ProgressEvent,
  type SearchConfig,
} from '../schedules/index.js';
import {
  addChild,
  admitChildren,
  candidateRecord,
  createSearchState,
  type BeamNode,
  type SearchState,
} from './beam-state.js';
import type { Menu } from './menus/menu.js';
import { runPlanSlot, runReplaySlot, type SlotContext } from './plan-slots.js';
import type { SearchEvidence } from './planner.js';
import { deriveSeed } from './rng.js';

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

/** One search to run: its task, settings, planner and target (the slots' context), its baseline, where it is stored, and what an earlier run stored. */
export interface BeamSearchInput extends SlotContext {
  searchId: string;
  /** The root's code and planner state (the task's code, or the planner's naive baseline). */
  baseline: { code: string; params?: Record<string, unknown> };
  sink: BeamSearchSink;
  /** Candidates stored by an earlier run of this search: replayed, never evaluated again. */
  stored?: CandidateRecord[];
  /**
   * The baseline as an earlier search of the same task measured it on this target (same toolchain
   * version and timing): reused as sample 0 instead of timing it again. Absent: always measured.
   */
  measuredBaseline?: {
    find(): Promise<MeasuredBaseline | null>;
    store(baseline: MeasuredBaseline): Promise<void>;
  };
  onEvent?(event: ProgressEvent): void;
}

/** How a search ended: its budget spent, its tree, and the best candidate with its lineage. */
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

/** Checks settings that depend on the menu; BAD_INPUT with what to change. */
export function checkSearchConfig(config: SearchConfig, menu: Menu): void {
  if (config.translateIterations > 0 && menu.translateOptions.length === 0) {
    throw new SkbError(
      'BAD_INPUT',
      `The ${menu.toolchain} toolchain has no translate menu: set translateIterations to 0`,
    );
  }
  if (config.translateIterations > config.iterations) {
    throw new SkbError(
      'BAD_INPUT',
      `translateIterations (${config.translateIterations}) counts within iterations (${config.iterations}): lower it or raise iterations`,
    );
  }
  if (menu.options.length === 0) throw new SkbError('BAD_INPUT', `The ${menu.toolchain} menu has no options`);
}

/** Keep factor of an iteration: lenient in translate iterations, Autocomp's 1.1 early, then strict. */
export function keepFactorFor(config: SearchConfig, iteration: number): number {
  if (iteration <= config.translateIterations) return config.translateKeepFactor;
  if (iteration - config.translateIterations <= config.earlyIterations) return config.keepFactorEarly;
  return config.keepFactor;
}

/** Runs (or resumes) one search to its end; rejects with the signal's reason when aborted. */
export async function runBeamSearch(input: BeamSearchInput): Promise<BeamSearchResult> {
  const { config, sink } = input;
  checkSearchConfig(config, input.menu);
  const stored = new Map((input.stored ?? []).map((c) => [c.sample, c]));
  const state = createSearchState(input.searchId, stored, await measureBaseline(input, stored));
  emit(input, state, 'started');
  await sink.progress(progressOf(state));
  let stoppedEarly = false;
  while (state.iteration < config.iterations && state.samplesUsed < config.budget) {
    state.iteration++;
    state.evidence = evidenceOf(input, state);
    await runIteration(input, state);
    emit(input, state, 'iteration');
    await sink.progress(progressOf(state));
    if (
      config.earlyStopPatience > 0 &&
      state.sinceBest >= config.earlyStopPatience &&
      state.iteration < config.iterations &&
      state.samplesUsed < config.budget
    ) {
      stoppedEarly = true;
      break;
    }
  }
  return {
    samplesUsed: state.samplesUsed,
    iterations: state.iteration,
    stoppedEarly,
    baseline: state.baseline,
    best: state.best.record,
    bestLineage: state.best.lineage,
    candidates: state.candidates,
  };
}

/** The root: stored by an earlier run, or the baseline code evaluated and stored now. BAD_INPUT when it is not correct. */
async function measureBaseline(
  input: BeamSearchInput,
  stored: ReadonlyMap<number, CandidateRecord>,
): Promise<CandidateRecord & { latencyMs: number }> {
  const { signal } = input;
  let root = stored.get(0);
  if (!root) {
    signal?.throwIfAborted();
    const result = await evaluateBaseline(input);
    signal?.throwIfAborted();
    root = candidateRecord(input.searchId, {
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
    await input.sink.storeCandidates([root]);
  }
  if (!root.correct || !isMeasured(root)) {
    throw new SkbError(
      'BAD_INPUT',
      `The baseline code is not correct (${root.feedback.join('; ') || root.errorKind || 'no result'}): start from code that matches the reference`,
    );
  }
  return root;
}

/** The baseline's result: the one an earlier search measured here when there is one, else measured (and kept) now. */
async function evaluateBaseline(
  input: BeamSearchInput,
): Promise<Pick<CandidateRecord, 'correct' | 'latencyMs' | 'errorKind' | 'output' | 'feedback'>> {
  const reused = await input.measuredBaseline?.find();
  if (reused) {
    return {
      correct: true,
      latencyMs: reused.latencyMs,
      errorKind: null,
      output: reused.output,
      feedback: [
        `baseline not timed again: search ${reused.searchId} measured it at ${reused.measuredAt} on this target, with the same toolchain and timing`,
        ...reused.feedback,
      ],
    };
  }
  const [result] = await input.evaluate([input.baseline.code], input.signal);
  if (!result) throw new SkbError('INTERNAL', 'The target returned no result for the baseline');
  if (result.correct && result.latencyMs !== null && result.latencyMs > 0) {
    await input.measuredBaseline?.store({
      latencyMs: result.latencyMs,
      output: result.output,
      feedback: result.feedback,
      searchId: input.searchId,
      measuredAt: new Date().toISOString(),
    });
  }
  return result;
}

/**
 * One iteration: the seed replays (first optimize iteration only), then every parent's plan slots
 * in beam order until the budget is spent, then the children that earned it enter the beam.
 */
async function runIteration(input: BeamSearchInput, state: SearchState): Promise<void> {
  const { config, menu } = input;
  const phase = state.iteration <= config.translateIterations ? 'translate' : 'optimize';
  const options = phase === 'translate' ? menu.translateOptions : menu.options;
  const children: BeamNode[] = [];
  // No child slower than this enters the beam (kept, or admitted as the escape scout), so timing
  // stops early past it. Replays are timed in full: their outcome judges the seed.
  const widest = Math.max(keepFactorFor(config, state.iteration), config.escapeFactor);

  if (state.iteration === config.translateIterations + 1 && input.planner.replay) {
    const parent = state.beam[0]!;
    for (const [index, seed] of (input.seeds?.replays ?? []).entries()) {
      if (state.samplesUsed >= config.budget) break;
      children.push(
        ...(await takeSlot(input, state, parent, 1, (samples) =>
          runReplaySlot(input, state, { parent, index, seed, sample: samples[0]! }),
        )),
      );
    }
  }

  slots: for (const parent of state.beam) {
    for (let planIndex = 0; planIndex < config.plansPerCandidate; planIndex++) {
      if (state.samplesUsed >= config.budget) break slots;
      const count = Math.min(config.implementationsPerPlan, config.budget - state.samplesUsed);
      children.push(
        ...(await takeSlot(input, state, parent, count, (samples) =>
          runPlanSlot(input, state, {
            phase,
            options,
            parent,
            planIndex,
            samples,
            admitBelowMs: parent.record.latencyMs! * widest,
          }),
        )),
      );
    }
  }

  const entered = admitChildren(state, children, keepFactorFor(config, state.iteration), config);
  await input.sink.markAdmitted(entered.map((n) => n.record.id));
}

/**
 * The next `count` samples as one slot of `parent`: replayed when an earlier run stored them (they
 * must follow from the same parent in the same iteration), else run and stored in one write.
 * Returns the slot's children.
 */
async function takeSlot(
  input: BeamSearchInput,
  state: SearchState,
  parent: BeamNode,
  count: number,
  run: (samples: number[]) => Promise<CandidateRecord[]>,
): Promise<BeamNode[]> {
  const { searchId, signal } = input;
  const samples = Array.from({ length: count }, (_, i) => state.samplesUsed + 1 + i);
  const replayed = samples.map((s) => state.stored.get(s));
  let records: CandidateRecord[];
  if (replayed.every((r): r is CandidateRecord => r !== undefined)) {
    const stray = replayed.find((r) => r.parentId !== parent.record.id || r.iteration !== state.iteration);
    if (stray) {
      throw new SkbError(
        'INTERNAL',
        `Stored sample ${stray.sample} of search ${searchId} does not follow from its earlier samples (parent ${stray.parentId}, expected ${parent.record.id}): the search cannot be resumed`,
      );
    }
    records = replayed;
  } else if (replayed.some((r) => r !== undefined)) {
    throw new SkbError(
      'INTERNAL',
      `Search ${searchId} has only part of samples ${samples[0]}-${samples[samples.length - 1]} stored: the search cannot be resumed`,
    );
  } else {
    signal?.throwIfAborted();
    records = await run(samples);
    signal?.throwIfAborted();
    await input.sink.storeCandidates(records);
  }
  state.samplesUsed += count;
  const children = records.map((r) => addChild(state, r, parent));
  emit(input, state, 'sample');
  await input.sink.progress(progressOf(state));
  return children;
}

/** Salt of the evidence seed, apart from every slot's (slots derive from (seed, iteration, parent, slot)). */
const EVIDENCE_SEED_SALT = 0x5eed;

/** What planners may learn from in this iteration: the knowledge base's points and this search's so far. */
function evidenceOf(input: BeamSearchInput, state: SearchState): SearchEvidence {
  const operation = input.task.operation;
  const own: MeasuredPoint[] = state.candidates.flatMap((c) =>
    c.correct && !c.suspect && c.latencyMs !== null && c.latencyMs > 0 && c.params
      ? [{ operation, params: c.params, latencyMs: c.latencyMs }]
      : [],
  );
  return {
    prior: input.prior ?? [],
    own,
    seed: deriveSeed(input.config.seed, state.iteration, EVIDENCE_SEED_SALT),
    explore: input.config.explore,
  };
}

function progressOf(state: SearchState): SearchProgress {
  return {
    iteration: state.iteration,
    samplesUsed: state.samplesUsed,
    baselineLatencyMs: state.baseline.latencyMs,
    bestLatencyMs: state.best.record.latencyMs,
    bestCandidateId: state.best.record.id,
  };
}

function emit(input: BeamSearchInput, state: SearchState, type: ProgressEvent['type']): void {
  const progress = progressOf(state);
  input.onEvent?.({
    searchId: input.searchId,
    type,
    status: 'running',
    iteration: state.iteration,
    iterations: input.config.iterations,
    samplesUsed: state.samplesUsed,
    budget: input.config.budget,
    baselineLatencyMs: progress.baselineLatencyMs,
    bestLatencyMs: progress.bestLatencyMs,
    speedup: speedupOf(progress),
  });
}
