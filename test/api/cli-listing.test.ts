/**
 * `skb schedules` and `skb similar` through the real binary (dist/; `npm run build` first when this
 * file runs alone), over a seeded libSQL file: the users' first question, answered as the
 * schedules and similarSchedules queries answer it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConfiguredKnowledgeBase } from '../../src/api/configured-knowledge-base.js';
import { skb } from '../support/cli.js';
import { testConfig } from '../support/server.js';
import { seed, type Seeded } from './seed.js';

let dir: string;
let data: Seeded;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skb-cli-list-'));
  const kb = await openConfiguredKnowledgeBase(testConfig(dir));
  data = await seed(kb);
  await kb.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('skb schedules', () => {
  it('filters by kind, target and dimension ranges, as a table and as JSON', async () => {
    const table = await skb(['schedules', '--kind', 'gemm', '--target', data.local.key, '--dims', 'M=100..256'], dir);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+OPERATION\s+TARGET\s+SPEEDUP\s+STEPS/);
    expect(rows.at(-1)).toBe('3 schedules match');
    for (const id of data.ids.gemms.slice(1, 4)) expect(table.stdout).toContain(id);
    expect(table.stdout).not.toContain(data.ids.gemms[0]);

    const json = await skb(['schedules', '--dims', 'M=..128,N=256', '--json'], dir);
    const body = JSON.parse(json.stdout) as { totalCount: number; schedules: Array<{ id: string; targetKey: string }> };
    // M 64 and 128 on the local target, the slower twin at M 64, and the other target's M 128.
    expect(body.totalCount).toBe(4);
    expect(body.schedules.map((s) => s.id).sort()).toEqual(
      [data.ids.gemms[0], data.ids.gemms[1], data.ids.slowerTwin, data.ids.foreign].sort(),
    );
  });

  it('--min-speedup and --first cut the list, saying when there is more', async () => {
    const fast = await skb(['schedules', '--min-speedup', '3', '--json'], dir);
    expect((JSON.parse(fast.stdout) as { schedules: Array<{ id: string }> }).schedules.map((s) => s.id)).toEqual([
      data.ids.conv,
    ]);
    const two = await skb(['schedules', '--first', '2'], dir);
    expect(two.stdout.trim().split('\n').at(-1)).toBe('8 schedules match (the first 2; --first N shows more)');
  });

  it('refuses bad flags with exit code 2 and the flag in the message', async () => {
    const reversed = await skb(['schedules', '--dims', 'M=512..64'], dir);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toMatch(/--dims: M=512\.\.64 has its minimum above its maximum/);
    const speed = await skb(['schedules', '--min-speedup', 'fast'], dir);
    expect(speed.code).toBe(2);
    expect(speed.stderr).toMatch(/--min-speedup must be a number/);
    const target = await skb(['schedules', '--target', 'nowhere'], dir);
    expect(target.code).toBe(1);
    expect(target.stderr).toMatch(/Unknown target "nowhere".*configured names: local/);
  });
});

describe('skb similar', () => {
  it('prints the matches with tier, distance, score and reason, best first, within the target family', async () => {
    const args = ['similar', '--op', 'gemm', '--shape', 'M=64,N=256,K=256', '--target', data.local.key];
    const table = await skb([...args, '--k', '4'], dir);
    expect(table.code).toBe(0);
    const [header, first, ...rest] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^TIER\s+DISTANCE\s+SCORE\s+SCHEDULE\s+OPERATION\s+SPEEDUP\s+REASON$/);
    expect(first).toMatch(/^exact\s+0\s/);
    expect(rest).toHaveLength(3);
    expect(table.stdout).not.toContain(data.ids.foreign);

    const json = await skb([...args, '--tiers', 'structure', '--json'], dir);
    const matches = JSON.parse(json.stdout) as Array<{
      tier: string;
      score: number;
      reason: string;
      schedule: { id: string };
    }>;
    expect(matches.length).toBeGreaterThan(0);
    expect(new Set(matches.map((m) => m.tier))).toEqual(new Set(['structure']));
    const scores = matches.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(matches.every((m) => m.reason.length > 0)).toBe(true);
  });

  it('needs --op and --shape, and names a bad tier', async () => {
    const missing = await skb(['similar', '--op', 'gemm'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/needs --op KIND and --shape/);
    const tier = await skb(['similar', '--op', 'gemm', '--shape', 'M=64,N=256,K=256', '--tiers', 'nearest'], dir);
    expect(tier.code).toBe(2);
    expect(tier.stderr).toMatch(/--tiers takes exact, structure, similar, transfer/);
  });
});
