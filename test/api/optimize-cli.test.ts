/**
 * `skb optimize`, `skb searches` and `skb search` as users run them: `node bin/skb.js ...` in child
 * processes, over a real libSQL file, measuring real gcc-compiled candidates on this machine with
 * the default (template) planner. Runs the compiled dist/ (`npm test` builds it first; run
 * `npm run build` before running this file alone).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, envFor, skb } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const SMALL = [
  '--op',
  'gemm',
  '--shape',
  'M=48,N=48,K=48',
  '--budget',
  '4',
  '--beam',
  '1',
  '--plans',
  '2',
  '--impls',
  '1',
  '--seed',
  '3',
];

let dir: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'api', 'cli', 'optimize-command.js')))
    throw new Error('dist/ is missing or old: run `npm run build` before the CLI tests');
  // An empty working directory: no data/targets.json, so the built-in "local" target (this machine, gcc).
  dir = mkdtempSync(join(tmpdir(), 'skb-optimize-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('skb optimize', () => {
  let searchId: string;

  it('runs a small gemm search and prints baseline, best, speedup, samples and the plan sequence', async () => {
    const run = await skb(['optimize', ...SMALL], dir);
    expect(run.stderr).not.toMatch(/unexpected error/);
    expect(run.code, run.stderr).toBe(0);
    const field = (name: string) => new RegExp(`^${name}\\s+(.+)$`, 'm').exec(run.stdout)?.[1];
    const id = /^search\s+(\S+) \(finished\)$/m.exec(run.stdout)?.[1];
    expect(id).toBeTruthy();
    searchId = id!;
    const baseline = Number(/^([\d.e+-]+) ms$/.exec(field('baseline') ?? '')?.[1]);
    const best = Number(/^([\d.e+-]+) ms$/.exec(field('best') ?? '')?.[1]);
    expect(baseline).toBeGreaterThan(0);
    expect(best).toBeGreaterThan(0);
    expect(best).toBeLessThanOrEqual(baseline);
    expect(field('speedup')).toMatch(/^\d+\.\d\dx$/);
    const samples = /^(\d+)\/4 \(\d+ failed\)$/.exec(field('samples') ?? '');
    expect(samples).not.toBeNull();
    expect(Number(samples![1])).toBeLessThanOrEqual(4);
    expect(field('operation')).toMatch(/^gemm M=48,N=48,K=48 f32 on local \(t-[0-9a-f]{16}\)$/);
    // Either the steps table or the sentence that nothing beat the baseline.
    expect(run.stdout).toMatch(/^STEP\s+OPTION\s+LATENCY\s+PLAN$|^No step beat the baseline/m);
    // Progress went to stderr, not into the summary.
    expect(run.stderr).toMatch(/^started: |^finished: /m);
  });

  it('shows the same search with skb search ID, and lists it with skb searches', async () => {
    const shown = await skb(['search', searchId], dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^search\\s+${searchId} \\(finished\\)$`, 'm'));
    const listed = await skb(['searches', '--status', 'finished'], dir);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^${searchId}\\s+finished\\s+gemm M=48,N=48,K=48 f32\\s+local\\s+\\d+/4`, 'm'),
    );
  });

  it('prints the search, its steps and its tree as JSON with --json', async () => {
    const run = await skb(['optimize', ...SMALL, '--json', '--explore', '0.5', '--escape-factor', '1'], dir);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      search: {
        status: string;
        samplesUsed: number;
        config: { budget: number; planner: string; explore: number; escapeFactor: number };
      };
      steps: unknown[];
      candidates: Array<{ sample: number }>;
    };
    expect(out.search).toMatchObject({
      status: 'finished',
      config: { budget: 4, planner: 'template', explore: 0.5, escapeFactor: 1 },
    });
    expect(out.search.samplesUsed).toBeLessThanOrEqual(4);
    expect(out.candidates.filter((c) => c.sample > 0)).toHaveLength(out.search.samplesUsed);
    expect(Array.isArray(out.steps)).toBe(true);
  });

  it('refuses bad flags with exit code 2 and a sentence that says what to change', async () => {
    const zero = await skb(['optimize', '--op', 'gemm', '--shape', 'M=8,N=8,K=8', '--budget', '0'], dir);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/budget/);
    const planner = await skb(['optimize', '--op', 'gemm', '--shape', 'M=8,N=8,K=8', '--planner', 'oracle'], dir);
    expect(planner.code).toBe(2);
    expect(planner.stderr).toMatch(/planner/);
    const target = await skb(['optimize', '--op', 'gemm', '--shape', 'M=8,N=8,K=8', '--target', 'nowhere'], dir);
    expect(target.code).toBe(2);
    expect(target.stderr).toMatch(/Unknown target "nowhere".*local/);
    const shape = await skb(['optimize', '--op', 'gemm', '--shape', 'M=eight'], dir);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toMatch(/NAME=INTEGER/);
    const explore = await skb(['optimize', '--op', 'gemm', '--shape', 'M=8,N=8,K=8', '--explore', '0'], dir);
    expect(explore.code).toBe(2);
    expect(explore.stderr).toMatch(/explore/);
    const factor = await skb(['optimize', '--op', 'gemm', '--shape', 'M=8,N=8,K=8', '--escape-factor', 'lots'], dir);
    expect(factor.code).toBe(2);
    expect(factor.stderr).toMatch(/--escape-factor must be a number from 1 to 100, not "lots"/);
    const llm = await skb(['optimize', '--op', 'gemm', '--shape', 'M=8,N=8,K=8', '--planner', 'llm'], dir);
    expect(llm.code).toBe(1);
    expect(llm.stderr).toMatch(/SKB_OPENAI_BASE_URL/);
  });

  it('takes a --problem file instead of --op, refusing what cannot work with a sentence that says why', async () => {
    const problem = join(dir, 'problem.py');
    writeFileSync(problem, 'import torch\nclass Model(torch.nn.Module):\n    pass\n');
    const mixed = await skb(['optimize', '--problem', problem, '--shape', 'M=8,N=8,K=8'], dir);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--shape describe an --op: give --op with them, or drop them/);
    const missing = await skb(['optimize', '--problem', join(dir, 'nowhere.py')], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--problem .*nowhere\.py: cannot read it/);
    // The built-in target compiles C: it has no problem files to recognise an operation from.
    const local = await skb(['optimize', '--problem', problem], dir);
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/Target local \(a c toolchain\) does not read problem files: give the operation/);
    const neither = await skb(['optimize', '--budget', '4'], dir);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--op KIND is required \(or a --problem FILE/);
  });

  it('cancels the search on Ctrl-C, prints what it found and exits 130', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'optimize', '--op', 'gemm', '--shape', 'M=96,N=96,K=96', '--budget', '500', '--iterations', '60'],
      { cwd: dir, env: envFor(dir) },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const running = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        // Interrupt once a sample has been measured, i.e. mid-search.
        if (/^(new best|iteration): /m.test(stderr)) resolve();
      });
    });
    await running;
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('cancelling the search');
    expect(stdout).toMatch(/^search\s+\S+ \(cancelled\)$/m);
    const samples = /^samples\s+(\d+)\/500/m.exec(stdout);
    expect(Number(samples?.[1])).toBeLessThan(500);
  });
});

describe('skb serve', () => {
  /** Starts `skb serve` on a free port and resolves with its URL once it listens. */
  async function serve(): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stderr: () => string }> {
    const child = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: { ...envFor(dir), SKB_PORT: '0' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+) /.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('close', (code) => reject(new Error(`skb serve exited with ${code}: ${stderr}`)));
    });
    return { child, url, stderr: () => stderr };
  }

  /** The token `skb serve` generated into the data directory, read as a user would: `skb token`. */
  let token = '';
  async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as {
      data?: Record<string, { id: string; status: string; samplesUsed: number }>;
      errors?: unknown[];
    };
  }

  async function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    child.kill('SIGTERM');
    return closed;
  }

  it('resumes a search that was running when the service stopped', async () => {
    const first = await serve();
    const printed = await skb(['token'], dir);
    expect(printed.code, printed.stderr).toBe(0);
    token = printed.stdout.trim();
    const started = await gql(
      first.url,
      `mutation { startSearch(task: { operation: { kind: "gemm", dims: [{ name: "M", size: 96 }, { name: "N", size: 96 }, { name: "K", size: 96 }] }, target: "local" }, config: { budget: 400, iterations: 50 }) { id status } }`,
    );
    expect(started.errors).toBeUndefined();
    const id = started.data!.startSearch!.id;
    const SEARCH = `query($id: ID!) { search(id: $id) { id status samplesUsed } }`;
    const before = await vi.waitFor(
      async () => {
        const { samplesUsed } = (await gql(first.url, SEARCH, { id })).data!.search!;
        expect(samplesUsed, 'samples spent before the stop').toBeGreaterThan(0);
        return samplesUsed;
      },
      { timeout: 25_000, interval: 200 },
    );
    expect(await stop(first.child)).toBe(0);

    const second = await serve();
    try {
      expect(second.stderr()).toContain(`resumed 1 interrupted search(es): ${id}`);
      // The restarted service kept the generated token: the cancel below is accepted with it.
      const now = (await gql(second.url, SEARCH, { id })).data!.search!;
      expect(now.status).toBe('running');
      await expect
        .poll(async () => (await gql(second.url, SEARCH, { id })).data!.search!.samplesUsed, {
          timeout: 25_000,
          interval: 200,
          message: 'samples spent after the resume',
        })
        .toBeGreaterThan(before);
      const cancelled = await gql(second.url, `mutation($id: ID!) { cancelSearch(id: $id) { status } }`, { id });
      expect(cancelled.errors).toBeUndefined();
    } finally {
      await stop(second.child);
    }
  });
});
