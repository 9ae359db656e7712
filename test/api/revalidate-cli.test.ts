/**
 * Evidence and revalidation through the real binary: `skb optimize` stores a schedule with its
 * evidence, a copy whose final code now answers wrongly is added, `skb revalidate` re-measures
 * both on this machine (real gcc, real timing), flags the wrong one, `skb similar` ranks it lower
 * and says why, and `skb schedule` shows the re-measurements. Runs the compiled dist/: run
 * `npm run build` before this file alone.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/api/config.js';
import { openConfiguredKnowledgeBase } from '../../src/api/configured-knowledge-base.js';
import { envFor, ROOT, skb } from '../support/cli.js';

const field = (stdout: string, name: string) => new RegExp(`^${name}\\s{2,}(.+)$`, 'm').exec(stdout)?.[1];

/** A gemm kernel that compiles and runs but leaves C at zero: a wrong answer. */
const WRONG_GEMM = `void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
  (void)K; (void)A; (void)B; (void)bias;
  for (int i = 0; i < M * N; i++) C[i] = 0.0f;
}
`;

let dir: string;
let good: string;
let wrong: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'api', 'cli', 'revalidate-command.js')))
    throw new Error('dist/ is missing or old: run `npm run build` before the CLI tests');
  dir = mkdtempSync(join(tmpdir(), 'skb-revalidate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('skb revalidate', () => {
  it('a search stores its schedule with the evidence it was judged by', async () => {
    const run = await skb(
      ['optimize', '--op', 'gemm', '--shape', 'M=48,N=48,K=48', '--budget', '4', '--seed', '3', '--cold'],
      dir,
    );
    expect(run.code, run.stderr).toBe(0);
    good = field(run.stdout, 'schedule')!;
    expect(good, run.stdout).toMatch(/^sch_[0-9a-f]{24}$/);
    const shown = await skb(['schedule', good], dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(field(shown.stdout, 'toolchain')).toMatch(/^compiler \S+/);
    expect(field(shown.stdout, 'correctness')).toMatch(/^2 trials, largest error \S+ of the tolerance, reference f64/);
    expect(shown.stdout).toMatch(/^Revalidations: none/m);

    // The same schedule with final code that now answers wrongly (as if an upgrade broke it).
    const kb = await openConfiguredKnowledgeBase(loadConfig(envFor(dir), dir));
    try {
      const stored = (await kb.getSchedule(good))!;
      const { id: _id, contentHash: _hash, speedup: _speedup, ...content } = stored;
      const added = await kb.addSchedules([{ ...content, finalCode: WRONG_GEMM, createdAt: new Date().toISOString() }]);
      wrong = added.storedIds[0]!;
    } finally {
      await kb.close();
    }
  }, 300_000);

  it('re-measures both, flags the wrong answer with exit 3, and keeps both schedules as they were', async () => {
    const run = await skb(['revalidate', '--kind', 'gemm', '--slower-by', '1000'], dir);
    expect(run.code, run.stderr).toBe(3);
    const rows = run.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/));
    expect(rows.find((r) => r[0] === good)?.at(-1)).toBe('holds');
    expect(rows.find((r) => r[0] === wrong)?.at(-1)).toBe('incorrect');
    expect(run.stdout).toMatch(/2 re-measured on local: 1 hold, 1 flagged\./);
    const json = await skb(['revalidate', '--kind', 'gemm', '--slower-by', '1000', '--json'], dir);
    const records = JSON.parse(json.stdout) as Array<{ scheduleId: string; status: string; toolchain: object }>;
    expect(records.map((r) => [r.scheduleId, r.status]).sort()).toEqual(
      [
        [good, 'holds'],
        [wrong, 'incorrect'],
      ].sort(),
    );
    expect(records[0]!.toolchain).toHaveProperty('compiler');
    const shown = await skb(['schedule', wrong], dir);
    expect(shown.stdout).toMatch(/^Revalidations \(the final code measured again\):$/m);
    expect(shown.stdout.match(/ incorrect /g)?.length).toBe(2);
    expect(field(shown.stdout, 'schedule')).toBe(wrong);
  }, 300_000);

  it('ranks the flagged schedule below the one that holds, saying why', async () => {
    const run = await skb(['similar', '--op', 'gemm', '--shape', 'M=48,N=48,K=48', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const matches = JSON.parse(run.stdout) as Array<{ schedule: { id: string }; reason: string }>;
    expect(matches.map((m) => m.schedule.id)).toEqual([good, wrong]);
    expect(matches[0]!.reason).toMatch(/revalidated \d{4}-\d\d-\d\d: holds/);
    expect(matches[1]!.reason).toMatch(/revalidated \d{4}-\d\d-\d\d: incorrect/);
  });

  it('refuses bad flags before measuring anything', async () => {
    const bad = await skb(['revalidate', '--slower-by', 'fast'], dir);
    expect(bad.code).toBe(2);
    const unknown = await skb(['revalidate', '--target', 'nowhere'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown target "nowhere"/);
  });
});
