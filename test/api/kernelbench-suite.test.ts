/**
 * The order, resumption and arithmetic of `skb kernelbench`'s suite, over a scripted service (the
 * GPU run through the real service is on the device; see bench/gpu/RESULTS.md), and the command's
 * refusals through the real binary.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { suiteReport } from '../../src/api/cli/kernelbench-command.js';
import {
  WARM_TIERS,
  geomean,
  parseSuiteResults,
  runKernelBenchSuite,
  searchWinner,
  type SuiteDeps,
  type SuiteResults,
} from '../../src/api/kernelbench-suite.js';
import {
  type CandidateRecord,
  SearchConfigSchema,
  SkbError,
  newSearchRecord,
  parseOperation,
  tallyFailedSamples,
} from '../../src/schedules/index.js';
import { torchCompileCandidate } from '../../src/targets/kernelbench/torch-compile-candidate.js';
import { skb } from '../support/cli.js';
import { sampleCandidate } from '../support/fixtures.js';

const op = (n: number) => parseOperation({ kind: 'gemm', dims: { M: n, N: n, K: n } });

/** The winner the scripted searches report: a Triton tile for p1, nothing for a search that kept its baseline. */
const P1_WINNER = { sample: 6, optionId: 'cuda.tile_shape', knobs: { BLOCK_M: 256, BLOCK_N: 64, num_warps: 8 } };

/**
 * A service whose searches of problem `p<n>` find `best[n]` ms from a 10 ms baseline; p3's cold
 * search loses samples (3 suspect, 1 wrong answer).
 */
function scripted(best: Record<string, number>, refuse: string[] = []) {
  const calls: string[] = [];
  const saves: SuiteResults[] = [];
  const deps: SuiteDeps = {
    async search(source, warm) {
      calls.push(`${warm.enabled ? 'warm' : 'cold'} ${source}${warm.enabled ? ` ${warm.tiers.join(',')}` : ''}`);
      if (refuse.includes(source)) throw new SkbError('BAD_INPUT', `No template computes ${source}`);
      const record = {
        ...newSearchRecord({
          id: `${source}-${calls.length}`,
          task: { operation: op(64), target: 'gpu', problemSource: source },
          config: SearchConfigSchema.parse({}),
          createdAt: new Date(0).toISOString(),
        }),
        status: 'finished' as const,
        samplesUsed: 8,
        baselineLatencyMs: 10,
        bestLatencyMs: (best[source] ?? 10) * (warm.enabled ? 0.5 : 1),
      };
      const failedSamples: Record<string, number> =
        source === 'p3' && !warm.enabled ? { wrong_answer: 1, suspect: 3 } : {};
      const winner =
        record.bestLatencyMs < 10 ? (source === 'p1' ? P1_WINNER : { sample: 2, optionId: null, knobs: null }) : null;
      return { record, wallSeconds: 12.34, failedSamples, best: winner };
    },
    async reference(source) {
      calls.push(`reference ${source}`);
      return { eagerMs: 10, compileMs: 8, compileError: null };
    },
    async save(results) {
      saves.push(structuredClone(results));
    },
    progress: () => undefined,
  };
  return { deps, calls, saves };
}

const problems = ['p1', 'p2', 'p3'].map((file) => ({ file, source: file }));
const settings = { target: 'gpu', budget: 8 };

describe('skb kernelbench suite', () => {
  it('times every problem and searches it cold, then searches each warm without the exact tier', async () => {
    const { deps, calls, saves } = scripted({ p1: 5, p2: 8, p3: 10 });
    const results = await runKernelBenchSuite(deps, problems, settings, null);
    expect(calls).toEqual([
      'reference p1',
      'cold p1',
      'reference p2',
      'cold p2',
      'reference p3',
      'cold p3',
      'warm p1 structure,similar,transfer',
      'warm p2 structure,similar,transfer',
      'warm p3 structure,similar,transfer',
    ]);
    expect(WARM_TIERS).not.toContain('exact');
    expect(results.problems[0]).toMatchObject({
      eagerMs: 10,
      compileMs: 8,
      cold: { bestMs: 5, samples: 8, wallSeconds: 12.3 },
      warm: { bestMs: 2.5 },
    });
    // Saved after every step, so a run cut short keeps what it measured.
    expect(saves).toHaveLength(9);
    const report = suiteReport(results);
    expect(report).toContain('5.000 ms (2.00x)');
    // Cold speedups 2, 1.25, 1: geomean 1.357; compile 1.25 everywhere.
    expect(report).toContain('torch.compile 1.250x, cold best 1.357x, warm best 2.714x');
    // Only the search that lost samples is listed, with how many and why.
    expect(report.split('Samples that did not count (see skb search ID):\n')[1]!.split('\n\n')[0]).toBe(
      '  p3 cold: 4 of 8 samples did not count (3 suspect, 1 wrong_answer)',
    );
    // What won is in the results and the report, so neither needs the database it came from.
    expect(results.problems[0]!.cold!.best).toEqual(P1_WINNER);
    expect(report.split('What each search ended on:\n')[1]).toBe(
      [
        '  p1 cold: sample 6 (cuda.tile_shape): BLOCK_M=256 BLOCK_N=64 num_warps=8',
        '  p1 warm: sample 6 (cuda.tile_shape): BLOCK_M=256 BLOCK_N=64 num_warps=8',
        '  p2 cold: sample 2',
        '  p2 warm: sample 2',
        '  p3 cold: the baseline (nothing beat it)',
        '  p3 warm: sample 2',
        '',
      ].join('\n'),
    );
  });

  it("names a search's winner from its tree: the best candidate's sample, option and knobs, none when the baseline won", () => {
    const base = newSearchRecord({
      id: 's',
      task: { operation: op(64), target: 'gpu', problemSource: 'p' },
      config: SearchConfigSchema.parse({}),
      createdAt: new Date(0).toISOString(),
    });
    const tree = [
      sampleCandidate('s', 0, 10),
      sampleCandidate('s', 1, 4, { params: { knobs: { BLOCK_M: 128 }, changed: { BLOCK_M: 128 } } }),
      sampleCandidate('s', 2, 6, { optionId: 'cuda.torch_compile', params: { mode: 'default' } }),
    ];
    expect(searchWinner({ ...base, bestCandidateId: 's-c1' }, tree)).toEqual({
      sample: 1,
      optionId: 'cuda.split_k',
      knobs: { BLOCK_M: 128 },
    });
    expect(searchWinner({ ...base, bestCandidateId: 's-c2' }, tree)).toEqual({
      sample: 2,
      optionId: 'cuda.torch_compile',
      knobs: null,
    });
    expect(searchWinner({ ...base, bestCandidateId: 's-c0' }, tree)).toBeNull();
    expect(searchWinner(base, tree)).toBeNull();
  });

  it('tallies the samples of a tree that could not count: failures by error kind, and unconfirmed suspects', () => {
    const node = (sample: number, correct: boolean, errorKind: string | null, suspect?: string) =>
      ({ sample, correct, errorKind, ...(suspect ? { suspect } : {}) }) as CandidateRecord;
    expect(
      tallyFailedSamples([
        node(0, false, 'runtime'),
        node(1, true, null),
        node(2, false, 'compile'),
        node(3, true, null, 'speedup 25.0x'),
        node(4, false, 'compile'),
        node(5, false, null),
      ]),
    ).toEqual({ compile: 2, suspect: 1, failed: 1 });
  });

  it('reads a results file written before samples were tallied as having lost none', () => {
    const { failedSamples, ...before } = {
      searchId: 's',
      status: 'finished',
      bestMs: 1,
      baselineMs: 2,
      samples: 8,
      wallSeconds: 3,
      scheduleId: null,
      seeds: 0,
      message: null,
      failedSamples: {},
    };
    const text = JSON.stringify({
      version: 1,
      target: 'gpu',
      budget: 8,
      problems: [
        {
          file: 'p1',
          sourceHash: 'h',
          operation: null,
          error: null,
          eagerMs: 2,
          compileMs: null,
          compileError: null,
          cold: before,
          warm: null,
        },
      ],
    });
    expect(parseSuiteResults(text).problems[0]!.cold!.failedSamples).toEqual(failedSamples);
    expect(parseSuiteResults(text).problems[0]!.cold!.best).toBeNull();
  });

  it('resumes: steps done for an unchanged file are not run again, an edited file is measured anew', async () => {
    const first = scripted({ p1: 5 });
    const firstResults = await runKernelBenchSuite(first.deps, problems, settings, null);
    // Cut short after p2's cold search: the saved state at that point.
    const cut = first.saves[3]!;
    const again = scripted({ p1: 5 });
    const edited = [problems[0]!, problems[1]!, { file: 'p3', source: 'p3 edited' }];
    await runKernelBenchSuite(again.deps, edited, settings, cut);
    expect(again.calls).toEqual([
      'reference p3 edited',
      'cold p3 edited',
      'warm p1 structure,similar,transfer',
      'warm p2 structure,similar,transfer',
      'warm p3 edited structure,similar,transfer',
    ]);
    // Another budget is another experiment: nothing is reused.
    const other = scripted({});
    await runKernelBenchSuite(other.deps, problems, { ...settings, budget: 16 }, firstResults);
    expect(other.calls.filter((c) => c.startsWith('cold'))).toHaveLength(3);
  });

  it('reports a problem no template computes with its reason and goes on with the rest', async () => {
    const { deps, calls } = scripted({ p1: 5 }, ['p2']);
    const results = await runKernelBenchSuite(deps, problems, settings, null);
    expect(results.problems[1]).toMatchObject({
      error: 'No template computes p2',
      cold: null,
      warm: null,
      eagerMs: 10,
    });
    expect(calls.filter((c) => c.startsWith('warm'))).toEqual([
      'warm p1 structure,similar,transfer',
      'warm p3 structure,similar,transfer',
    ]);
    expect(suiteReport(results)).toMatch(/p2 +not searched: No template computes p2/);
    expect(suiteReport(results)).toContain('(2 of 3 problems searched)');
  });

  it('takes geometric means over the values that exist', () => {
    expect(geomean([2, 8, null])).toBeCloseTo(4);
    expect(geomean([null])).toBeNull();
  });

  it("compiles the problem's own Model, keeping its parameter names", () => {
    const source = torchCompileCandidate('class Model:\n    pass\n', 'max-autotune');
    expect(source).toContain('class ModelNew(Model):');
    expect(source).toContain('_skb_torch.compile(super().forward, mode="max-autotune")');
    expect(() => torchCompileCandidate('x', 'fast' as never)).toThrow(/not one of default/);
  });
});

describe('skb kernelbench refuses what cannot run, changing nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skb-kernelbench-'));
  const problem = join(dir, 'p.py');
  writeFileSync(problem, 'class Model:\n    pass\n');

  it('needs a kernelbench target, readable files and a results file of its own', async () => {
    const noTarget = await skb(['kernelbench', problem], dir);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/--target ID is required/);
    const cTarget = await skb(['kernelbench', problem, '--target', 'local'], dir);
    expect(cTarget.code).toBe(2);
    expect(cTarget.stderr).toMatch(/Target local has a c toolchain: skb kernelbench needs a kernelbench target/);
    const missing = await skb(['kernelbench', join(dir, 'none.py'), '--target', 'local'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/none\.py: cannot read it/);
    const foreign = join(dir, 'notes.json');
    writeFileSync(foreign, '{"mine": true}\n');
    const clash = await skb(['kernelbench', problem, '--target', 'local', '--out', foreign], dir);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/holds something other than skb kernelbench results/);
    expect(readFileSync(foreign, 'utf8')).toBe('{"mine": true}\n');
  });
});
