import type { CandidateRecord, Page, PageRequest, ProgressEvent, SearchConfigInput, SearchRecord, SearchStatus, TaskInput } from '../schedules/index.js';

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
