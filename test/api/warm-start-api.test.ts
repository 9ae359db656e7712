/**
 * Warm start through the API: a first search stores its schedule, a second one on a nearby shape
 * is seeded by it (Search.seeds with tier, distance and outcome; the replay of the seed in its
 * tree; Schedule.reuses on the seed), a cold one lists no seeds, and bad warm-start settings are
 * refused before anything starts. Real server, real libSQL file, real gcc-compiled candidates,
 * the template planner.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSearchServer, type SearchTestServer } from './search-server.js';

const START = `mutation Start($task: TaskInput!, $config: SearchConfigInput) {
  startSearch(task: $task, config: $config) { id status config { warmStart { enabled seeds tiers guidedShare } } }
}`;

const SEARCH = `query One($id: ID!) {
  search(id: $id) {
    id status scheduleId message error baselineLatencyMs bestCandidateId
    schedule { id steps { optionId plan } }
    seeds { scheduleId schedule { id } tier distance reuseId outcome gain }
    candidates { id parentId iteration optionId correct latencyMs forcedFrom { scheduleId stepIndex } }
  }
}`;

const REUSES = `query S($id: ID!) { schedule(id: $id) { id steps { optionId } reuses { id searchId tier distance outcome gain } } }`;

const gemm = (m: number, n: number, k: number) => ({
  kind: 'gemm',
  dims: [
    { name: 'M', size: m },
    { name: 'N', size: n },
    { name: 'K', size: k },
  ],
});

/** Small and deterministic: the template planner, 8 samples. */
const SMALL = { budget: 8, beamWidth: 2, plansPerCandidate: 2, implementationsPerPlan: 1, seed: 5 };

interface Seed {
  scheduleId: string;
  schedule: { id: string } | null;
  tier: string;
  distance: number;
  reuseId: string;
  outcome: string;
  gain: number | null;
}

interface CandidateView {
  id: string;
  parentId: string | null;
  iteration: number;
  optionId: string | null;
  correct: boolean;
  latencyMs: number | null;
  forcedFrom: { scheduleId: string; stepIndex: number } | null;
}

interface SearchView {
  id: string;
  status: string;
  scheduleId: string | null;
  message: string | null;
  error: string | null;
  baselineLatencyMs: number | null;
  bestCandidateId: string | null;
  schedule: { id: string; steps: Array<{ optionId: string; plan: string }> } | null;
  seeds: Seed[];
  candidates: CandidateView[];
}

/** The seed schedule a candidate follows: the nearest forcedFrom on its path to the root, itself included. */
function seedOf(candidates: CandidateView[], id: string): string | null {
  const byId = new Map(candidates.map((c) => [c.id, c]));
  for (let c = byId.get(id); c; c = c.parentId ? byId.get(c.parentId) : undefined)
    if (c.forcedFrom) return c.forcedFrom.scheduleId;
  return null;
}

let server: SearchTestServer;

beforeAll(async () => {
  server = await startSearchServer();
});

afterAll(async () => {
  await server?.stop();
});

async function runSearch(operation: unknown, config: Record<string, unknown>): Promise<SearchView> {
  const started = await server.gql(START, { task: { operation, target: 'local' }, config });
  expect(started.body.errors).toBeUndefined();
  return searchOver((started.body.data!.startSearch as { id: string }).id);
}

/** The search once it is over (neither queued nor running); gives up just before the 60 s test timeout would. */
function searchOver(id: string): Promise<SearchView> {
  return vi.waitFor(
    async () => {
      const reply = await server.gql(SEARCH, { id });
      expect(reply.body.errors).toBeUndefined();
      const search = reply.body.data!.search as SearchView;
      expect(['queued', 'running'], 'the search is not over yet').not.toContain(search.status);
      return search;
    },
    { timeout: 55_000, interval: 200 },
  );
}

describe('warm start through the API', () => {
  let first: SearchView;

  it('a first search (nothing stored yet) runs cold, finishes and stores its schedule', async () => {
    first = await runSearch(gemm(64, 64, 64), SMALL);
    expect(first.status, first.error ?? '').toBe('finished');
    expect(first.seeds).toEqual([]);
    expect(first.schedule, first.message ?? '').not.toBeNull();
    expect(first.schedule!.id).toBe(first.scheduleId);
    const stored = await server.gql(REUSES, { id: first.scheduleId });
    const schedule = stored.body.data!.schedule as {
      id: string;
      steps: Array<{ optionId: string }>;
      reuses: unknown[];
    };
    expect(schedule.steps.map((s) => s.optionId)).toEqual(first.schedule!.steps.map((s) => s.optionId));
    expect(schedule.steps.length).toBeGreaterThan(0);
    expect(schedule.reuses).toEqual([]);
  });

  it('a second search on a nearby shape lists its seed, and the seed schedule shows the reuse', async () => {
    const second = await runSearch(gemm(64, 64, 96), { ...SMALL, warmStart: { seeds: 2 } });
    expect(second.status, second.error ?? '').toBe('finished');
    expect(second.seeds.length).toBeGreaterThanOrEqual(1);
    expect(second.seeds.length).toBeLessThanOrEqual(2);
    const seed = second.seeds.find((s) => s.scheduleId === first.scheduleId);
    expect(seed, JSON.stringify(second.seeds)).toBeDefined();
    // Same structure, other sizes: a structure-tier match at a positive shape distance.
    expect(seed!.tier).toBe('structure');
    expect(seed!.distance).toBeGreaterThan(0);
    expect(seed!.schedule).toEqual({ id: first.scheduleId });

    // What the seed did: iteration 1 replays its whole sequence on the baseline, in one sample.
    const root = second.candidates.find((c) => c.parentId === null)!;
    const replays = second.candidates.filter((c) => c.optionId === 'seed.replay');
    expect(replays).toEqual([
      expect.objectContaining({
        parentId: root.id,
        iteration: 1,
        forcedFrom: { scheduleId: first.scheduleId, stepIndex: first.schedule!.steps.length },
      }),
    ]);
    // The seed's descendants (the replay, its forced steps and what grew from them) beat the baseline:
    // the outcome says whether the best candidate is one of them, the gain how much the fastest won.
    const fromSeed = second.candidates.filter(
      (c) => c.parentId !== null && c.correct && seedOf(second.candidates, c.id) === first.scheduleId,
    );
    expect(fromSeed.length, JSON.stringify(second.candidates)).toBeGreaterThan(0);
    const fastest = Math.min(...fromSeed.map((c) => c.latencyMs!));
    expect(fastest).toBeLessThan(second.baselineLatencyMs!);
    expect(seed!.outcome).toBe(
      seedOf(second.candidates, second.bestCandidateId!) === first.scheduleId ? 'improved' : 'replayed',
    );
    expect(seed!.gain).toBeCloseTo(second.baselineLatencyMs! / fastest, 9);

    // Outcomes are written in the transaction that finishes the search: final once it reads finished.
    const reply = await server.gql(REUSES, { id: first.scheduleId });
    const reuses = (reply.body.data!.schedule as { reuses: unknown[] }).reuses;
    expect(reuses).toEqual([
      {
        id: seed!.reuseId,
        searchId: second.id,
        tier: seed!.tier,
        distance: seed!.distance,
        outcome: seed!.outcome,
        gain: seed!.gain,
      },
    ]);
  });

  it('warmStart { enabled: false } runs cold: no seeds, and no new reuse of the stored schedule', async () => {
    const before = (await server.gql(REUSES, { id: first.scheduleId })).body.data!.schedule as { reuses: unknown[] };
    const started = await server.gql(START, {
      task: { operation: gemm(96, 96, 96), target: 'local' },
      config: { ...SMALL, warmStart: { enabled: false } },
    });
    const { id, config } = started.body.data!.startSearch as {
      id: string;
      config: { warmStart: { enabled: boolean } };
    };
    expect(config.warmStart.enabled).toBe(false);
    const cold = await searchOver(id);
    expect(cold.status, cold.error ?? '').toBe('finished');
    expect(cold.seeds).toEqual([]);
    const after = (await server.gql(REUSES, { id: first.scheduleId })).body.data!.schedule as { reuses: unknown[] };
    expect(after.reuses).toHaveLength(before.reuses.length);
  });

  it('reports the warm-start settings a search runs with, defaults filled in', async () => {
    const reply = await server.gql(START, {
      task: { operation: gemm(32, 32, 32), target: 'local' },
      config: { budget: 1, warmStart: { tiers: ['exact'], guidedShare: 0.25 } },
    });
    expect(reply.body.errors).toBeUndefined();
    const { id, config } = reply.body.data!.startSearch as { id: string; config: { warmStart: unknown } };
    expect(config.warmStart).toEqual({ enabled: true, seeds: 3, tiers: ['exact'], guidedShare: 0.25 });
    await server.gql(`mutation($id: ID!) { cancelSearch(id: $id) { status } }`, { id });
  });
});

describe('bad warm-start settings', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a negative seed count', { seeds: -1 }, /warmStart\.seeds is a whole number from 0 to 16/],
    ['too many seeds', { seeds: 17 }, /warmStart\.seeds is at most 16/],
    ['a guided share above 1', { guidedShare: 2 }, /warmStart\.guidedShare is a share from 0 .* to 1/],
    ['an empty tier list', { tiers: [] }, /warmStart\.tiers needs at least one of exact, structure, similar, transfer/],
    ['a repeated tier', { tiers: ['exact', 'exact'] }, /warmStart\.tiers lists a tier twice/],
  ];

  it.each(cases)('refuses %s with BAD_INPUT and starts nothing', async (_name, warmStart, message) => {
    const before = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    const reply = await server.gql(START, {
      task: { operation: gemm(32, 32, 32), target: 'local' },
      config: { budget: 1, warmStart },
    });
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(/^Invalid warm start settings: /);
    expect(reply.body.errors?.[0]?.message).toMatch(message);
    const after = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    expect(after.totalCount).toBe(before.totalCount);
  });

  it('refuses an unknown tier: the Tier enum rejects it (HTTP 400) before the resolver, and nothing starts', async () => {
    const before = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    const reply = await server.gql(START, {
      task: { operation: gemm(32, 32, 32), target: 'local' },
      config: { budget: 1, warmStart: { tiers: ['nearby'] } },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.message).toMatch(/"nearby" does not exist in "Tier" enum/);
    const after = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    expect(after.totalCount).toBe(before.totalCount);
  });
});
