import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import {
  canonicalJson,
  flattenReplays,
  parseJsonl,
  REPLAY_OPTION_ID,
  shapeKey,
  stepsFromReplayText,
  structureKey,
  withCostModelNote,
  withoutCostModelNote,
  toSchedule,
  type Schedule,
  type ScheduleContent,
  type Step,
} from '../../src/schedules/index.js';
import { MIGRATIONS, migrate } from '../../src/schedules/migrations.js';
import { creationSortKey } from '../../src/schedules/ordering.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';
import { importSeedPacks, readSeedPackManifest } from '../../src/search/seed-packs.js';

const SEED_ID = `sch_${'a'.repeat(24)}`;

function step(optionId: string, changed: Record<string, unknown>, before: number, after: number): Step {
  return {
    optionId,
    optionLabel: optionId,
    plan: `plan of ${optionId}`,
    params: { changed, knobs: { mr: 1, nv: 1, unroll: 1, vec: 8, ...changed } },
    latencyBeforeMs: before,
    latencyAfterMs: after,
  };
}

/**
 * Version 1 of the shipped pack, frozen as a fixture: its searches stored warm-start replays as one
 * step, so 6 of its 18 schedules hold replay steps, as databases made before flattening still do.
 */
const LEGACY_SEED_PACKS = fileURLToPath(new URL('../fixtures/seed-packs-v1/packs.json', import.meta.url));
async function legacyPack() {
  const [pack] = await readSeedPackManifest(LEGACY_SEED_PACKS);
  const file = join(LEGACY_SEED_PACKS, '..', pack!.file);
  return parseJsonl(await readFile(file, 'utf8'));
}

function assertFlat(schedules: Schedule[]): void {
  const ids = new Set(schedules.map((s) => s.id));
  for (const s of schedules) {
    expect(s.steps.map((x) => x.optionId)).not.toContain(REPLAY_OPTION_ID);
    for (const x of s.steps) if (x.replayOf) expect(ids.has(x.replayOf.scheduleId)).toBe(true);
    for (const d of s.derivedFrom ?? []) expect(ids.has(d.scheduleId)).toBe(true);
  }
}

describe('flattening replay steps', () => {
  it("replaces a replay by the seed's steps as applied here, with the group's latencies and the seed in derivedFrom", async () => {
    const seed = {
      id: SEED_ID,
      steps: [step('cpu.micro_kernel', { mr: 4, nv: 2 }, 9, 3), step('cpu.unroll', { unroll: 8 }, 3, 2)],
    };
    const replay: Step = {
      optionId: REPLAY_OPTION_ID,
      optionLabel: `Replay of seed schedule ${SEED_ID}`,
      plan: "Replay the seed's 2 steps in order: ...",
      // Re-fitted here: nv 2 became 1, and the refit also changed vec.
      params: {
        changed: { mr: 4, nv: 1, unroll: 8, vec: 16 },
        knobs: { mr: 4, nv: 1, unroll: 8, vec: 16, order: 'ikj' },
      },
      latencyBeforeMs: 10,
      latencyAfterMs: 2,
    };
    const own = step('cpu.compiler_flags', { vec: 16 }, 2, 1);
    const [, sample] = (await legacyPack()).contents;
    const content: ScheduleContent = { ...sample!, steps: [replay, own] };
    const flat = await flattenReplays(content, (id) => (id === SEED_ID ? seed : null));
    expect(flat.steps.map((s) => s.optionId)).toEqual(['cpu.micro_kernel', 'cpu.unroll', 'cpu.compiler_flags']);
    expect(flat.steps[0]).toMatchObject({
      params: { changed: { mr: 4, nv: 1 } },
      latencyBeforeMs: 10,
      latencyAfterMs: 2,
      replayOf: { scheduleId: SEED_ID, stepIndex: 0 },
    });
    // The group's last step takes what the replay changed that no seed step names.
    expect(flat.steps[1]).toMatchObject({
      params: { changed: { unroll: 8, vec: 16 } },
      latencyBeforeMs: 10,
      latencyAfterMs: 2,
      replayOf: { scheduleId: SEED_ID, stepIndex: 1 },
    });
    expect(flat.steps[2]).toEqual(own);
    expect(flat.derivedFrom).toEqual([{ scheduleId: SEED_ID }]);
    // Flat content is left as it is: flattening twice changes nothing.
    expect(await flattenReplays(flat, () => seed)).toBe(flat);
  });

  it("leaves a seed's cost-model notes with the seed: its replayed steps read as the optimizations, the schedule's own steps keep theirs", async () => {
    const pick = { moves: 81, predictedGflops: 150.84, trainedOn: 9 };
    const noted = (s: Step): Step => ({ ...s, plan: withCostModelNote(s.plan, pick) });
    const seed = {
      id: SEED_ID,
      steps: [noted(step('cpu.micro_kernel', { mr: 4 }, 9, 3)), step('cpu.unroll', { unroll: 8 }, 3, 2)],
    };
    expect(seed.steps[0]!.plan).toBe(
      "plan of cpu.micro_kernel (the cost model's pick of 81 moves, predicted 150.8 GFLOP/s, trained on 9 measured kernels)",
    );
    const replay: Step = {
      optionId: REPLAY_OPTION_ID,
      optionLabel: `Replay of seed schedule ${SEED_ID}`,
      plan: "Replay the seed's 2 steps in order: ...",
      latencyBeforeMs: 10,
      latencyAfterMs: 2,
    };
    const own = noted(step('cpu.compiler_flags', { vec: 16 }, 2, 1));
    const [, sample] = (await legacyPack()).contents;
    const flat = await flattenReplays({ ...sample!, steps: [replay, own] }, () => seed);
    expect(flat.steps.map((s) => s.plan)).toEqual(['plan of cpu.micro_kernel', 'plan of cpu.unroll', own.plan]);
    expect(withoutCostModelNote(own.plan)).toBe('plan of cpu.compiler_flags');
  });

  it('reads the steps of a replay whose seed is gone from its text, nested replays included', async () => {
    const nested = (await legacyPack()).contents
      .flatMap((c) => c.steps)
      .find((s) => s.optionId === REPLAY_OPTION_ID && s.plan.includes('1. [seed.replay] Replay the seed'));
    const steps = stepsFromReplayText(nested!.plan);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect(steps.map((s) => s.optionId)).not.toContain(REPLAY_OPTION_ID);
    for (const s of steps) {
      expect(s.optionId).toMatch(/^cpu\./);
      expect(s.plan).not.toMatch(/^\d+\. \[/);
      // The replay's note of what it set here is not part of the seed's step.
      expect(s.plan).not.toContain('(here: ');
      expect(s.plan.length).toBeGreaterThan(10);
    }
  });

  it("leaves off the replay's note of what it set here, parentheses and all, and keeps a step's own", () => {
    const text =
      "Replay the seed's 2 steps in order: 1. [cpu.pack] Pack B (pack = b). 2. [cpu.unroll] Unroll by 2 (the cost model's pick). (here: pack B (pack = b); unroll (by 2).)";
    expect(stepsFromReplayText(text).map((s) => s.plan)).toEqual([
      'Pack B (pack = b).',
      "Unroll by 2 (the cost model's pick).",
    ]);
  });
});

describe('stored schedules are flat', () => {
  let dir: string;
  const open = (name: string): Promise<OpenedKnowledgeBase> =>
    openKnowledgeBase({
      dbUrl: `file:${join(dir, `${name}.db`)}`,
      dataDir: join(dir, name),
      embedder: createOfflineEmbedder(),
      saveDelayMs: 0,
    });
  const all = async (kb: OpenedKnowledgeBase) => (await kb.listSchedules({}, { first: 100 })).items;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skb-flatten-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('imports a pack of replay steps flat: seeds named by id, old ids found, exports round-trip byte for byte', async () => {
    const kb = await open('fresh');
    await importSeedPacks(kb, LEGACY_SEED_PACKS);
    const schedules = await all(kb);
    expect(schedules).toHaveLength(18);
    assertFlat(schedules);
    const legacy = (await legacyPack()).contents.map(toSchedule);
    const replaying = legacy.filter((s) => s.steps.some((x) => x.optionId === REPLAY_OPTION_ID));
    expect(replaying).toHaveLength(6);
    for (const old of replaying) {
      const now = await kb.getSchedule(old.id);
      expect(now?.id).not.toBe(old.id);
      expect(now?.derivedFrom?.length).toBeGreaterThan(0);
      expect(now?.steps.length).toBeGreaterThanOrEqual(old.steps.length);
      expect(now?.bestLatencyMs).toBe(old.bestLatencyMs);
    }
    // The pack's schedules all count as held, flattened or not.
    expect((await kb.seedPacks())[0]).toMatchObject({ stored: 18, offered: 18 });
    // A grandchild's ancestry walks back to the root seed.
    const conv56 = schedules.find((s) => s.operation.kind === 'conv2d' && s.operation.dims.H === 56)!;
    const parent = await kb.getSchedule(conv56.derivedFrom![0]!.scheduleId);
    expect(parent?.derivedFrom?.length).toBe(1);
    expect((await kb.store.scheduleChildren(parent!.id)).map((s) => s.id)).toContain(conv56.id);

    const text = await kb.exportJsonl({ filter: {}, pruned: false });
    const copy = await open('copy');
    const report = await copy.importJsonl(text);
    expect(report.imported).toBe(18);
    expect(await copy.exportJsonl({ filter: {}, pruned: false })).toBe(text);
    await copy.close();
    await kb.close();
  });

  it('migration 7 flattens a database of the unflattened seeds into the same schedules, and repoints what names them', async () => {
    const pack = await legacyPack();
    const url = `file:${join(dir, 'old.db')}`;
    const client = createClient({ url });
    await migrate(
      client,
      MIGRATIONS.filter((m) => m.version <= 6),
    );
    for (const t of pack.targets) {
      await client.execute({
        sql: 'INSERT INTO targets (key, family, name, description, fingerprint) VALUES (?, ?, ?, ?, ?)',
        args: [t.key, t.family, t.name, t.description, canonicalJson(t.fingerprint)],
      });
    }
    const legacy = pack.contents.map(toSchedule);
    for (const s of legacy) {
      await client.execute({
        sql: `INSERT INTO schedules (id, content_hash, kind, structure_key, shape_key, operation, target_key, target_family, speedup, created_at, content)
              VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT family FROM targets WHERE key = ?), ?, ?, ?)`,
        args: [
          s.id,
          s.contentHash,
          s.operation.kind,
          structureKey(s.operation),
          shapeKey(s.operation),
          canonicalJson(s.operation),
          s.targetKey,
          s.targetKey,
          s.speedup,
          creationSortKey(s.createdAt),
          canonicalJson(pack.contents[legacy.indexOf(s)]),
        ],
      });
    }
    const child = legacy.find((s) => s.steps[0]?.optionId === REPLAY_OPTION_ID)!;
    const seedId = /sch_[0-9a-f]{24}/.exec(child.steps[0]!.optionLabel)![0];
    await client.execute({
      sql: `INSERT INTO reuses (id, schedule_id, search_id, tier, distance, outcome, created_at) VALUES ('reu_1', ?, 'srch_1', 'similar', 0.5, 'improved', ?)`,
      args: [child.id, new Date().toISOString()],
    });
    const search = { id: 'srch_1', scheduleId: child.id, seeds: [{ scheduleId: seedId }] };
    await client.execute({
      sql: `INSERT INTO searches (id, status, created_at, updated_at, record) VALUES ('srch_1', 'succeeded', ?, ?, ?)`,
      args: [new Date().toISOString(), new Date().toISOString(), JSON.stringify(search)],
    });
    client.close();

    const migrated = await open('old');
    const fresh = await open('fresh');
    await importSeedPacks(fresh, LEGACY_SEED_PACKS);
    const ids = (kb: OpenedKnowledgeBase) => all(kb).then((list) => list.map((s) => s.id).sort());
    // The same function flattens at import and in the migration: the same schedules, the same ids.
    expect(await ids(migrated)).toEqual(await ids(fresh));
    assertFlat(await all(migrated));

    const childNow = (await migrated.getSchedule(child.id))!;
    expect(childNow.id).not.toBe(child.id);
    const seedNow = (await migrated.getSchedule(seedId))!;
    const reuse = await migrated.store.listReuses({ scheduleId: childNow.id });
    expect(reuse.map((r) => r.id)).toEqual(['reu_1']);
    const db = createClient({ url });
    const record = JSON.parse(
      String((await db.execute("SELECT record FROM searches WHERE id = 'srch_1'")).rows[0]!.record),
    );
    db.close();
    expect(record).toEqual({ id: 'srch_1', scheduleId: childNow.id, seeds: [{ scheduleId: seedNow.id }] });
    await migrated.close();
    await fresh.close();
  });
});
