/**
 * Running one search job over the beam-search engine. The search is stored before it starts, each
 * plan slot's candidates are stored as they are evaluated, and the search record follows along,
 * so a process that dies leaves everything a new process needs to resume the search.
 */
import {
  SkbError,
  baselineKey,
  extractSchedule,
  lineageOf,
  messageOf,
  structureKey,
  targetFamily,
  targetKey,
  toolchainVersionsOf,
  type BaselineIdentity,
  type CandidateRecord,
  type LineageStep,
  type SearchConfig,
  type SearchPatch,
  type SearchRecord,
  type SearchStore,
  type Task,
} from '../schedules/index.js';
import { isMemberFailure, type Target, type TargetPool } from '../targets/index.js';
import { runBeamSearch, type BeamSearchInput } from './beam-search.js';
import type { Job } from './job-registry.js';
import type { KnowledgeBase } from './knowledge-base.js';
import type { Menu } from './menus/menu.js';
import type { SeedHook } from './plan-slots.js';
import type { Planner, PlanningTask } from './planner.js';
import type { ProgressBus } from './progress-bus.js';
import { chooseSeeds, createSeedPlan, judgeSeeds, loadSeedSchedules } from './warm-start.js';

/** What running a search needs: the search tables, its target, planner and menu, the knowledge base, the contract text. */
export interface SearchRunnerDeps {
  /** The search and candidate tables. */
  searches: SearchStore;
  /** The target (its pool of members) of a task by id; throws NOT_FOUND for an unknown one. */
  targets: (id: string) => TargetPool;
  /** The planner a search's settings ask for, for the target it runs on (menu, ISA of its templates). */
  planners: (config: SearchConfig, target: Target) => Planner;
  /** The menu of a toolchain, for a target whose fingerprint says how many cores a candidate may use. */
  menus: (toolchain: Target['toolchain']['kind'], target: { threads?: number }) => Menu;
  /**
   * The knowledge base: where seeds come from (warm start) and where a search's schedule is stored
   * when it ends. Without it searches run cold and store no schedule.
   */
  knowledgeBase?: Pick<
    KnowledgeBase,
    'similar' | 'rememberSearch' | 'getSchedule' | 'recordSeeds' | 'measuredPoints' | 'registerTargets'
  >;
  /** What candidate code must satisfy, shown to planners; default the target toolchain's `contract`. */
  contract?: (task: Task, target: Target) => string;
}

/** How a search ended with a result: what the engine (or, for a cancelled search, the stored tree) found. */
interface SearchEnd {
  status: 'finished' | 'cancelled';
  samplesUsed: number;
  iteration: number;
  candidates: CandidateRecord[];
  baseline: CandidateRecord;
  best: CandidateRecord;
  lineage: LineageStep[];
}

/**
 * Creates the runner of one search service's jobs. Evaluations of different searches on one target
 * take turns (one lane per target), so that one search's timing runs never share the machine with
 * another's.
 */
export function createSearchRunner(
  deps: SearchRunnerDeps,
  progress: Pick<ProgressBus, 'publish'>,
): (job: Job) => Promise<SearchRecord> {
  const { searches } = deps;
  const contract =
    deps.contract ?? ((task: Task, target: Target) => target.toolchain.contract(task.operation, task.problemSource));
  const kb = deps.knowledgeBase;

  /**
   * Runs (or resumes) the job's search to its end: finished, cancelled or failed; still 'running'
   * after a shutdown. The search waits (queued) for a member of its target's pool and keeps it to
   * the end; a member that fails under it is dropped, and the search resumes on another member
   * from what was stored, so no sample is spent twice.
   */
  async function run(job: Job): Promise<SearchRecord> {
    const { id, signal } = job;
    let record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    const lost = new Set<string>();
    const moves: string[] = [];
    let ranOn: Target | undefined;
    try {
      const pool = deps.targets(record.task.target);
      for (;;) {
        const lease = await pool.acquire(id, signal, lost);
        ranOn = lease.target;
        try {
          return await runOn(job, lease.target, moves);
        } catch (error) {
          if (signal.aborted || !isMemberFailure(error)) throw error;
          lease.drop(error);
          lost.add(lease.target.member);
          // A pool of one (or one that lost every member) fails the search with what happened.
          if (lost.size >= pool.members.length) throw error;
          moves.push(`Moved off member ${lease.target.member} after it failed (${messageOf(error)}).`);
          record = await searches.updateSearch(id, { message: moves.join(' ') });
        } finally {
          lease.release();
        }
      }
    } catch (error) {
      if (signal.aborted && job.shutdown) return (await searches.getSearch(id)) ?? record;
      let failure = error;
      if (signal.aborted) {
        try {
          return await cancelled(id, ranOn, moves);
        } catch (cancelError) {
          failure = cancelError;
        }
      }
      return searches.updateSearch(id, { status: 'failed', error: messageOf(failure) });
    }
  }

  /** Runs (or resumes) the job's search on one member of its target until it ends. */
  async function runOn(job: Job, target: Target, moves: readonly string[]): Promise<SearchRecord> {
    const { id, signal } = job;
    let record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    const planner = deps.planners(record.config, target);
    const problemSource = record.task.problemSource;
    const task: PlanningTask = {
      operation: record.task.operation,
      hardware: target.description,
      contract: contract(record.task, target),
      ...(problemSource !== undefined ? { problemSource } : {}),
    };
    const fingerprint = await target.fingerprint();
    const menu = deps.menus(target.toolchain.kind, fingerprint.kind === 'cpu' ? fingerprint : {});
    const key = targetKey(fingerprint);
    // Listed by `targets` (with its pool's members) from the first sample on, not only once it ends.
    await kb?.registerTargets([await target.record()]);
    // Seeds are chosen once, before the first sample, and kept on the record: a resumed search
    // follows the same seeds even if the knowledge base changed meanwhile.
    const chosen =
      record.status === 'queued' && kb
        ? await chooseSeeds(kb, {
            searchId: id,
            operation: record.task.operation,
            targetKey: key,
            warmStart: record.config.warmStart,
          })
        : null;
    record = await searches.updateSearch(id, {
      status: 'running',
      targetKey: key,
      ...(chosen ? { seeds: chosen } : {}),
    });
    const stored = await searches.listCandidates(id);
    const seeds = kb && record.seeds.length ? await seedHookFor(kb, record, menu) : undefined;
    // What the knowledge base has measured of this structure here, as of the search's creation
    // (so a resumed search learns from what its first run did); a cold search learns only from itself.
    const prior =
      kb && record.config.warmStart.enabled
        ? await kb.measuredPoints({
            structureKey: structureKey(record.task.operation),
            targetFamily: targetFamily(fingerprint),
            createdBefore: record.createdAt,
          })
        : [];
    const current = record;
    const baseline =
      record.task.baselineCode !== undefined ? { code: record.task.baselineCode } : planner.baseline(task);
    const result = await runBeamSearch({
      searchId: id,
      task,
      config: record.config,
      menu,
      planner,
      baseline,
      // The member is this search's alone while it runs: its timing runs never share the machine.
      evaluate: (codes, evalSignal, options) =>
        target.evaluate({
          operation: current.task.operation,
          candidates: codes,
          signal: evalSignal ?? signal,
          timing: current.config.timing,
          ...(options?.stopAboveMs !== undefined ? { stopAboveMs: options.stopAboveMs } : {}),
          ...(problemSource !== undefined ? { problemSource } : {}),
        }),
      sink: {
        storeCandidates: (records) => searches.insertCandidates(records),
        markAdmitted: (ids) => searches.markAdmitted(id, ids),
        progress: async (state) => {
          await searches.updateSearch(id, state);
        },
      },
      stored,
      measuredBaseline: measuredBaselineOf(searches, {
        targetKey: key,
        operation: record.task.operation,
        code: baseline.code,
        timing: record.config.timing,
        ...(problemSource !== undefined ? { problemSource } : {}),
      }),
      ...(seeds ? { seeds } : {}),
      prior,
      signal,
      onEvent: (event) => progress.publish(event),
    });
    return await finish(record, target, moves, {
      status: 'finished',
      samplesUsed: result.samplesUsed,
      iteration: result.iterations,
      candidates: result.candidates,
      baseline: result.baseline,
      best: result.best,
      lineage: result.bestLineage,
    });
  }

  /** The engine's seed hook for a search whose seeds are on its record; records their reuses if a crash left any unwritten. */
  async function seedHookFor(
    knowledgeBase: NonNullable<SearchRunnerDeps['knowledgeBase']>,
    record: SearchRecord,
    menu: Menu,
  ): Promise<SeedHook> {
    await knowledgeBase.recordSeeds(record.id, record.seeds);
    return createSeedPlan({
      seeds: await loadSeedSchedules((sid) => knowledgeBase.getSchedule(sid), record.seeds),
      guidedShare: record.config.warmStart.guidedShare,
      plansPerCandidate: record.config.plansPerCandidate,
      menuOptionIds: menu.options.map((o) => o.id),
    });
  }

  /**
   * Ends a search with a result: judges its seeds, extracts its schedule, and marks the search,
   * records the seeds' outcomes and stores the schedule in one transaction (through the knowledge base).
   */
  async function finish(
    record: SearchRecord,
    target: Target,
    moves: readonly string[],
    end: SearchEnd,
  ): Promise<SearchRecord> {
    const baselineMs = end.baseline.latencyMs!;
    const seeds = judgeSeeds(record.seeds, end.candidates, baselineMs, end.best.id);
    const planner = deps.planners(record.config, target);
    const content =
      record.targetKey !== null
        ? extractSchedule({
            search: record,
            candidates: end.candidates,
            lineage: end.lineage,
            baselineLatencyMs: baselineMs,
            bestLatencyMs: end.best.latencyMs!,
            samplesUsed: end.samplesUsed,
            targetKey: record.targetKey,
            toolchain: toolchainVersionsOf(await target.fingerprint()),
            planner: planner.id,
            models: [...new Set(end.candidates.flatMap((c) => (c.model ? [c.model] : [])))],
          })
        : null;
    const patch: SearchPatch = {
      status: end.status,
      samplesUsed: end.samplesUsed,
      iteration: end.iteration,
      baselineLatencyMs: baselineMs,
      bestLatencyMs: end.best.latencyMs,
      bestCandidateId: end.best.id,
      bestLineage: end.lineage,
      seeds,
      error: null,
      message:
        [
          ...moves,
          ...(content
            ? []
            : [
                kb
                  ? 'No step improved on the baseline, so no schedule was stored.'
                  : 'No knowledge base is configured, so no schedule was stored.',
              ]),
        ].join(' ') || null,
    };
    if (!kb) return searches.updateSearch(record.id, patch);
    const { search } = await kb.rememberSearch({
      searchId: record.id,
      patch,
      schedule: content,
      target: await target.record(),
    });
    return search;
  }

  /**
   * A cancelled search keeps what its finished iterations found: stored, with its schedule, when it
   * beat the baseline; `ranOn` is the member it ran on last (the pool's first if it never ran).
   */
  async function cancelled(id: string, ranOn: Target | undefined, moves: readonly string[]): Promise<SearchRecord> {
    const record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    const candidates = await searches.listCandidates(id);
    const root = candidates.find((c) => c.parentId === null);
    const best = candidates
      .filter((c) => c.admitted && c.correct && c.latencyMs !== null)
      .reduce<CandidateRecord | undefined>(
        (b, c) => (b === undefined || c.latencyMs! < b.latencyMs! ? c : b),
        undefined,
      );
    if (!root || root.latencyMs === null || !best || best === root || !(best.latencyMs! < root.latencyMs)) {
      return searches.updateSearch(id, { status: 'cancelled', error: null });
    }
    const target = ranOn ?? deps.targets(record.task.target).primary;
    return finish(record, target, moves, {
      status: 'cancelled',
      samplesUsed: record.samplesUsed,
      iteration: record.iteration,
      candidates,
      baseline: root,
      best,
      lineage: lineageOf(candidates, best.id),
    });
  }

  return run;
}

/** The measured baseline of one task on one target, kept in the search store under its identity. */
function measuredBaselineOf(
  searches: SearchStore,
  identity: BaselineIdentity,
): NonNullable<BeamSearchInput['measuredBaseline']> {
  const key = baselineKey(identity);
  return {
    find: () => searches.findBaseline(key),
    store: (baseline) => searches.storeBaseline(key, identity.targetKey, baseline),
  };
}
