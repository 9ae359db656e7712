/**
 * The search service: searches run as jobs in the background, each stored as it happens, resumed
 * after a restart where it stopped (without spending its budget twice), cancellable, and publishing
 * its progress. Composed of the job registry, the progress bus and the search runner beside it.
 *
 * Several services (replicas, e.g. `skb serve` processes) may share one database: a replica runs a
 * search only while it holds the search's lease, renewed every third of its time to live. A replica
 * that dies stops renewing; once resumeInterrupted() was called, each replica looks for searches
 * whose lease lapsed every half lease and resumes them from what was stored. A replica that loses a
 * lease (it could not renew in time) stops its job and leaves the search to the new holder; a
 * sample number can be stored only once, so a late write of the old holder is refused.
 */
import { randomUUID } from 'node:crypto';
import {
  SearchConfigSchema,
  SkbError,
  TASK_NEEDS_OPERATION,
  TaskSchema,
  newSearchRecord,
  parseOrThrow,
  type CandidateRecord,
  type Page,
  type PageRequest,
  type ProgressEvent,
  type SearchConfigInput,
  type SearchRecord,
  type SearchStatus,
  type TaskInput,
} from '../schedules/index.js';
import { checkSearchConfig } from './beam-search.js';
import { createJobRegistry, type Job } from './job-registry.js';
import { createProgressBus, progressEventOf } from './progress-bus.js';
import { createSearchRunner, type SearchRunnerDeps } from './search-runner.js';

/** A search with its whole tree. */
export interface SearchDetail {
  search: SearchRecord;
  /** Every candidate of the tree, in sample order (baseline first). */
  candidates: CandidateRecord[];
}

/**
 * Runs searches as jobs: each is stored as it happens, survives a restart (resumed where it
 * stopped, without spending its budget twice), can be cancelled, and publishes progress.
 */
export interface SearchService {
  /** Validates and stores the search, starts it in the background, and returns it (status queued or running). */
  start(task: TaskRequest, config?: SearchConfigInput): Promise<SearchRecord>;
  /** Stops a running search: its target work is aborted; the record ends as cancelled. */
  cancel(id: string): Promise<SearchRecord>;
  get(id: string): Promise<SearchDetail | null>;
  list(filter: { status?: SearchStatus }, page: PageRequest): Promise<Page<SearchRecord>>;
  /** Progress events of one search, from now until it ends (ends at once for a finished search, after one event). */
  subscribe(id: string, signal?: AbortSignal): AsyncIterable<ProgressEvent>;
  /** Waits until the search is no longer queued or running. */
  wait(id: string): Promise<SearchRecord>;
  /** Resumes searches left running or queued by an earlier process (call once at start). */
  resumeInterrupted(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A task as clients send it: the operation may be left out when a problem file is given, for the
 * target to recognise (KernelBench: the problem's forward traced on the target).
 */
export type TaskRequest = Omit<TaskInput, 'operation'> & { operation?: TaskInput['operation'] };

const TaskWithoutOperationSchema = TaskSchema.omit({ operation: true });

/** Default lease time to live: a dead replica's searches are resumed elsewhere after at most this long. */
export const DEFAULT_SEARCH_LEASE_MS = 15_000;

/**
 * The service needs what running its searches needs (the stores, targets, planners, menus and
 * knowledge base), and how long a search's lease lasts.
 */
export type SearchServiceDeps = SearchRunnerDeps & {
  /** Lease time to live in ms (default DEFAULT_SEARCH_LEASE_MS). */
  leaseMs?: number;
  /** Called with errors of the background lease work (renewals, the lapsed-lease sweep). */
  onBackgroundError?: (error: unknown) => void;
  /** Called with the searches the lapsed-lease sweep resumed here (another replica's, which stopped renewing). */
  onResumed?: (ids: string[]) => void;
};

/** Creates the search service. Call `resumeInterrupted()` once at start. */
export function createSearchService(deps: SearchServiceDeps): SearchService {
  const { searches } = deps;
  const jobs = createJobRegistry();
  const progress = createProgressBus();
  const run = createSearchRunner(deps, progress);
  const replica = randomUUID();
  const leaseMs = deps.leaseMs ?? DEFAULT_SEARCH_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 100)
    throw new SkbError('CONFIG', `The search lease must be a whole number of ms from 100 up (got ${leaseMs})`);
  const backgroundError = deps.onBackgroundError ?? (() => undefined);
  let closed = false;
  let sweep: NodeJS.Timeout | undefined;

  /** Runs search `id` as a job of this replica, renewing its lease while it runs and giving it up at the end. */
  function launch(id: string): Job {
    let renewal: NodeJS.Timeout | undefined;
    const job = jobs.launch(id, run, (record) => {
      clearInterval(renewal);
      searches.releaseSearchLease(id, replica).catch(backgroundError);
      if (record && record.status !== 'running') progress.publish(progressEventOf(record));
      progress.end(id);
    });
    renewal = setInterval(
      () => {
        void (async () => {
          if (!(await searches.claimSearchLease(id, replica, leaseMs))) {
            // Another replica holds it now: it resumes the search; this one leaves it running.
            job.stop(new SkbError('CONFLICT', `Search ${id} is run by another replica now`), { shutdown: true });
            return;
          }
          // Cancelled through another replica, which could only mark it.
          if ((await searches.getSearch(id))?.status === 'cancelled')
            job.stop(new SkbError('CANCELLED', `Search ${id} was cancelled`));
        })().catch(backgroundError);
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    renewal.unref();
    return job;
  }

  /** Launches search `id` here if no job runs it here and this replica can take its lease. */
  async function claimAndLaunch(id: string): Promise<boolean> {
    if (jobs.get(id) || closed) return false;
    if (!(await searches.claimSearchLease(id, replica, leaseMs))) return false;
    // Claimed while another call of this replica launched it (the sweep and a start at once).
    if (jobs.get(id)) return false;
    launch(id);
    return true;
  }

  async function stored(id: string): Promise<SearchRecord> {
    const record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    return record;
  }

  /** The task with its operation: as given, or recognised from its problem file by the target. */
  async function withOperation(request: TaskRequest): Promise<TaskInput> {
    if (request.operation !== undefined) return request as TaskInput;
    const rest = parseOrThrow(TaskWithoutOperationSchema, request, 'Invalid task');
    if (rest.problemSource === undefined) throw new SkbError('BAD_INPUT', TASK_NEEDS_OPERATION);
    const { primary } = deps.targets(rest.target);
    if (!primary.toolchain.recognize)
      throw new SkbError(
        'BAD_INPUT',
        `Target ${rest.target} (a ${primary.toolchain.kind} toolchain) does not read problem files: give the operation`,
      );
    return { ...rest, operation: await primary.toolchain.recognize(rest.problemSource, primary.executor) };
  }

  return {
    async start(taskInput, configInput = {}) {
      if (closed) throw new SkbError('CONFLICT', 'The search service is closed: start searches before closing it');
      const config = parseOrThrow(SearchConfigSchema, configInput, 'Invalid search settings');
      const task = parseOrThrow(TaskSchema, await withOperation(taskInput), 'Invalid task');
      const target = deps.targets(task.target).primary;
      // The checks read only what every menu of the toolchain shares (translate options, any options).
      checkSearchConfig(config, deps.menus(target.toolchain.kind, {}));
      const record = newSearchRecord({ id: randomUUID(), task, config, createdAt: new Date().toISOString() });
      await searches.createSearch(record);
      // A new search's lease is free: this replica takes it (or, failing that, a sweep will).
      await claimAndLaunch(record.id);
      return record;
    },

    async cancel(id) {
      const job = jobs.get(id);
      if (job) {
        job.stop(new SkbError('CANCELLED', `Search ${id} was cancelled`));
        return job.done;
      }
      const record = await stored(id);
      // Left queued or running by a process that died, or run by another replica: marked here, the
      // other replica stops it at its next lease renewal.
      if (record.status === 'queued' || record.status === 'running')
        return searches.updateSearch(id, { status: 'cancelled' });
      return record;
    },

    async get(id) {
      const search = await searches.getSearch(id);
      if (!search) return null;
      return { search, candidates: await searches.listCandidates(id) };
    },

    list(filter, page) {
      return searches.listSearches(filter, page);
    },

    async *subscribe(id, signal) {
      if (!jobs.get(id)) {
        yield progressEventOf(await stored(id));
        return;
      }
      yield* progress.subscribe(id, signal);
    },

    async wait(id) {
      return jobs.get(id)?.done ?? stored(id);
    },

    async resumeInterrupted() {
      const resumeLapsed = async (): Promise<string[]> => {
        const left = await searches.searchesWithStatus(['queued', 'running']);
        const resumed: string[] = [];
        for (const record of left) if (await claimAndLaunch(record.id)) resumed.push(record.id);
        return resumed;
      };
      // From now on this replica also takes over searches whose replica died.
      if (!sweep && !closed) {
        const every = Math.max(50, Math.floor(leaseMs / 2));
        sweep = setInterval(
          () =>
            void resumeLapsed()
              .then((ids) => ids.length && deps.onResumed?.(ids))
              .catch(backgroundError),
          every,
        );
        sweep.unref();
      }
      return resumeLapsed();
    },

    async close() {
      closed = true;
      clearInterval(sweep);
      const running = jobs.running();
      for (const job of running)
        job.stop(new SkbError('CANCELLED', 'The search service is shutting down'), { shutdown: true });
      await Promise.all(running.map((job) => job.done.catch(() => undefined)));
    },
  };
}
