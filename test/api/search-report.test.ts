/**
 * The progress view of `skb optimize`: a bar redrawn in place on a terminal, plain lines in logs.
 * Driven with the progress events the search service publishes. And the plan sequence it ends on.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressView, stepRows } from '../../src/api/cli/search-report.js';
import {
  type LineageStep,
  type ProgressEvent,
  REPLAY_OPTION_ID,
  SearchConfigSchema,
  newSearchRecord,
  parseOperation,
} from '../../src/schedules/index.js';

const base: ProgressEvent = {
  searchId: 's1',
  type: 'started',
  status: 'running',
  iteration: 0,
  iterations: 4,
  samplesUsed: 0,
  budget: 8,
  baselineLatencyMs: 2,
  bestLatencyMs: 2,
  speedup: 1,
};

const events: ProgressEvent[] = [
  base,
  { ...base, type: 'sample', samplesUsed: 1 },
  { ...base, type: 'sample', samplesUsed: 2, bestLatencyMs: 1, speedup: 2 },
  { ...base, type: 'iteration', iteration: 1, samplesUsed: 4, bestLatencyMs: 1, speedup: 2 },
  { ...base, type: 'finished', status: 'finished', iteration: 2, samplesUsed: 8, bestLatencyMs: 0.5, speedup: 4 },
];

function render(isTTY: boolean): string {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 200 });
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const view = createProgressView(stream);
  for (const e of events) view.update(e);
  view.close();
  return text;
}

describe('createProgressView', () => {
  it('redraws one line on a terminal and ends it with the outcome', () => {
    const text = render(true);
    const frames = text.split('\r\x1b[2K').filter(Boolean);
    expect(frames).toHaveLength(events.length);
    expect(frames[0]).toMatch(/^\[-{24}\] 0\/8 samples/);
    expect(frames.at(-1)).toMatch(
      /^\[#{24}\] 8\/8 samples {2}iteration 2\/4 {2}baseline 2\.000 ms {2}best 0\.500 ms \(4\.00x\)\nfinished\n$/,
    );
  });

  it('writes plain lines elsewhere: start, new bests, iterations and the end, not every sample', () => {
    const lines = render(false).trimEnd().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['started', 'new best', 'iteration', 'finished']);
    expect(lines[1]).toContain('2/8 samples');
    expect(lines.some((l) => l.includes('\r'))).toBe(false);
  });
});

describe('the accepted plan sequence', () => {
  const SEED = `sch_${'c'.repeat(24)}`;
  const step = (over: Partial<LineageStep>): LineageStep => ({
    candidateId: 'c',
    optionId: 'cpu.unroll',
    optionLabel: 'Unroll',
    plan: 'Unroll by 2.',
    params: null,
    latencyBeforeMs: 4,
    latencyAfterMs: 2,
    ...over,
  });
  const search = (steps: LineageStep[]) => ({
    ...newSearchRecord({
      id: 's',
      task: { operation: parseOperation({ kind: 'gemm', dims: { M: 8, N: 8, K: 8 } }), target: 'local' },
      config: SearchConfigSchema.parse({}),
      createdAt: new Date(0).toISOString(),
    }),
    bestLineage: steps,
  });

  it("reads a replay as its seed, the seed's options in order and what it set here, not the seed's every plan", () => {
    const replay = step({
      optionId: REPLAY_OPTION_ID,
      optionLabel: `Replay of seed schedule ${SEED}`,
      plan: "Replay the seed's 2 steps in order: 1. [cpu.pack] Pack B (pack = b). 2. [cpu.unroll] Unroll by 2. (here: pack B (pack = b); unroll by 4.)",
    });
    const rows = stepRows(search([replay, step({ latencyBeforeMs: 2, latencyAfterMs: 1 })]), []);
    expect(rows).toEqual([
      [
        '1',
        REPLAY_OPTION_ID,
        '4.000 -> 2.000 ms',
        `Replayed ${SEED}'s 2 steps (cpu.pack, cpu.unroll); here: pack B (pack = b); unroll by 4.`,
      ],
      ['2', 'cpu.unroll', '2.000 -> 1.000 ms', 'Unroll by 2.'],
    ]);
  });
});
