/**
 * Search jobs: the SearchService over the beam-search engine. A search is stored before it starts,
 * each plan slot's candidates are stored as they are evaluated, and the search record follows
 * along, so a process that dies leaves everything a new process needs to resume it
 * (`resumeInterrupted`). Evaluations of different searches on one target take turns, so that one
 * search's timing runs never share the machine with another's.
 */
import { randomUUID } from 'node:crypto';
import {
  SearchConfigSchema,
  SkbError,
  TaskSchema,
  describeIssues,
  extractSchedule,
  lineageOf,
  targetKey,
  type CandidateRecord,
  type LineageStep,
  type SearchPatch,
  type ProgressEvent,
  type SearchConfig,
  type SearchConfigInput,
  type SearchRecord,
  type SearchStore,
  type Task,
  type TaskInput,
} from '../schedules/index.js';
import { entryPointFor } from '../targets/c/entry-points.js';
import { kernelBenchProblemFor } from '../targets/kernelbench/problems.js';
import type { Target } from '../targets/target.js';
import { checkSearchConfig, runBeamSearch } from './beam-search.js';
import type { KnowledgeBase } from './knowledge-base.js';
import type { Menu } from './menus/menu.js';
import type { Planner, PlanningTask } from './planner.js';
import type { SearchDetail, SearchService } from './search-service.js';
import { chooseSeeds, createSeedPlan, judgeSeeds, loadSeedSchedules } from './warm-start.js';

export interface SearchServiceDeps {
  /** The search tables (`store.searches` of the libSQL store). */
  searches: SearchStore;
  /** The target of a task by id; throws NOT_FOUND for an unknown one. */
  targets: (id: string) => Target;
  /** The planner a search's settings ask for, for the target it runs on (menu, ISA of its templates). */
  planners: (config: SearchConfig, target: Target) => Planner;
  menus: (toolchain: Target['toolchain']['kind']) => Menu;
  /**
   * The knowledge base: where seeds come from (warm start) and where a search's schedule is stored
   * when it ends. Without it searches run cold and store no schedule.
   */
  knowledgeBase?: Pick<KnowledgeBase, 'similar' | 'rememberSearch'> & { store: Pick<KnowledgeBase['store'], 'getSchedule' | 'recordReuse' | 'listReuses'> };
  /** What candidate code must satisfy, shown to planners; default from the C entry points or the KernelBench rules. */
  contract?: (task: Task, target: Target) => string;
}

interface Job {
  id: string;
  controller: AbortController;
  /** Set by close(): the search stops but stays 'running' so the next process resumes it. */
  shutdown: boolean;
  listeners: Set<{ push(event: ProgressEvent): void; end(): void }>;
  final: SearchRecord | null;
  done: Promise<SearchRecord>;
}

const TERMINAL = new Set<ProgressEvent['type']>(['finished', 'cancelled', 'failed']);

function defaultContract(task: Task, target: Target): string {
  if (target.toolchain.kind === 'c') {
    const ep = entryPointFor(task.operation);
    return `${ep.signature}\n${ep.contract}`;
  }
  const lead = 'A Python module that defines class ModelNew with the same constructor and forward signature as Model in the problem source below and computes the same outputs.';
  let problem = task.problemSource;
  if (problem === undefined) {
    try {
      problem = kernelBenchProblemFor(task.operation);
    } catch {
      // No generated problem for this operation: the toolchain says so when it evaluates.
      return lead;
    }
  }
  return `${lead}\n\nProblem source (the reference; the harness takes get_inputs and get_init_inputs from it):\n\`\`\`python\n${problem.trimEnd()}\n\`\`\``;
}

function eventOf(record: SearchRecord): ProgressEvent {
  const type: ProgressEvent['type'] =
    record.status === 'finished' ? 'finished' : record.status === 'cancelled' ? 'cancelled' : record.status === 'failed' ? 'failed' : 'started';
  return {
    searchId: record.id,
    type,
    status: record.status,
    iteration: record.iteration,
    iterations: record.config.iterations,
    samplesUsed: record.samplesUsed,
    budget: record.config.budget,
    baselineLatencyMs: record.baselineLatencyMs,
    bestLatencyMs: record.bestLatencyMs,
    speedup: record.baselineLatencyMs !== null && record.bestLatencyMs ? record.baselineLatencyMs / record.bestLatencyMs : null,
    ...(record.error ? { message: record.error } : record.message ? { message: record.message } : {}),
  };
}

/** Runs tasks for one key one at a time, in arrival order; a waiting task leaves its turn when its signal aborts. */
function createLanes(): <T>(key: string, signal: AbortSignal, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return async (key, signal, task) => {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason);
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        void previous.then(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      return await task();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/** Creates the search service. Call `resumeInterrupted()` once at start. */
export function createSearchService(deps: SearchServiceDeps): SearchService {
  const { searches } = deps;
  const jobs = new Map<string, Job>();
  const lane = createLanes();
  const contract = deps.contract ?? defaultContract;
  const kb = deps.knowledgeBase;
  let closed = false;

  function publish(job: Job, event: ProgressEvent): void {
    for (const listener of job.listeners) listener.push(event);
  }

  function launch(id: string): Job {
    const job: Job = { id, controller: new AbortController(), shutdown: false, listeners: new Set(), final: null, done: Promise.resolve(null as never) };
    jobs.set(id, job);
    job.done = execute(job).then(
      (record) => {
        job.final = record;
        jobs.delete(id);
        if (record.status !== 'running') publish(job, eventOf(record));
        for (const listener of job.listeners) listener.end();
        return record;
      },
      (error: unknown) => {
        jobs.delete(id);
        for (const listener of job.listeners) listener.end();
        throw error;
      },
    );
    // Callers see the rejection through wait(); a job nobody waits on must not crash the process.
    job.done.catch(() => undefined);
    return job;
  }

  async function execute(job: Job): Promise<SearchRecord> {
    const { id } = job;
    const signal = job.controller.signal;
    let record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    try {
      const target = deps.targets(record.task.target);
      const menu = deps.menus(target.toolchain.kind);
      const planner = deps.planners(record.config, target);
      const problemSource = record.task.problemSource;
      const task: PlanningTask = {
        operation: record.task.operation,
        hardware: target.description,
        contract: contract(record.task, target),
        ...(problemSource !== undefined ? { problemSource } : {}),
      };
      const fingerprint = await target.fingerprint();
      const key = targetKey(fingerprint);
      // Seeds are chosen once, before the first sample, and kept on the record: a resumed search
      // follows the same seeds even if the knowledge base changed meanwhile.
      const chosen =
        record.status === 'queued' && kb ? await chooseSeeds(kb, { searchId: id, operation: record.task.operation, targetKey: key, warmStart: record.config.warmStart }) : null;
      record = await searches.updateSearch(id, { status: 'running', targetKey: key, ...(chosen ? { seeds: chosen } : {}) });
      const stored = await searches.listCandidates(id);
      const seeds = kb && record.seeds.length ? await seedHookFor(record, menu) : undefined;
      const current = record;
      const result = await runBeamSearch({
        searchId: id,
        task,
        config: record.config,
        menu,
        planner,
        baseline: record.task.baselineCode !== undefined ? { code: record.task.baselineCode } : planner.baseline(task),
        evaluate: (codes, evalSignal) =>
          lane(target.id, evalSignal ?? signal, () =>
            target.evaluate({
              operation: current.task.operation,
              candidates: codes,
              signal: evalSignal ?? signal,
              timing: current.config.timing,
              ...(problemSource !== undefined ? { problemSource } : {}),
            }),
          ),
        sink: {
          storeCandidates: (records) => searches.insertCandidates(records),
          markAdmitted: (ids) => searches.markAdmitted(id, ids),
          progress: async (state) => {
            await searches.updateSearch(id, state);
          },
        },
        stored,
        ...(seeds ? { seeds } : {}),
        signal,
        onEvent: (event) => publish(job, event),
      });
      return await finish(record, target, {
        status: 'finished',
        samplesUsed: result.samplesUsed,
        iteration: result.iterations,
        candidates: result.candidates,
        baseline: result.baseline,
        best: result.best,
        lineage: result.bestLineage,
      });
    } catch (error) {
      if (signal.aborted && job.shutdown) return (await searches.getSearch(id)) ?? record;
      try {
        if (signal.aborted) return await cancelled(id);
      } catch (cancelError) {
        error = cancelError;
      }
      const message = error instanceof Error ? error.message : String(error);
      return searches.updateSearch(id, { status: 'failed', error: message });
    }
  }

  /** The engine's seed hook for a search whose seeds are on its record; records their reuses if a crash left any unwritten. */
  async function seedHookFor(record: SearchRecord, menu: Menu) {
    const store = kb!.store;
    const written = new Set((await store.listReuses({ searchId: record.id })).map((r) => r.id));
    for (const seed of record.seeds) {
      if (written.has(seed.reuseId)) continue;
      await store.recordReuse({ id: seed.reuseId, scheduleId: seed.scheduleId, searchId: record.id, tier: seed.tier, distance: seed.distance, outcome: 'pending' });
    }
    return createSeedPlan({
      seeds: await loadSeedSchedules((sid) => store.getSchedule(sid), record.seeds),
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
    end: { status: 'finished' | 'cancelled'; samplesUsed: number; iteration: number; candidates: CandidateRecord[]; baseline: CandidateRecord; best: CandidateRecord; lineage: LineageStep[] },
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
      message: content
        ? null
        : kb
          ? 'No step improved on the baseline, so no schedule was stored.'
          : 'No knowledge base is configured, so no schedule was stored.',
    };
    if (!kb) return searches.updateSearch(record.id, patch);
    const { search } = await kb.rememberSearch({ searchId: record.id, patch, schedule: content, target: await target.record() });
    return search;
  }

  /** A cancelled search keeps what its finished iterations found: stored, with its schedule, when it beat the baseline. */
  async function cancelled(id: string): Promise<SearchRecord> {
    const record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    const candidates = await searches.listCandidates(id);
    const root = candidates.find((c) => c.parentId === null);
    const best = candidates
      .filter((c) => c.admitted && c.correct && c.latencyMs !== null)
      .reduce<CandidateRecord | undefined>((b, c) => (b === undefined || c.latencyMs! < b.latencyMs! ? c : b), undefined);
    if (!root || root.latencyMs === null || !best || best === root || !(best.latencyMs! < root.latencyMs)) {
      return searches.updateSearch(id, { status: 'cancelled', error: null });
    }
    const target = deps.targets(record.task.target);
    return finish(record, target, {
      status: 'cancelled',
      samplesUsed: record.samplesUsed,
      iteration: record.iteration,
      candidates,
      baseline: root,
      best,
      lineage: lineageOf(candidates, best.id),
    });
  }

  function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Parameters<typeof describeIssues>[0] } } }, value: unknown, what: string): T {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new SkbError('BAD_INPUT', `Invalid ${what}: ${describeIssues(parsed.error.issues)}`);
    return parsed.data;
  }

  return {
    async start(taskInput: TaskInput, configInput: SearchConfigInput = {}) {
      if (closed) throw new SkbError('CONFLICT', 'The search service is closed: start searches before closing it');
      const task = parse<Task>(TaskSchema, taskInput, 'task');
      const config = parse<SearchConfig>(SearchConfigSchema, configInput, 'search settings');
      const target = deps.targets(task.target);
      checkSearchConfig(config, deps.menus(target.toolchain.kind));
      const now = new Date().toISOString();
      const record: SearchRecord = {
        id: randomUUID(),
        status: 'queued',
        task,
        targetKey: null,
        config,
        samplesUsed: 0,
        iteration: 0,
        baselineLatencyMs: null,
        bestLatencyMs: null,
        bestCandidateId: null,
        scheduleId: null,
        bestLineage: null,
        seeds: [],
        error: null,
        message: null,
        createdAt: now,
        updatedAt: now,
      };
      await searches.createSearch(record);
      launch(record.id);
      return record;
    },

    async cancel(id) {
      const job = jobs.get(id);
      if (job) {
        job.controller.abort(new SkbError('CONFLICT', `Search ${id} was cancelled`));
        return job.done;
      }
      const record = await searches.getSearch(id);
      if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
      // Left queued or running by a process that died: nothing runs it, so it only needs marking.
      if (record.status === 'queued' || record.status === 'running') return searches.updateSearch(id, { status: 'cancelled' });
      return record;
    },

    async get(id): Promise<SearchDetail | null> {
      const search = await searches.getSearch(id);
      if (!search) return null;
      return { search, candidates: await searches.listCandidates(id) };
    },

    list(filter, page) {
      return searches.listSearches(filter, page);
    },

    async *subscribe(id, signal) {
      const job = jobs.get(id);
      if (!job) {
        const record = await searches.getSearch(id);
        if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
        yield eventOf(record);
        return;
      }
      const queue: ProgressEvent[] = [];
      let wake: (() => void) | null = null;
      let ended = false;
      const listener = {
        push(event: ProgressEvent): void {
          queue.push(event);
          wake?.();
        },
        end(): void {
          ended = true;
          wake?.();
        },
      };
      const onAbort = (): void => wake?.();
      job.listeners.add(listener);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The job may have ended between the lookup and the registration.
      if (job.final) {
        queue.push(eventOf(job.final));
        ended = true;
      }
      try {
        while (!signal?.aborted) {
          const event = queue.shift();
          if (event) {
            yield event;
            if (TERMINAL.has(event.type)) return;
            continue;
          }
          if (ended) return;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      } finally {
        job.listeners.delete(listener);
        signal?.removeEventListener('abort', onAbort);
      }
    },

    async wait(id) {
      const job = jobs.get(id);
      if (job) return job.done;
      const record = await searches.getSearch(id);
      if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
      return record;
    },

    async resumeInterrupted() {
      const left = await searches.searchesWithStatus(['queued', 'running']);
      const resumed: string[] = [];
      for (const record of left) {
        if (jobs.has(record.id)) continue;
        launch(record.id);
        resumed.push(record.id);
      }
      return resumed;
    },

    async close() {
      closed = true;
      const running = [...jobs.values()];
      for (const job of running) {
        job.shutdown = true;
        job.controller.abort(new SkbError('CONFLICT', 'The search service is shutting down'));
      }
      await Promise.all(running.map((job) => job.done.catch(() => undefined)));
    },
  };
}
