/**
 * The one test suite every SearchStore implementation must pass, as store-suite.ts is for Store.
 * Run it with `describeSearchStoreSuite(name, open)`; `open` gives a fresh, empty store each time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SearchConfigSchema,
  SkbError,
  TaskSchema,
  baselineKey,
  newSearchRecord,
  parseOperation,
  type CandidateRecord,
  type SearchRecord,
  type SearchStatus,
  type SearchStore,
} from '../../src/schedules/index.js';
import { sampleCandidate } from '../support/fixtures.js';

/** A search store and how to let go of it. */
export interface OpenedSearchStore {
  searches: SearchStore;
  close(): void;
}

async function rejection(promise: Promise<unknown>): Promise<SkbError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SkbError);
    return error as SkbError;
  }
  throw new Error('expected the call to be refused');
}

const at = (second: number): string => new Date(Date.UTC(2020, 0, 1) + second * 1000).toISOString();

/** A valid search record created at second `second` of the test's clock. */
function makeSearch(id: string, second: number, overrides: Partial<SearchRecord> = {}): SearchRecord {
  return {
    ...newSearchRecord({
      id,
      task: TaskSchema.parse({ operation: { kind: 'gemm', dims: { M: 64, N: 64, K: 64 } }, target: 'local' }),
      config: SearchConfigSchema.parse({ budget: 16 }),
      createdAt: at(second),
    }),
    ...overrides,
  };
}

/** A valid candidate: sample `sample` of search `searchId`. */
function makeCandidate(searchId: string, sample: number, overrides: Partial<CandidateRecord> = {}): CandidateRecord {
  return sampleCandidate(searchId, sample, 10 - sample / 10, {
    optionId: sample === 0 ? null : 'cpu.tile',
    optionLabel: sample === 0 ? null : 'Tile the loops',
    plan: sample === 0 ? null : `Tile by ${8 * sample}.`,
    params: sample === 0 ? null : { MR: 4, NR: 8 * sample },
    code: `/* sample ${sample} */\nvoid kernel(void) {}\n`,
    output: `sample ${sample} ran`,
    feedback: sample === 0 ? [] : [`sample ${sample} was faster`],
    admitted: false,
    createdAt: at(100 + sample),
    ...overrides,
  });
}

export function describeSearchStoreSuite(name: string, open: () => Promise<OpenedSearchStore>): void {
  describe(`SearchStore contract: ${name}`, () => {
    let opened: OpenedSearchStore;
    let store: SearchStore;

    beforeEach(async () => {
      opened = await open();
      store = opened.searches;
    });

    afterEach(() => {
      opened.close();
    });

    describe('searches', () => {
      it('gives a created search back as it was stored, and null for an unknown id', async () => {
        const record = makeSearch('s1', 0, {
          seeds: [{ scheduleId: 'sch_1', tier: 'exact', distance: 0, reuseId: 'reu_1', outcome: 'pending' }],
        });
        await store.createSearch(record);
        expect(await store.getSearch('s1')).toEqual(record);
        expect(await store.getSearch('nope')).toBeNull();
      });

      it('refuses a second search with the same id and keeps the first', async () => {
        const first = makeSearch('s1', 0);
        await store.createSearch(first);
        expect((await rejection(store.createSearch(makeSearch('s1', 5, { status: 'running' })))).code).toBe('CONFLICT');
        expect(await store.getSearch('s1')).toEqual(first);
      });

      it('refuses an invalid search with BAD_INPUT and stores nothing', async () => {
        const invalid = makeSearch('bad', 0, { samplesUsed: -1 });
        expect((await rejection(store.createSearch(invalid))).code).toBe('BAD_INPUT');
        expect(await store.getSearch('bad')).toBeNull();
      });

      it('applies a patch, keeps every other field, stamps updatedAt and returns the record as stored', async () => {
        const record = makeSearch('s1', 0);
        await store.createSearch(record);
        const patched = await store.updateSearch('s1', {
          status: 'running',
          samplesUsed: 5,
          bestLatencyMs: 2.5,
          message: 'half way',
        });
        expect(patched).toEqual({
          ...record,
          status: 'running',
          samplesUsed: 5,
          bestLatencyMs: 2.5,
          message: 'half way',
          updatedAt: patched.updatedAt,
        });
        expect(patched.updatedAt > record.updatedAt).toBe(true);
        expect(await store.getSearch('s1')).toEqual(patched);
        const again = await store.updateSearch('s1', { iteration: 2 });
        expect(again).toEqual({ ...patched, iteration: 2, updatedAt: again.updatedAt });
      });

      it('refuses to update an unknown search with NOT_FOUND', async () => {
        expect((await rejection(store.updateSearch('nope', { status: 'running' }))).code).toBe('NOT_FOUND');
        expect(await store.getSearch('nope')).toBeNull();
      });

      it('keeps long text exactly as given: quotes, placeholders, NUL and non-Latin characters', async () => {
        const baselineCode = `// it's "quoted"? ${'\u0000'} τ ✓ 🚀\n`.repeat(20_000);
        const record = makeSearch('s1', 0, {
          task: TaskSchema.parse({
            operation: { kind: 'gemm', dims: { M: 8, N: 8, K: 8 } },
            target: 'local',
            baselineCode,
          }),
        });
        await store.createSearch(record);
        expect((await store.getSearch('s1'))!.task.baselineCode).toBe(baselineCode);
        const updated = await store.updateSearch('s1', { error: "can't: 'x' ? y" });
        expect((await store.getSearch('s1'))!).toEqual(updated);
        expect(updated.task.baselineCode).toBe(baselineCode);
      });

      it('lists newest first, page by page, each search exactly once, with the total of every match', async () => {
        // Two searches share a creation time: the order between them is still fixed (by id).
        const seconds = [3, 1, 4, 1, 5, 9, 2];
        for (const [i, second] of seconds.entries())
          await store.createSearch(makeSearch(`s${i}`, second, { status: i % 2 ? 'finished' : 'queued' }));
        const seen: SearchRecord[] = [];
        let after: string | null = null;
        for (let pages = 0; ; pages++) {
          expect(pages).toBeLessThan(10);
          const page = await store.listSearches({}, { first: 3, after });
          expect(page.totalCount).toBe(seconds.length);
          expect(page.items.length).toBeLessThanOrEqual(3);
          seen.push(...page.items);
          if (!page.hasNextPage) break;
          expect(page.items).toHaveLength(3);
          after = page.endCursor;
        }
        const expected = seen
          .slice()
          .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
        expect(seen.map((s) => s.id)).toEqual(expected.map((s) => s.id));
        expect(new Set(seen.map((s) => s.id)).size).toBe(seconds.length);
        expect(seen[0]!.id).toBe('s5');
      });

      it('lists only the searches of a status when asked, counting only those', async () => {
        for (const [i, status] of (['queued', 'finished', 'finished', 'failed'] as const).entries())
          await store.createSearch(makeSearch(`s${i}`, i, { status }));
        const page = await store.listSearches({ status: 'finished' }, { first: 1 });
        expect(page.totalCount).toBe(2);
        expect(page.items.map((s) => s.id)).toEqual(['s2']);
        expect(page.hasNextPage).toBe(true);
        const next = await store.listSearches({ status: 'finished' }, { first: 1, after: page.endCursor });
        expect(next.items.map((s) => s.id)).toEqual(['s1']);
        expect(next.hasNextPage).toBe(false);
        expect(await store.listSearches({ status: 'running' }, { first: 10 })).toMatchObject({
          items: [],
          hasNextPage: false,
          totalCount: 0,
        });
      });

      it('refuses a page size outside 1 to 500 and a cursor it did not issue with BAD_INPUT', async () => {
        await store.createSearch(makeSearch('s1', 0));
        for (const first of [0, 501, 1.5])
          expect((await rejection(store.listSearches({}, { first }))).code).toBe('BAD_INPUT');
        expect((await store.listSearches({}, { first: 500 })).items).toHaveLength(1);
        expect((await rejection(store.listSearches({}, { first: 2, after: 'not-a-cursor' }))).code).toBe('BAD_INPUT');
      });

      it('finds the searches in any of some states, oldest first', async () => {
        const statuses: SearchStatus[] = ['running', 'finished', 'queued', 'running', 'cancelled'];
        for (const [i, status] of statuses.entries()) await store.createSearch(makeSearch(`s${i}`, 10 - i, { status }));
        expect((await store.searchesWithStatus(['queued', 'running'])).map((s) => s.id)).toEqual(['s3', 's2', 's0']);
        expect((await store.searchesWithStatus(['failed'])).map((s) => s.id)).toEqual([]);
        expect(await store.searchesWithStatus([])).toEqual([]);
        await store.updateSearch('s3', { status: 'failed' });
        expect((await store.searchesWithStatus(['queued', 'running'])).map((s) => s.id)).toEqual(['s2', 's0']);
      });
    });

    describe('candidates', () => {
      beforeEach(async () => {
        await store.createSearch(makeSearch('a', 0));
        await store.createSearch(makeSearch('b', 1));
      });

      it('gives every candidate of a search back as stored, in sample order, whatever order they came in', async () => {
        const records = [
          makeCandidate('a', 0),
          makeCandidate('a', 3, { forcedFrom: { scheduleId: 'sch_1', stepIndex: 1 }, model: 'm1' }),
          makeCandidate('a', 1),
        ];
        await store.insertCandidates(records.slice(0, 1));
        await store.insertCandidates(records.slice(1));
        await store.insertCandidates([makeCandidate('b', 1)]);
        expect(await store.listCandidates('a')).toEqual([records[0], records[2], records[1]]);
        expect((await store.listCandidates('b')).map((c) => c.id)).toEqual(['b-c1']);
        expect(await store.listCandidates('nope')).toEqual([]);
      });

      it('keeps large candidate code and output exactly as given', async () => {
        const code = `/* it's "${'?'}" */ ${'\u0000'} ∑ 🚀\n`.repeat(10_000);
        const records = [
          makeCandidate('a', 1, { code, output: code.slice(0, 5000) }),
          makeCandidate('a', 2, { code: `${code}// second\n` }),
        ];
        await store.insertCandidates(records);
        expect(await store.listCandidates('a')).toEqual(records);
      });

      it('stores the candidates of one call all or none: a sample already stored is a CONFLICT and nothing of the call is kept', async () => {
        await store.insertCandidates([makeCandidate('a', 1)]);
        const error = await rejection(
          store.insertCandidates([
            makeCandidate('a', 2),
            makeCandidate('a', 1, { id: 'a-again' }),
            makeCandidate('a', 3),
          ]),
        );
        expect(error.code).toBe('CONFLICT');
        expect(error.message).toContain('Sample 1');
        expect((await store.listCandidates('a')).map((c) => c.id)).toEqual(['a-c1']);
        // The store still takes writes after the refused call.
        await store.insertCandidates([makeCandidate('a', 2)]);
        expect((await store.listCandidates('a')).map((c) => c.sample)).toEqual([1, 2]);
      });

      it('refuses one sample given twice in a call, and takes the same sample number in another search', async () => {
        expect(
          (await rejection(store.insertCandidates([makeCandidate('a', 1), makeCandidate('a', 1, { id: 'a-twin' })])))
            .code,
        ).toBe('CONFLICT');
        expect(await store.listCandidates('a')).toEqual([]);
        await store.insertCandidates([makeCandidate('a', 1), makeCandidate('b', 1)]);
        expect((await store.listCandidates('a')).map((c) => c.id)).toEqual(['a-c1']);
        expect((await store.listCandidates('b')).map((c) => c.id)).toEqual(['b-c1']);
      });

      it('refuses an invalid candidate with BAD_INPUT and stores nothing of the call', async () => {
        const error = await rejection(
          store.insertCandidates([makeCandidate('a', 1), makeCandidate('a', 2, { sample: -2 })]),
        );
        expect(error.code).toBe('BAD_INPUT');
        expect(await store.listCandidates('a')).toEqual([]);
      });

      it('takes an empty call as a no-op', async () => {
        await store.insertCandidates([]);
        await store.markAdmitted('a', []);
        expect(await store.listCandidates('a')).toEqual([]);
      });

      it('marks only the given candidates of the given search as admitted', async () => {
        await store.insertCandidates([0, 1, 2].map((s) => makeCandidate('a', s)));
        await store.insertCandidates([makeCandidate('b', 1)]);
        await store.markAdmitted('a', ['a-c0', 'a-c2', 'b-c1', 'unknown']);
        expect((await store.listCandidates('a')).map((c) => [c.id, c.admitted])).toEqual([
          ['a-c0', true],
          ['a-c1', false],
          ['a-c2', true],
        ]);
        expect((await store.listCandidates('b')).map((c) => c.admitted)).toEqual([false]);
        await store.markAdmitted('a', ['a-c0']);
        expect((await store.listCandidates('a')).filter((c) => c.admitted).map((c) => c.id)).toEqual(['a-c0', 'a-c2']);
      });
    });

    describe('measured baselines', () => {
      const operation = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
      const identity = { targetKey: 't-0123456789abcdef', operation, code: 'void kernel() {}', timing: {} };
      const measured = {
        latencyMs: 0.85,
        output: 'ok',
        feedback: ['0.6 GFLOP/s'],
        searchId: 's1',
        measuredAt: at(1),
      };

      it('gives a stored baseline back under its key, and nothing under the key of another task, target or timing', async () => {
        await store.storeBaseline(baselineKey(identity), identity.targetKey, measured);
        expect(await store.findBaseline(baselineKey(identity))).toEqual(measured);
        const others = [
          { ...identity, targetKey: 't-fedcba9876543210' },
          { ...identity, code: 'void kernel() { }' },
          { ...identity, operation: parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 65 } }) },
          { ...identity, timing: { runs: 5 } },
          { ...identity, problemSource: 'class Model: pass' },
        ];
        for (const other of others) {
          expect(baselineKey(other)).not.toBe(baselineKey(identity));
          expect(await store.findBaseline(baselineKey(other))).toBeNull();
        }
      });

      it('keeps the newest measurement of a key, and refuses an invalid one with BAD_INPUT', async () => {
        await store.storeBaseline(baselineKey(identity), identity.targetKey, measured);
        const again = { ...measured, latencyMs: 0.8, searchId: 's2', measuredAt: at(2) };
        await store.storeBaseline(baselineKey(identity), identity.targetKey, again);
        expect(await store.findBaseline(baselineKey(identity))).toEqual(again);
        const bad = await rejection(
          store.storeBaseline(baselineKey(identity), identity.targetKey, { ...measured, latencyMs: -1 }),
        );
        expect(bad.code).toBe('BAD_INPUT');
        expect(await store.findBaseline(baselineKey(identity))).toEqual(again);
      });
    });
  });
}
