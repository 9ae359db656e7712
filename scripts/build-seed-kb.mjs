// Builds the shipped reference seed pack (data/seed-packs/cpu-reference.jsonl) from real
// template-planner searches on this machine. Run after `npm run build`:
//   node scripts/build-seed-kb.mjs [--budget 48] [--out data/seed-packs/cpu-reference.jsonl] [--seed 1]
// Every kernel template family at three shapes, smallest first, in a fresh knowledge base with
// warm start on, so later shapes reuse earlier ones the way a user's knowledge base grows. The
// pruned export (best schedule per shape and target) is written to --out. A new file ships as a
// new version of its pack: raise `version` in data/seed-packs/packs.json, and databases that
// imported an older version import its new schedules at start (src/search/seed-packs.ts).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = (p) => new URL(`dist/${p}`, new URL('../', import.meta.url));
if (!existsSync(dist('api/services.js'))) {
  console.error('build-seed-kb: run `npm run build` first (dist/api/services.js is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '48' },
    out: { type: 'string', default: 'data/seed-packs/cpu-reference.jsonl' },
    seed: { type: 'string', default: '1' },
  },
});
const budget = Number(values.budget);
const searchSeed = Number(values.seed);
if (!Number.isInteger(budget) || budget < 1)
  throw new Error(`--budget must be a positive integer, got ${values.budget}`);
const out = resolve(root, values.out);

const { loadConfig } = await import(dist('api/config.js'));
const { openServices } = await import(dist('api/services.js'));
const { createConsoleLogger } = await import(dist('api/logger.js'));

/** Three shapes per family, small to medium, so every sample compiles and runs in milliseconds. */
const SHAPES = [
  { kind: 'gemm', dims: { M: 128, N: 128, K: 128 } },
  { kind: 'gemm', dims: { M: 256, N: 256, K: 256 } },
  { kind: 'gemm', dims: { M: 384, N: 256, K: 320 } },
  { kind: 'batched_gemm', dims: { B: 4, M: 64, N: 64, K: 64 } },
  { kind: 'batched_gemm', dims: { B: 8, M: 96, N: 96, K: 64 } },
  { kind: 'batched_gemm', dims: { B: 4, M: 128, N: 128, K: 128 } },
  { kind: 'conv2d', dims: { N: 1, C: 16, H: 28, W: 28, K: 16, R: 3, S: 3 }, attrs: { pad: 1 } },
  { kind: 'conv2d', dims: { N: 1, C: 32, H: 28, W: 28, K: 32, R: 3, S: 3 }, attrs: { pad: 1 } },
  { kind: 'conv2d', dims: { N: 1, C: 32, H: 56, W: 56, K: 32, R: 3, S: 3 }, attrs: { pad: 1 } },
  { kind: 'matvec', dims: { M: 512, K: 512 } },
  { kind: 'matvec', dims: { M: 1024, K: 1024 } },
  { kind: 'matvec', dims: { M: 2048, K: 1024 } },
  { kind: 'softmax', dims: { M: 128, N: 512 } },
  { kind: 'softmax', dims: { M: 256, N: 1024 } },
  { kind: 'softmax', dims: { M: 512, N: 2048 } },
  { kind: 'layernorm', dims: { M: 128, N: 512 } },
  { kind: 'layernorm', dims: { M: 256, N: 1024 } },
  { kind: 'layernorm', dims: { M: 512, N: 2048 } },
];

const settings = {
  planner: 'template',
  budget,
  beamWidth: 4,
  plansPerCandidate: 2,
  implementationsPerPlan: 1,
  iterations: Math.ceil(budget / 8) + 4,
  earlyStopPatience: 0,
  seed: searchSeed,
  warmStart: { enabled: true },
};

const dir = await mkdtemp(join(tmpdir(), 'skb-seed-kb-'));
// No seed packs: the build must start from nothing, not from the pack it is about to replace.
const env = { SKB_DB_URL: `file:${join(dir, 'kb.db')}`, SKB_DATA_DIR: join(dir, 'data'), SKB_SEED_PACKS: 'none' };
const quiet = createConsoleLogger();
const services = await openServices(loadConfig(env, root), {
  cwd: root,
  env: process.env,
  logger: { ...quiet, info: () => {} },
});
const rows = [];
const started = performance.now();
try {
  // Only this build's searches may go into the export.
  const present = (await services.kb.counts()).schedules;
  if (present !== 0)
    throw new Error(`build-seed-kb: the fresh knowledge base opened with ${present} schedules; it must start empty`);
  for (const operation of SHAPES) {
    const t = performance.now();
    const record = await services.search.start({ operation, target: 'local' }, settings);
    const done = await services.search.wait(record.id);
    if (done.status !== 'finished')
      throw new Error(
        `search ${done.id} (${operation.kind}) ended ${done.status}: ${done.error ?? done.message ?? ''}`,
      );
    const speedup = done.baselineLatencyMs && done.bestLatencyMs ? done.baselineLatencyMs / done.bestLatencyMs : null;
    rows.push({
      kind: operation.kind,
      dims: Object.entries(operation.dims)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      baseline: done.baselineLatencyMs,
      best: done.bestLatencyMs,
      speedup,
      steps: done.bestLineage?.length ?? 0,
      seeds: done.seeds.length,
      stored: done.scheduleId ? 'yes' : 'no',
      seconds: (performance.now() - t) / 1000,
    });
    const r = rows.at(-1);
    console.error(
      `${r.kind} ${r.dims}: ${r.speedup?.toFixed(2) ?? '-'}x in ${r.steps} steps, ${r.seeds} seeds, ${r.seconds.toFixed(0)} s`,
    );
  }
  const text = await services.kb.exportJsonl({ filter: {}, pruned: true });
  await writeFile(out, text);
  const schedules = text.split('\n').filter((l) => l.includes('"type":"schedule"')).length;
  const f = (x, d) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
  console.log(`| kind | dims | baseline ms | best ms | speedup | steps | seeds used | stored | s |`);
  console.log(`|---|---|---:|---:|---:|---:|---:|---|---:|`);
  for (const r of rows)
    console.log(
      `| ${r.kind} | ${r.dims} | ${f(r.baseline, 4)} | ${f(r.best, 4)} | ${f(r.speedup, 2)}x | ${r.steps} | ${r.seeds} | ${r.stored} | ${f(r.seconds, 0)} |`,
    );
  console.log(
    `\nWrote ${schedules} schedules (pruned: best per shape and target) to ${out} in ${((performance.now() - started) / 1000).toFixed(0)} s (budget ${budget}, seed ${searchSeed}).`,
  );
} finally {
  await services.close();
  await rm(dir, { recursive: true, force: true });
}
