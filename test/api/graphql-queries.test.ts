import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shapeKey, structureKey } from '../../src/schedules/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { gemmInput, seed, type Seeded } from './seed.js';

let server: TestServer;
let data: Seeded;

beforeAll(async () => {
  server = await startTestServer();
  data = await seed(server.kb);
});
afterAll(async () => {
  await server?.stop();
});

const PAGE = `query Page($filter: ScheduleFilter, $first: Int, $after: String) {
  schedules(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { endCursor hasNextPage }
    nodes { id speedup operation { kind dims { name size } } target { key family } }
  }
}`;

interface PageData {
  schedules: {
    totalCount: number;
    pageInfo: { endCursor: string | null; hasNextPage: boolean };
    nodes: Array<{
      id: string;
      speedup: number;
      operation: { kind: string; dims: Array<{ name: string; size: number }> };
      target: { key: string; family: string };
    }>;
  };
}

async function page(variables: Record<string, unknown>): Promise<PageData['schedules']> {
  const reply = await server.gql(PAGE, variables);
  expect(reply.body.errors).toBeUndefined();
  return (reply.body.data as unknown as PageData).schedules;
}

describe('schedules query', () => {
  it('walks every schedule in creation order with cursors, page by page', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const p = await page({ first: 3, after });
      expect(p.totalCount).toBe(8);
      seen.push(...p.nodes.map((n) => n.id));
      pages++;
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
      expect(after).toBeTruthy();
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...data.ids.gemms, data.ids.slowerTwin, data.ids.conv, data.ids.foreign]);
  });

  it('filters by kind, target, family, structure and shape keys, dimension ranges and speedup', async () => {
    expect((await page({ filter: { kind: 'conv2d' } })).nodes.map((n) => n.id)).toEqual([data.ids.conv]);
    expect((await page({ filter: { target: data.other.key } })).nodes.map((n) => n.id)).toEqual([data.ids.foreign]);
    expect((await page({ filter: { targetFamily: data.local.family } })).totalCount).toBe(7);
    expect(
      (await page({ filter: { structureKey: structureKey(data.gemms[0]!.operation), target: data.local.key } }))
        .totalCount,
    ).toBe(6);
    expect((await page({ filter: { shapeKey: shapeKey(data.gemms[0]!.operation) } })).nodes.map((n) => n.id)).toEqual([
      data.ids.gemms[0],
      data.ids.slowerTwin,
    ]);
    const mid = await page({ filter: { kind: 'gemm', dims: [{ name: 'M', min: 128, max: 256 }] } });
    expect(mid.nodes.map((n) => n.operation.dims.find((d) => d.name === 'M')!.size).sort((a, b) => a - b)).toEqual([
      128, 128, 192, 256,
    ]);
    const fast = await page({ filter: { minSpeedup: 3 } });
    expect(fast.nodes.map((n) => n.id)).toEqual([data.ids.conv]);
    expect(fast.nodes[0]!.speedup).toBeCloseTo(4);
  });

  it('resolves each schedule target', async () => {
    const p = await page({ filter: { target: data.other.key } });
    expect(p.nodes[0]!.target).toEqual({ key: data.other.key, family: data.other.family });
  });

  it('refuses a page size above the cap with a typed error', async () => {
    const reply = await server.gql(PAGE, { first: 101 });
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(/first must be at most 100/);
  });
});

describe('schedule(id)', () => {
  it('returns the whole schedule with its reuse records', async () => {
    const id = data.ids.conv;
    await server.kb.store.recordReuse({
      scheduleId: id,
      searchId: 'search-abc',
      tier: 'structure',
      distance: 0.5,
      outcome: 'improved',
      gain: 1.25,
    });
    const reply = await server.gql(
      `query One($id: ID!) { schedule(id: $id) {
        id contentHash speedup baselineLatencyMs bestLatencyMs samplesUsed finalCode createdAt settings models
        operation { kind structureKey shapeKey dtype epilogue attrs }
        steps { optionId optionLabel plan params latencyBeforeMs latencyAfterMs }
        negatives { optionId }
        provenance { source planner }
        target { name fingerprint }
        reuses { searchId tier distance outcome gain }
      } }`,
      { id },
    );
    expect(reply.body.errors).toBeUndefined();
    const s = (reply.body.data as { schedule: Record<string, unknown> & { steps: unknown[]; reuses: unknown[] } })
      .schedule;
    expect(s.id).toBe(id);
    expect(s.speedup).toBeCloseTo(4);
    expect(s.steps).toHaveLength(3);
    expect(s.steps[0]).toEqual({
      optionId: 'cpu.step_1',
      optionLabel: 'Step 1 (cpu.step_1)',
      plan: 'Apply cpu.step_1 to the conv2d kernel.',
      params: { step: 1 },
      latencyBeforeMs: 20,
      latencyAfterMs: 12,
    });
    expect(s.operation).toEqual({
      kind: 'conv2d',
      structureKey: structureKey(data.conv.operation),
      shapeKey: shapeKey(data.conv.operation),
      dtype: 'f32',
      epilogue: [],
      attrs: '{}',
    });
    expect(s.target).toEqual({ name: 'local', fingerprint: data.local.fingerprint });
    expect(s.provenance).toEqual({ source: 'search', planner: 'template' });
    expect(s.reuses).toEqual([
      { searchId: 'search-abc', tier: 'structure', distance: 0.5, outcome: 'improved', gain: 1.25 },
    ]);
  });

  it('is null for an unknown id and a typed error for a malformed one', async () => {
    const missing = await server.gql(`{ schedule(id: "sch_000000000000000000000000") { id } }`);
    expect(missing.body).toEqual({ data: { schedule: null } });
    const bad = await server.gql(`{ schedule(id: "nope") { id } }`);
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(bad.body.errors?.[0]?.message).toMatch(/schedule id looks like sch_/);
  });
});

describe('similarSchedules', () => {
  const QUERY = `query Similar($op: OperationInput!, $target: String!, $k: Int, $tiers: [Tier!]) {
    similarSchedules(operation: $op, target: $target, k: $k, tiers: $tiers) { tier distance score reason schedule { id target { family } } }
  }`;
  type Match = {
    tier: string;
    distance: number;
    score: number;
    reason: string;
    schedule: { id: string; target: { family: string } };
  };

  it('reports exact and structure tiers, best first, within the target family unless transferred', async () => {
    const reply = await server.gql(QUERY, { op: gemmInput(64, 256, 256), target: data.local.key, k: 10 });
    expect(reply.body.errors).toBeUndefined();
    const matches = (reply.body.data as { similarSchedules: Match[] }).similarSchedules;
    expect(matches.length).toBeGreaterThan(0);
    expect(matches[0]!.tier).toBe('exact');
    expect(matches[0]!.distance).toBe(0);
    expect(
      matches
        .filter((m) => m.tier === 'exact')
        .map((m) => m.schedule.id)
        .sort(),
    ).toEqual([data.ids.gemms[0], data.ids.slowerTwin].sort());
    expect(matches.some((m) => m.tier === 'structure')).toBe(true);
    for (const m of matches) {
      // The transfer tier is the one that crosses families: on a machine whose family holds no
      // shipped schedules it fills the list with other families' schedules, and says so.
      if (m.tier === 'transfer') expect(m.schedule.target.family).not.toBe(data.local.family);
      else expect(m.schedule.target.family).toBe(data.local.family);
      expect(m.reason.length).toBeGreaterThan(0);
    }
    const scores = matches.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('keeps only the tiers asked for', async () => {
    const reply = await server.gql(QUERY, {
      op: gemmInput(64, 256, 256),
      target: data.local.key,
      tiers: ['structure'],
    });
    const matches = (reply.body.data as { similarSchedules: Match[] }).similarSchedules;
    expect(matches.length).toBeGreaterThan(0);
    expect(new Set(matches.map((m) => m.tier))).toEqual(new Set(['structure']));
  });

  it('finds similar schedules for an operation with no exact or structural match', async () => {
    const reply = await server.gql(QUERY, {
      op: { ...gemmInput(100, 200, 300), epilogue: ['relu'] },
      target: data.local.key,
      k: 3,
    });
    const matches = (reply.body.data as { similarSchedules: Match[] }).similarSchedules;
    expect(matches.length).toBeGreaterThan(0);
    expect(matches.length).toBeLessThanOrEqual(3);
    expect(new Set(matches.map((m) => m.tier))).toEqual(new Set(['similar']));
  });

  it('refuses an invalid operation with a message naming the field', async () => {
    const reply = await server.gql(QUERY, {
      op: { kind: 'gemm', dims: [{ name: 'M', size: -4 }] },
      target: data.local.key,
    });
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(/Invalid operation: dims/);
  });
});

describe('operations, targets and health', () => {
  it('lists operations and targets', async () => {
    const reply = await server.gql(
      `{ operations { shapeKey scheduleCount bestSpeedup operation { kind } } targets { key name family description } }`,
    );
    expect(reply.body.errors).toBeUndefined();
    const d = reply.body.data as {
      operations: Array<{ shapeKey: string; scheduleCount: number; bestSpeedup: number }>;
      targets: Array<{ key: string }>;
    };
    const first = d.operations.find((o) => o.shapeKey === shapeKey(data.gemms[0]!.operation));
    expect(first?.scheduleCount).toBe(2);
    expect(first?.bestSpeedup).toBeCloseTo(2);
    expect(d.targets.map((t) => t.key).sort()).toEqual([data.local.key, data.other.key].sort());
  });

  it('answers the health query and GET /health alike', async () => {
    const reply = await server.gql(
      `{ health { ok database scheduleCount indexSize embedderId seedPacks { name version schedules offered importedAt } } }`,
    );
    const viaGraphql = (reply.body.data as { health: Record<string, unknown> }).health;
    expect(viaGraphql).toEqual({
      ok: true,
      database: true,
      scheduleCount: 8,
      indexSize: 8,
      embedderId: server.kb.embedder.id,
      // The test server starts with SKB_SEED_PACKS=none.
      seedPacks: [],
    });
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(viaGraphql);
  });

  it('serves GraphiQL with every asset inlined: no CDN in script or link tags', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toMatch(/graphiql/i);
    expect(html.length).toBeGreaterThan(100_000);
    const tags = html.match(/<(script|link)\b[^>]*>/gi) ?? [];
    expect(tags.length).toBeGreaterThan(0);
    for (const tag of tags) expect(tag).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await fetch(`${server.url}/nope`);
    expect(response.status).toBe(404);
    expect(
      ((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code,
    ).toBe('NOT_FOUND');
  });
});
