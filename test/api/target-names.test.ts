import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerLocalTargets } from '../../src/api/local-targets.js';
import { createMemoryLogger, startTestServer, type TestServer } from '../support/server.js';
import { makeContents, makeCpuTarget } from '../support/fixtures.js';

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
