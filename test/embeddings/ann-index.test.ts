import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAnnIndex } from '../../src/embeddings/ann-index.js';
import { createExactIndex } from '../../src/embeddings/vector-index.js';
import { createLibsqlStore } from '../../src/schedules/index.js';
import { SkbError, type Store } from '../../src/schedules/index.js';
import { makeContents, makeCpuTarget, makeVector } from '../support/fixtures.js';

const DIM = 32;
const EMBEDDER = 'test:vectors:32';
const local = makeCpuTarget('local');
const other = makeCpuTarget('other', { model: 'Other CPU 1' });

describe('persisted ANN index', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skb-ann-'));
    store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
    const contents = [...makeContents(local, 700), ...makeContents(other, 700, Date.UTC(2026, 1, 1))];
    await store.insertSchedules(contents, {
      targets: [local, other],
      embeddings: { embedderId: EMBEDDER, vectors: contents.map((_, i) => makeVector(DIM, i + 1)) },
    });
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The exact answer over the store's vectors, for comparison. */
  async function exactOver(): Promise<ReturnType<typeof createExactIndex>> {
    const exact = createExactIndex({ dim: DIM });
    exact.add(await store.listEmbeddings(EMBEDDER));
    return exact;
  }

  async function expectAgrees(index: {
    search: (v: Float32Array, k: number, f: string) => Array<{ label: number }>;
  }): Promise<void> {
    const exact = await exactOver();
    for (let q = 0; q < 20; q++) {
      const query = makeVector(DIM, 50_000 + q);
      expect(index.search(query, 5, local.family).map((h) => h.label)).toEqual(
        exact.search(query, 5, local.family).map((h) => h.label),
      );
    }
  }

  it('builds when missing, then loads the saved index on the next open', async () => {
    const first = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    expect(first.rebuiltBecause).toBe('missing');
    expect(first.size).toBe(1400);
    const meta = JSON.parse(readFileSync(first.path, 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({ embedderId: EMBEDDER, dim: DIM, revision: await store.revision(), count: 1400 });
    // One graph per family, each beside the metadata.
    expect((meta.graphs as Array<{ family: string }>).map((g) => g.family).sort()).toEqual(
      [local.family, other.family].sort(),
    );
    const second = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    expect(second.rebuiltBecause).toBeNull();
    expect(second.size).toBe(1400);
    await expectAgrees(second);
  });

  it('rebuilds a corrupt index file and answers correctly', async () => {
    const first = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    const graph = join(dir, 'index', readdirSync(join(dir, 'index')).find((name) => name.endsWith('.hnsw'))!);
    writeFileSync(graph, Buffer.alloc(readFileSync(graph).length, 0x5a));
    const reopened = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    expect(reopened.rebuiltBecause).toBe('corrupt');
    await expectAgrees(reopened);
    writeFileSync(first.path, '{ not json');
    expect((await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir })).rebuiltBecause).toBe(
      'corrupt',
    );
    expect((await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir })).rebuiltBecause).toBeNull();
  });

  it('rebuilds an index saved in the one-graph format of version 1 and removes its graph file', async () => {
    const first = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    const legacyGraph = first.path.replace(/\.meta\.json$/, '.hnsw');
    writeFileSync(legacyGraph, 'graph of every family');
    const meta = JSON.parse(readFileSync(first.path, 'utf8')) as Record<string, unknown>;
    writeFileSync(first.path, JSON.stringify({ ...meta, version: 1, graphs: undefined, families: {} }));
    const reopened = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    expect(reopened.rebuiltBecause).toBe('corrupt');
    expect(existsSync(legacyGraph)).toBe(false);
    await expectAgrees(reopened);
  });

  it('rebuilds when the store changed while the index was closed', async () => {
    await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    const extra = makeContents(local, 3, Date.UTC(2027, 0, 1)).map((c) => ({
      ...c,
      finalCode: `${c.finalCode}// extra\n`,
    }));
    await store.insertSchedules(extra, {
      embeddings: { embedderId: EMBEDDER, vectors: extra.map((_, i) => makeVector(DIM, 90_000 + i)) },
    });
    const removed = (await store.listSchedules({ targetKey: local.key }, { first: 1 })).items[0]!;
    const removedLabel = (await store.scheduleLabel(removed.id))!.label;
    await store.deleteSchedule(removed.id);
    const reopened = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    expect(reopened.rebuiltBecause).toBe('stale');
    expect(reopened.size).toBe(1402);
    expect(reopened.has(removedLabel)).toBe(false);
    const newLabel = (await store.listEmbeddings(EMBEDDER)).find(
      (r) => r.vector[0] === makeVector(DIM, 90_000)[0],
    )!.label;
    expect(reopened.search(makeVector(DIM, 90_000), 1, local.family)[0]!.label).toBe(newLabel);
  });

  it('keeps deletions and families across save and load', async () => {
    const index = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    const rows = await store.listEmbeddings(EMBEDDER);
    const victim = rows.find((r) => r.targetFamily === local.family)!;
    expect(index.remove(victim.label)).toBe(true);
    index.save(await store.revision());
    const loaded = await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    expect(loaded.rebuiltBecause).toBeNull();
    expect(loaded.has(victim.label)).toBe(false);
    expect(loaded.search(victim.vector, 5, local.family).map((h) => h.label)).not.toContain(victim.label);
    const otherLabels = new Set(rows.filter((r) => r.targetFamily === other.family).map((r) => r.label));
    expect(loaded.search(victim.vector, 50, other.family).every((h) => otherLabels.has(h.label))).toBe(true);
  });

  it('rebuilds for another dimension of the same embedder id, and refuses vectors the store holds in another dimension', async () => {
    await openAnnIndex({ store, embedderId: EMBEDDER, dim: DIM, dataDir: dir });
    const error = await openAnnIndex({ store, embedderId: EMBEDDER, dim: 48, dataDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SkbError);
    expect((error as SkbError).code).toBe('EMBEDDING_SPACE_MISMATCH');
    const empty = await openAnnIndex({ store, embedderId: 'test:other:48', dim: 48, dataDir: dir });
    expect(empty.rebuiltBecause).toBe('missing');
    expect((await openAnnIndex({ store, embedderId: 'test:other:48', dim: 24, dataDir: dir })).rebuiltBecause).toBe(
      'dimension',
    );
    expect(empty.size).toBe(0);
    expect(() => empty.add([{ label: 1, targetFamily: local.family, vector: makeVector(32, 1) }])).toThrow(
      /dimension 32 but this embedding space has dimension 48/,
    );
    expect(empty.size).toBe(0);
  });
});
