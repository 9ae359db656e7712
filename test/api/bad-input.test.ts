import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLibsqlStore } from '../../src/schedules/index.js';
import { openConfiguredKnowledgeBase } from '../../src/api/configured-knowledge-base.js';
import { makeContents, makeCpuTarget, makeVector } from '../support/fixtures.js';
import { startTestServer, testConfig, type TestServer } from '../support/server.js';
import { seed } from './seed.js';

const TOKEN = 'bad-input-token-0123456789';
const EXPORT_ALL = `{ exportSchedules }`;

let server: TestServer;
let snapshot: string;

async function exportAll(): Promise<string> {
  const reply = await server.gql(EXPORT_ALL);
  expect(reply.body.errors).toBeUndefined();
  return (reply.body.data as { exportSchedules: string }).exportSchedules;
}

beforeAll(async () => {
  server = await startTestServer({ apiToken: TOKEN });
  await seed(server.kb);
  snapshot = await exportAll();
});
afterAll(async () => {
  await server?.stop();
});

/** After every bad request: the service still answers and holds exactly what it held before. */
async function expectUnchanged(): Promise<void> {
  expect(await exportAll()).toBe(snapshot);
  const health = await fetch(`${server.url}/health`);
  expect(((await health.json()) as { scheduleCount: number }).scheduleCount).toBe(8);
}

/**
 * Streams `totalBytes` of a JSON-looking body to /graphql and resolves with the first response,
 * stopping the upload as soon as it arrives (the server answers before reading it all).
 */
/**
 * Streams a huge body. `status` 0 with `reset` set means the server closed the connection before
 * the client could read its answer: with a chunked body the 413 and the close can race the
 * client's next write (EPIPE / ECONNRESET), which is the server refusing the body all the same.
 */
function sendHugeBody(
  url: string,
  totalBytes: number,
  declareLength: boolean,
): Promise<{ status: number; body: string; sent: number; reset?: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(`${url}/graphql`);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    let answered = false;
    const req = request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(declareLength ? { 'content-length': totalBytes } : {}) },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, sent });
      });
    });
    // Once the server has answered and closed, further writes fail; that is the expected ending.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET')
        resolve({ status: 0, body: '', sent, reset: error.code });
      else reject(error);
    });
    const pump = () => {
      while (!answered && sent < totalBytes) {
        const piece = sent === 0 ? Buffer.concat([Buffer.from('{"query":"'), chunk.subarray(10)]) : chunk;
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('bad requests get clear typed errors and change nothing', () => {
  it('a malformed query', async () => {
    const reply = await server.gql(`{ schedules(first: 2) { totalCount }`);
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(reply.body.errors?.[0]?.message).toMatch(/Syntax Error/);
    await expectUnchanged();
  });

  it('an unknown field', async () => {
    const reply = await server.gql(`{ schedules { nodes { id velocity } } }`);
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(reply.body.errors?.[0]?.message).toBe('Cannot query field "velocity" on type "Schedule".');
    await expectUnchanged();
  });

  it('an argument of the wrong type', async () => {
    const reply = await server.gql(`{ schedules(first: "ten") { totalCount } }`);
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(reply.body.errors?.[0]?.message).toMatch(/Int cannot represent non-integer value: "ten"/);
    const viaVariables = await server.gql(`query($n: Int) { schedules(first: $n) { totalCount } }`, { n: 'ten' });
    expect(viaVariables.body.errors?.[0]?.message).toMatch(/\$n.*Int cannot represent/);
    await expectUnchanged();
  });

  it('a 100 MB body with its Content-Length: 413 before it is read', async () => {
    const reply = await sendHugeBody(server.url, 100 * 1024 * 1024, true);
    expect(reply.status).toBe(413);
    const body = JSON.parse(reply.body) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('TOO_LARGE');
    expect(body.errors[0]!.message).toMatch(/larger than 16 MiB/);
    expect(reply.sent).toBeLessThan(100 * 1024 * 1024);
    await expectUnchanged();
  });

  it('a 100 MB body streamed without a length: 413 once 16 MB have been counted', async () => {
    const reply = await sendHugeBody(server.url, 100 * 1024 * 1024, false);
    expect(reply.sent).toBeLessThan(100 * 1024 * 1024);
    if (reply.reset === undefined) {
      expect(reply.status).toBe(413);
      expect(
        (JSON.parse(reply.body) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code,
      ).toBe('TOO_LARGE');
    }
    await expectUnchanged();
  });

  it('a truncated JSONL import: the error names the line and nothing is imported', async () => {
    const other = makeCpuTarget('third', { model: 'Third CPU' });
    const fresh = await startTestServer();
    try {
      await fresh.kb.addSchedules(makeContents(other, 3), [other]);
      const text = ((await fresh.gql(EXPORT_ALL)).body.data as { exportSchedules: string }).exportSchedules;
      const lines = text.trimEnd().split('\n');
      const truncated = text.trimEnd().slice(0, -40);
      const reply = await server.gql(
        `mutation($j: String!) { importSchedules(jsonl: $j) { imported } }`,
        { j: truncated },
        { token: TOKEN },
      );
      const error = reply.body.errors?.[0];
      expect(error?.extensions?.code).toBe('IMPORT_FAILED');
      const errors = error?.extensions?.details?.errors as Array<{ line: number; message: string }>;
      expect(errors).toEqual([{ line: lines.length, message: expect.stringMatching(/truncated/) }]);
      expect(error?.message).toMatch(new RegExp(`line ${lines.length}`));
    } finally {
      await fresh.stop();
    }
    await expectUnchanged();
  });

  it('an internal failure is masked for the client and logged', async () => {
    const broken = await startTestServer();
    try {
      await seed(broken.kb);
      // A closed database client is a genuine internal fault, not a user mistake.
      broken.kb.store.close();
      const reply = await broken.gql(`{ schedules { totalCount } }`);
      expect(reply.body.errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } });
      expect(JSON.stringify(reply.body)).not.toMatch(/closed|libsql|stack/i);
      expect(broken.logs.some((line) => line.startsWith('error'))).toBe(true);
      const health = await fetch(`${broken.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ok: false, database: false });
    } finally {
      await broken.stop().catch(() => undefined);
    }
    await expectUnchanged();
  });
});

describe('an embedding space mismatch at open', () => {
  it('refuses to open, says why, and leaves the database as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-mismatch-'));
    try {
      const config = testConfig(dir);
      const target = makeCpuTarget('local');
      const contents = makeContents(target, 3);
      const store = await createLibsqlStore({ url: config.dbUrl });
      // Vectors stored under the offline embedder's id but with another dimension: a space the
      // embedder cannot extend.
      await store.insertSchedules(contents, {
        targets: [target],
        embeddings: { embedderId: 'offline-v1-128', vectors: contents.map((_, i) => makeVector(16, i + 1)) },
      });
      const before = (await store.listSchedules({}, { first: 10 })).items.map((s) => s.id);
      store.close();

      const opening = openConfiguredKnowledgeBase(config);
      await expect(opening).rejects.toMatchObject({
        code: 'EMBEDDING_SPACE_MISMATCH',
        message: expect.stringMatching(/dimension 16.*dimension 128/),
      });

      const reopened = await createLibsqlStore({ url: config.dbUrl });
      expect((await reopened.listSchedules({}, { first: 10 })).items.map((s) => s.id)).toEqual(before);
      expect(await reopened.embeddingSpaces()).toEqual([{ embedderId: 'offline-v1-128', dim: 16, count: 3 }]);
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
