/**
 * Warm start through the API: a first search stores its schedule, a second one on a nearby shape
 * is seeded by it (Search.seeds with tier, distance and outcome; Schedule.reuses on the seed), a
 * cold one lists no seeds, and bad warm-start settings are refused before anything starts. Real
 * server, real libSQL file, real gcc-compiled candidates, the template planner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSearchServer, type SearchTestServer } from './search-server.js';

const START = `mutation Start($task: TaskInput!, $config: SearchConfigInput) {
  startSearch(task: $task, config: $config) { id status config { warmStart { enabled seeds tiers guidedShare } } }
}`;

const SEARCH = `query One($id: ID!) {
  search(id: $id) {
    id status scheduleId message error
    schedule { id steps { optionId plan } }
    seeds { scheduleId schedule { id } tier distance reuseId outcome gain }
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

interface SearchView {
  id: string;
  status: string;
  scheduleId: string | null;
  message: string | null;
  error: string | null;
  schedule: { id: string; steps: Array<{ optionId: string; plan: string }> } | null;
  seeds: Seed[];
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
  const id = (started.body.data!.startSearch as { id: string }).id;
  for (;;) {
    const reply = await server.gql(SEARCH, { id });
    expect(reply.body.errors).toBeUndefined();
    const search = reply.body.data!.search as SearchView;
    if (search.status !== 'queued' && search.status !== 'running') return search;
    await new Promise((r) => setTimeout(r, 200));
  }
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
    const schedule = stored.body.data!.schedule as { id: string; steps: Array<{ optionId: string }>; reuses: unknown[] };
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
    expect(['replayed', 'failed', 'improved', 'not_improved']).toContain(seed!.outcome);

    // The judged outcome reaches the reuse record just after the search ends; give it a moment.
    let reuses: Array<{ id: string; searchId: string; tier: string; distance: number; outcome: string; gain: number | null }> = [];
    for (let i = 0; i < 25; i += 1) {
      const reply = await server.gql(REUSES, { id: first.scheduleId });
      reuses = (reply.body.data!.schedule as { reuses: typeof reuses }).reuses;
      if (reuses.length && reuses.every((r) => r.outcome !== 'pending')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(reuses).toEqual([{ id: seed!.reuseId, searchId: second.id, tier: seed!.tier, distance: seed!.distance, outcome: seed!.outcome, gain: seed!.gain }]);
  });

  it('warmStart { enabled: false } runs cold: no seeds, and no new reuse of the stored schedule', async () => {
    const before = (await server.gql(REUSES, { id: first.scheduleId })).body.data!.schedule as { reuses: unknown[] };
    const started = await server.gql(START, { task: { operation: gemm(96, 96, 96), target: 'local' }, config: { ...SMALL, warmStart: { enabled: false } } });
    expect((started.body.data!.startSearch as { config: { warmStart: { enabled: boolean } } }).config.warmStart.enabled).toBe(false);
    const cold = await runSearch(gemm(96, 96, 96), { ...SMALL, warmStart: { enabled: false } });
    expect(cold.status, cold.error ?? '').toBe('finished');
    expect(cold.seeds).toEqual([]);
    const after = (await server.gql(REUSES, { id: first.scheduleId })).body.data!.schedule as { reuses: unknown[] };
    expect(after.reuses).toHaveLength(before.reuses.length);
  });

  it('reports the warm-start settings a search runs with, defaults filled in', async () => {
    const reply = await server.gql(START, { task: { operation: gemm(32, 32, 32), target: 'local' }, config: { budget: 1, warmStart: { tiers: ['exact'], guidedShare: 0.25 } } });
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
    ['an empty tier list', { tiers: [] }, /warmStart\.tiers needs at least one of exact, structure, similar/],
    ['a repeated tier', { tiers: ['exact', 'exact'] }, /warmStart\.tiers lists a tier twice/],
  ];

  it.each(cases)('refuses %s with BAD_INPUT and starts nothing', async (_name, warmStart, message) => {
    const before = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    const reply = await server.gql(START, { task: { operation: gemm(32, 32, 32), target: 'local' }, config: { budget: 1, warmStart } });
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(/^Invalid warm start settings: /);
    expect(reply.body.errors?.[0]?.message).toMatch(message);
    const after = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    expect(after.totalCount).toBe(before.totalCount);
  });

  it('refuses an unknown tier: the Tier enum rejects it (HTTP 400) before the resolver, and nothing starts', async () => {
    const before = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    const reply = await server.gql(START, { task: { operation: gemm(32, 32, 32), target: 'local' }, config: { budget: 1, warmStart: { tiers: ['nearby'] } } });
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.message).toMatch(/"nearby" does not exist in "Tier" enum/);
    const after = (await server.gql(`{ searches { totalCount } }`)).body.data!.searches as { totalCount: number };
    expect(after.totalCount).toBe(before.totalCount);
  });
});
