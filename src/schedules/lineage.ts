/**
 * Walks of a search's candidate tree along parent links: the path from the root to a candidate,
 * its steps, and the seed it descends from. Parent links decide, so the walks stay correct however
 * the candidates are ordered.
 */
import { INVENTED_OPTION_ID, type Derivation } from './schedule.js';
import type { CandidateRecord } from './candidate.js';
import type { LineageStep, SearchRecord, SearchSeed } from './search.js';

/**
 * The candidate, then its parent, and so on up to the root (or to the first parent that is not in
 * `byId`).
 */
function* ancestry(
  byId: ReadonlyMap<string, CandidateRecord>,
  candidate: CandidateRecord | undefined,
): Generator<CandidateRecord> {
  const seen = new Set<string>();
  let node = candidate;
  // A parent link that loops would be a storage fault; stopping at a repeat keeps a walk from hanging on it.
  while (node && !seen.has(node.id)) {
    seen.add(node.id);
    yield node;
    node = node.parentId ? byId.get(node.parentId) : undefined;
  }
}

/**
 * The candidates from the root (baseline) to the search's best, in order: the accepted plan
 * sequence. Empty while there is no best.
 */
export function bestLineage(
  search: Pick<SearchRecord, 'bestCandidateId'>,
  candidates: readonly CandidateRecord[],
): CandidateRecord[] {
  if (!search.bestCandidateId) return [];
  const byId = new Map(candidates.map((c) => [c.id, c]));
  return [...ancestry(byId, byId.get(search.bestCandidateId))].reverse();
}

/** A candidate with a latency: one that ran to the end and was timed. */
export function isMeasured(candidate: CandidateRecord): candidate is CandidateRecord & { latencyMs: number } {
  return candidate.latencyMs !== null;
}

/** The step to a measured candidate from a parent of latency `latencyBeforeMs`: its option and plan, and the latency before and after. */
export function lineageStepOf(
  candidate: CandidateRecord & { latencyMs: number },
  latencyBeforeMs: number,
): LineageStep {
  return {
    candidateId: candidate.id,
    optionId: candidate.optionId ?? INVENTED_OPTION_ID,
    optionLabel: candidate.optionLabel ?? '',
    plan: candidate.plan ?? '',
    params: candidate.params,
    latencyBeforeMs,
    latencyAfterMs: candidate.latencyMs,
  };
}

/**
 * Steps from the root to `bestId` read off the stored candidates (each step: the parent's latency
 * before, the candidate's after). Empty when `bestId` is the root or unknown, or when the path to
 * it is broken or holds an unmeasured candidate.
 */
export function lineageOf(candidates: CandidateRecord[], bestId: string): LineageStep[] {
  const path = bestLineage({ bestCandidateId: bestId }, candidates);
  if (path[0]?.parentId !== null) return [];
  const measured = path.filter(isMeasured);
  if (measured.length !== path.length) return [];
  return measured.slice(1).map((c, i) => lineageStepOf(c, measured[i]!.latencyMs));
}

/**
 * The seed a candidate follows: the nearest `forcedFrom` on its path to the root (itself
 * included), or null when no step of its lineage came from a seed.
 */
export function seedOfCandidate(
  byId: ReadonlyMap<string, CandidateRecord>,
  candidate: CandidateRecord,
): { scheduleId: string; stepIndex: number } | null {
  for (const node of ancestry(byId, candidate)) if (node.forcedFrom) return node.forcedFrom;
  return null;
}

/**
 * The seeds a lineage descends from, in the order it met them: every `forcedFrom` seed on the
 * path (a replay, a guided step), with the tier and distance the search retrieved it at.
 */
export function derivationsOf(
  path: readonly Pick<CandidateRecord, 'forcedFrom'>[],
  seeds: readonly Pick<SearchSeed, 'scheduleId' | 'tier' | 'distance'>[],
): Derivation[] {
  const found = new Map<string, Derivation>();
  for (const node of path) {
    const id = node.forcedFrom?.scheduleId;
    if (!id || found.has(id)) continue;
    const seed = seeds.find((s) => s.scheduleId === id);
    found.set(id, { scheduleId: id, ...(seed ? { tier: seed.tier, distance: seed.distance } : {}) });
  }
  return [...found.values()];
}
