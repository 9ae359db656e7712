import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { gemmInput, seed, type Seeded } from './seed.js';

const TOKEN = 'test-token-0123456789abcdef';

const EXPORT = `query Export($filter: ScheduleFilter, $similarTo: SimilarInput, $pruned: Boolean) {
  exportSchedules(filter: $filter, similarTo: $similarTo, pruned: $pruned)
}`;
const IMPORT = `mutation Import($jsonl: String!) { importSchedules(jsonl: $jsonl) { imported duplicates targets scheduleIds } }`;
const DELETE = `mutation Delete($id: ID!) { deleteSchedule(id: $id) }`;
const COUNT = `{ schedules(first: 1) { totalCount } }`;

function scheduleIdsOf(jsonl: string): string[] {
  return jsonl
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type?: string; id?: string; schedule?: { id?: string } })
    .filter((r) => r.type === 'schedule')
    .map((r) => r.id ?? r.schedule?.id ?? '');
}

async function exportText(server: TestServer, variables: Record<string, unknown> = {}): Promise<string> {
  const reply = await server.gql(EXPORT, variables);
  expect(reply.body.errors).toBeUndefined();
  return (reply.body.data as { exportSchedules: string }).exportSchedules;
}

async function count(server: TestServer): Promise<number> {
  return ((await server.gql(COUNT)).body.data as { schedules: { totalCount: number } }).schedules.totalCount;
}

describe('export and import through GraphQL', () => {
  let source: TestServer;
  let target: TestServer;
  let data: Seeded;

  beforeAll(async () => {
    source = await startTestServer({ apiToken: TOKEN });
    target = await startTestServer({ apiToken: TOKEN });
    data = await seed(source.kb);
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
  });

  it('exports everything, and the export imports into an empty knowledge base unchanged', async () => {
    const text = await exportText(source);
    expect(scheduleIdsOf(text).sort()).toEqual(
      [...data.ids.gemms, data.ids.slowerTwin, data.ids.conv, data.ids.foreign].sort(),
    );

    const first = await target.gql(IMPORT, { jsonl: text }, { token: TOKEN });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data).toEqual({
      importSchedules: { imported: 8, duplicates: 0, targets: 2, scheduleIds: expect.any(Array) },
    });
    expect(await exportText(target)).toBe(text);

    const again = await target.gql(IMPORT, { jsonl: text }, { token: TOKEN });
    expect(
      (again.body.data as { importSchedules: { imported: number; duplicates: number } }).importSchedules,
    ).toMatchObject({ imported: 0, duplicates: 8 });
    expect(await count(target)).toBe(8);
  });

  it('exports a filtered set', async () => {
    const text = await exportText(source, { filter: { kind: 'conv2d' } });
    expect(scheduleIdsOf(text)).toEqual([data.ids.conv]);
  });

  it('prunes to the best schedule per shape and target', async () => {
    const ids = scheduleIdsOf(await exportText(source, { pruned: true }));
    expect(ids).not.toContain(data.ids.slowerTwin);
    expect(ids).toContain(data.ids.gemms[0]);
    expect(ids).toHaveLength(7);
  });

  it('exports the family of schedules similar to one operation on one target', async () => {
    const ids = scheduleIdsOf(
      await exportText(source, { similarTo: { operation: gemmInput(64, 256, 256), target: data.local.key, k: 3 } }),
    );
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThanOrEqual(3);
    expect(ids).toContain(data.ids.gemms[0]);
    expect(ids).not.toContain(data.ids.foreign);
  });
});

describe('deleteSchedule and mutation access', () => {
  let server: TestServer;
  let data: Seeded;

  beforeAll(async () => {
    server = await startTestServer({ apiToken: TOKEN });
    data = await seed(server.kb);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refuses a mutation without a token, and with a wrong one, changing nothing', async () => {
    const before = await exportText(server);
    const without = await server.gql(DELETE, { id: data.ids.conv }, { token: null });
    expect(without.status).toBe(401);
    expect(without.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    expect(without.body.errors?.[0]?.message).toMatch(/Authorization: Bearer/);

    const wrong = await server.gql(DELETE, { id: data.ids.conv }, { token: 'wrong-token-0123456789' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors?.[0]?.message).toMatch(/token is wrong/);

    const importWithout = await server.gql(IMPORT, { jsonl: before }, { token: null });
    expect(importWithout.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    expect(await exportText(server)).toBe(before);
  });

  it('lets queries through without a token', async () => {
    expect(await count(server)).toBe(8);
  });

  it('deletes with the right token; deleting again says false', async () => {
    const done = await server.gql(DELETE, { id: data.ids.conv }, { token: TOKEN });
    expect(done.body).toEqual({ data: { deleteSchedule: true } });
    expect(await count(server)).toBe(7);
    expect((await server.gql(`query($id: ID!) { schedule(id: $id) { id } }`, { id: data.ids.conv })).body.data).toEqual(
      { schedule: null },
    );
    const again = await server.gql(DELETE, { id: data.ids.conv }, { token: TOKEN });
    expect(again.body).toEqual({ data: { deleteSchedule: false } });
  });
});

describe('mutations without a configured token', () => {
  let server: TestServer;
  let data: Seeded;

  beforeAll(async () => {
    server = await startTestServer();
    data = await seed(server.kb);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('generates a token into the data directory, readable by its owner only, and requires it from loopback too', async () => {
    const path = join(server.dir, 'api-token');
    expect(readFileSync(path, 'utf8').trim()).toBe(server.token);
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const before = await exportText(server);
    const anonymous = await server.gql(DELETE, { id: data.ids.conv }, { token: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
    expect(anonymous.body.errors?.[0]?.message).toContain(path);
    expect(await exportText(server)).toBe(before);
    const reply = await server.gql(DELETE, { id: 'sch_000000000000000000000000' });
    expect(reply.body).toEqual({ data: { deleteSchedule: false } });
  });

  it('keeps the generated token across restarts, and makes a token file others could read private', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-token-'));
    try {
      const first = await startTestServer({ dir });
      const token = first.token;
      await first.stop();
      chmodSync(join(dir, 'api-token'), 0o644);
      const second = await startTestServer({ dir });
      expect(second.token).toBe(token);
      expect(statSync(join(dir, 'api-token')).mode & 0o777).toBe(0o600);
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a token file that holds no token, saying what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-token-'));
    try {
      writeFileSync(join(dir, 'api-token'), 'not a token\n', { mode: 0o600 });
      await expect(startTestServer({ dir })).rejects.toThrow(/does not hold a token.*delete it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses them when the Host header is not a loopback name (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const url = new URL(`${server.url}/graphql`);
    const body = JSON.stringify({ query: DELETE, variables: { id: 'sch_000000000000000000000000' } });
    const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            host: 'evil.example:80',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(reply.status).toBe(401);
    expect(JSON.parse(reply.text).errors[0].extensions.code).toBe('UNAUTHORIZED');
  });

  it('refuses form posts that browsers send cross-site without a preflight', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${encodeURIComponent(DELETE)}`,
    });
    expect(response.status).toBe(415);
    expect(
      ((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code,
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});
