import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SkbError, createLibsqlStore } from '../../src/schedules/index.js';
import { makeContents, makeCpuTarget, makeVector } from '../support/fixtures.js';
import { describeStoreSuite } from './store-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'skb-store-'));
let counter = 0;
const fileUrl = (): string => `file:${join(dir, `kb-${++counter}.db`)}`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreSuite('libSQL file database', () => createLibsqlStore({ url: fileUrl() }));
describeStoreSuite('libSQL in memory', () => createLibsqlStore({ url: ':memory:' }));

describe('libSQL file database', () => {
  it('creates the parent directory, uses WAL and records its migrations', async () => {
    const path = join(dir, 'nested', 'deeper', 'kb.db');
    const store = await createLibsqlStore({ url: `file:${path}` });
    store.close();
    expect(existsSync(path)).toBe(true);
    const raw = createClient({ url: `file:${path}` });
    expect((await raw.execute('PRAGMA journal_mode')).rows[0]!.journal_mode).toBe('wal');
    expect((await raw.execute('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => Number(r.version))).toEqual(
      MIGRATIONS.map((m) => m.version),
    );
    raw.close();
    // Opening again applies nothing twice.
    (await createLibsqlStore({ url: `file:${path}` })).close();
  });

  it('keeps everything across close and reopen', async () => {
    const url = fileUrl();
    const target = makeCpuTarget();
    const store = await createLibsqlStore({ url });
    const { inserted } = await store.insertSchedules(makeContents(target, 3), {
      targets: [target],
      embeddings: { embedderId: 'e', vectors: [1, 2, 3].map((i) => makeVector(8, i)) },
    });
    const reuse = await store.recordReuse({ scheduleId: inserted[0]!.id, searchId: 's1', tier: 'exact', distance: 0, outcome: 'replayed' });
    const snapshot = {
      schedules: await store.allSchedules({}),
      targets: await store.listTargets(),
      embeddings: await store.listEmbeddings('e'),
      spaces: await store.embeddingSpaces(),
      reuses: await store.listReuses({}),
      revision: await store.revision(),
    };
    store.close();

    const reopened = await createLibsqlStore({ url });
    expect({
      schedules: await reopened.allSchedules({}),
      targets: await reopened.listTargets(),
      embeddings: await reopened.listEmbeddings('e'),
      spaces: await reopened.embeddingSpaces(),
      reuses: await reopened.listReuses({}),
      revision: await reopened.revision(),
    }).toEqual(snapshot);
    expect(snapshot.schedules).toEqual(inserted);
    expect(snapshot.reuses).toEqual([reuse]);
    reopened.close();
  });

  it('reports a corrupt row clearly instead of crashing or returning bad data', async () => {
    const url = fileUrl();
    const target = makeCpuTarget();
    const store = await createLibsqlStore({ url });
    const { inserted } = await store.insertSchedules(makeContents(target, 2), { targets: [target], embeddings: { embedderId: 'e', vectors: [makeVector(8, 1), makeVector(8, 2)] } });
    const raw = createClient({ url });
    await raw.execute({ sql: `UPDATE schedules SET content = json_set(content, '$.bestLatencyMs', -3) WHERE id = ?`, args: [inserted[0]!.id] });
    await raw.execute({ sql: `UPDATE schedules SET content = '{not json' WHERE id = ?`, args: [inserted[1]!.id] });
    await raw.execute({ sql: `UPDATE schedule_embeddings SET vector = x'0102'` });
    raw.close();

    const check = async (promise: Promise<unknown>, ...parts: string[]): Promise<void> => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SkbError);
      for (const part of parts) expect((error as SkbError).message).toContain(part);
    };
    await check(store.getSchedule(inserted[0]!.id), `corrupt schedule row ${inserted[0]!.id}`, 'bestLatencyMs');
    await check(store.getSchedule(inserted[1]!.id), `corrupt schedule row ${inserted[1]!.id}`, 'does not parse');
    await check(store.allSchedules({}), 'corrupt schedule row');
    await check(store.listEmbeddings('e'), 'has 2 bytes, expected 32');
    store.close();
  });

  it('refuses to open a database written by a newer schema version', async () => {
    const url = fileUrl();
    (await createLibsqlStore({ url })).close();
    const raw = createClient({ url });
    await raw.execute(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00Z')`);
    raw.close();
    const error = await createLibsqlStore({ url }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SkbError);
    expect((error as SkbError).code).toBe('CONFIG');
    expect((error as SkbError).message).toContain('999');
  });
});
