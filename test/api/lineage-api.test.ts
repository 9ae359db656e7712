import { readFile } from 'node:fs/promises';
import { buildClientSchema, getIntrospectionQuery, parse, validate, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonl, REPLAY_OPTION_ID, toSchedule } from '../../src/schedules/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
/** Version 1 of the shipped pack, frozen as a fixture: some of its schedules still carry replay steps. */
let legacy: ReturnType<typeof toSchedule>[];

beforeAll(async () => {
  server = await startTestServer();
  const text = await readFile(new URL('../fixtures/seed-packs-v1/cpu-reference.jsonl', import.meta.url), 'utf8');
  legacy = parseJsonl(text).contents.map(toSchedule);
  const reply = await server.gql(`mutation($jsonl: String!) { importSchedules(jsonl: $jsonl) { imported } }`, {
    jsonl: text,
  });
  expect(reply.body.errors).toBeUndefined();
});
afterAll(async () => {
  await server?.stop();
});

const LINEAGE = `query Lineage($id: ID!) {
  schedule(id: $id) {
    id
    steps { optionId latencyBeforeMs latencyAfterMs replayOf { scheduleId stepIndex } }
    derivedFrom { scheduleId tier distance schedule { id } }
    ancestors(depth: 8) { generation schedule { id } }
    descendants(depth: 8) { generation schedule { id } }
  }
}`;

interface LineageReply {
  schedule: {
    id: string;
    steps: Array<{
      optionId: string;
      latencyAfterMs: number;
      replayOf: { scheduleId: string; stepIndex: number } | null;
    }>;
    derivedFrom: Array<{ scheduleId: string; tier: string | null; schedule: { id: string } | null }>;
    ancestors: Array<{ generation: number; schedule: { id: string } }>;
    descendants: Array<{ generation: number; schedule: { id: string } }>;
  } | null;
}

describe('schedule lineage over GraphQL', () => {
  it('introspects: a stock client sees the lineage fields and accepts the query', async () => {
    const reply = await server.gql(getIntrospectionQuery());
    const schema = buildClientSchema(reply.body.data as unknown as IntrospectionQuery);
    expect(validate(schema, parse(LINEAGE))).toEqual([]);
    const step = schema.getType('Step') as { getFields(): Record<string, unknown> };
    expect(Object.keys(step.getFields())).toContain('replayOf');
    const schedule = schema.getType('Schedule') as { getFields(): Record<string, unknown> };
    expect(Object.keys(schedule.getFields())).toEqual(
      expect.arrayContaining(['derivedFrom', 'ancestors', 'descendants', 'evidence', 'revalidations']),
    );
    const tier = schema.getType('Tier') as unknown as { getValues(): Array<{ name: string }> };
    expect(tier.getValues().map((v) => v.name)).toEqual(['exact', 'structure', 'similar', 'transfer']);
  });

  it("walks a grandchild's ancestry to its root seed and back down, by the id it had before flattening", async () => {
    // The 56x56 convolution replayed a schedule that replayed another: two generations of seeds.
    const old = legacy.find(
      (s) => s.operation.kind === 'conv2d' && s.operation.dims.H === 56 && s.steps[0]?.optionId === REPLAY_OPTION_ID,
    )!;
    const reply = await server.gql(LINEAGE, { id: old.id });
    expect(reply.body.errors).toBeUndefined();
    const found = (reply.body.data as unknown as LineageReply).schedule!;
    expect(found.id).not.toBe(old.id);
    expect(found.steps.map((s) => s.optionId)).not.toContain(REPLAY_OPTION_ID);
    const parent = found.derivedFrom[0]!;
    expect(parent.schedule?.id).toBe(parent.scheduleId);
    const replayed = found.steps.filter((s) => s.replayOf);
    expect(replayed.length).toBeGreaterThan(1);
    expect(replayed.every((s) => s.replayOf!.scheduleId === parent.scheduleId)).toBe(true);
    expect(replayed.map((s) => s.replayOf!.stepIndex)).toEqual(replayed.map((_, i) => i));
    expect(found.ancestors.map((a) => a.generation)).toEqual([1, 2, 3]);
    expect(found.ancestors[0]!.schedule.id).toBe(parent.scheduleId);

    const root = found.ancestors.at(-1)!.schedule.id;
    const down = (await server.gql(LINEAGE, { id: root })).body.data as unknown as LineageReply;
    expect(down.schedule!.derivedFrom).toEqual([]);
    const line = down.schedule!.descendants.filter((d) => d.schedule.id === found.id);
    expect(line).toEqual([{ generation: 3, schedule: { id: found.id } }]);
  });

  it('answers evidence and revalidations: none recorded for the shipped schedules, which predate them', async () => {
    const reply = await server.gql(
      `{ schedules(first: 3) { nodes { evidence { toolchain } revalidations { status } } } }`,
    );
    expect(reply.body.errors).toBeUndefined();
    const nodes = (reply.body.data as { schedules: { nodes: unknown[] } }).schedules.nodes;
    expect(nodes).toEqual([
      { evidence: null, revalidations: [] },
      { evidence: null, revalidations: [] },
      { evidence: null, revalidations: [] },
    ]);
  });

  it('refuses a walk deeper than the limit with a typed error', async () => {
    const reply = await server.gql(`{ schedules(first: 1) { nodes { ancestors(depth: 33) { generation } } } }`);
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(/depth must be an integer from 1 to 32/);
  });
});
