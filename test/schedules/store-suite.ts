/**
 * The one test suite every Store implementation must pass (the drizzle pattern: one contract,
 * several transports, one suite). Run it with `describeStoreSuite(name, makeStore)`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SkbError,
  makeTargetRecord,
  shapeKey,
  structureKey,
  toSchedule,
  type Store,
  type TargetRecord,
} from '../../src/schedules/index.js';
import { makeContent, makeContents, makeCpuTarget, makeGpuTarget, makeVector } from '../support/fixtures.js';

async function rejection(promise: Promise<unknown>): Promise<SkbError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SkbError);
    return error as SkbError;
  }
  throw new Error('expected the call to be refused');
}

export function describeStoreSuite(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cpu: TargetRecord;
    let other: TargetRecord;

    beforeEach(async () => {
      store = await makeStore();
      cpu = makeCpuTarget('local');
      other = makeCpuTarget('other-box', { model: 'Other CPU 7000' });
      await store.upsertTargets([cpu, other]);
    });

    afterEach(() => {
      store.close();
    });

    it('stores schedules and gives them back as they were inserted', async () => {
      const contents = makeContents(cpu, 3);
      const result = await store.insertSchedules(contents);
      expect(result.duplicates).toEqual([]);
      expect(result.inserted.map((s) => s.id)).toEqual(contents.map((c) => toSchedule(c).id));
      for (const s of result.inserted) expect(await store.getSchedule(s.id)).toEqual(s);
      expect(await store.getSchedule('sch_000000000000000000000000')).toBeNull();
    });

    it('inserts the targets given with the schedules in the same call', async () => {
      const gpu = makeGpuTarget('h100');
      const content = makeContent({ target: gpu, kind: 'softmax' });
      await store.insertSchedules([content], { targets: [gpu] });
      expect(await store.getTarget(gpu.key)).toEqual(gpu);
      expect((await store.allSchedules({ targetFamily: gpu.family })).map((s) => s.id)).toEqual([
        toSchedule(content).id,
      ]);
    });

    it('deduplicates by content: a repeated schedule is reported, not stored twice', async () => {
      const [a, b] = makeContents(cpu, 2);
      const first = await store.insertSchedules([a!, a!]);
      expect(first.inserted).toHaveLength(1);
      expect(first.duplicates).toEqual([toSchedule(a!).id]);
      const revision = await store.revision();
      const second = await store.insertSchedules([a!, b!]);
      expect(second.inserted.map((s) => s.id)).toEqual([toSchedule(b!).id]);
      expect(second.duplicates).toEqual([toSchedule(a!).id]);
      expect(await store.allSchedules({})).toHaveLength(2);
      expect(await store.revision()).toBe(revision + 1);
      const third = await store.insertSchedules([a!]);
      expect(third).toEqual({ inserted: [], duplicates: [toSchedule(a!).id], storedIds: [toSchedule(a!).id] });
      expect(await store.revision()).toBe(revision + 1);
    });

    it('writes a batch whole or not at all: a schedule with an unknown target refuses the whole batch', async () => {
      const good = makeContents(cpu, 2);
      const unknown = makeContent({
        target: makeCpuTarget('nowhere', { model: 'Unknown CPU' }),
        createdAt: '2026-02-01T00:00:00.000Z',
      });
      const before = await store.revision();
      const error = await rejection(
        store.insertSchedules([good[0]!, unknown, good[1]!], {
          embeddings: { embedderId: 'e1', vectors: [makeVector(8, 1), makeVector(8, 2), makeVector(8, 3)] },
        }),
      );
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain(unknown.targetKey);
      expect(await store.allSchedules({})).toEqual([]);
      expect(await store.embeddingSpaces()).toEqual([]);
      expect(await store.revision()).toBe(before);
      // The store still works after the rolled-back transaction.
      expect((await store.insertSchedules(good)).inserted).toHaveLength(2);
    });

    it('refuses invalid content with a message naming the field', async () => {
      const bad = { ...makeContent({ target: cpu }), bestLatencyMs: -1 };
      const error = await rejection(store.insertSchedules([bad]));
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain('bestLatencyMs');
    });

    it('filters by kind, keys, target, family, dimension ranges, speedup and ids', async () => {
      const gemmSmall = makeContent({
        target: cpu,
        dims: { M: 128, N: 128, K: 128 },
        latencies: [10, 5],
        createdAt: '2026-01-01T00:00:01.000Z',
      });
      const gemmBig = makeContent({
        target: cpu,
        dims: { M: 1024, N: 1024, K: 1024 },
        latencies: [10, 2],
        createdAt: '2026-01-01T00:00:02.000Z',
      });
      const gemmOther = makeContent({
        target: other,
        dims: { M: 1024, N: 1024, K: 1024 },
        latencies: [10, 8],
        createdAt: '2026-01-01T00:00:03.000Z',
      });
      const conv = makeContent({
        target: cpu,
        kind: 'conv2d',
        operation: { attrs: { stride: 1, pad: 1 } },
        latencies: [10, 9],
        createdAt: '2026-01-01T00:00:04.000Z',
      });
      const { inserted } = await store.insertSchedules([gemmSmall, gemmBig, gemmOther, conv]);
      const [sSmall, sBig, sOther, sConv] = inserted;
      const ids = async (filter: Parameters<Store['allSchedules']>[0]): Promise<string[]> =>
        (await store.allSchedules(filter)).map((s) => s.id);

      expect(await ids({})).toEqual([sSmall!.id, sBig!.id, sOther!.id, sConv!.id]);
      expect(await ids({ kind: 'conv2d' })).toEqual([sConv!.id]);
      expect(await ids({ structureKey: structureKey(gemmSmall.operation) })).toEqual([
        sSmall!.id,
        sBig!.id,
        sOther!.id,
      ]);
      expect(await ids({ shapeKey: shapeKey(gemmBig.operation) })).toEqual([sBig!.id, sOther!.id]);
      expect(await ids({ targetKey: other.key })).toEqual([sOther!.id]);
      expect(await ids({ targetFamily: cpu.family })).toEqual([sSmall!.id, sBig!.id, sConv!.id]);
      expect(await ids({ dims: { M: { min: 256 } } })).toEqual([sBig!.id, sOther!.id]);
      expect(await ids({ dims: { M: { min: 100, max: 200 }, K: { max: 128 } } })).toEqual([sSmall!.id]);
      expect(await ids({ dims: { C: { min: 1 } } })).toEqual([sConv!.id]);
      expect(await ids({ minSpeedup: 2 })).toEqual([sSmall!.id, sBig!.id]);
      expect(await ids({ ids: [sConv!.id, sSmall!.id, 'sch_nope'] })).toEqual([sSmall!.id, sConv!.id]);
      expect(await ids({ ids: [] })).toEqual([]);
      expect(await ids({ kind: 'gemm', targetKey: cpu.key, minSpeedup: 4 })).toEqual([sBig!.id]);
    });

    it('pages through schedules in (createdAt, id) order with opaque cursors', async () => {
      const contents = makeContents(cpu, 5);
      // Two more with the same creation time as the third: the id breaks the tie.
      const tied = [1, 2].map((i) =>
        makeContent({
          target: cpu,
          dims: { M: 8 * i, N: 8, K: 8 },
          createdAt: contents[2]!.createdAt.replace('.000Z', 'Z'),
        }),
      );
      await store.insertSchedules([...tied, ...contents].reverse());
      const all = await store.allSchedules({});
      expect(all).toHaveLength(7);
      const order = [...all].sort(
        (a, b) => new Date(a.createdAt).getTime() - new Date(b.createdAt).getTime() || (a.id < b.id ? -1 : 1),
      );
      expect(all.map((s) => s.id)).toEqual(order.map((s) => s.id));

      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const page = await store.listSchedules({}, { first: 3, after });
        expect(page.totalCount).toBe(7);
        seen.push(...page.items.map((s) => s.id));
        pages++;
        if (!page.hasNextPage) {
          expect(page.endCursor).toBeNull();
          break;
        }
        after = page.endCursor;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(all.map((s) => s.id));

      const filtered = await store.listSchedules({ dims: { M: { min: 64 } } }, { first: 2 });
      expect(filtered.totalCount).toBe(5);
      expect(filtered.items.map((s) => s.id)).toEqual(
        all
          .filter((s) => s.operation.dims.M! >= 64)
          .slice(0, 2)
          .map((s) => s.id),
      );

      expect((await rejection(store.listSchedules({}, { first: 2, after: 'not-a-cursor' }))).code).toBe('BAD_INPUT');
      expect((await rejection(store.listSchedules({}, { first: 0 }))).code).toBe('BAD_INPUT');
    });

    it('manages targets: upsert keeps the first name, list is sorted, a forged key is refused', async () => {
      const renamed = { ...cpu, name: 'renamed', description: 'A better description.' };
      await store.upsertTargets([renamed]);
      expect(await store.getTarget(cpu.key)).toEqual({ ...cpu, description: 'A better description.' });
      expect((await store.listTargets()).map((t) => t.key)).toEqual([cpu.key, other.key].sort());
      expect(await store.getTarget('t-0000000000000000')).toBeNull();
      const forged = { ...other, key: cpu.key };
      const error = await rejection(store.upsertTargets([forged]));
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain('fingerprint');
    });

    it('stores embeddings per space and refuses a vector of another dimension without writing anything', async () => {
      const { inserted } = await store.insertSchedules(makeContents(cpu, 3), {
        embeddings: { embedderId: 'offline-v1', vectors: [1, 2, 3].map((i) => makeVector(16, i)) },
      });
      const rows = await store.listEmbeddings('offline-v1');
      expect(rows.map((r) => r.scheduleId)).toEqual(inserted.map((s) => s.id));
      expect(rows.map((r) => Array.from(r.vector))).toEqual([1, 2, 3].map((i) => Array.from(makeVector(16, i))));
      expect(rows.every((r) => r.targetFamily === cpu.family)).toBe(true);
      expect(await store.embeddingSpaces()).toEqual([{ embedderId: 'offline-v1', dim: 16, count: 3 }]);

      const revision = await store.revision();
      const error = await rejection(
        store.putEmbeddings('offline-v1', [
          { scheduleId: inserted[0]!.id, vector: makeVector(16, 9) },
          { scheduleId: inserted[1]!.id, vector: makeVector(32, 9) },
        ]),
      );
      expect(error.code).toBe('EMBEDDING_SPACE_MISMATCH');
      expect(error.message).toContain('offline-v1');
      expect(error.message).toContain('16');
      expect(error.message).toContain('32');
      expect(await store.listEmbeddings('offline-v1')).toEqual(rows);
      expect(await store.revision()).toBe(revision);

      const missing = await rejection(
        store.putEmbeddings('offline-v1', [
          { scheduleId: inserted[0]!.id, vector: makeVector(16, 9) },
          { scheduleId: 'sch_missing', vector: makeVector(16, 9) },
        ]),
      );
      expect(missing.code).toBe('NOT_FOUND');
      expect(await store.listEmbeddings('offline-v1')).toEqual(rows);

      await store.putEmbeddings('offline-v1', [{ scheduleId: inserted[0]!.id, vector: makeVector(16, 42) }]);
      expect(Array.from((await store.listEmbeddings('offline-v1'))[0]!.vector)).toEqual(Array.from(makeVector(16, 42)));
      expect(await store.revision()).toBe(revision + 1);

      await store.putEmbeddings('openai:text-embedding-3-small', [
        { scheduleId: inserted[2]!.id, vector: makeVector(48, 1) },
      ]);
      expect(await store.embeddingSpaces()).toEqual([
        { embedderId: 'offline-v1', dim: 16, count: 3 },
        { embedderId: 'openai:text-embedding-3-small', dim: 48, count: 1 },
      ]);
    });

    it('treats empty batches as no-ops', async () => {
      const revision = await store.revision();
      expect(await store.insertSchedules([], { embeddings: { embedderId: 'e', vectors: [] } })).toEqual({
        inserted: [],
        duplicates: [],
        storedIds: [],
      });
      await store.putEmbeddings('e', []);
      expect(await store.embeddingSpaces()).toEqual([]);
      expect(await store.revision()).toBe(revision);
    });

    it('refuses embeddings of another dimension given with new schedules, inserting nothing', async () => {
      const [a, b] = makeContents(cpu, 2);
      await store.insertSchedules([a!], { embeddings: { embedderId: 'e', vectors: [makeVector(8, 1)] } });
      const error = await rejection(
        store.insertSchedules([b!], { embeddings: { embedderId: 'e', vectors: [makeVector(12, 1)] } }),
      );
      expect(error.code).toBe('EMBEDDING_SPACE_MISMATCH');
      expect((await store.allSchedules({})).map((s) => s.id)).toEqual([toSchedule(a!).id]);
    });

    it('gives each schedule a stable label, never reused after a delete', async () => {
      const { inserted } = await store.insertSchedules(makeContents(cpu, 3));
      const labels = await Promise.all(inserted.map(async (s) => (await store.scheduleLabel(s.id))!.label));
      expect(new Set(labels).size).toBe(3);
      expect((await store.scheduleLabel(inserted[0]!.id))!.targetFamily).toBe(cpu.family);
      expect((await store.schedulesByLabels([labels[2]!, labels[0]!, 999_999])).map((s) => s.id)).toEqual([
        inserted[2]!.id,
        inserted[0]!.id,
      ]);

      await store.deleteSchedule(inserted[2]!.id);
      const { inserted: again } = await store.insertSchedules([makeContent({ target: cpu, kind: 'matvec' })]);
      const newLabel = (await store.scheduleLabel(again[0]!.id))!.label;
      expect(newLabel).toBeGreaterThan(Math.max(...labels));
      expect(await store.scheduleLabel('sch_missing')).toBeNull();
    });

    it('looks up the labels of many schedules in one call, leaving unknown ids out', async () => {
      const { inserted } = await store.insertSchedules(makeContents(cpu, 3));
      const one = await Promise.all(
        inserted.map(async (s) => ({ scheduleId: s.id, ...(await store.scheduleLabel(s.id))! })),
      );
      const many = await store.scheduleLabels([...inserted.map((s) => s.id), 'sch_missing']);
      expect([...many].sort((a, b) => a.label - b.label)).toEqual([...one].sort((a, b) => a.label - b.label));
      expect(await store.scheduleLabels([])).toEqual([]);
    });

    it('lists the shapes of one structure on one family without other structures or families', async () => {
      const gpu = makeGpuTarget('h100');
      const gemms = makeContents(cpu, 3);
      const elsewhere = [
        makeContent({ target: cpu, kind: 'softmax' }),
        makeContent({ target: gpu, dims: { M: 64, N: 256, K: 256 }, createdAt: '2026-02-01T00:00:00.000Z' }),
      ];
      const { inserted } = await store.insertSchedules([...gemms, ...elsewhere], { targets: [gpu] });
      const shapes = await store.listShapes({
        structureKey: structureKey(inserted[0]!.operation),
        targetFamily: cpu.family,
      });
      const expected = await Promise.all(
        inserted.slice(0, 3).map(async (s) => ({
          id: s.id,
          label: (await store.scheduleLabel(s.id))!.label,
          shapeKey: shapeKey(s.operation),
          dims: s.operation.dims,
          speedup: s.speedup,
        })),
      );
      expect(shapes).toEqual(expected);
      expect(await store.listShapes({ structureKey: 'no-such-structure', targetFamily: cpu.family })).toEqual([]);
    });

    it('keeps text with quotes, backslashes and non-ASCII characters exactly as given', async () => {
      const odd = makeTargetRecord(
        "o'brien",
        `It's "quoted" \\ back\\slashed; -- not a comment; ünïcødé 🚀`,
        makeCpuTarget('x', { model: "O'Brien's CPU" }).fingerprint,
      );
      const content = makeContent({ target: odd, finalCode: `/* it's */ const char *s = "a'b\\n"; // 'x' ü 🚀\n` });
      const { inserted } = await store.insertSchedules([content], {
        targets: [odd],
        embeddings: { embedderId: "e'1", vectors: [makeVector(8, 3)] },
      });
      expect(await store.getSchedule(inserted[0]!.id)).toEqual(inserted[0]);
      expect(await store.getTarget(odd.key)).toEqual(odd);
      expect((await store.listEmbeddings("e'1")).map((r) => Array.from(r.vector))).toEqual([
        Array.from(makeVector(8, 3)),
      ]);
    });

    it('deletes a schedule with its embeddings and reuses', async () => {
      const { inserted } = await store.insertSchedules(makeContents(cpu, 2), {
        embeddings: { embedderId: 'e', vectors: [makeVector(4, 1), makeVector(4, 2)] },
      });
      const [a, b] = inserted;
      await store.recordReuse({
        scheduleId: a!.id,
        searchId: 'search-1',
        tier: 'exact',
        distance: 0,
        outcome: 'pending',
      });
      await store.recordReuse({
        scheduleId: b!.id,
        searchId: 'search-1',
        tier: 'structure',
        distance: 0.5,
        outcome: 'pending',
      });
      const revision = await store.revision();

      expect(await store.deleteSchedule(a!.id)).toBe(true);
      expect(await store.getSchedule(a!.id)).toBeNull();
      expect((await store.listEmbeddings('e')).map((r) => r.scheduleId)).toEqual([b!.id]);
      expect((await store.listReuses({ searchId: 'search-1' })).map((r) => r.scheduleId)).toEqual([b!.id]);
      expect(await store.allSchedules({ dims: { M: { min: 1 } } })).toEqual([b]);
      expect(await store.revision()).toBe(revision + 1);
      expect(await store.deleteSchedule(a!.id)).toBe(false);
      expect(await store.revision()).toBe(revision + 1);
    });

    it('records reuses and their outcomes', async () => {
      const { inserted } = await store.insertSchedules(makeContents(cpu, 2));
      const r1 = await store.recordReuse({
        scheduleId: inserted[0]!.id,
        searchId: 'search-1',
        tier: 'exact',
        distance: 0,
        outcome: 'pending',
      });
      const r2 = await store.recordReuse({
        id: 'reuse-2',
        scheduleId: inserted[1]!.id,
        searchId: 'search-2',
        tier: 'similar',
        distance: 0.25,
        outcome: 'pending',
      });
      expect(r1.id).toMatch(/^reu_/);
      expect(r2.id).toBe('reuse-2');
      const updated = await store.updateReuse(r1.id, { outcome: 'improved', gain: 1.4 });
      expect(updated).toEqual({ ...r1, outcome: 'improved', gain: 1.4 });
      expect(await store.listReuses({ scheduleId: inserted[0]!.id })).toEqual([updated]);
      expect(await store.listReuses({ searchId: 'search-2' })).toEqual([r2]);
      expect(await store.listReuses({})).toHaveLength(2);

      expect(
        (
          await rejection(
            store.recordReuse({
              scheduleId: 'sch_missing',
              searchId: 's',
              tier: 'exact',
              distance: 0,
              outcome: 'pending',
            }),
          )
        ).code,
      ).toBe('NOT_FOUND');
      expect(
        (
          await rejection(
            store.recordReuse({
              id: 'reuse-2',
              scheduleId: inserted[0]!.id,
              searchId: 's',
              tier: 'exact',
              distance: 0,
              outcome: 'pending',
            }),
          )
        ).code,
      ).toBe('CONFLICT');
      expect((await rejection(store.updateReuse('nope', { outcome: 'failed' }))).code).toBe('NOT_FOUND');
    });

    it('summarizes operations with their schedule count and best speedup', async () => {
      const a = makeContent({ target: cpu, latencies: [10, 5], createdAt: '2026-01-01T00:00:01.000Z' });
      const b = makeContent({ target: other, latencies: [10, 2.5], createdAt: '2026-01-01T00:00:02.000Z' });
      const c = makeContent({ target: cpu, kind: 'layernorm' });
      await store.insertSchedules([a, b, c]);
      const ops = await store.listOperations();
      expect(ops).toHaveLength(2);
      const gemm = ops.find((o) => o.shapeKey === shapeKey(a.operation))!;
      expect(gemm).toEqual({
        operation: a.operation,
        structureKey: structureKey(a.operation),
        shapeKey: shapeKey(a.operation),
        scheduleCount: 2,
        bestSpeedup: 4,
      });
    });

    it('keeps concurrent writes apart and counts each in the revision', async () => {
      const contents = makeContents(cpu, 6);
      const before = await store.revision();
      const results = await Promise.all(contents.map((c) => store.insertSchedules([c])));
      expect(results.flatMap((r) => r.inserted)).toHaveLength(6);
      expect(await store.revision()).toBe(before + 6);
      expect(await store.allSchedules({})).toHaveLength(6);
    });
  });
}
