/**
 * Warm start on the command line: `skb optimize` stores a schedule, a later default (warm) run on
 * a nearby shape prints its seeds, `--cold` prints none, `skb search ID` prints the same seeds and
 * `skb schedule ID` the reuse. `node bin/skb.js` in child processes over a real libSQL file and real
 * gcc-compiled candidates. Runs the compiled dist/: run `npm run build` before this file alone.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, skb } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SETTINGS = ['--budget', '6', '--beam', '2', '--plans', '2', '--impls', '1', '--seed', '4'];
const field = (stdout: string, name: string) => new RegExp(`^${name}\\s{2,}(.+)$`, 'm').exec(stdout)?.[1];
/** The rows under the "Seeds" heading: SEED TIER DISTANCE OUTCOME GAIN. */
function seedRows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Seeds ('));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trim()) break;
    rows.push(line.trim().split(/\s{2,}/));
  }
  return rows;
}

let dir: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'api', 'cli', 'schedule-command.js')))
    throw new Error('dist/ is missing or old: run `npm run build` before the CLI tests');
  dir = mkdtempSync(join(tmpdir(), 'skb-warm-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('skb optimize with and without warm start', () => {
  let firstSchedule: string;
  let warmSearch: string;
  let warmSeeds: string[][];

  it('a first run finds nothing to seed from and prints the schedule it stored', async () => {
    const run = await skb(['optimize', '--op', 'gemm', '--shape', 'M=48,N=48,K=48', ...SETTINGS], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(field(run.stdout, 'warm start')).toBe(
      'no seed found (at most 3 from exact,structure,similar,transfer, guided share 0.5)',
    );
    expect(seedRows(run.stdout)).toEqual([]);
    const schedule = field(run.stdout, 'schedule');
    expect(schedule, run.stdout).toMatch(/^sch_[0-9a-f]{24}$/);
    firstSchedule = schedule!;
  });

  it('--cold on a nearby shape prints no seeds', async () => {
    const run = await skb(['optimize', '--op', 'gemm', '--shape', 'M=48,N=48,K=64', ...SETTINGS, '--cold'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(field(run.stdout, 'warm start')).toBe('off (ran cold)');
    expect(run.stdout).not.toMatch(/^Seeds \(/m);
    expect(field(run.stdout, 'schedule')).toMatch(/^(sch_[0-9a-f]{24}|none stored: .+)$/);
  });

  it('the default (warm) run on the same shape prints its seeds: schedule, tier, distance, outcome, gain', async () => {
    const run = await skb(
      [
        'optimize',
        '--op',
        'gemm',
        '--shape',
        'M=48,N=48,K=64',
        ...SETTINGS,
        '--seeds',
        '2',
        '--tiers',
        'structure,similar',
        '--guided-share',
        '0.5',
      ],
      dir,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(field(run.stdout, 'warm start')).toMatch(
      /^[12] seeds? \(at most 2 from structure,similar, guided share 0\.5\)$/,
    );
    warmSearch = /^search\s+(\S+) \(finished\)$/m.exec(run.stdout)![1]!;
    warmSeeds = seedRows(run.stdout);
    const fromFirst = warmSeeds.find((row) => row[0] === firstSchedule);
    expect(fromFirst, run.stdout).toBeDefined();
    const [, tier, distance, outcome, gain] = fromFirst!;
    expect(tier).toBe('structure');
    expect(Number(distance)).toBeGreaterThan(0);
    expect(['replayed', 'failed', 'improved', 'not_improved']).toContain(outcome);
    expect(gain).toMatch(/^(-|\d+\.\d\dx)$/);
    expect(field(run.stdout, 'schedule')).toMatch(/^(sch_[0-9a-f]{24}|none stored: .+)$/);
  });

  it('skb search ID prints the same seeds', async () => {
    const run = await skb(['search', warmSearch], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(seedRows(run.stdout)).toEqual(warmSeeds);
  });

  it('skb schedule ID prints the first schedule with the reuse by the warm search', async () => {
    const run = await skb(['schedule', firstSchedule], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(field(run.stdout, 'operation')).toBe('gemm K=48,M=48,N=48 f32');
    expect(field(run.stdout, 'speedup')).toMatch(/^\d+\.\d\dx$/);
    expect(run.stdout).toMatch(/^STEP\s+OPTION\s+LATENCY\s+REPLAYED FROM\s+PLAN$/m);
    // A cold search's schedule descends from no other.
    expect(field(run.stdout, 'derived from')).toBe('none (measured from its own search alone)');
    const reuse = run.stdout.split('\n').find((l) => l.startsWith(warmSearch));
    expect(reuse, run.stdout).toBeDefined();
    const seed = warmSeeds.find((row) => row[0] === firstSchedule)!;
    expect(
      reuse!
        .trim()
        .split(/\s{2,}/)
        .slice(1, 5),
    ).toEqual(seed.slice(1, 5));
  });

  it('refuses warm-start flags that make no sense, before anything runs', async () => {
    const cold = await skb(['optimize', '--op', 'gemm', '--shape', 'M=48,N=48,K=48', '--cold', '--seeds', '2'], dir);
    expect(cold.code).toBe(2);
    expect(cold.stderr).toMatch(/--cold turns warm start off: drop --seeds/);
    const share = await skb(['optimize', '--op', 'gemm', '--shape', 'M=48,N=48,K=48', '--guided-share', '2'], dir);
    expect(share.code).toBe(2);
    expect(share.stderr).toMatch(/warmStart\.guidedShare is a share from 0/);
    const tier = await skb(['optimize', '--op', 'gemm', '--shape', 'M=48,N=48,K=48', '--tiers', 'exact,nearby'], dir);
    expect(tier.code).toBe(2);
    expect(tier.stderr).toMatch(/unknown tier "nearby" in warmStart\.tiers: use exact, structure, similar, transfer/);
    const missing = await skb(['schedule', 'sch_000000000000000000000000'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No schedule sch_000000000000000000000000/);
  });
});
