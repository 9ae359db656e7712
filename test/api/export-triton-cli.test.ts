/**
 * `skb export --format triton-configs` as users run it: the built CLI (dist/, `npm run build`
 * first when running this file alone) over a knowledge base holding Triton schedules of a GPU
 * target beside CPU schedules.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConfiguredKnowledgeBase } from '../../src/api/configured-knowledge-base.js';
import { toSchedule } from '../../src/schedules/index.js';
import { ROOT, skb } from '../support/cli.js';
import { makeContent, makeCpuTarget, makeGpuTarget } from '../support/fixtures.js';
import { testConfig } from '../support/server.js';
import { tritonExamples } from '../support/triton-schedules.js';
import { hasPython } from '../support/py-compile.js';

const gpu = makeGpuTarget('h100');
const cpu = makeCpuTarget('local');
const examples = tritonExamples(gpu);
const onCpu = makeContent({ target: cpu, dims: { M: 4096, N: 4096, K: 4096 } });
const NEAR_BIG = JSON.stringify({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'bf16' });

let dir: string;
const dirs: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'api', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` before the CLI tests');
  dir = mkdtempSync(join(tmpdir(), 'skb-cli-triton-'));
  dirs.push(dir);
  const kb = await openConfiguredKnowledgeBase(testConfig(dir));
  await kb.addSchedules([...Object.values(examples), onCpu], [gpu, cpu]);
  await kb.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const configLines = (text: string) => text.split('\n').filter((l) => l.trim().startsWith('triton.Config('));

describe('skb export --format triton-configs', () => {
  it('prints the Triton configs nearest an operation, the exact shape first, as Python', async () => {
    const run = await skb(
      ['export', '--format', 'triton-configs', '--similar-to-op', NEAR_BIG, '--target', gpu.key, '--k', '10'],
      dir,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = configLines(run.stdout);
    expect(lines[0]?.trim()).toBe(
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 256, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=8, num_stages=4),",
    );
    // big, mid (its twin folded in) and batched; the cuBLAS schedule and the CPU one are not Triton configs.
    expect(lines).toHaveLength(3);
    expect(run.stdout).toContain(`# ${toSchedule(examples.big).id}: gemm M=4096 N=4096 K=4096 bf16`);
    expect(run.stdout).toMatch(/exact match\n/);
    expect(run.stdout).toContain(`# skipped ${toSchedule(examples.backToCublas).id}: its best kernel is torch.matmul`);
    expect(run.stdout).not.toContain(toSchedule(onCpu).id);
    if (hasPython) {
      const parsed = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(sys.stdin.read())'], {
        input: run.stdout,
        encoding: 'utf8',
      });
      expect(parsed.stderr).toBe('');
    }
  });

  it('writes the same text with --out and says how many configs it wrote', async () => {
    const args = ['export', '--format', 'triton-configs', '--similar-to-op', NEAR_BIG, '--target', gpu.key];
    const toStdout = await skb(args, dir);
    const file = join(dir, 'configs.py');
    const toFile = await skb([...args, '--out', file], dir);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout).toBe('');
    expect(toFile.stderr).toBe(`wrote 3 Triton config(s) to ${file}\n`);
    expect(readFileSync(file, 'utf8')).toBe(toStdout.stdout);
  });

  it('without --similar-to-op exports every Triton schedule the filter keeps, by measured speedup', async () => {
    const run = await skb(['export', '--format', 'triton-configs', '--kind', 'gemm'], dir);
    expect(run.code).toBe(0);
    expect(configLines(run.stdout).map((l) => l.trim())).toEqual([
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 128, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=4, num_stages=3),",
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 256, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=8, num_stages=4),",
    ]);
    expect(run.stdout).toMatch(/measured speedup, highest first/);
  });

  it('fails with exit 1 and says so when no schedule qualifies', async () => {
    const run = await skb(['export', '--format', 'triton-configs', '--target', cpu.key], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /skb export: None of the 1 matching schedule\(s\) is a Triton matmul schedule \(it was measured on a CPU target\), so there are no Triton configs to print/,
    );
  });

  it('refuses an unknown --format naming the valid ones; jsonl is the default and unchanged', async () => {
    const bad = await skb(['export', '--format', 'yaml'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/skb export: --format must be one of jsonl, triton-configs, not "yaml"/);
    const plain = await skb(['export'], dir);
    const jsonl = await skb(['export', '--format', 'jsonl'], dir);
    expect(plain.code).toBe(0);
    expect(jsonl.stdout).toBe(plain.stdout);
    expect(plain.stdout.split('\n')[0]).toMatch(/"format"/);
    const help = await skb(['export', '--help'], dir);
    expect(help.stdout).toMatch(/--format F\s+jsonl \(default\) or triton-configs/);
  });
});
