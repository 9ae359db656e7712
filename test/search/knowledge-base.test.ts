import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embeddings/embedder.js';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';
import { parseOperation, SkbError, structureKey, toSchedule } from '../../src/schedules/index.js';
import { makeContent, makeContents, makeCpuTarget } from '../support/fixtures.js';

const local = makeCpuTarget('local');
const remote = makeCpuTarget('remote', { model: 'Remote CPU 7' });
const query = parseOperation({ kind: 'gemm', dims: { M: 256, N: 256, K: 256 } });

async function count(kb: OpenedKnowledgeBase): Promise<number> {
  return (await kb.listSchedules({}, { first: 1 })).totalCount;
}

describe('knowledge base service', () => {
  let dir: string;
  let dbUrl: string;
  const open = (embedder: Embedder = createOfflineEmbedder(), saveDelayMs = 0) =>
    openKnowledgeBase({ dbUrl, dataDir: dir, embedder, saveDelayMs });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skb-kb-'));
    dbUrl = `file:${join(dir, 'kb.db')}`;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores, indexes and retrieves added schedules, and reloads the saved index on the next open', async () => {
    const kb = await open();
    expect(kb.index.rebuiltBecause).toBe('missing');
    const result = await kb.addSchedules([...makeContents(local, 20), ...makeContents(remote, 5)], [local, remote]);
    expect(result.inserted).toHaveLength(25);
    expect(kb.index.size).toBe(25);
    const again = await kb.addSchedules(makeContents(local, 2));
    expect(again.duplicates).toHaveLength(2);
    expect(kb.index.size).toBe(25);
    const matches = await kb.similar({ operation: query, targetKey: local.key, k: 5 });
    expect(matches[0]!.tier).toBe('exact');
    expect(matches.every((m) => m.schedule.targetKey === local.key)).toBe(true);
    await kb.close();

    const reopened = await open();
    expect(reopened.index.rebuiltBecause).toBeNull();
    expect(reopened.index.size).toBe(25);
    await reopened.close();
  });

  it('saves a debounced index on close', async () => {
    const kb = await open(createOfflineEmbedder(), 60_000);
    await kb.addSchedules(makeContents(local, 10), [local]);
    await kb.close();
    const reopened = await open();
    expect(reopened.index.rebuiltBecause).toBeNull();
    expect(reopened.index.size).toBe(10);
    await reopened.close();
  });

  it('embeds schedules stored under another embedder when it opens with a new one', async () => {
    const kb = await open();
    await kb.addSchedules(makeContents(local, 6), [local]);
    await kb.close();
    const switched = await open(createOfflineEmbedder({ dim: 64 }));
    expect(switched.index.size).toBe(6);
    expect((await switched.store.embeddingSpaces()).map((s) => [s.embedderId, s.count]).sort()).toEqual([
      ['offline-v1-128', 6],
      ['offline-v1-64', 6],
    ]);
    const similarOnly = await switched.similar({ operation: query, targetKey: local.key, k: 6, tiers: ['similar'] });
    expect(similarOnly).toHaveLength(6);
    await switched.close();
    const again = await open(createOfflineEmbedder({ dim: 64 }));
    expect(again.index.rebuiltBecause).toBeNull();
    await again.close();
  });

  it('deletes from the store and the index', async () => {
    const kb = await open();
    const { inserted } = await kb.addSchedules(makeContents(local, 5), [local]);
    const exact = inserted.find((s) => s.operation.dims.M === 256)!;
    expect((await kb.similar({ operation: query, targetKey: local.key, k: 10 })).map((m) => m.schedule.id)).toContain(
      exact.id,
    );
    expect(await kb.deleteSchedule(exact.id)).toBe(true);
    expect(await kb.deleteSchedule(exact.id)).toBe(false);
    expect(kb.index.size).toBe(4);
    const after = await kb.similar({ operation: query, targetKey: local.key, k: 10 });
    expect(after.map((m) => m.schedule.id)).not.toContain(exact.id);
    expect(after).toHaveLength(4);
    expect(after.map((m) => m.tier)).not.toContain('exact');
    const replacement = makeContent({ target: local, dims: { M: 256, N: 256, K: 256 }, latencies: [7, 2] });
    await kb.addSchedules([replacement]);
    const withNew = await kb.similar({ operation: query, targetKey: local.key, k: 10 });
    expect(withNew[0]).toMatchObject({ tier: 'exact', schedule: { id: toSchedule(replacement).id } });
    await kb.close();
  });

  it('refuses an embedder whose vectors would not fit, and changes nothing', async () => {
    const kb = await open();
    await kb.addSchedules(makeContents(local, 3), [local]);
    const base = createOfflineEmbedder({ dim: 64 });
    const broken: Embedder = { id: 'offline-v1-128', dim: 128, embed: (docs) => base.embed(docs) };
    await kb.addSchedules(makeContents(remote, 2), [remote]);
    await kb.close();

    const misfit = await open(broken);
    const failure = await misfit
      .addSchedules([makeContent({ target: local, dims: { M: 7, N: 7, K: 7 } })])
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SkbError);
    expect((failure as SkbError).code).toBe('EMBEDDING_SPACE_MISMATCH');
    expect(await count(misfit)).toBe(5);
    expect(misfit.index.size).toBe(5);
    await misfit.close();

    const renamed: Embedder = { ...base, id: 'offline-v1-128' };
    const refused = await open(renamed).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SkbError);
    expect((refused as SkbError).code).toBe('EMBEDDING_SPACE_MISMATCH');
    expect((refused as SkbError).message).toMatch(
      /holds 5 vectors of embedder offline-v1-128 with dimension 128, but the embedder now produces dimension 64/,
    );
  });

  it('exports with filters, similarity and pruning, and imports whole files or nothing', async () => {
    const kb = await open();
    const slow = makeContent({ target: local, dims: { M: 256, N: 256, K: 256 }, latencies: [10, 8] });
    await kb.addSchedules([...makeContents(local, 12), slow, ...makeContents(remote, 3)], [local, remote]);

    const all = await kb.exportJsonl({ filter: {}, pruned: false });
    const lines = all
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'header', embedder: 'offline-v1-128' });
    expect(lines.filter((l) => l.type === 'schedule')).toHaveLength(16);

    const pruned = await kb.exportJsonl({ filter: { targetKey: local.key }, pruned: true });
    expect(pruned.split('\n').filter((l) => l.includes('"type":"schedule"'))).toHaveLength(12);
    expect(all).toContain(toSchedule(slow).id);
    expect(pruned).not.toContain(toSchedule(slow).id);

    const near = await kb.exportJsonl({
      filter: {},
      pruned: false,
      similarTo: { operation: query, targetKey: local.key, k: 3 },
    });
    const nearSchedules = near.split('\n').filter((l) => l.includes('"type":"schedule"'));
    expect(nearSchedules).toHaveLength(3);
    expect(near).not.toContain(remote.key);

    await kb.close();
    const target = await open();
    const bad = all.trim().split('\n');
    bad[bad.length - 1] = bad[bad.length - 1]!.replace('"samplesUsed":', '"samplesUsed":"many","x":');
    const failure = await target.importJsonl(`${bad.join('\n')}\n`).catch((e: unknown) => e);
    expect((failure as SkbError).code).toBe('IMPORT_FAILED');
    expect(await count(target)).toBe(16);

    await target.close();
  });

  it('imports into an empty knowledge base and retrieves from it', async () => {
    const source = await open();
    await source.addSchedules([...makeContents(local, 6), ...makeContents(remote, 2)], [local, remote]);
    const text = await source.exportJsonl({ filter: {}, pruned: false });
    await source.close();

    const otherDir = mkdtempSync(join(tmpdir(), 'skb-kb-import-'));
    try {
      const kb = await openKnowledgeBase({
        dbUrl: `file:${join(otherDir, 'kb.db')}`,
        dataDir: otherDir,
        embedder: createOfflineEmbedder(),
        saveDelayMs: 0,
      });
      const lines = text.trim().split('\n');
      lines.splice(2, 0, '{"type":"nonsense"}');
      const failure = await kb.importJsonl(`${lines.join('\n')}\n`).catch((e: unknown) => e);
      expect((failure as SkbError).code).toBe('IMPORT_FAILED');
      expect((failure as SkbError).details?.errors).toEqual([expect.objectContaining({ line: 3 })]);
      expect(await count(kb)).toBe(0);
      expect(kb.index.size).toBe(0);

      const report = await kb.importJsonl(text);
      expect(report).toMatchObject({ imported: 8, duplicates: 0, targets: 2 });
      expect(report.scheduleIds).toHaveLength(8);
      expect(kb.index.size).toBe(8);
      const matches = await kb.similar({ operation: query, targetKey: local.key, k: 3 });
      expect(matches[0]).toMatchObject({ tier: 'exact', distance: 0 });
      expect((await kb.importJsonl(text)).duplicates).toBe(8);
      await kb.close();
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('notices writes by another process on the same database and rebuilds its index', async () => {
    const reader = await open();
    await reader.addSchedules(makeContents(local, 3), [local]);
    expect((await reader.similar({ operation: query, targetKey: local.key, k: 10 })).length).toBe(3);
    const writer = await open();
    expect(writer.index.rebuiltBecause).toBeNull();
    const fresh = makeContent({ target: local, dims: { M: 512, N: 512, K: 512 }, latencies: [9, 3] });
    await writer.addSchedules([fresh]);
    await writer.close();
    const matches = await reader.similar({ operation: parseOperation(fresh.operation), targetKey: local.key, k: 10 });
    expect(matches[0]).toMatchObject({ tier: 'exact' });
    expect(matches).toHaveLength(4);
    expect(reader.index.size).toBe(4);
    await reader.close();
  });

  it('ranks by reuse outcomes another process recorded after this one last answered', async () => {
    const reader = await open();
    await reader.addSchedules(makeContents(local, 3), [local]);
    const ask = () => reader.similar({ operation: query, targetKey: local.key, k: 10, tiers: ['structure', 'exact'] });
    const before = await ask();
    expect(before.some((m) => m.reason.includes('transferred well'))).toBe(false);
    const writer = await open();
    const reused = before.at(-1)!.schedule.id;
    const reuse = await writer.store.recordReuse({
      scheduleId: reused,
      searchId: 'search-elsewhere',
      tier: 'structure',
      distance: 1,
      outcome: 'pending',
    });
    await writer.store.updateReuse(reuse.id, { outcome: 'improved' });
    await writer.close();
    const after = await ask();
    expect(after.find((m) => m.schedule.id === reused)!.reason).toContain('transferred well 1 of 1 time');
    await reader.close();
  });
});

describe('measured points for the cost model', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skb-points-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const open = (name: string) =>
    openKnowledgeBase({
      dbUrl: `file:${join(dir, `${name}.db`)}`,
      dataDir: join(dir, name),
      embedder: createOfflineEmbedder(),
      saveDelayMs: 0,
    });
  const knobs = (vec: number) => ({ knobs: { vec, mr: 6 } });
  const withMeasurements = makeContent({
    target: local,
    dims: { M: 256, N: 256, K: 256 },
    createdAt: '2026-01-01T00:00:00.000Z',
    extra: {
      measurements: [
        { params: knobs(1), latencyMs: 10 },
        { params: knobs(4), latencyMs: 6 },
        { params: knobs(16), latencyMs: 4 },
      ],
    },
  });
  const older = makeContent({
    target: local,
    dims: { M: 128, N: 128, K: 128 },
    latencies: [9, 5],
    createdAt: '2026-01-02T00:00:00.000Z',
    extra: {
      negatives: [
        { optionId: 'cpu.vectorize', plan: 'slower', params: knobs(8), outcome: 'regressed', atStep: 0, latencyMs: 12 },
        { optionId: 'cpu.vectorize', plan: 'broke', params: knobs(2), outcome: 'failed', atStep: 0 },
      ],
    },
  });
  const elsewhere = makeContent({
    target: remote,
    dims: { M: 256, N: 256, K: 256 },
    extra: { measurements: [{ params: knobs(1), latencyMs: 1 }] },
  });
  const conv = makeContent({
    target: local,
    kind: 'conv2d',
    extra: { measurements: [{ params: knobs(1), latencyMs: 1 }] },
  });
  const group = { structureKey: structureKey(query), targetFamily: local.family };

  it("reads every schedule's measurements of one structure on one family, steps and regressed negatives where it has none", async () => {
    const kb = await open('a');
    await kb.addSchedules([withMeasurements, older, elsewhere, conv], [local, remote]);
    const points = await kb.measuredPoints(group);
    expect(points.map((p) => [p.operation.dims.M, p.params, p.latencyMs])).toEqual([
      [256, knobs(1), 10],
      [256, knobs(4), 6],
      [256, knobs(16), 4],
      [128, { step: 1 }, 5],
      [128, knobs(8), 12],
    ]);
    // A resumed search reads what existed when it was created.
    expect(await kb.measuredPoints({ ...group, createdBefore: '2026-01-01T12:00:00.000Z' })).toHaveLength(3);
    await kb.close();
  });

  it('keeps them through export and import, and keeps the id of a schedule stored without them', async () => {
    const source = await open('source');
    const { inserted } = await source.addSchedules([withMeasurements, older], [local]);
    const text = await source.exportJsonl({ filter: {}, pruned: false });
    await source.close();
    const target = await open('target');
    const report = await target.importJsonl(text);
    expect(report.scheduleIds.sort()).toEqual(inserted.map((s) => s.id).sort());
    expect(await target.measuredPoints(group)).toHaveLength(5);
    expect(toSchedule(older).id).toBe(inserted.find((s) => s.operation.dims.M === 128)!.id);
    expect('measurements' in older).toBe(false);
    await target.close();
  });
});
