/**
 * Admission at the end of an iteration: the keep factor, and the scout that lets a search cross a
 * valley when no child beats its parent.
 */
import { describe, expect, it } from 'vitest';
import { SearchConfigSchema, type CandidateRecord } from '../../src/schedules/index.js';
import { addChild, admitChildren, candidateRecord, createSearchState } from '../../src/search/beam-state.js';

function sample(sample: number, latencyMs: number, parentId: string | null, correct = true): CandidateRecord {
  return candidateRecord('s', {
    parentId,
    iteration: parentId ? 1 : 0,
    sample,
    optionId: parentId ? 'cpu.pack' : null,
    optionLabel: null,
    plan: parentId ? `plan ${sample}` : null,
    params: null,
    code: `code ${sample}`,
    correct,
    latencyMs,
    errorKind: correct ? null : 'wrong',
    output: '',
    feedback: [],
    forcedFrom: null,
    model: null,
  });
}

/** A state with the baseline (10 ms) and children of the given latencies. */
function iteration(latencies: Array<number | 'wrong'>) {
  const root = sample(0, 10, null) as CandidateRecord & { latencyMs: number };
  const state = createSearchState('s', new Map(), root);
  const children = latencies.map((l, i) =>
    addChild(state, sample(i + 1, l === 'wrong' ? 1 : l, root.id, l !== 'wrong'), state.beam[0]!),
  );
  return { state, children };
}

const config = (escapeFactor: number, beamWidth = 2) => SearchConfigSchema.parse({ beamWidth, escapeFactor });

describe('admission', () => {
  it('admits the children that beat their parent by the keep factor, and then no scout', () => {
    const { state, children } = iteration([8, 11, 12]);
    const entered = admitChildren(state, children, 1, config(1.3));
    expect(entered.map((n) => n.record.sample)).toEqual([1]);
    expect(state.beam.map((n) => n.record.sample)).toEqual([1, 0]);
  });

  it('when none beats its parent, the fastest child within the escape factor takes the last place of the beam', () => {
    const { state, children } = iteration([12.5, 11, 'wrong', 14]);
    const entered = admitChildren(state, children, 1, config(1.3));
    expect(entered.map((n) => n.record.sample)).toEqual([2]);
    expect(state.beam.map((n) => n.record.sample)).toEqual([0, 2]);
    // The best stays the baseline: a scout is explored, not reported.
    expect(state.best.record.sample).toBe(0);
    expect(state.sinceBest).toBe(1);
  });

  it('a beam of one hands its place to the scout, and the best is kept apart', () => {
    const { state, children } = iteration([11]);
    admitChildren(state, children, 1, config(1.3, 1));
    expect(state.beam.map((n) => n.record.sample)).toEqual([1]);
    expect(state.best.record.sample).toBe(0);
  });

  it('never admits a suspect child, however fast, nor takes it as a scout or as the best', () => {
    const { state, children } = iteration([0.5, 11]);
    children[0]!.record.suspect = 'speedup 20.0x over eager PyTorch is above the 10x suspicion threshold';
    const entered = admitChildren(state, children, 1, config(1.3));
    expect(entered.map((n) => n.record.sample)).toEqual([2]);
    expect(state.best.record.sample).toBe(0);
    expect(children[0]!.record.admitted).toBe(false);
  });

  it('admits no scout slower than the escape factor allows, or with the escape off', () => {
    const far = iteration([13.5, 20]);
    expect(admitChildren(far.state, far.children, 1, config(1.3))).toEqual([]);
    const off = iteration([11]);
    expect(admitChildren(off.state, off.children, 1, config(1))).toEqual([]);
    expect(off.state.beam.map((n) => n.record.sample)).toEqual([0]);
  });
});
