import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';
import { importSeedsOnce, SEEDS_MARKER } from '../../src/search/seed-import.js';
import { makeContents, makeCpuTarget } from '../support/fixtures.js';

const local = makeCpuTarget('local');
const shipped = new URL('../../data/seed-schedules.jsonl', import.meta.url);

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

describe('importSeedsOnce', () => {
  let dir: string;
  let seedFile: string;
  let db = 0;
  const open = (name = 'kb') =>
    openKnowledgeBase({
      dbUrl: `file:${join(dir, `${name}.db`)}`,
      dataDir: join(dir, name),
      embedder: createOfflineEmbedder(),
      saveDelayMs: 0,
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skb-seeds-'));
    seedFile = join(dir, 'seed-schedules.jsonl');
    // The seed file is an export of another knowledge base, as scripts/build-seed-kb.mjs writes it.
    const source = await open(`source-${db++}`);
    await source.addSchedules(makeContents(local, 4), [local]);
    await writeFile(seedFile, await source.exportJsonl({ filter: {}, pruned: true }));
    await source.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('imports the seeds into a fresh knowledge base once, and never brings back a deleted seed', async () => {
    const logger = recordingLogger();
    const kb = await open();
    expect(await importSeedsOnce(kb, seedFile, logger)).toEqual({ status: 'imported', imported: 4, duplicates: 0 });
    expect(await count(kb)).toBe(4);
    expect(logger.lines.at(-1)?.message).toMatch(/Imported 4 seed schedules/);
    expect(await importSeedsOnce(kb, seedFile, logger)).toMatchObject({ status: 'already-imported' });
    expect(await count(kb)).toBe(4);

    const [first] = await kb.store.allSchedules({});
    expect(await kb.deleteSchedule(first!.id)).toBe(true);
    await kb.close();

    // The next start of the service: the marker lives in the database, so the deleted seed stays deleted.
    const restarted = await open();
    expect(await importSeedsOnce(restarted, seedFile, logger)).toMatchObject({ status: 'already-imported' });
    expect(await count(restarted)).toBe(3);
    expect(await restarted.getSchedule(first!.id)).toBeNull();
    await restarted.close();

    // Another database (another SKB_DB_URL) has never imported them, so it gets them.
    const other = await open('other');
    expect(await importSeedsOnce(other, seedFile)).toMatchObject({ status: 'imported', imported: 4 });
    await other.close();
  });

  it('leaves the knowledge base unchanged and warns, naming the file and the bad line, when the file is broken; a fixed file imports on the next start', async () => {
    const good = await readFile(seedFile, 'utf8');
    const lines = good.trimEnd().split('\n');
    await writeFile(
      seedFile,
      `${[...lines.slice(0, -1), '{"type":"schedule","content":{"operation":"not an operation"}}'].join('\n')}\n`,
    );
    const logger = recordingLogger();
    const kb = await open();
    await kb.addSchedules(makeContents(local, 6).slice(4), [local]);

    const result = await importSeedsOnce(kb, seedFile, logger);
    expect(result.status).toBe('failed');
    const warning = logger.lines.find((l) => l.level === 'warn')?.message ?? '';
    expect(result).toEqual({ status: 'failed', message: warning });
    expect(warning).toContain(seedFile);
    expect(warning).toMatch(new RegExp(`line ${lines.length}\\b`));
    expect(warning).toMatch(/nothing was imported/);
    expect(await count(kb)).toBe(2);
    expect(await kb.getMarker(SEEDS_MARKER)).toBeNull();

    await writeFile(seedFile, good);
    expect(await importSeedsOnce(kb, seedFile, logger)).toMatchObject({ status: 'imported', imported: 4 });
    expect(await count(kb)).toBe(6);
    await kb.close();
  });

  it('starts empty without a seed file, and imports one shipped later', async () => {
    const logger = recordingLogger();
    const kb = await open();
    const missing = join(dir, 'no-such-file.jsonl');
    expect(await importSeedsOnce(kb, missing, logger)).toEqual({ status: 'no-file' });
    expect(logger.lines).toEqual([{ level: 'info', message: expect.stringContaining(missing) }]);
    expect(await count(kb)).toBe(0);
    expect(await importSeedsOnce(kb, seedFile, logger)).toMatchObject({ status: 'imported', imported: 4 });
    await kb.close();
  });

  it.skipIf(!existsSync(shipped))(
    'imports the shipped data/seed-schedules.jsonl: schedules of every template family, retrievable for a new shape',
    async () => {
      const kb = await open();
      const result = await importSeedsOnce(kb, shipped.pathname);
      expect(result.status).toBe('imported');
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
    },
  );
});
