import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';
import {
  importSeedPacks,
  LEGACY_SEEDS_MARKER,
  PACKAGE_SEED_PACKS,
  readSeedPackManifest,
} from '../../src/search/seed-packs.js';
import { makeContents, makeCpuTarget } from '../support/fixtures.js';

const local = makeCpuTarget('local');

async function count(kb: OpenedKnowledgeBase): Promise<number> {
  return (await kb.listSchedules({}, { first: 1 })).totalCount;
}

function recordingLogger() {
  const lines: Array<{ level: 'info' | 'warn'; message: string }> = [];
  return {
    lines,
    info: (message: string) => lines.push({ level: 'info', message }),
    warn: (message: string) => lines.push({ level: 'warn', message }),
  };
}

describe('seed packs', () => {
  let dir: string;
  let manifest: string;
  let made = 0;
  const open = (name = 'kb') =>
    openKnowledgeBase({
      dbUrl: `file:${join(dir, `${name}.db`)}`,
      dataDir: join(dir, name),
      embedder: createOfflineEmbedder(),
      saveDelayMs: 0,
    });

  /** Writes pack `file` as an export of schedules `from`..`to` of the fixtures, as scripts/build-seed-kb.mjs writes one. */
  async function writePackFile(file: string, from: number, to: number): Promise<void> {
    const source = await open(`source-${made++}`);
    await source.addSchedules(makeContents(local, to).slice(from), [local]);
    await writeFile(join(dir, file), await source.exportJsonl({ filter: {}, pruned: false }));
    await source.close();
  }

  async function writeManifest(packs: Array<{ name: string; version: number; file: string }>): Promise<void> {
    await writeFile(
      manifest,
      JSON.stringify({ format: 'schedule-kb-seed-packs', packs: packs.map((p) => ({ ...p, description: 'test' })) }),
    );
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skb-seed-packs-'));
    manifest = join(dir, 'packs.json');
    await writePackFile('v1.jsonl', 0, 4);
    await writeManifest([{ name: 'cpu-test', version: 1, file: 'v1.jsonl' }]);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('imports a pack once, records its version, and never brings back a deleted seed', async () => {
    const logger = recordingLogger();
    const kb = await open();
    expect(await importSeedPacks(kb, manifest, logger)).toEqual([
      { pack: 'cpu-test', version: 1, status: 'imported', imported: 4, duplicates: 0, excluded: 0 },
    ]);
    expect(logger.lines.at(-1)?.message).toBe('Seed pack cpu-test v1: imported 4 schedules.');
    expect(await importSeedPacks(kb, manifest)).toEqual([{ pack: 'cpu-test', version: 1, status: 'current' }]);

    const [first] = await kb.store.allSchedules({});
    expect(await kb.deleteSchedule(first!.id)).toBe(true);
    await kb.close();

    // The next start: the pack's version lives in the database, the deleted seed stays deleted.
    const restarted = await open();
    expect(await importSeedPacks(restarted, manifest)).toMatchObject([{ status: 'current' }]);
    expect(await count(restarted)).toBe(3);
    expect(await restarted.seedPacks()).toEqual([
      { name: 'cpu-test', version: 1, importedAt: expect.any(String), offered: 4, stored: 3 },
    ]);
    await restarted.close();

    // Another database (another SKB_DB_URL) has never imported the pack.
    const other = await open('other');
    expect(await importSeedPacks(other, manifest)).toMatchObject([{ status: 'imported', imported: 4 }]);
    await other.close();
  });

  it("imports a newer version's new schedules, leaving out what the older one offered and what was deleted", async () => {
    const kb = await open();
    await importSeedPacks(kb, manifest);
    const stored = await kb.store.allSchedules({});
    await kb.deleteSchedule(stored[0]!.id);

    // Version 2 keeps three of version 1's schedules and adds three.
    await writePackFile('v2.jsonl', 1, 7);
    await writeManifest([{ name: 'cpu-test', version: 2, file: 'v2.jsonl' }]);
    expect(await importSeedPacks(kb, manifest)).toEqual([
      { pack: 'cpu-test', version: 2, status: 'imported', imported: 3, duplicates: 0, excluded: 3 },
    ]);
    expect(await count(kb)).toBe(6);
    expect(await kb.seedPacks()).toMatchObject([{ name: 'cpu-test', version: 2, offered: 7, stored: 6 }]);

    // A schedule deleted from version 2 is not brought back by version 3, which still ships it.
    const added = (await kb.store.allSchedules({})).find((s) => !stored.some((o) => o.id === s.id))!;
    await kb.deleteSchedule(added.id);
    await writePackFile('v3.jsonl', 0, 8);
    await writeManifest([{ name: 'cpu-test', version: 3, file: 'v3.jsonl' }]);
    expect(await importSeedPacks(kb, manifest)).toMatchObject([{ status: 'imported', imported: 1, excluded: 7 }]);
    expect(await kb.getSchedule(added.id)).toBeNull();
    expect(await kb.getSchedule(stored[0]!.id)).toBeNull();
    // The targets listing counts pack schedules as seeds, whatever provenance their searches gave them.
    expect(await kb.targetSourceCounts()).toEqual([{ targetKey: local.key, source: 'seed', count: 6 }]);
    await kb.close();
  });

  it('leaves the knowledge base unchanged and warns, naming the file and the bad line; a fixed pack imports on the next start', async () => {
    await writeFile(join(dir, 'broken.jsonl'), '{"type":"header"}\n{"type":"schedule","content":{"operation":"x"}}\n');
    await writeManifest([
      { name: 'broken', version: 1, file: 'broken.jsonl' },
      { name: 'cpu-test', version: 1, file: 'v1.jsonl' },
    ]);
    const logger = recordingLogger();
    const kb = await open();
    const results = await importSeedPacks(kb, manifest, logger);
    expect(results.map((r) => r.status)).toEqual(['failed', 'imported']);
    const warning = logger.lines.find((l) => l.level === 'warn')?.message ?? '';
    expect(results[0]).toEqual({ pack: 'broken', version: 1, status: 'failed', message: warning });
    expect(warning).toContain(join(dir, 'broken.jsonl'));
    expect(warning).toMatch(/line [12]\b/);
    expect(await count(kb)).toBe(4);
    expect((await kb.seedPacks()).map((p) => p.name)).toEqual(['cpu-test']);

    await writePackFile('broken.jsonl', 4, 6);
    expect(await importSeedPacks(kb, manifest)).toMatchObject([
      { pack: 'broken', status: 'imported', imported: 2 },
      { pack: 'cpu-test', status: 'current' },
    ]);
    await kb.close();
  });

  it('refuses a manifest that names files outside its folder, repeats a pack or has no version, saying what to fix', async () => {
    const bad = async (packs: unknown, pattern: RegExp) => {
      await writeFile(manifest, JSON.stringify({ format: 'schedule-kb-seed-packs', packs }));
      await expect(readSeedPackManifest(manifest)).rejects.toThrow(pattern);
      const logger = recordingLogger();
      const kb = await open(`bad-${made++}`);
      expect(await importSeedPacks(kb, manifest, logger)).toEqual([]);
      expect(logger.lines).toEqual([{ level: 'warn', message: expect.stringContaining(manifest) }]);
      expect(await count(kb)).toBe(0);
      await kb.close();
    };
    await bad([{ name: 'x', version: 1, file: '../../etc/passwd.jsonl', description: '' }], /packs\.0\.file.*beside/);
    await bad(
      [
        { name: 'x', version: 1, file: 'v1.jsonl', description: '' },
        { name: 'x', version: 2, file: 'v1.jsonl', description: '' },
      ],
      /distinct/,
    );
    await bad([{ name: 'x', file: 'v1.jsonl', description: '' }], /packs\.0\.version/);
    await writeFile(manifest, '{ not json');
    await expect(readSeedPackManifest(manifest)).rejects.toThrow(/not JSON/);
  });

  it('adopts a database that imported the unversioned seed file as version 1 of the reference pack', async () => {
    await writePackFile('reference.jsonl', 0, 4);
    await writeManifest([{ name: 'cpu-reference', version: 1, file: 'reference.jsonl' }]);
    const kb = await open();
    // What the service did before packs: imported the file, set the marker; then the user deleted one.
    const before = await kb.importJsonl(await readFile(join(dir, 'reference.jsonl'), 'utf8'));
    await kb.setMarker(LEGACY_SEEDS_MARKER, Date.now());
    await kb.deleteSchedule(before.scheduleIds[0]!);
    expect(await importSeedPacks(kb, manifest)).toEqual([{ pack: 'cpu-reference', version: 1, status: 'current' }]);
    expect(await count(kb)).toBe(3);
    expect(await kb.seedPacks()).toMatchObject([{ name: 'cpu-reference', version: 1, offered: 4, stored: 3 }]);
    await kb.close();
  });

  it('imports the packs this package ships: schedules of every template family, retrievable for a new shape', async () => {
    const packs = await readSeedPackManifest(PACKAGE_SEED_PACKS);
    expect(packs.map((p) => p.name)).toContain('cpu-reference');
    const kb = await open();
    const results = await importSeedPacks(kb, PACKAGE_SEED_PACKS);
    expect(results.every((r) => r.status === 'imported')).toBe(true);
    const stored = await kb.store.allSchedules({});
    expect(new Set(stored.map((s) => s.operation.kind))).toEqual(
      new Set(['gemm', 'batched_gemm', 'conv2d', 'matvec', 'softmax', 'layernorm']),
    );
    expect(stored.every((s) => s.speedup > 1 && s.steps.length > 0)).toBe(true);
    const gemm = stored.find((s) => s.operation.kind === 'gemm')!;
    const matches = await kb.similar({
      operation: { ...gemm.operation, dims: { M: 200, N: 200, K: 200 } },
      targetKey: gemm.targetKey,
      k: 3,
      tiers: ['structure'],
    });
    expect(matches.length).toBeGreaterThan(0);
    await kb.close();
  });
});
