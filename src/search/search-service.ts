/**
 * The search service: searches run as jobs in the background, each stored as it happens, resumed
 * after a restart where it stopped (without spending its budget twice), cancellable, and publishing
 * its progress. Composed of the job registry, the progress bus and the search runner beside it.
 */
import { randomUUID } from 'node:crypto';
import {
  SearchConfigSchema,
  SkbError,
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
  start(task: TaskInput, config?: SearchConfigInput): Promise<SearchRecord>;
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

/** The service needs what running its searches needs: the stores, targets, planners, menus and knowledge base. */
export type SearchServiceDeps = SearchRunnerDeps;

/** Creates the search service. Call `resumeInterrupted()` once at start. */
export function createSearchService(deps: SearchServiceDeps): SearchService {
  const { searches } = deps;
  const jobs = createJobRegistry();
  const progress = createProgressBus();
  const run = createSearchRunner(deps, progress);
  let closed = false;

  function launch(id: string): Job {
    return jobs.launch(id, run, (record) => {
      if (record && record.status !== 'running') progress.publish(progressEventOf(record));
      progress.end(id);
    });
  }

  async function stored(id: string): Promise<SearchRecord> {
    const record = await searches.getSearch(id);
    if (!record) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    return record;
  }

  return {
    async start(taskInput, configInput = {}) {
      if (closed) throw new SkbError('CONFLICT', 'The search service is closed: start searches before closing it');
      const task = parseOrThrow(TaskSchema, taskInput, 'Invalid task');
      const config = parseOrThrow(SearchConfigSchema, configInput, 'Invalid search settings');
      const target = deps.targets(task.target);
      checkSearchConfig(config, deps.menus(target.toolchain.kind));
      const record = newSearchRecord({ id: randomUUID(), task, config, createdAt: new Date().toISOString() });
      await searches.createSearch(record);
      launch(record.id);
      return record;
    },

    async cancel(id) {
      const job = jobs.get(id);
      if (job) {
        job.stop(new SkbError('CANCELLED', `Search ${id} was cancelled`));
        return job.done;
      }
      const record = await stored(id);
      // Left queued or running by a process that died: nothing runs it, so it only needs marking.
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
      const left = await searches.searchesWithStatus(['queued', 'running']);
      const resumed: string[] = [];
      for (const record of left) {
        if (jobs.get(record.id)) continue;
        launch(record.id);
        resumed.push(record.id);
      }
      return resumed;
    },

    async close() {
      closed = true;
      const running = jobs.running();
      for (const job of running)
        job.stop(new SkbError('CANCELLED', 'The search service is shutting down'), { shutdown: true });
      await Promise.all(running.map((job) => job.done.catch(() => undefined)));
    },
  };
}
