/**
 * The state of one beam search: every sample so far, the beam, the best, and the counters the loop
 * advances. One object that the loop and its slots are handed, so what changes where is visible;
 * a resumed run rebuilds the same state by replaying the stored samples through the same steps.
 */
import {
  isMeasured,
  lineageStepOf,
  type CandidateRecord,
  type LineageStep,
  type SearchConfig,
} from '../schedules/index.js';
import type { CandidateView, SearchEvidence } from './planner.js';

/** A candidate in the tree, with what the planner sees of it and its accepted steps from the root. */
export interface BeamNode {
  record: CandidateRecord;
  view: CandidateView;
  lineage: LineageStep[];
}

/** A candidate record before the search names and dates it. */
export type SampleFields = Omit<CandidateRecord, 'id' | 'searchId' | 'createdAt' | 'admitted'>;

/** Where a beam search stands; the loop and the slots read it, the loop advances it. */
export interface SearchState {
  readonly searchId: string;
  /** Samples stored by an earlier run of this search, by sample number. */
  readonly stored: ReadonlyMap<number, CandidateRecord>;
  /** The root: the measured baseline. */
  readonly baseline: CandidateRecord & { latencyMs: number };
  /** Every candidate so far, in sample order (the baseline first). */
  readonly candidates: CandidateRecord[];
  readonly byId: Map<string, CandidateRecord>;
  /** Codes of every sample so far: the same set on a resumed run as on the first. */
  readonly evaluatedCodes: Set<string>;
  readonly firstCorrectSampleOfCode: Map<string, number>;
  /** The iteration running (0 before the first). */
  iteration: number;
  samplesUsed: number;
  beam: BeamNode[];
  best: BeamNode;
  /** Iterations since the best last improved. */
  sinceBest: number;
  /** What planners may learn from in the running iteration (set when it starts). */
  evidence: SearchEvidence | undefined;
}

/** The state of a search whose baseline `root` is measured and correct: it alone is in the beam. */
export function createSearchState(
  searchId: string,
  stored: ReadonlyMap<number, CandidateRecord>,
  root: CandidateRecord & { latencyMs: number },
): SearchState {
  const rootNode: BeamNode = { record: root, view: viewOf(root, []), lineage: [] };
  const state: SearchState = {
    searchId,
    stored,
    baseline: root,
    candidates: [],
    byId: new Map(),
    evaluatedCodes: new Set(),
    firstCorrectSampleOfCode: new Map(),
    iteration: 0,
    samplesUsed: 0,
    beam: [rootNode],
    best: rootNode,
    sinceBest: 0,
    evidence: undefined,
  };
  remember(state, root);
  return state;
}

/** A candidate record of this search: its id follows from the sample number. */
export function candidateRecord(searchId: string, fields: SampleFields): CandidateRecord {
  return {
    id: `${searchId}.${fields.sample}`,
    searchId,
    createdAt: new Date().toISOString(),
    admitted: false,
    ...fields,
  };
}

/** Whether a sample of the search already has this code. */
export function tried(state: SearchState, code: string): boolean {
  return state.evaluatedCodes.has(code);
}

/** Adds a sample of `parent` to the tree and returns its node. */
export function addChild(state: SearchState, record: CandidateRecord, parent: BeamNode): BeamNode {
  remember(state, record);
  const lineage =
    record.correct && isMeasured(record)
      ? [...parent.lineage, lineageStepOf(record, parent.record.latencyMs!)]
      : parent.lineage;
  return { record, view: viewOf(record, lineage), lineage };
}

/**
 * Ends an iteration: children that are correct, faster than their parent x `keepFactor` and not
 * duplicates join the old beam, the fastest `beamWidth` go on, and the best follows. When none
 * enters, the fastest child within `escapeFactor` of its parent (a scout) takes the beam's last
 * place, so the next iteration also explores past it: the keep factor alone cannot cross a valley
 * (packing pays only with a register block). Returns the children that entered (now marked
 * admitted). Only measurements decide, so a resumed search admits the same children.
 */
export function admitChildren(
  state: SearchState,
  children: BeamNode[],
  keepFactor: number,
  config: Pick<SearchConfig, 'beamWidth' | 'dedupe' | 'escapeFactor'>,
): BeamNode[] {
  let next = [...state.beam, ...admissible(state, children, keepFactor, config.dedupe)]
    .sort(byLatency)
    .slice(0, config.beamWidth);
  if (!next.some((n) => children.includes(n)) && config.escapeFactor > 1) {
    const [scout] = admissible(state, children, config.escapeFactor, config.dedupe)
      .filter((c) => !next.some((n) => n.record.code === c.record.code))
      .sort(byLatency);
    if (scout) next = [...next.slice(0, config.beamWidth - 1), scout];
  }
  const entered = next.filter((n) => children.includes(n));
  for (const n of entered) n.record.admitted = true;
  state.beam = next;
  const top = [...next].sort(byLatency)[0]!;
  if (top.record.latencyMs! < state.best.record.latencyMs!) {
    state.best = top;
    state.sinceBest = 0;
  } else {
    state.sinceBest++;
  }
  return entered;
}

function remember(state: SearchState, record: CandidateRecord): void {
  state.candidates.push(record);
  state.byId.set(record.id, record);
  if (record.code !== '') state.evaluatedCodes.add(record.code);
  if (record.correct && !state.firstCorrectSampleOfCode.has(record.code))
    state.firstCorrectSampleOfCode.set(record.code, record.sample);
}

function admissible(
  state: SearchState,
  children: BeamNode[],
  keepFactor: number,
  dedupe: SearchConfig['dedupe'],
): BeamNode[] {
  let ok = children.filter((c) => {
    const parent = state.byId.get(c.record.parentId ?? '');
    return (
      c.record.correct &&
      !c.record.suspect &&
      c.record.latencyMs !== null &&
      parent !== undefined &&
      c.record.latencyMs < parent.latencyMs! * keepFactor
    );
  });
  if (dedupe === 'plan') {
    const bestOfPlan = new Map<string, BeamNode>();
    for (const c of [...ok].sort(byLatency)) {
      const key = `${c.record.parentId}\u0000${c.record.plan ?? ''}`;
      if (!bestOfPlan.has(key)) bestOfPlan.set(key, c);
    }
    const keep = new Set(bestOfPlan.values());
    ok = ok.filter((c) => keep.has(c));
  } else if (dedupe === 'code') {
    ok = ok.filter((c) => state.firstCorrectSampleOfCode.get(c.record.code) === c.record.sample);
  }
  return ok;
}

function byLatency(a: BeamNode, b: BeamNode): number {
  return a.record.latencyMs! - b.record.latencyMs! || a.record.sample - b.record.sample;
}

function viewOf(r: CandidateRecord, lineage: LineageStep[]): CandidateView {
  return {
    id: r.id,
    code: r.code,
    latencyMs: r.latencyMs ?? Number.POSITIVE_INFINITY,
    feedback: r.feedback,
    ...(r.params ? { params: r.params } : {}),
    lineage: lineage.map((s) => ({ optionId: s.optionId, plan: s.plan })),
  };
}
