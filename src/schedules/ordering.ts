import type { Schedule } from './schedule.js';

/**
 * The creation time as a fixed-width UTC ISO string (millisecond precision), so that plain string
 * comparison orders by time. Content may carry other valid spellings ("...:00Z" vs "...:00.500Z")
 * that would compare wrongly as text.
 */
export function creationSortKey(createdAt: string): string {
  return new Date(createdAt).toISOString();
}

/** The one order of schedules everywhere (store pages, export): creation time, then id. */
export function compareByCreation(
  a: Pick<Schedule, 'createdAt' | 'id'>,
  b: Pick<Schedule, 'createdAt' | 'id'>,
): number {
  const ka = creationSortKey(a.createdAt);
  const kb = creationSortKey(b.createdAt);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
