/**
 * `skb kernelbench` end to end through its real binary, on a KernelBench target whose interpreter
 * is a stand-in: it recognises every problem as a 64^3 f32 gemm and answers each harness run with
 * a passing report whose latency comes from the candidate's source (a Triton kernel 0.5-0.9 ms,
 * anything else 1.0-1.1 ms; eager 1.0 ms), so the service's own searches, judging, storage,
 * warm start and the suite's results and resumption run for real without a GPU. The GPU run is
 * on the device (bench/kernelbench/RESULTS.md).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSuiteResults } from '../../src/api/kernelbench-suite.js';
import { BIN, envFor } from '../support/cli.js';
import { STAND_IN_FINGERPRINT, harnessResultLine, passingReportLine } from '../support/gpu.js';

const FINGERPRINT = { ...STAND_IN_FINGERPRINT, name: 'Stand-in GPU' };

/** A passing harness report whose candidate median is the text MS, and eager 1 ms unless skipped. */
const reportTemplate = (withReference: boolean): string =>
  `${passingReportLine(FINGERPRINT, 777.125, withReference ? 1 : null).replaceAll('777.125', 'MS')}\n`;

let dir: string;
let bin: string;
const env = () => ({ ...envFor(dir), SKB_TARGETS_FILE: join(dir, 'targets.json') });
const run = (args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: env(), maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skb-kernelbench-cli-'));
  bin = await mkdtemp(join(tmpdir(), 'skb-kernelbench-python-'));
  await writeFile(join(bin, 'with-reference.txt'), reportTemplate(true));
  await writeFile(join(bin, 'without-reference.txt'), reportTemplate(false));
  await writeFile(join(bin, 'probe.txt'), `${harnessResultLine({ fingerprint: FINGERPRINT })}\n`);
  const recognized = JSON.stringify({ operation: { kind: 'gemm', dims: { M: 64, N: 64, K: 64 }, dtype: 'f32' } });
  const script = [
    '#!/bin/sh',
    `case " $* " in`,
    `  *" recognize.py "*) echo 'SKB_RECOGNIZED ${recognized}' ;;`,
    `  *" --candidate "*)`,
    '    sum=$(cksum < candidate.py | cut -d" " -f1)',
    `    if grep -q "triton.jit" candidate.py; then ms=$(awk -v s="$sum" 'BEGIN { printf "%.4f", 0.5 + (s % 400) / 1000 }')`,
    `    else ms=$(awk -v s="$sum" 'BEGIN { printf "%.4f", 1.0 + (s % 100) / 1000 }'); fi`,
    `    case " $* " in *" --skip-reference-timing "*) t=without-reference ;; *) t=with-reference ;; esac`,
    `    sed "s/MS/$ms/g" '${bin}'/$t.txt ;;`,
    `  *) cat '${bin}/probe.txt' ;;`,
    'esac',
  ];
  await writeFile(join(bin, 'python'), `${script.join('\n')}\n`, { mode: 0o755 });
  await chmod(bin, 0o755);
  const target = {
    id: 'gpu',
    description: 'A stand-in GPU: its interpreter answers every harness run with a prepared report.',
    executor: { kind: 'local' },
    toolchain: { kind: 'kernelbench', python: join(bin, 'python'), warmWorkers: false },
    sandbox: { readOnlyPaths: [bin] },
  };
  await writeFile(join(dir, 'targets.json'), JSON.stringify({ targets: [target] }));
  await writeFile(join(dir, 'p1.py'), '# problem one\n');
  await writeFile(join(dir, 'p2.py'), '# problem two\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(bin, { recursive: true, force: true });
});

describe('skb kernelbench through the service', () => {
  let first: Awaited<ReturnType<typeof run>>;

  it('times eager and torch.compile, searches each problem cold and warm, and says what each search ended on', async () => {
    first = await run(['kernelbench', 'p1.py', 'p2.py', '--target', 'gpu', '--budget', '4', '--out', 'res.json']);
    expect(first.code, first.stderr).toBe(0);
    const results = parseSuiteResults(await readFile(join(dir, 'res.json'), 'utf8'));
    expect(results.problems.map((p) => p.file)).toEqual(['p1.py', 'p2.py']);
    for (const p of results.problems) {
      expect(p.error).toBeNull();
      expect(p.eagerMs).toBe(1);
      expect(p.compileMs).toBeGreaterThanOrEqual(1);
      expect(p.operation).toMatchObject({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
      for (const search of [p.cold!, p.warm!]) {
        expect(search).toMatchObject({ status: 'finished', samples: 4, failedSamples: {} });
        // Every Triton kernel of the stand-in beats everything else, so each search ends on one.
        expect(search.bestMs).toBeLessThan(search.baselineMs!);
        expect(search.best).toMatchObject({ sample: expect.any(Number), knobs: { impl: 'triton' } });
        expect(search.scheduleId).toMatch(/^sch_/);
      }
    }
    expect(results.problems[1]!.warm!.seeds).toBeGreaterThan(0);
    const ended = first.stdout.split('What each search ended on:\n')[1]!.trim().split('\n');
    expect(ended).toHaveLength(4);
    for (const line of ended)
      expect(line.trim()).toMatch(
        /^p[12]\.py (cold|warm): sample \d+ \((cuda|seed)\.[a-z_]+\): impl=triton .*block_m=\d+/,
      );
  }, 120_000);

  it('runs nothing again for the same files, target and budget, and prints the same table', async () => {
    const before = await readFile(join(dir, 'res.json'), 'utf8');
    const again = await run(['kernelbench', 'p1.py', 'p2.py', '--target', 'gpu', '--budget', '4', '--out', 'res.json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/search, budget/);
    expect(await readFile(join(dir, 'res.json'), 'utf8')).toBe(before);
    expect(again.stdout).toBe(first.stdout);
  }, 60_000);
});
