/**
 * The `skb` command line as users run it: `node bin/skb.js ...` in child processes, over real
 * libSQL files. It runs the compiled dist/ (`npm test` builds it first; run `npm run build` before
 * running this file alone).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, skb, startServe } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConfiguredKnowledgeBase } from '../../src/api/configured-knowledge-base.js';
import { createLibsqlStore, toSchedule } from '../../src/schedules/index.js';
import { makeContents, makeCpuTarget, makeVector } from '../support/fixtures.js';
import { testConfig } from '../support/server.js';
import { seed, type Seeded } from './seed.js';

function scheduleLines(jsonl: string): string[] {
  return jsonl.split('\n').filter((line) => line.includes('"type":"schedule"'));
}

let source: string;
let data: Seeded;
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skb-cli-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'api', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` before the CLI tests');
  source = tempDir();
  const kb = await openConfiguredKnowledgeBase(testConfig(source));
  data = await seed(kb);
  await kb.close();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('usage', () => {
  it('prints the commands with --help and the flags of one command with <cmd> --help', async () => {
    const overview = await skb(['--help'], source);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(/serve[\s\S]*export[\s\S]*import/);
    const exportHelp = await skb(['export', '--help'], source);
    expect(exportHelp.code).toBe(0);
    expect(exportHelp.stdout).toMatch(/--similar-to-op JSON/);
  });

  it('rejects unknown commands and flags with exit code 2 and a clear message', async () => {
    const command = await skb(['frobnicate'], source);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command "frobnicate"/);
    const flag = await skb(['export', '--colour'], source);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option '--colour'[\s\S]*skb export --help/);
    const orphanK = await skb(['export', '--k', '3'], source);
    expect(orphanK.code).toBe(2);
    expect(orphanK.stderr).toMatch(/--k only applies with --similar-to-op/);
    const noTarget = await skb(['export', '--similar-to-op', '{"kind":"gemm","dims":{"M":64}}'], source);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/needs --target/);
  });
});

describe('export and import', () => {
  it('exports to stdout and to a file alike, and imports into an empty knowledge base unchanged', async () => {
    const toStdout = await skb(['export'], source);
    expect(toStdout.code).toBe(0);
    expect(scheduleLines(toStdout.stdout)).toHaveLength(8);

    const file = join(source, 'all.jsonl');
    const toFile = await skb(['export', '--out', file], source);
    expect(toFile.code).toBe(0);
    expect(toFile.stderr).toMatch(/wrote 8 schedule\(s\)/);
    expect(readFileSync(file, 'utf8')).toBe(toStdout.stdout);

    const empty = tempDir();
    const imported = await skb(['import', file], empty);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/imported 8 schedule\(s\), 0 duplicate\(s\) skipped, 2 target\(s\)/);
    expect((await skb(['export'], empty)).stdout).toBe(toStdout.stdout);

    const again = await skb(['import', file], empty);
    expect(again.stdout).toMatch(/imported 0 schedule\(s\), 8 duplicate\(s\)/);
  });

  it('exports filtered, pruned and similar-to sets', async () => {
    const conv = await skb(['export', '--kind', 'conv2d'], source);
    expect(scheduleLines(conv.stdout)).toHaveLength(1);
    expect(conv.stdout).toContain(data.ids.conv);

    const onOther = await skb(['export', '--target', data.other.key], source);
    expect(scheduleLines(onOther.stdout)).toHaveLength(1);
    expect(onOther.stdout).toContain(data.ids.foreign);

    const pruned = await skb(['export', '--pruned'], source);
    expect(scheduleLines(pruned.stdout)).toHaveLength(7);
    expect(pruned.stdout).not.toContain(data.ids.slowerTwin);

    const similar = await skb(
      [
        'export',
        '--similar-to-op',
        '{"kind":"gemm","dims":{"M":64,"N":256,"K":256}}',
        '--target',
        data.local.key,
        '--k',
        '2',
      ],
      source,
    );
    expect(similar.code).toBe(0);
    const lines = scheduleLines(similar.stdout);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(similar.stdout).toContain(data.ids.gemms[0]);
    expect(similar.stdout).not.toContain(data.ids.foreign);
  });

  it('exports by a configured target name as by its key, and names the configured names for one it does not know', async () => {
    const dir = tempDir();
    // Any command that opens the services registers this machine's target under its name.
    expect((await skb(['targets', 'list'], dir)).code).toBe(0);
    const kb = await openConfiguredKnowledgeBase(testConfig(dir));
    const here = (await kb.listTargets()).find((t) => t.name === 'local')!;
    const elsewhere = makeCpuTarget('elsewhere', { model: 'Other CPU 100 @ 2.0GHz' });
    await kb.addSchedules([...makeContents(here, 2), ...makeContents(elsewhere, 1)], [elsewhere]);
    await kb.close();
    const byName = await skb(['export', '--target', 'local'], dir);
    expect(byName.code, byName.stderr).toBe(0);
    expect(scheduleLines(byName.stdout)).toHaveLength(2);
    expect(byName.stdout).toBe((await skb(['export', '--target', here.key], dir)).stdout);
    const similarOn = (target: string) =>
      skb(['export', '--similar-to-op', '{"kind":"gemm","dims":{"M":64,"N":256,"K":256}}', '--target', target], dir);
    const similar = await similarOn('local');
    expect(similar.code, similar.stderr).toBe(0);
    expect(similar.stdout).toContain(toSchedule(makeContents(here, 2)[0]!).id);
    expect(similar.stdout).toBe((await similarOn(here.key)).stdout);
    const unknown = await skb(['export', '--target', 'nowhere'], dir);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/Unknown target "nowhere".*configured names: local/);
  });

  it('refuses a truncated file: every bad line printed with its number, exit 1, nothing imported', async () => {
    const full = (await skb(['export'], source)).stdout;
    const total = full.trimEnd().split('\n').length;
    const file = join(source, 'truncated.jsonl');
    writeFileSync(file, full.trimEnd().slice(0, -25));

    const dir = tempDir();
    const other = makeCpuTarget('third', { model: 'Third CPU' });
    const kb = await openConfiguredKnowledgeBase(testConfig(dir));
    await kb.addSchedules(makeContents(other, 2), [other]);
    await kb.close();
    const before = (await skb(['export'], dir)).stdout;

    const run = await skb(['import', file], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`line ${total}: .*truncated`));
    expect(run.stdout).toBe('');
    expect((await skb(['export'], dir)).stdout).toBe(before);
  });

  it('says which file it cannot read', async () => {
    const run = await skb(['import', 'no-such-file.jsonl'], source);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot read .*no-such-file\.jsonl: ENOENT/);
  });

  it('refuses a database whose vectors do not fit the embedder, changing nothing', async () => {
    const dir = tempDir();
    const target = makeCpuTarget('local');
    const contents = makeContents(target, 2);
    const store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
    await store.insertSchedules(contents, {
      targets: [target],
      embeddings: { embedderId: 'offline-v1-128', vectors: contents.map((_, i) => makeVector(8, i + 1)) },
    });
    const before = await store.allSchedules({});
    store.close();

    const run = await skb(['export'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/dimension 8.*dimension 128/);
    const reopened = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
    expect(await reopened.allSchedules({})).toEqual(before);
    expect(await reopened.embeddingSpaces()).toEqual([{ embedderId: 'offline-v1-128', dim: 8, count: 2 }]);
    reopened.close();
  });
});

/** `skb serve` through its binary on a free port, once its start-up lines are out. */
describe('serve', () => {
  it("imports the package's seed packs whatever SKB_DATA_DIR says, says so at start and in /health, and keeps a deleted seed deleted", async () => {
    const dir = tempDir();
    const packs = { SKB_SEED_PACKS: '' }; // unset: the package's own manifest
    const manifest = JSON.parse(readFileSync(join(ROOT, 'data', 'seed-packs', 'packs.json'), 'utf8')) as {
      packs: Array<{ name: string; version: number; file: string }>;
    };
    const shipped = manifest.packs[0]!;
    const packLines = readFileSync(join(ROOT, 'data', 'seed-packs', shipped.file), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"schedule"'));
    const n = packLines.length;
    const said = (held: number) =>
      new RegExp(
        `Seed packs: ${shipped.name} v${shipped.version} \\(${held} schedules\\); ${held} schedules in all\\.`,
      );
    const first = await startServe(dir, packs);
    let deletedId = '';
    try {
      expect(first.stdout).toMatch(said(n));
      const health = (await (await fetch(`${first.url}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({
        scheduleCount: n,
        seedPacks: [{ name: shipped.name, version: shipped.version, schedules: n, offered: n }],
      });
      const token = (await skb(['token'], dir)).stdout.trim();
      const gql = async (query: string) =>
        (await fetch(`${first.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query }),
        }).then((r) => r.json())) as { data: Record<string, unknown> };
      const listed = await gql('{ schedules(first: 1) { nodes { id } } }');
      deletedId = (listed.data.schedules as { nodes: Array<{ id: string }> }).nodes[0]!.id;
      expect(await gql(`mutation { deleteSchedule(id: "${deletedId}") }`)).toEqual({ data: { deleteSchedule: true } });
      expect(await gql('{ health { seedPacks { name version schedules offered } } }')).toEqual({
        data: {
          health: { seedPacks: [{ name: shipped.name, version: shipped.version, schedules: n - 1, offered: n }] },
        },
      });
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);

    // The next start: the pack is current, the deleted seed stays deleted.
    const second = await startServe(dir, packs);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stdout).toMatch(said(n - 1));
    const shown = await skb(['schedule', deletedId], dir);
    expect(shown.code).not.toBe(0);

    // A shipped schedule grown from another shows its lineage: the seed it descends from and the
    // seed's steps it replayed, each naming the seed's step.
    const grown = packLines
      .map((l) => JSON.parse(l) as { id: string; steps: Array<{ replayOf?: unknown }> })
      .find((s) => s.steps.some((x) => x.replayOf))!;
    expect(grown).toBeDefined();
    const lineage = await skb(['schedule', grown.id], dir);
    expect(lineage.code, lineage.stderr).toBe(0);
    expect(lineage.stdout).toMatch(/^derived from\s+sch_[0-9a-f]{24}/m);
    expect(lineage.stdout).toMatch(/^\d+\s+cpu\.\S+\s+.+ ms\s+sch_[0-9a-f]{24} step \d+\s/m);

    // A schedule exported before flattening (version 1 of the pack held replays as one step) is
    // stored flat on import; the id the old file gives it still finds it.
    const legacyFile = join(ROOT, 'test', 'fixtures', 'seed-packs-v1', 'cpu-reference.jsonl');
    const imported = await skb(['import', legacyFile], dir);
    expect(imported.code, imported.stderr).toBe(0);
    const grandchild = readFileSync(legacyFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"schedule"') && l.includes('seed.replay'))
      .map((l) => JSON.parse(l) as { id: string; steps: Array<{ plan: string }> })
      .find((s) => s.steps[0]!.plan.includes('1. [seed.replay]'))!;
    const flat = await skb(['schedule', grandchild.id], dir);
    expect(flat.code, flat.stderr).toBe(0);
    expect(flat.stdout).not.toMatch(/seed\.replay/);
    expect(flat.stdout).toMatch(/^derived from\s+sch_[0-9a-f]{24}$/m);
    expect(flat.stdout).toMatch(/^\d+\s+cpu\.\S+\s+.+ ms\s+sch_[0-9a-f]{24} step 1\s/m);
    const shownId = /^schedule\s+(sch_[0-9a-f]{24})$/m.exec(flat.stdout)?.[1];
    expect(shownId).toBeDefined();
    expect(shownId).not.toBe(grandchild.id);
  });

  it('prints its URL, answers, and on SIGTERM stops cleanly with the index saved', async () => {
    const dir = tempDir();
    const seeded = await openConfiguredKnowledgeBase(testConfig(dir));
    const ids = (await seed(seeded)).ids;
    await seeded.close();

    const { child, exited, url, stdout } = await startServe(dir);
    try {
      const health = (await (await fetch(`${url}/health`)).json()) as {
        ok: boolean;
        scheduleCount: number;
        indexSize: number;
      };
      expect(health).toMatchObject({ ok: true, scheduleCount: 8, indexSize: 8 });

      // No SKB_API_TOKEN: serve generated one, says where, and requires it even from loopback.
      expect(stdout).toContain(`Generated an API token at ${join(dir, 'api-token')}, readable by this account only.`);
      expect(statSync(join(dir, 'api-token')).mode & 0o777).toBe(0o600);
      const mutation = JSON.stringify({ query: `mutation { deleteSchedule(id: "${ids.conv}") }` });
      const anonymous = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: mutation,
      });
      expect(anonymous.status).toBe(401);
      expect(JSON.stringify(await anonymous.json())).toContain('skb token');
      const token = await skb(['token'], dir);
      expect(token.code, token.stderr).toBe(0);
      // A write just before the signal: the index is saved a moment after writes, or at the latest on close.
      const deleted = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token.stdout.trim()}` },
        body: mutation,
      });
      expect(await deleted.json()).toEqual({ data: { deleteSchedule: true } });
    } catch (error) {
      // A failed check must not leave the service running after the test.
      child.kill('SIGKILL');
      throw error;
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const metaFile = readdirSync(join(dir, 'index')).find((name) => name.endsWith('.meta.json'));
    const meta = JSON.parse(readFileSync(join(dir, 'index', metaFile!), 'utf8')) as { revision: number; count: number };
    const store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
    expect(meta).toMatchObject({ revision: await store.revision(), count: 7 });
    store.close();
  });
});
