import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerLocalTargets } from '../../src/api/local-targets.js';
import { createMemoryLogger, startTestServer, type TestServer } from '../support/server.js';
import { makeContent, makeContents, makeCpuTarget } from '../support/fixtures.js';
import { SearchConfigSchema, TaskSchema, newSearchRecord } from '../../src/schedules/index.js';

const QUERY = `query Similar($target: String!) {
  similarSchedules(operation: { kind: "gemm", dims: [{ name: "M", size: 64 }, { name: "N", size: 256 }, { name: "K", size: 256 }] }, target: $target, k: 5) { tier schedule { id } }
}`;

describe('targets named by their configured names', () => {
  const local = makeCpuTarget('local');
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ targetNames: new Map([['local', local.key]]) });
    await server.kb.addSchedules(makeContents(local, 3), [local]);
  });
  afterAll(() => server.stop());

  it('answers a query that names the target "local" as it answers one with its key', async () => {
    const byName = await server.gql(QUERY, { target: 'local' });
    const byKey = await server.gql(QUERY, { target: local.key });
    expect(byName.body.errors).toBeUndefined();
    expect(byName.body.data).toEqual(byKey.body.data);
    expect((byName.body.data as { similarSchedules: unknown[] }).similarSchedules.length).toBeGreaterThan(0);
  });

  it('refuses an unknown name with the names it knows', async () => {
    const reply = await server.gql(QUERY, { target: 'gpu-box' });
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(/Unknown target "gpu-box".*configured names: local/);
  });
});

describe('registerLocalTargets', () => {
  it('fingerprints this machine and stores its record under the configured name', async () => {
    const server = await startTestServer();
    try {
      const logs: string[] = [];
      const names = await registerLocalTargets({
        kb: server.kb,
        targetsFile: undefined,
        cwd: process.cwd(),
        logger: createMemoryLogger(logs),
      });
      const key = names.get('local');
      expect(key).toMatch(/^t-[0-9a-f]{16}$/);
      const reply = await server.gql('{ targets { key name family fingerprint } }');
      const targets = (
        reply.body.data as {
          targets: Array<{ key: string; name: string; family: string; fingerprint: { kind: string } }>;
        }
      ).targets;
      expect(targets).toHaveLength(1);
      expect(targets[0]).toMatchObject({ key, name: 'local', fingerprint: { kind: 'cpu' } });
      expect(logs).toEqual([]);
      const again = await registerLocalTargets({
        kb: server.kb,
        targetsFile: undefined,
        cwd: process.cwd(),
        logger: createMemoryLogger(logs),
      });
      expect(again.get('local')).toBe(key);
    } finally {
      await server.stop();
    }
  });
});

describe('the targets list tells stored targets apart', () => {
  // This machine as configured, and the machine the shipped seeds were measured on: both "local".
  const here = makeCpuTarget('local');
  const seedsMachine = makeCpuTarget('local', { model: 'Reference CPU 9000' });
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ targetNames: new Map([['local', here.key]]) });
    await server.kb.addSchedules(makeContents(here, 2), [here]);
    await server.kb.addSchedules(makeContents(seedsMachine, 3), [seedsMachine]);
    // And one found by a search that this database holds.
    await server.kb.searches.createSearch(
      newSearchRecord({
        id: 'search-here',
        task: TaskSchema.parse({ operation: { kind: 'gemm', dims: { M: 64, N: 64, K: 64 } }, target: 'local' }),
        config: SearchConfigSchema.parse({ budget: 16 }),
        createdAt: new Date(Date.UTC(2026, 5, 1)).toISOString(),
      }),
    );
    await server.kb.addSchedules([
      makeContent({
        target: here,
        dims: { M: 512, N: 512, K: 512 },
        latencies: [10, 4],
        createdAt: new Date(Date.UTC(2026, 5, 1)).toISOString(),
        extra: { provenance: { source: 'search', searchId: 'search-here', planner: 'template' } },
      }),
    ]);
  });
  afterAll(() => server.stop());

  it('gives each a distinct name, says which is configured here, and counts where their schedules came from', async () => {
    const reply = await server.gql(
      '{ targets { key name configured configuredAs scheduleCount origin schedulesBySource { search import seed } } }',
    );
    expect(reply.body.errors).toBeUndefined();
    const targets = (reply.body.data as { targets: Array<Record<string, unknown>> }).targets;
    expect(new Set(targets.map((t) => t.name)).size).toBe(2);
    const [first, second] = targets;
    expect(first).toMatchObject({
      key: here.key,
      name: 'local',
      configured: true,
      configuredAs: 'local',
      scheduleCount: 3,
    });
    expect(second).toMatchObject({ key: seedsMachine.key, configured: false, configuredAs: null, scheduleCount: 3 });
    expect(second!.name).toBe(`local (measured elsewhere, Reference CPU 9000, ${seedsMachine.key})`);
    // Only the schedule whose search this database holds counts as found here.
    expect(first!.schedulesBySource).toEqual({ search: 1, import: 2, seed: 0 });
    expect(first!.origin).toBe(
      'configured here as "local" (this machine); 1 found by searches of this service, 2 measured elsewhere and imported (the shipped seeds or an import)',
    );
    expect(second!.origin).toBe(
      'not configured on this service; 3 measured elsewhere and imported (the shipped seeds or an import)',
    );
  });

  it('names a schedule’s target as the list does', async () => {
    const reply = await server.gql('{ schedules(first: 10) { nodes { target { key name configured } } } }');
    const nodes = (reply.body.data as { schedules: { nodes: Array<{ target: { key: string; name: string } }> } })
      .schedules.nodes;
    const names = new Map(nodes.map((n) => [n.target.key, n.target.name]));
    expect(names.get(here.key)).toBe('local');
    expect(names.get(seedsMachine.key)).toMatch(/^local \(measured elsewhere, Reference CPU 9000/);
  });
});
