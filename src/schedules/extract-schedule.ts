/**
 * Extraction of a schedule from a search that ended with a result: the steps from the root to the
 * best candidate, with the siblings along that path that failed or were slower kept as negative
 * evidence for later searches.
 */
import type { NegativeStep, ScheduleContentInput, Step } from './schedule.js';
import type { CandidateRecord, LineageStep, SearchRecord } from './search.js';

const OPTION_ID = /^[a-z0-9_.:-]{1,64}$/;
const MAX_PLAN = 20_000;
const MAX_NEGATIVES = 1024;

export interface ExtractScheduleInput {
  search: SearchRecord;
  /** Every candidate of the search. */
  candidates: CandidateRecord[];
  /** The lineage of the best candidate (the engine's, or `lineageOf` for a cancelled search). */
  lineage: LineageStep[];
  baselineLatencyMs: number;
  bestLatencyMs: number;
  samplesUsed: number;
  /** Key of the target the search measured on. */
  targetKey: string;
  /** Planner id ("template", "llm") and the models that wrote plans and code. */
  planner: string;
  models: string[];
  createdAt?: string;
}

/**
 * Steps from the root to `bestId` read off the stored candidates (each step: the parent's latency
 * before, the candidate's after). Empty when `bestId` is the root or unknown.
 */
export function lineageOf(candidates: CandidateRecord[], bestId: string): LineageStep[] {
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const steps: LineageStep[] = [];
  let node = byId.get(bestId);
  while (node?.parentId) {
    const parent = byId.get(node.parentId);
    if (!parent || parent.latencyMs === null || node.latencyMs === null) return [];
    steps.push({
      candidateId: node.id,
      optionId: node.optionId ?? 'invented',
      optionLabel: node.optionLabel ?? '',
      plan: node.plan ?? '',
      params: node.params,
      latencyBeforeMs: parent.latencyMs,
      latencyAfterMs: node.latencyMs,
    });
    node = parent;
  }
  return steps.reverse();
}

/**
 * The seed a candidate follows: the nearest `forcedFrom` on its path to the root (itself
 * included), or null when no step of its lineage came from a seed.
 */
export function seedOfCandidate(byId: Map<string, CandidateRecord>, candidate: CandidateRecord): { scheduleId: string; stepIndex: number } | null {
  let node: CandidateRecord | undefined = candidate;
  while (node) {
    if (node.forcedFrom) return node.forcedFrom;
    node = node.parentId ? byId.get(node.parentId) : undefined;
  }
  return null;
}

/**
 * The schedule of a search, or null when no step improved on the baseline (nothing worth storing).
 * The result is schedule content as the store validates it.
 */
export function extractSchedule(input: ExtractScheduleInput): ScheduleContentInput | null {
  const { search, candidates, lineage } = input;
  if (lineage.length === 0 || !(input.bestLatencyMs < input.baselineLatencyMs)) return null;
  const root = candidates.find((c) => c.parentId === null);
  if (!root) return null;

  const steps: Step[] = lineage.map((s) => ({
    optionId: OPTION_ID.test(s.optionId) ? s.optionId : 'invented',
    optionLabel: (s.optionLabel || s.optionId).slice(0, 200),
    plan: s.plan.slice(0, MAX_PLAN),
    ...(s.params ? { params: s.params as Step['params'] } : {}),
    latencyBeforeMs: s.latencyBeforeMs,
    latencyAfterMs: s.latencyAfterMs,
  }));

  const path = [root.id, ...lineage.map((s) => s.candidateId)];
  const negatives: NegativeStep[] = [];
  const childrenOf = new Map<string, CandidateRecord[]>();
  for (const c of candidates) {
    if (c.parentId) childrenOf.set(c.parentId, [...(childrenOf.get(c.parentId) ?? []), c]);
  }
  for (const [atStep, id] of path.entries()) {
    const parent = candidates.find((c) => c.id === id);
    const onPath = path[atStep + 1];
    for (const c of childrenOf.get(id) ?? []) {
      if (c.id === onPath || c.optionId === null || !OPTION_ID.test(c.optionId) || !c.plan) continue;
      const slower = c.correct && c.latencyMs !== null && !c.admitted && parent?.latencyMs != null && c.latencyMs >= parent.latencyMs;
      if (c.correct && !slower) continue;
      negatives.push({
        optionId: c.optionId,
        plan: c.plan.slice(0, MAX_PLAN),
        ...(c.params ? { params: c.params as NegativeStep['params'] } : {}),
        outcome: c.correct ? 'regressed' : 'failed',
        atStep,
        ...(c.latencyMs !== null && c.latencyMs > 0 ? { latencyMs: c.latencyMs } : {}),
      });
    }
  }

  return {
    operation: search.task.operation,
    targetKey: input.targetKey,
    steps,
    negatives: negatives.slice(0, MAX_NEGATIVES),
    finalCode: candidates.find((c) => c.id === path.at(-1))?.code ?? '',
    baselineLatencyMs: input.baselineLatencyMs,
    bestLatencyMs: input.bestLatencyMs,
    samplesUsed: input.samplesUsed,
    settings: { ...search.config },
    models: [...new Set(input.models)].slice(0, 32),
    provenance: { source: 'search', searchId: search.id, planner: input.planner },
    createdAt: input.createdAt ?? new Date().toISOString(),
  };
}
