import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  SearchConfigSchema,
  SkbError,
  TaskSchema,
  createLibsqlStore,
  toSchedule,
  type SearchRecord,
} from '../../src/schedules/index.js';
import { makeContent, makeContents, makeCpuTarget, makeVector } from '../support/fixtures.js';
import { describeSearchStoreSuite, type OpenedSearchStore } from './search-store-suite.js';
import { describeStoreSuite } from './store-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'skb-store-'));
let counter = 0;
const fileUrl = (): string => `file:${join(dir, `kb-${++counter}.db`)}`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreSuite('libSQL file database', () => createLibsqlStore({ url: fileUrl() }));
describeStoreSuite('libSQL in memory', () => createLibsqlStore({ url: ':memory:' }));

const searchesOf = async (url: string): Promise<OpenedSearchStore> => {
  const store = await createLibsqlStore({ url });
  return { searches: store.searches, close: () => store.close() };
};
describeSearchStoreSuite('libSQL file database', () => searchesOf(fileUrl()));
describeSearchStoreSuite('libSQL in memory', () => searchesOf(':memory:'));

describe('libSQL finishSearch', () => {
  const search = (id: string, scheduleId: string): SearchRecord => ({
    id,
    status: 'running',
    task: TaskSchema.parse({ operation: { kind: 'gemm', dims: { M: 256, N: 256, K: 256 } }, target: 'local' }),
    targetKey: null,
    config: SearchConfigSchema.parse({}),
    samplesUsed: 3,
    iteration: 1,
    baselineLatencyMs: 10,
    bestLatencyMs: 4,
    bestCandidateId: null,
    scheduleId: null,
    bestLineage: null,
    seeds: [{ scheduleId, tier: 'exact', distance: 0, reuseId: `reu_${id}`, outcome: 'pending' }],
    error: null,
    message: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  /** The pending reuse record search s1's seed has while the search runs. */
  const pendingReuse = (scheduleId: string) => ({
    id: 'reu_s1',
    scheduleId,
    searchId: 's1',
    tier: 'exact' as const,
    distance: 0,
    outcome: 'pending' as const,
  });

  it('marks the search, judges its seeds and stores its schedule in one transaction', async () => {
    const target = makeCpuTarget();
    const store = await createLibsqlStore({ url: fileUrl() });
    const [seed, found] = makeContents(target, 2);
    const { inserted } = await store.insertSchedules([seed!], { targets: [target] });
    await store.searches.createSearch(search('s1', inserted[0]!.id));
    await store.recordReuse(pendingReuse(inserted[0]!.id));
    const before = await store.revision();
    const seeds = [{ ...search('s1', inserted[0]!.id).seeds[0]!, outcome: 'improved' as const, gain: 1.25 }];
    const done = await store.finishSearch(
      's1',
      { status: 'finished', seeds },
      { content: found!, embedding: { embedderId: 'e', vector: makeVector(8, 1) } },
    );
    expect(done.inserted).toBe(true);
    expect(done.schedule).toEqual(toSchedule(found!));
    expect(done.search).toMatchObject({ status: 'finished', scheduleId: done.schedule!.id, seeds });
    expect(await store.searches.getSearch('s1')).toEqual(done.search);
    expect(await store.listReuses({ searchId: 's1' })).toMatchObject([
      { id: 'reu_s1', outcome: 'improved', gain: 1.25 },
    ]);
    expect((await store.listEmbeddings('e')).map((e) => e.scheduleId)).toEqual([done.schedule!.id]);
    expect(await store.revision()).toBe(before + 1);
    // The same content again is not stored twice: the search refers to the stored schedule.
    await store.searches.createSearch(search('s2', inserted[0]!.id));
    const again = await store.finishSearch(
      's2',
      { status: 'finished' },
      { content: found!, embedding: { embedderId: 'e', vector: makeVector(8, 1) } },
    );
    expect(again).toMatchObject({
      inserted: false,
      schedule: { id: done.schedule!.id },
      search: { scheduleId: done.schedule!.id },
    });
    store.close();
  });

  it('changes nothing when any part fails: the search stays running and its seeds pending', async () => {
    const target = makeCpuTarget();
    const store = await createLibsqlStore({ url: ':memory:' });
    const { inserted } = await store.insertSchedules(makeContents(target, 1), { targets: [target] });
    const record = search('s1', inserted[0]!.id);
    await store.searches.createSearch(record);
    await store.recordReuse(pendingReuse(inserted[0]!.id));
    const elsewhere = makeContent({ target: makeCpuTarget('nowhere', { model: 'Unknown CPU' }) });
    const seeds = [{ ...record.seeds[0]!, outcome: 'failed' as const }];
    const error = await store
      .finishSearch(
        's1',
        { status: 'finished', seeds },
        { content: elsewhere, embedding: { embedderId: 'e', vector: makeVector(8, 1) } },
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((error as SkbError).code).toBe('BAD_INPUT');
    expect(await store.searches.getSearch('s1')).toEqual(record);
    expect(await store.listReuses({ searchId: 's1' })).toMatchObject([{ outcome: 'pending' }]);
    expect(await store.embeddingSpaces()).toEqual([]);
    const unknown = await store.finishSearch('nope', { status: 'finished' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((unknown as SkbError).code).toBe('NOT_FOUND');
    store.close();
  });
});

describe('libSQL file database', () => {
  it('creates the parent directory, uses WAL and records its migrations', async () => {
    const path = join(dir, 'nested', 'deeper', 'kb.db');
    const store = await createLibsqlStore({ url: `file:${path}` });
    store.close();
    expect(existsSync(path)).toBe(true);
    const raw = createClient({ url: `file:${path}` });
    expect((await raw.execute('PRAGMA journal_mode')).rows[0]!.journal_mode).toBe('wal');
    expect(
      (await raw.execute('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => Number(r.version)),
    ).toEqual(MIGRATIONS.map((m) => m.version));
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
    const reuse = await store.recordReuse({
      scheduleId: inserted[0]!.id,
      searchId: 's1',
      tier: 'exact',
      distance: 0,
      outcome: 'replayed',
    });
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
    const { inserted } = await store.insertSchedules(makeContents(target, 2), {
      targets: [target],
      embeddings: { embedderId: 'e', vectors: [makeVector(8, 1), makeVector(8, 2)] },
    });
    const raw = createClient({ url });
    await raw.execute({
      sql: `UPDATE schedules SET content = json_set(content, '$.bestLatencyMs', -3) WHERE id = ?`,
      args: [inserted[0]!.id],
    });
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
    await raw.execute(
      `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00Z')`,
    );
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
