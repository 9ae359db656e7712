// Builds a shipped seed pack from real template-planner searches on this machine. Run after
// `npm run build`:
//   node scripts/build-seed-kb.mjs [--pack cpu|gpu] [--budget N] [--work DIR] [--out FILE] [--seed 1] [--only N]
//                                  [--python python3] [--families K,K] [--from-pack FILE]
// --pack cpu (the default) searches the CPU kernel templates on the layers people tune (ResNet-50
// convolutions, BERT and LLM projection GEMMs, attention batched GEMMs, LLM decode matvecs, softmax
// and layernorm over real hidden sizes) on this machine's `local` target, into
// data/seed-packs/cpu-reference.jsonl; --pack gpu searches the Triton matmul template on this
// machine's GPU through a KernelBench target (--python has PyTorch and Triton), into
// data/seed-packs/gpu-reference.jsonl. The shapes are in scripts/seed-kb-shapes.mjs, one of each
// family in turn, so a build cut short still covers every family; warm start is on, so later
// shapes reuse earlier ones the way a user's knowledge base grows.
// The knowledge base and a progress log live in --work (default .tmp/seed-kb-<pack>) and survive
// the run: started again, the script skips the shapes already searched and goes on where it
// stopped (--only N stops after N new shapes; --only 0 only writes the export). At the end the pruned export (best schedule per
// shape and target) of everything searched so far is written to --out. A new file ships as a new
// version of its pack: raise `version` in data/seed-packs/packs.json, and databases that imported
// an older version import its new schedules at start (src/search/seed-packs.ts).
// --from-pack FILE starts an empty --work directory from an existing pack (the shipped one, say):
// its schedules are imported and the shapes they cover count as searched, so a build whose work
// directory was lost goes on with the shapes the pack lacks, and its export is the grown pack.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SEED_PACKS } from './seed-kb-shapes.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = (p) => new URL(`dist/${p}`, new URL('../', import.meta.url));
if (!existsSync(dist('api/services.js'))) {
  console.error('build-seed-kb: run `npm run build` first (dist/api/services.js is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    pack: { type: 'string', default: 'cpu' },
    budget: { type: 'string' },
    out: { type: 'string' },
    work: { type: 'string' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    python: { type: 'string', default: 'python3' },
    families: { type: 'string' },
    'from-pack': { type: 'string' },
  },
});
const positiveInt = (name, text) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return n;
};
const pack = SEED_PACKS[values.pack];
if (!pack) throw new Error(`--pack is one of ${Object.keys(SEED_PACKS).join(', ')}, got ${values.pack}`);
const budget = positiveInt('budget', values.budget ?? String(pack.budget));
const searchSeed = Number(values.seed);
// --only 0 searches nothing and writes the export of what the work directory holds.
const only =
  values.only === undefined ? Number.POSITIVE_INFINITY : values.only === '0' ? 0 : positiveInt('only', values.only);
const out = resolve(root, values.out ?? `data/seed-packs/${pack.name}.jsonl`);
const work = resolve(root, values.work ?? `.tmp/seed-kb-${values.pack}`);
const onGpu = values.pack === 'gpu';
// --families gemm,conv2d searches those kinds only: two builds of disjoint families, each with its
// own --work and --out, use two cores; `skb import` both into one database and `skb export --pruned`
// writes the pack.
const kinds = values.families?.split(',').filter(Boolean);
const known = new Set(pack.shapes.map((op) => op.kind));
for (const k of kinds ?? [])
  if (!known.has(k))
    throw new Error(`--families names kinds of the ${values.pack} pack (${[...known].join(', ')}), not ${k}`);
const shapes = kinds ? pack.shapes.filter((op) => kinds.includes(op.kind)) : pack.shapes;

const { loadConfig } = await import(dist('api/config.js'));
const { openServices } = await import(dist('api/services.js'));
const { createConsoleLogger } = await import(dist('api/logger.js'));
const { parseOperation, exactOperationKey } = await import(dist('schedules/operation.js'));

const shapeKey = (op) => JSON.stringify([op.kind, op.dims, op.attrs ?? {}, ...(op.dtype ? [op.dtype] : [])]);
const describe = (op) =>
  [...Object.entries(op.dims), ...Object.entries(op.attrs ?? {}), ...(op.dtype ? [['dtype', op.dtype]] : [])]
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

const settings = {
  planner: 'template',
  budget,
  beamWidth: onGpu ? 2 : 4,
  plansPerCandidate: 2,
  implementationsPerPlan: 1,
  iterations: Math.ceil(budget / (onGpu ? 4 : 8)) + 4,
  earlyStopPatience: 0,
  seed: searchSeed,
  warmStart: { enabled: true },
  // A GPU candidate's timed runs are its largest cost; 50 after 10 warm-up runs keep the median
  // within a few percent on these shapes.
  ...(onGpu ? { timing: { warmup: 10, runs: 50 } } : {}),
};

await mkdir(work, { recursive: true });
/** The GPU of this machine as a KernelBench target, with the CUDA environment its harness needs. */
async function gpuTargetsFile() {
  const file = join(work, 'targets.json');
  const env = Object.fromEntries(
    ['LD_LIBRARY_PATH', 'CUDA_HOME', 'CUDA_VISIBLE_DEVICES', 'TRITON_PTXAS_PATH']
      .filter((k) => process.env[k])
      .map((k) => [k, process.env[k]]),
  );
  const target = {
    id: 'gpu',
    description:
      'One GPU of this machine, Triton kernels timed through the KernelBench harness; eager PyTorch calls cuBLAS.',
    executor: { kind: 'local' },
    toolchain: { kind: 'kernelbench', python: values.python, ...(Object.keys(env).length ? { env } : {}) },
  };
  await writeFile(file, JSON.stringify({ targets: [target] }));
  return file;
}
const progressFile = join(work, 'progress.jsonl');
const done = existsSync(progressFile)
  ? (await readFile(progressFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  : [];
const finished = new Set(done.map((r) => r.key));
// No seed packs: the build must start from nothing, not from the pack it is about to replace.
const env = {
  SKB_DB_URL: `file:${join(work, 'kb.db')}`,
  SKB_DATA_DIR: join(work, 'data'),
  SKB_SEED_PACKS: 'none',
  ...(onGpu ? { SKB_TARGETS_FILE: await gpuTargetsFile() } : {}),
};
const quiet = createConsoleLogger();
const services = await openServices(loadConfig(env, root), {
  cwd: root,
  env: process.env,
  logger: { ...quiet, info: () => {} },
});
const target = onGpu ? 'gpu' : 'local';

/** Imports a pack and logs the shapes its schedules cover as searched (--from-pack). */
async function startFromPack(file) {
  const text = await readFile(file, 'utf8');
  const report = await services.kb.importJsonl(text);
  const covered = new Map();
  for (const line of text.split('\n')) {
    if (!line.includes('"type":"schedule"')) continue;
    const s = JSON.parse(line);
    covered.set(s.operationKey, s);
  }
  for (const operation of shapes) {
    const s = covered.get(exactOperationKey(parseOperation(operation)));
    if (!s) continue;
    const row = {
      key: shapeKey(operation),
      kind: operation.kind,
      dims: describe(operation),
      baseline: s.baselineLatencyMs,
      best: s.bestLatencyMs,
      speedup: s.speedup,
      steps: s.steps.length,
      seeds: 0,
      stored: 'yes',
      seconds: 0,
      fromPack: file,
    };
    await appendFile(progressFile, `${JSON.stringify(row)}\n`);
    done.push(row);
    finished.add(row.key);
  }
  console.error(
    `build-seed-kb: started from ${file}: ${JSON.stringify(report)}; ${finished.size} of ${shapes.length} shapes covered`,
  );
}
const started = performance.now();
try {
  // Only this build's searches may go into the export.
  const present = (await services.kb.counts()).schedules;
  if (done.length === 0 && present !== 0)
    throw new Error(
      `build-seed-kb: ${work} holds ${present} schedules but no progress log; start from an empty --work directory`,
    );
  if (values['from-pack']) {
    if (done.length !== 0 || present !== 0)
      throw new Error(`build-seed-kb: --from-pack starts an empty --work directory, and ${work} has a build in it`);
    await startFromPack(resolve(root, values['from-pack']));
  }
  let searched = 0;
  for (const operation of shapes) {
    const key = shapeKey(operation);
    if (finished.has(key)) continue;
    if (searched >= only) break;
    const t = performance.now();
    const record = await services.search.start({ operation, target }, settings);
    const result = await services.search.wait(record.id);
    // A shape whose search failed (its naive baseline ran past the evaluation limit, say) is
    // logged and passed over, so one shape cannot stop a build of hours; resuming does not retry it.
    const failure =
      result.status === 'finished' ? null : `ended ${result.status}: ${result.error ?? result.message ?? ''}`;
    const row = {
      key,
      kind: operation.kind,
      dims: describe(operation),
      baseline: result.baselineLatencyMs,
      best: result.bestLatencyMs,
      speedup:
        result.baselineLatencyMs && result.bestLatencyMs ? result.baselineLatencyMs / result.bestLatencyMs : null,
      steps: result.bestLineage?.length ?? 0,
      seeds: result.seeds.length,
      stored: result.scheduleId ? 'yes' : 'no',
      seconds: (performance.now() - t) / 1000,
      ...(failure ? { failure } : {}),
    };
    await appendFile(progressFile, `${JSON.stringify(row)}\n`);
    done.push(row);
    finished.add(key);
    searched++;
    const outcome = failure
      ? `search ${result.id} ${failure}`
      : `${row.speedup?.toFixed(2) ?? '-'}x in ${row.steps} steps, ${row.seeds} seeds`;
    console.error(
      `[${shapes.filter((op) => finished.has(shapeKey(op))).length}/${shapes.length}] ${row.kind} ${row.dims}: ${outcome}, ${row.seconds.toFixed(0)} s`,
    );
  }
  const text = await services.kb.exportJsonl({ filter: {}, pruned: true });
  await writeFile(out, text);
  const schedules = text.split('\n').filter((l) => l.includes('"type":"schedule"')).length;
  const f = (x, d) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
  console.log(`| kind | shape | baseline ms | best ms | speedup | steps | seeds used | stored | s |`);
  console.log(`|---|---|---:|---:|---:|---:|---:|---|---:|`);
  for (const r of done)
    console.log(
      `| ${r.kind} | ${r.dims} | ${f(r.baseline, 4)} | ${f(r.best, 4)} | ${f(r.speedup, 2)}x | ${r.steps} | ${r.seeds} | ${r.failure ?? r.stored} | ${f(r.seconds, 0)} |`,
    );
  const total = done.reduce((s, r) => s + r.seconds, 0);
  const remaining = shapes.filter((op) => !finished.has(shapeKey(op))).length;
  console.log(
    `\nWrote ${schedules} schedules (pruned: best per shape and target) to ${out}: ${shapes.length - remaining} of ${shapes.length} shapes searched (${done.filter((r) => r.failure).length} of them failed; budget ${budget}, seed ${searchSeed}), ${total.toFixed(0)} s of searching in all, ${((performance.now() - started) / 1000).toFixed(0)} s this run.`,
  );
  if (remaining) console.log(`${remaining} shapes remain: run the same command again to go on.`);
} finally {
  await services.close();
}
