/**
 * Schedule reuse end to end, on a real libSQL file, the real engine, the template planner with the
 * real kernel templates and the real C toolchain: a finished search stores its schedule in the
 * transaction that marks it finished, a later search on a nearby shape is seeded by it (replay in
 * iteration 1, guided slots after), the reuse outcomes are recorded and lift the schedule's rank.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import {
  makeTargetRecord,
  parseOperation,
  seedOfCandidate,
  type SearchConfigInput,
  type SearchRecord,
} from '../../src/schedules/index.js';
import { bestLineage, REPLAY_OPTION_ID } from '../../src/schedules/index.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';
import { createSearchService } from '../../src/search/search-service.js';
import { createTemplatePlanner } from '../../src/search/template-planner.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import type { Target } from '../../src/targets/target.js';
import { poolOfTargets } from '../../src/targets/target-pool.js';
import { hasTemplate, templateFor } from '../../src/targets/templates/index.js';
import { makeContent, makeCpuTarget } from '../support/fixtures.js';

const timing = { warmup: 1, runs: 3 };
const SEED_SHAPE = { M: 128, N: 128, K: 128 };
/** The settings of the search that makes the seed schedule (and of the one whose schedule a trigger refuses). */
const SEED_SEARCH: SearchConfigInput = {
  beamWidth: 2,
  plansPerCandidate: 3,
  implementationsPerPlan: 1,
  iterations: 4,
  budget: 12,
  seed: 5,
  timing,
};
const NEAR_SHAPE = { M: 96, N: 128, K: 128 };

let dir: string;
let dbUrl: string;
let kb: OpenedKnowledgeBase;
let target: Target;
let isa: string[] = [];

function localTarget(): Target {
  const executor = createLocalExecutor({ root: mkdtempSync(join(dir, 'ws-')) });
  const toolchain = createCToolchain();
  const t: Target = {
    id: 'local',
    member: 'local',
    description: 'this machine',
    executor,
    toolchain,
    fingerprint: () => toolchain.fingerprint(executor),
    record: async () => makeTargetRecord('local', 'this machine', await t.fingerprint()),
    evaluate: (request) => toolchain.evaluate({ ...request, executor }),
    close: () => executor.close(),
  };
  return t;
}

/** What the planner was told of the seeds' own operations: each replay's and forced step's `source`. */
const sourcesSeen: unknown[] = [];

function service() {
  return createSearchService({
    searches: kb.store.searches,
    targets: () => poolOfTargets('local', [target]),
    planners: () => {
      const planner = createTemplatePlanner({
        templates: (kind) => (hasTemplate(kind) ? templateFor(kind, { isa }) : null),
      });
      return {
        ...planner,
        propose: (request) => {
          if (request.forced) sourcesSeen.push(request.forced.source);
          return planner.propose(request);
        },
        replay: (request) => {
          sourcesSeen.push(...request.steps.map((step) => step.source));
          return planner.replay!(request);
        },
      };
    },
    menus: () => CPU_MENU,
    knowledgeBase: kb,
  });
}

const gemm = (dims: Record<string, number>) => ({ operation: { kind: 'gemm', dims }, target: 'local' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skb-warm-'));
  dbUrl = `file:${join(dir, 'kb.db')}`;
  kb = await openKnowledgeBase({ dbUrl, dataDir: dir, embedder: createOfflineEmbedder(), saveDelayMs: 0 });
  target = localTarget();
  const fp = await target.fingerprint();
  isa = fp.kind === 'cpu' ? fp.isa : [];
});

afterAll(async () => {
  await kb.close();
  await target.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('schedule reuse end to end', () => {
  let seedSearch: SearchRecord;

  it('stores a failed insert as nothing at all: the search is not marked finished and no schedule is half-written', async () => {
    const side = createClient({ url: dbUrl });
    await side.execute(
      `CREATE TRIGGER refuse_schedules BEFORE INSERT ON schedules BEGIN SELECT RAISE(ABORT, 'disk refused the schedule'); END`,
    );
    try {
      const svc = service();
      // The seed search of the next test finds an improving step: only then is there a schedule
      // to insert, and the trigger refuses it.
      const started = await svc.start(gemm(SEED_SHAPE), SEED_SEARCH);
      const done = await svc.wait(started.id);
      expect(done.status).toBe('failed');
      expect(done.error).toContain('disk refused the schedule');
      expect(done.scheduleId).toBeNull();
      expect((await kb.store.listSchedules({}, { first: 10 })).totalCount).toBe(0);
      expect(await kb.store.embeddingSpaces()).toEqual([]);
      expect(kb.index.size).toBe(0);
      await svc.close();
    } finally {
      await side.execute('DROP TRIGGER refuse_schedules');
      side.close();
    }
  }, 300_000);

  it('a finished search stores its schedule (steps, negatives) with the search, and the index finds it', async () => {
    const svc = service();
    const started = await svc.start(gemm(SEED_SHAPE), SEED_SEARCH);
    seedSearch = await svc.wait(started.id);
    await svc.close();
    expect(seedSearch.status).toBe('finished');
    expect(seedSearch.seeds).toEqual([]);
    expect(seedSearch.scheduleId).toMatch(/^sch_/);
    const schedule = (await kb.store.getSchedule(seedSearch.scheduleId!))!;
    const lineage = seedSearch.bestLineage!;
    expect(schedule.steps.map((s) => [s.optionId, s.latencyBeforeMs, s.latencyAfterMs])).toEqual(
      lineage.map((s) => [s.optionId, s.latencyBeforeMs, s.latencyAfterMs]),
    );
    expect(schedule.bestLatencyMs).toBe(seedSearch.bestLatencyMs);
    expect(schedule.samplesUsed).toBe(12);
    expect(schedule.provenance).toEqual({ source: 'search', searchId: seedSearch.id, planner: 'template' });
    const candidates = (await kb.store.searches.listCandidates(seedSearch.id)).filter((c) => c.sample > 0);
    expect(schedule.finalCode).toBe(candidates.find((c) => c.id === seedSearch.bestCandidateId)!.code);
    // Negatives: exactly the failed or slower, unadmitted siblings along the path, at their parent's index.
    const path = [`${seedSearch.id}.0`, ...lineage.map((s) => s.candidateId)];
    const all = await kb.store.searches.listCandidates(seedSearch.id);
    const latencyOf = (id: string) => all.find((c) => c.id === id)!.latencyMs!;
    const expected = candidates
      .filter((c) => path.includes(c.parentId!) && !path.includes(c.id) && c.optionId !== null && c.plan)
      .filter((c) => !c.correct || (!c.admitted && c.latencyMs! >= latencyOf(c.parentId!)))
      .map((c) => ({ atStep: path.indexOf(c.parentId!), outcome: c.correct ? 'regressed' : 'failed' }))
      // Stored in lineage order (by the step they branched from), then in sample order.
      .sort((a, b) => a.atStep - b.atStep);
    expect(schedule.negatives.map((n) => ({ atStep: n.atStep, outcome: n.outcome }))).toEqual(expected);
    const label = (await kb.store.scheduleLabel(schedule.id))!.label;
    expect(kb.index.has(label)).toBe(true);
    const found = await kb.similar({
      operation: parseOperation({ kind: 'gemm', dims: NEAR_SHAPE }),
      targetKey: seedSearch.targetKey!,
      k: 3,
      tiers: ['similar'],
    });
    expect(found.map((m) => m.schedule.id)).toContain(schedule.id);
  }, 300_000);

  it('warm-starts a search on a nearby shape: replay and guided samples, one budget, outcomes recorded', async () => {
    const foreign = makeCpuTarget('elsewhere', { model: 'Another CPU 1 @ 1.0GHz' });
    await kb.addSchedules([makeContent({ dims: NEAR_SHAPE, target: foreign })], [foreign]);
    const svc = service();
    const config: SearchConfigInput = {
      beamWidth: 2,
      plansPerCandidate: 2,
      implementationsPerPlan: 1,
      iterations: 3,
      budget: 9,
      seed: 11,
      timing,
      // Without the transfer tier: this test follows one seed of this family (transfer has its own test).
      warmStart: { seeds: 3, guidedShare: 1, tiers: ['exact', 'structure', 'similar'] },
    };
    sourcesSeen.length = 0;
    const started = await svc.start(gemm(NEAR_SHAPE), config);
    const done = await svc.wait(started.id);
    await svc.close();
    expect(done.error ?? done.status).toBe('finished');
    expect(done.samplesUsed).toBe(9);
    // Only the local family: the schedule measured elsewhere on this very shape is never a seed.
    expect(done.seeds.map((s) => [s.scheduleId, s.tier])).toEqual([[seedSearch.scheduleId, 'structure']]);
    expect(done.seeds[0]!.distance).toBeGreaterThan(0);
    const seedSchedule = (await kb.store.getSchedule(seedSearch.scheduleId!))!;
    // The planner re-fits seed steps from the sizes they were measured at: it is told them.
    expect(sourcesSeen.length).toBeGreaterThan(seedSchedule.steps.length);
    for (const source of sourcesSeen) expect(source).toEqual(seedSchedule.operation);
    const candidates = (await kb.store.searches.listCandidates(done.id)).filter((c) => c.sample > 0);
    expect(candidates).toHaveLength(9);
    const replay = candidates.filter((c) => c.optionId === REPLAY_OPTION_ID);
    expect(replay).toHaveLength(1);
    expect(replay[0]).toMatchObject({
      iteration: 1,
      parentId: `${done.id}.0`,
      forcedFrom: { scheduleId: seedSchedule.id, stepIndex: seedSchedule.steps.length },
    });
    // Guided slots follow the seed's steps that made it faster where it was measured.
    const paying = seedSchedule.steps.flatMap((x, i) => (x.latencyAfterMs < x.latencyBeforeMs ? [i] : []));
    expect(paying.length).toBeGreaterThan(0);
    const nextPaying = (after: number) => paying.find((i) => i > after);
    const firstGuided = candidates.filter((c) => c.iteration === 1 && c.optionId !== REPLAY_OPTION_ID);
    expect(firstGuided.length).toBeGreaterThan(0);
    for (const c of firstGuided) expect(c.forcedFrom).toEqual({ scheduleId: seedSchedule.id, stepIndex: paying[0] });
    // Later iterations: the baseline starts the seed again; a lineage that follows it gets its next
    // paying step while one is left; other lineages explore.
    const withRoot = new Map((await kb.store.searches.listCandidates(done.id)).map((c) => [c.id, c]));
    for (const c of candidates.filter((x) => x.iteration > 1)) {
      const parent = withRoot.get(c.parentId!)!;
      const lineageSeed = seedOfCandidate(withRoot, parent);
      const expected =
        parent.parentId === null ? paying[0] : lineageSeed ? nextPaying(lineageSeed.stepIndex) : undefined;
      expect(c.forcedFrom).toEqual(
        expected === undefined ? null : { scheduleId: seedSchedule.id, stepIndex: expected },
      );
    }
    const [reuse] = await kb.store.listReuses({ searchId: done.id });
    expect(reuse).toMatchObject({
      id: done.seeds[0]!.reuseId,
      scheduleId: seedSchedule.id,
      tier: 'structure',
      outcome: done.seeds[0]!.outcome,
    });
    expect(reuse!.outcome).not.toBe('pending');
    const descendants = candidates.filter(
      (c) => c.correct && seedOfCandidate(withRoot, c)?.scheduleId === seedSchedule.id,
    );
    expect(descendants.length).toBeGreaterThan(0);
    expect(reuse!.gain).toBeCloseTo(done.baselineLatencyMs! / Math.min(...descendants.map((c) => c.latencyMs!)), 9);
    const bestSeed = seedOfCandidate(withRoot, withRoot.get(done.bestCandidateId!)!);
    expect(reuse!.outcome).toBe(
      bestSeed?.scheduleId === seedSchedule.id ? 'improved' : reuse!.gain! > 1 ? 'replayed' : 'failed',
    );
    expect((await kb.store.listReuses({ scheduleId: seedSchedule.id })).map((r) => r.searchId)).toContain(done.id);

    // The stored schedule is flat and names its seed; a replay on its lineage is the seed's steps, marked.
    const grown = done.scheduleId ? await kb.store.getSchedule(done.scheduleId) : null;
    if (grown && bestSeed) {
      expect(grown.steps.map((x) => x.optionId)).not.toContain(REPLAY_OPTION_ID);
      expect(grown.derivedFrom).toEqual([
        { scheduleId: seedSchedule.id, tier: 'structure', distance: done.seeds[0]!.distance },
      ]);
      const pathIds = bestLineage(done, [...withRoot.values()]).map((c) => c.optionId);
      if (pathIds.includes(REPLAY_OPTION_ID)) {
        const replayed = grown.steps.filter((x) => x.replayOf);
        expect(replayed.map((x) => x.optionId)).toEqual(seedSchedule.steps.map((x) => x.optionId));
        expect(replayed.map((x) => x.replayOf)).toEqual(
          seedSchedule.steps.map((_, i) => ({ scheduleId: seedSchedule.id, stepIndex: i })),
        );
        expect(new Set(replayed.map((x) => x.latencyAfterMs)).size).toBe(1);
      }
      expect((await kb.store.scheduleChildren(seedSchedule.id)).map((x) => x.id)).toContain(grown.id);
    }
  }, 300_000);

  it('runs cold when warm start is off: no seeds, no forced samples, no reuse records', async () => {
    const svc = service();
    const started = await svc.start(gemm(NEAR_SHAPE), {
      beamWidth: 1,
      plansPerCandidate: 2,
      implementationsPerPlan: 1,
      iterations: 1,
      budget: 2,
      seed: 2,
      timing,
      warmStart: { enabled: false },
    });
    const done = await svc.wait(started.id);
    await svc.close();
    expect(done.seeds).toEqual([]);
    expect((await kb.store.searches.listCandidates(done.id)).every((c) => c.forcedFrom === null)).toBe(true);
    expect(await kb.store.listReuses({ searchId: done.id })).toEqual([]);
  }, 300_000);

  it('ranks a schedule that transferred well above an equal one that did not, and says so', async () => {
    const local = (await kb.store.listTargets()).find((t) => t.name === 'local')!;
    const op = { kind: 'gemm', dims: { M: 64, N: 32, K: 32 } } as const;
    await kb.addSchedules([
      makeContent({
        dims: { M: 64, N: 32, K: 64 },
        target: local,
        extra: { provenance: { source: 'import', note: 'a' } },
      }),
      makeContent({
        dims: { M: 64, N: 64, K: 32 },
        target: local,
        extra: { provenance: { source: 'import', note: 'b' } },
      }),
    ]);
    const rank = async () =>
      (await kb.similar({ operation: parseOperation(op), targetKey: local.key, k: 10, tiers: ['structure'] })).filter(
        (m) => m.schedule.provenance.source === 'import',
      );
    const before = await rank();
    expect(before).toHaveLength(2);
    const [first, second] = before;
    for (const outcome of ['improved', 'improved', 'replayed', 'failed'] as const) {
      const r = await kb.store.recordReuse({
        scheduleId: second!.schedule.id,
        searchId: seedSearch.id,
        tier: 'structure',
        distance: 1,
        outcome: 'pending',
      });
      await kb.store.updateReuse(r.id, { outcome });
    }
    await kb.store.recordReuse({
      scheduleId: first!.schedule.id,
      searchId: seedSearch.id,
      tier: 'structure',
      distance: 1,
      outcome: 'failed',
    });
    const after = await rank();
    expect(after.map((m) => m.schedule.id)).toEqual([second!.schedule.id, first!.schedule.id]);
    expect(after[0]!.score).toBeGreaterThan(second!.score);
    expect(after[0]!.score).toBeLessThan(3);
    expect(after[0]!.reason).toContain('transferred well 3 of 4 times');
    expect(after[1]!.reason).toContain('transferred well 0 of 1 time');
  });

  it("writes the seeds' outcomes in the transaction that finishes the search: one refused write leaves all as it was", async () => {
    const side = createClient({ url: dbUrl });
    await side.execute(
      `CREATE TRIGGER refuse_outcomes BEFORE UPDATE OF outcome ON reuses BEGIN SELECT RAISE(ABORT, 'disk refused the outcome'); END`,
    );
    const schedulesBefore = (await kb.store.listSchedules({}, { first: 10 })).totalCount;
    let searchId: string;
    try {
      const svc = service();
      const started = await svc.start(gemm({ M: 112, N: 128, K: 128 }), {
        beamWidth: 2,
        plansPerCandidate: 2,
        implementationsPerPlan: 1,
        iterations: 2,
        budget: 6,
        seed: 3,
        timing,
        warmStart: { seeds: 1 },
      });
      searchId = started.id;
      const done = await svc.wait(started.id);
      await svc.close();
      // A step beat the baseline, so there was a schedule to store: the refused outcome took it back.
      const candidates = await kb.store.searches.listCandidates(searchId);
      const root = candidates.find((c) => c.sample === 0)!;
      expect(candidates.some((c) => c.admitted && c.sample > 0 && c.latencyMs! < root.latencyMs!)).toBe(true);
      expect(done.status).toBe('failed');
      expect(done.error).toContain('disk refused the outcome');
      expect(done.scheduleId).toBeNull();
      expect((await kb.store.listSchedules({}, { first: 10 })).totalCount).toBe(schedulesBefore);
      expect((await kb.store.listReuses({ searchId })).map((r) => r.outcome)).toEqual(['pending']);
    } finally {
      await side.execute('DROP TRIGGER refuse_outcomes');
      side.close();
    }
  }, 300_000);

  it('resumes an interrupted warm search with the same seeds and without evaluating a sample twice', async () => {
    const config: SearchConfigInput = {
      beamWidth: 2,
      plansPerCandidate: 2,
      implementationsPerPlan: 1,
      iterations: 3,
      budget: 8,
      seed: 13,
      timing,
      warmStart: { seeds: 2, tiers: ['exact', 'structure'] },
    };
    const first = service();
    const started = await first.start(gemm({ M: 128, N: 96, K: 128 }), config);
    await expect
      .poll(async () => (await kb.store.searches.listCandidates(started.id)).length, {
        timeout: 30_000,
        interval: 50,
        message: 'samples stored before the stop',
      })
      .toBeGreaterThanOrEqual(3);
    await first.close();
    const stopped = (await kb.store.searches.getSearch(started.id))!;
    expect(stopped.status).toBe('running');
    const before = await kb.store.searches.listCandidates(started.id);
    expect(before.length).toBeLessThan(9);
    expect(stopped.seeds.length).toBeGreaterThan(0);

    const second = service();
    expect(await second.resumeInterrupted()).toEqual([started.id]);
    const done = await second.wait(started.id);
    await second.close();
    expect(done.status).toBe('finished');
    expect(done.samplesUsed).toBe(8);
    expect(done.seeds.map((s) => s.scheduleId)).toEqual(stopped.seeds.map((s) => s.scheduleId));
    const after = await kb.store.searches.listCandidates(started.id);
    expect(after.map((c) => c.sample)).toEqual(Array.from({ length: 9 }, (_, i) => i));
    for (const c of before)
      expect(after.find((a) => a.id === c.id)).toMatchObject({ createdAt: c.createdAt, code: c.code });
    expect(after.filter((c) => c.optionId === REPLAY_OPTION_ID)).toHaveLength(stopped.seeds.length);
    expect((await kb.store.listReuses({ searchId: started.id })).map((r) => r.id).sort()).toEqual(
      stopped.seeds.map((s) => s.reuseId).sort(),
    );
  }, 300_000);
});
