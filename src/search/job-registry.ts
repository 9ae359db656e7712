/**
 * The searches running in this process, one job each: how to stop it and the promise of its end.
 * A job leaves the registry when it ends.
 */
import type { SearchRecord, SkbError } from '../schedules/index.js';

/** One running search. */
export interface Job {
  readonly id: string;
  /** Aborts when the job is stopped. */
  readonly signal: AbortSignal;
  /** Whether the job was stopped because the service is closing: its search stays 'running', so the next process resumes it. */
  readonly shutdown: boolean;
  /** The search record the job ended with; rejects when the job could not record an end. */
  readonly done: Promise<SearchRecord>;
  /** Aborts the job's work with `reason`. */
  stop(reason: SkbError, options?: { shutdown?: boolean }): void;
}

/** The jobs of one search service. */
export interface JobRegistry {
  /**
   * Starts `run` as the job of search `id`. When it ends, the job leaves the registry and then
   * `ended` is called with the record it ended with (null when it rejected).
   */
  launch(id: string, run: (job: Job) => Promise<SearchRecord>, ended: (record: SearchRecord | null) => void): Job;
  get(id: string): Job | undefined;
  running(): Job[];
}

/** An empty registry. */
export function createJobRegistry(): JobRegistry {
  const jobs = new Map<string, Job>();
  return {
    launch(id, run, ended) {
      const controller = new AbortController();
      let shutdown = false;
      let done: Promise<SearchRecord> | undefined;
      const job: Job = {
        id,
        signal: controller.signal,
        get shutdown() {
          return shutdown;
        },
        get done() {
          return done!;
        },
        stop(reason, options = {}) {
          if (options.shutdown) shutdown = true;
          controller.abort(reason);
        },
      };
      jobs.set(id, job);
      done = run(job).then(
        (record) => {
          jobs.delete(id);
          ended(record);
          return record;
        },
        (error: unknown) => {
          jobs.delete(id);
          ended(null);
          throw error;
        },
      );
      // Callers see the rejection through `done`; a job nobody waits on must not crash the process.
      done.catch(() => undefined);
      return job;
    },
    get: (id) => jobs.get(id),
    running: () => [...jobs.values()],
  };
}
