import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  type IntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/api/config.js';
import { maskError } from '../../src/api/graphql/errors.js';
import { useExecutionDeadline } from '../../src/api/graphql/query-limits.js';
import { startTestServer, type GraphqlReply, type TestServer } from '../support/server.js';
import { gemmInput, seed, type Seeded } from './seed.js';

const ROOT = join(import.meta.dirname, '../..');

let server: TestServer;
let data: Seeded;
let snapshot: string;

beforeAll(async () => {
  server = await startTestServer();
  data = await seed(server.kb);
  snapshot = await exportAll();
});
afterAll(async () => {
  await server?.stop();
});

async function exportAll(): Promise<string> {
  const reply = await server.gql(`{ exportSchedules }`);
  expect(reply.body.errors).toBeUndefined();
  return (reply.body.data as { exportSchedules: string }).exportSchedules;
}

function refusedWith(reply: GraphqlReply, code: string): string {
  expect(reply.body.data ?? undefined).toBeUndefined();
  expect(reply.body.errors?.map((e) => e.extensions?.code)).toEqual([code]);
  return reply.body.errors![0]!.message;
}

/** `n` aliases of the heaviest query there is: 100 matches with their whole schedules. */
function aliasedSimilar(n: number): string {
  const field = (i: number) =>
    `a${i}: similarSchedules(operation: $op, target: $target, k: 100) { schedule { finalCode steps { plan } } }`;
  return `query($op: OperationInput!, $target: String!) { ${Array.from({ length: n }, (_, i) => field(i)).join(' ')} }`;
}

describe('introspection', () => {
  it("graphql-js's full introspection query succeeds, and the client schema it builds prints as schema.graphql", async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    });
    const reply = await server.gql(query, undefined, { token: null });
    expect(reply.body.errors).toBeUndefined();
    const client = buildClientSchema(reply.body.data as unknown as IntrospectionQuery);
    const file = buildSchema(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
    expect(printSchema(lexicographicSortSchema(client))).toBe(printSchema(lexicographicSortSchema(file)));
    expect(client.getQueryType()?.getFields().similarSchedules).toBeDefined();
  });

  it("introspection nesting past the depth limit is allowed, but graphql-js's bound on nested list fields holds", async () => {
    const deepTypeRef = `{ __schema { types { ${'ofType { '.repeat(14)}name${' }'.repeat(14)} } } }`;
    expect((await server.gql(deepTypeRef)).body.errors).toBeUndefined();
    // types x fields x fields x ... : a few tokens that would walk the schema's type graph again and again.
    const fanOut = `{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`;
    expect(refusedWith(await server.gql(fanOut), 'GRAPHQL_VALIDATION_FAILED')).toBe(
      'Maximum introspection depth exceeded',
    );
    // A chain of fragments, each spreading the next twice, is walked without blowing up (2^30 paths).
    const chain = Array.from(
      { length: 30 },
      (_, i) => `fragment F${i} on __Type { name ofType { ...F${i + 1} ...F${i + 1} } }`,
    ).join(' ');
    const viaFragments = await server.gql(`{ __schema { types { ...F0 } } } ${chain} fragment F30 on __Type { name }`);
    expect(viaFragments.body.errors).toBeUndefined();
  });
});

describe('abuse limits', () => {
  it('500 aliases of similarSchedules(k: 100) are refused before anything runs; 20 name SKB_MAX_ALIASES', async () => {
    const variables = { op: gemmInput(64, 256, 256), target: data.local.key };
    // 500 aliases are a document of some 13,000 tokens: the parser stops at the 1,001st.
    const huge = await server.gql(aliasedSimilar(500), variables);
    expect(huge.status).toBe(400);
    expect(refusedWith(huge, 'QUERY_TOO_MANY_TOKENS')).toMatch(/SKB_MAX_TOKENS/);
    const message = refusedWith(await server.gql(aliasedSimilar(20), variables), 'QUERY_TOO_MANY_ALIASES');
    expect(message).toMatch(/Aliases limit of 15 exceeded, found 20\..*SKB_MAX_ALIASES/);
    // Within the limit the same query is answered.
    const fine = await server.gql(aliasedSimilar(3), variables);
    expect(fine.body.errors).toBeUndefined();
    expect(Object.keys(fine.body.data!)).toHaveLength(3);
  });

  it('a query over the cost limit, a document over the token limit, too many directives, and a huge k', async () => {
    const steps = 'steps { optionId optionLabel plan latencyBeforeMs latencyAfterMs }';
    const heavy = `{ schedules(first: 100) { nodes { id speedup ${steps} reuses { id searchId outcome gain } operation { kind dtype dims { name size } } } } }`;
    const costly = Array.from({ length: 6 }, (_, i) => `p${i}: ${heavy.slice(2, -2)}`).join(' ');
    expect(refusedWith(await server.gql(`{ ${costly} }`), 'QUERY_TOO_COSTLY')).toMatch(/SKB_MAX_COST/);

    const manyTokens = `{ ${'health { ok } '.repeat(300)} }`;
    expect(refusedWith(await server.gql(manyTokens), 'QUERY_TOO_MANY_TOKENS')).toMatch(
      /Token limit of 1000 exceeded\..*SKB_MAX_TOKENS/,
    );

    const directives = `{ health { ${Array.from({ length: 60 }, () => 'ok @include(if: true)').join(' ')} } }`;
    expect(refusedWith(await server.gql(directives), 'QUERY_TOO_MANY_DIRECTIVES')).toMatch(/SKB_MAX_DIRECTIVES/);

    const hugeK = await server.gql(
      `query($op: OperationInput!, $target: String!) { similarSchedules(operation: $op, target: $target, k: 1000000) { tier } }`,
      { op: gemmInput(64, 256, 256), target: data.local.key },
    );
    expect(hugeK.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(await exportAll()).toBe(snapshot);
  });

  it('/health answers while abusive queries of every kind are being refused, and nothing stored changes', async () => {
    const variables = { op: gemmInput(64, 256, 256), target: data.local.key };
    const abusive = [
      () => server.gql(aliasedSimilar(1000), variables),
      () => server.gql(`{ ${'health { ok } '.repeat(5000)} }`),
      () => server.gql(`{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`),
      () => server.gql(aliasedSimilar(30), variables),
      () => server.gql(`{ health { ${'ok @skip(if: false) '.repeat(80)} } }`),
    ];
    const flood = Array.from({ length: 40 }, (_, i) => abusive[i % abusive.length]!());
    const probe = await fetch(`${server.url}/health`);
    expect(probe.status).toBe(200);
    expect(((await probe.json()) as { ok: boolean }).ok).toBe(true);
    const replies = await Promise.all(flood);
    for (const reply of replies) expect(reply.body.errors?.length).toBeGreaterThan(0);
    expect(await exportAll()).toBe(snapshot);
  });
});

describe('depth limit', () => {
  let shallow: TestServer;
  beforeAll(async () => {
    shallow = await startTestServer({ env: { SKB_MAX_DEPTH: '3' } });
  });
  afterAll(async () => {
    await shallow?.stop();
  });

  it('ordinary queries past SKB_MAX_DEPTH are refused with QUERY_TOO_DEEP; introspection is not', async () => {
    const deep = await shallow.gql(`{ schedules { nodes { operation { kind } } } }`);
    expect(refusedWith(deep, 'QUERY_TOO_DEEP')).toMatch(/Query depth limit of 3 exceeded, found 4\..*SKB_MAX_DEPTH/);
    expect((await shallow.gql(`{ schedules { nodes { id } } }`)).body.errors).toBeUndefined();
    expect((await shallow.gql(`{ __schema { types { fields { name } } } }`)).body.errors).toBeUndefined();
  });
});

describe('configuration', () => {
  it('limits come from SKB_* variables, and a bad value stops the service naming the variable', () => {
    const config = loadConfig({ SKB_MAX_ALIASES: '40', SKB_QUERY_DEADLINE_MS: '2500' }, ROOT);
    expect(config.queryLimits).toMatchObject({ maxAliases: 40, deadlineMs: 2500, maxDepth: 12, maxTokens: 1000 });
    expect(() => loadConfig({ SKB_MAX_TOKENS: 'lots' }, ROOT)).toThrow(/SKB_MAX_TOKENS/);
    expect(() => loadConfig({ SKB_MAX_COST: '0' }, ROOT)).toThrow(/SKB_MAX_COST/);
  });
});

describe('execution deadline', () => {
  it('a query still resolving at its deadline answers DEADLINE_EXCEEDED, naming SKB_QUERY_DEADLINE_MS', async () => {
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { slow: String fast: String }',
        resolvers: {
          Query: {
            slow: () => new Promise((resolve) => setTimeout(() => resolve('late'), 2000).unref()),
            fast: () => 'fast',
          },
        },
      }),
      maskedErrors: { maskError },
      logging: false,
      plugins: [useExecutionDeadline(50)],
    });
    const ask = async (query: string) =>
      (await (
        await yoga.fetch('http://yoga/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query }),
        })
      ).json()) as GraphqlReply['body'];
    const late = await ask('{ slow }');
    expect(late.errors?.[0]?.extensions?.code).toBe('DEADLINE_EXCEEDED');
    expect(late.errors?.[0]?.message).toMatch(/deadline of 50 ms \(SKB_QUERY_DEADLINE_MS\)/);
    expect(await ask('{ fast }')).toEqual({ data: { fast: 'fast' } });
  });
});
