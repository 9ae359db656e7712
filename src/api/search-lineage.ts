import type { CandidateRecord, SearchRecord } from '../schedules/index.js';

/**
 * The candidates from the root (baseline) to the search's best, in order: the accepted plan
 * sequence. Empty while there is no best. Walks parent links, so it stays correct however the
 * candidates are ordered.
 */
export function bestLineage(search: Pick<SearchRecord, 'bestCandidateId'>, candidates: readonly CandidateRecord[]): CandidateRecord[] {
  if (!search.bestCandidateId) return [];
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const lineage: CandidateRecord[] = [];
  const seen = new Set<string>();
  let current = byId.get(search.bestCandidateId);
  // A parent link that loops would be a storage fault; stopping at a repeat keeps a query from hanging on it.
  while (current && !seen.has(current.id)) {
    seen.add(current.id);
    lineage.push(current);
    current = current.parentId ? byId.get(current.parentId) : undefined;
  }
  return lineage.reverse();
}

/** baseline / best, when both are known and positive. */
export function speedupOf(search: Pick<SearchRecord, 'baselineLatencyMs' | 'bestLatencyMs'>): number | null {
  const { baselineLatencyMs: base, bestLatencyMs: best } = search;
  return base != null && best != null && best > 0 ? base / best : null;
}
