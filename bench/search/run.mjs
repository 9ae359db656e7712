// The service's own searches against the template space's best and OpenBLAS, side by side, in one
// run. Run after `npm run build` and `bash bench/kernels/setup.sh`:
//   node bench/search/run.mjs [--only gemm,softmax] [--seeds 1,2,3] [--budgets 16,64] [--modes cold,warm] [--out bench/out/search.json]
//   node bench/search/run.mjs --report bench/out/search.json[,more.json]   (redraw the table only)
// 1. bench/kernels on the same shapes (`--search-cases`): the naive kernel, the sweep's best and,
//    for gemm, single-thread OpenBLAS, timed by the project's C harness (OPENBLAS_CORETYPE and
//    OPENBLAS_L2_SIZE unset for it, so OpenBLAS picks its kernels itself).
// 2. Per shape, a fresh knowledge base holding only the shipped seed packs (data/seed-packs);
//    then, per search seed, a cold search (warm start off: no seeds, no cost-model data from the
//    knowledge base) and a warm one (the defaults), each on its own copy of that knowledge base, at
//    the largest budget with every other setting at its default (what `skb optimize --budget N`
//    runs), but the timing of the largest shapes (timingFor). The smaller budgets are read from
//    the same search's first N samples: the engine caps samples at the budget and every slot's
//    draws depend only on (seed, iteration, parent, slot), so a search of budget 16 is the first 16
//    samples of the search of budget 64 (up to timing noise).
// Writes the JSON (every search, its best-so-far by sample and wall times) and prints the table.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SEARCH_CASES } from '../kernels/cases.mjs';

const rootUrl = new URL('../../', import.meta.url);
const root = fileURLToPath(rootUrl);
const dist = (p) => new URL(`dist/${p}`, rootUrl);
if (!existsSync(dist('api/services.js'))) {
  console.error('bench/search: run `npm run build` first (dist/api/services.js is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    seeds: { type: 'string', default: '1,2,3' },
    budgets: { type: 'string', default: '16,64' },
    modes: { type: 'string', default: 'cold,warm' },
    out: { type: 'string', default: 'bench/out/search.json' },
    report: { type: 'string' },
  },
});
const ints = (text, what) => {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x <= 0))
    throw new Error(`--${what} takes comma-separated positive integers, got ${text}`);
  return xs;
};
const modes = values.modes.split(',');
if (modes.length === 0 || modes.some((m) => m !== 'cold' && m !== 'warm'))
  throw new Error(`--modes takes cold, warm or cold,warm, got ${values.modes}`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const { loadConfig } = await import(dist('api/config.js'));
const { openServices } = await import(dist('api/services.js'));
const { createConsoleLogger } = await import(dist('api/logger.js'));
const { flopCount, parseOperation } = await import(dist('schedules/index.js'));

const logger = { ...createConsoleLogger(), info: () => {} };
const cases = SEARCH_CASES.filter(
  (c) => !values.only || values.only.split(',').some((o) => c.label.startsWith(o) || c.op.kind === o),
);

/**
 * Timing of a shape's searches, from its naive kernel's latency in the kernels bench: the toolchain
 * gives one timed run 30 s, so where the default 3 warm-up and 15 timed calls of the naive kernel
 * would take more than 10 s, fewer (at least 1 timed call; a warm-up only from 4).
 */
function timingFor(naiveMs) {
  // The harness also runs the reference and the checked call, and a loaded machine runs the
  // naive kernel slower than the kernels bench saw: budget 10 s for the timed calls.
  const calls = Math.floor(10_000 / naiveMs) - 2;
  if (calls >= 18) return {};
  const runs = Math.max(1, calls - 1);
  return { warmup: runs >= 4 ? 1 : 0, runs };
}

/** bench/kernels on the search shapes, in a child process, with OpenBLAS's environment cleared. */
async function runKernelsBench(labels, json) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const child = spawn(
    process.execPath,
    ['bench/kernels/run.mjs', '--search-cases', '--only', labels.join(','), '--json', json],
    { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`bench/kernels exited with ${code}`);
  return JSON.parse(await readFile(json, 'utf8'));
}

/** Opens services on a knowledge base in `dir` (the package's seed packs imported on first open), runs `work`, closes them. */
async function withServices(dir, work) {
  const env = { SKB_DB_URL: `file:${join(dir, 'kb.db')}`, SKB_DATA_DIR: join(dir, 'data') };
  const services = await openServices(loadConfig(env, root), { cwd: root, env: process.env, logger });
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

/** One search to its end: best latency after each sample, and when each sample was stored. */
async function runSearch(services, operation, config) {
  const t0 = Date.now();
  const started = await services.search.start({ operation, target: 'local' }, config);
  const done = await services.search.wait(started.id);
  const wallS = (Date.now() - t0) / 1000;
  if (done.status !== 'finished')
    throw new Error(`search ${done.id} ended ${done.status}: ${done.error ?? done.message ?? ''}`);
  const detail = await services.search.get(done.id);
  const bySample = [...detail.candidates].sort((a, b) => a.sample - b.sample);
  const startedAt = Date.parse(bySample[0].createdAt);
  const bestMs = [];
  const atS = [];
  let best = done.baselineLatencyMs;
  for (const c of bySample) {
    if (c.sample === 0) continue;
    if (c.correct && c.latencyMs !== null && c.latencyMs > 0 && c.latencyMs < best) best = c.latencyMs;
    bestMs[c.sample] = best;
    atS[c.sample] = (Date.parse(c.createdAt) - startedAt) / 1000;
  }
  return {
    searchId: done.id,
    baselineMs: done.baselineLatencyMs,
    samples: done.samplesUsed,
    wallS,
    bestMs,
    atS,
    seeds: done.seeds.map((s) => `${s.tier}/${s.outcome}`),
    best: detail.candidates.find((c) => c.id === done.bestCandidateId)?.params ?? null,
  };
}

/** Writes the results so far to --out (a run that dies keeps what it measured). */
async function writePartial(result) {
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, JSON.stringify({ partial: true, loadBefore: '', loadAfter: '', ...result }, null, 2));
}

async function measure() {
  const seeds = ints(values.seeds, 'seeds');
  const budgets = ints(values.budgets, 'budgets').sort((a, b) => a - b);
  const maxBudget = budgets.at(-1);
  const loadBefore = load();
  console.error(`bench/search: load average before ${loadBefore}`);
  const work = await mkdtemp(join(tmpdir(), 'skb-search-bench-'));
  try {
    const kernels = await runKernelsBench(
      cases.map((c) => c.label),
      join(work, 'kernels.json'),
    );
    const shapes = [];
    for (const c of cases) {
      const operation = parseOperation(c.op);
      const snapshot = join(work, 'kb');
      await rm(snapshot, { recursive: true, force: true });
      await mkdir(join(snapshot, 'data'), { recursive: true });
      await withServices(snapshot, async (services) => {
        if ((await services.kb.counts()).schedules === 0) throw new Error('the shipped seeds were not imported');
      });
      const row = kernels.rows.find((r) => r.case === c.label);
      const timing = timingFor(row.latencyMs.naive);
      const searches = [];
      for (const seed of seeds) {
        for (const warm of modes.map((m) => m === 'warm')) {
          const copy = join(work, `run-${seed}-${warm ? 'warm' : 'cold'}`);
          await cp(snapshot, copy, { recursive: true, filter: (src) => !src.endsWith('-shm') });
          const config = { budget: maxBudget, seed, timing, warmStart: { enabled: warm } };
          const r = await withServices(copy, (services) => runSearch(services, operation, config));
          await rm(copy, { recursive: true, force: true });
          searches.push({ seed, mode: warm ? 'warm' : 'cold', ...r });
          // What is measured so far survives a later failure: the file is rewritten after every search.
          await writePartial({
            settings: { seeds, budgets },
            shapes: [...shapes, { label: c.label, op: operation, kernels: row, timing, searches }],
          });
          console.error(
            `  ${c.label} ${warm ? 'warm' : 'cold'} seed ${seed}: ${budgets.map((b) => `@${b} ${gflops(operation, r.bestMs[b] ?? r.bestMs.at(-1)).toFixed(1)}`).join(', ')} GFLOP/s, ${r.wallS.toFixed(0)} s`,
          );
        }
      }
      shapes.push({ label: c.label, op: operation, kernels: row, timing, searches });
    }
    return { settings: { seeds, budgets }, cpu: kernels.cpu, loadBefore, loadAfter: load(), shapes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const gflops = (op, ms) => flopCount(op) / (ms / 1000) / 1e9;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The tables: per shape and budget, the median over seeds of cold and warm, as GFLOP/s and % of the sweep's best. */
function report(result) {
  const { budgets } = result.settings;
  const lines = [];
  const f = (x, d = 1) => x.toFixed(d);
  lines.push(
    `Search seeds ${result.settings.seeds.join(', ')}; medians over seeds; % of the bench/kernels sweep's best in the same run. Load average ${result.loadBefore} before, ${result.loadAfter} after.`,
    '',
    `| shape | naive | sweep best | OpenBLAS | ${budgets.flatMap((b) => [`cold@${b}`, `warm@${b}`]).join(' | ')} | wall s (cold@${budgets.at(-1)}, warm@${budgets.at(-1)}) |`,
    `|---|---:|---:|---:|${budgets.map(() => '---:|---:').join('|')}|---:|`,
  );
  const goals = [];
  for (const s of result.shapes) {
    const sweepMs = s.kernels.latencyMs.best;
    // A mode left out of the run (--modes) has no searches: its cells read '-' and its goals are skipped.
    const at = (mode, b) =>
      median(s.searches.filter((r) => r.mode === mode).map((r) => r.bestMs[b] ?? r.bestMs.at(-1)));
    const wall = (mode) => median(s.searches.filter((r) => r.mode === mode).map((r) => r.wallS));
    const seconds = (x) => (Number.isFinite(x) ? f(x, 0) : '-');
    const cell = (ms) => (Number.isFinite(ms) ? `${f(gflops(s.op, ms))} (${f((sweepMs / ms) * 100, 0)}%)` : '-');
    const blas = s.kernels.latencyMs.reference;
    lines.push(
      `| ${s.label} | ${f(gflops(s.op, s.kernels.latencyMs.naive), 2)} | ${f(gflops(s.op, sweepMs))} | ${blas ? f(gflops(s.op, blas)) : '-'} | ${budgets.flatMap((b) => [cell(at('cold', b)), cell(at('warm', b))]).join(' | ')} | ${seconds(wall('cold'))}, ${seconds(wall('warm'))} |`,
    );
    const top = budgets.at(-1);
    const low = budgets[0];
    const ran = (mode) => s.searches.some((r) => r.mode === mode);
    if (ran('cold'))
      goals.push([
        `${s.label}: cold@${top} within 15% of the sweep's best`,
        sweepMs / at('cold', top) >= 0.85,
        sweepMs / at('cold', top),
      ]);
    if (ran('warm'))
      goals.push([
        `${s.label}: warm@${low} within 25% of the sweep's best`,
        sweepMs / at('warm', low) >= 0.75,
        sweepMs / at('warm', low),
      ]);
    if (blas && ran('warm'))
      goals.push([
        `${s.label}: warm@${top} at least 0.9x OpenBLAS`,
        blas / at('warm', top) >= 0.9,
        blas / at('warm', top),
      ]);
  }
  lines.push('', '| goal | measured | met |', '|---|---:|---|');
  for (const [goal, met, ratio] of goals) lines.push(`| ${goal} | ${f(ratio, 2)}x | ${met ? 'yes' : 'no'} |`);
  return lines.join('\n');
}

/** One or more earlier runs' JSON (comma-separated, e.g. two halves run side by side), shapes concatenated. */
async function readRuns(paths) {
  const runs = await Promise.all(paths.split(',').map(async (p) => JSON.parse(await readFile(p, 'utf8'))));
  return {
    ...runs[0],
    loadBefore: runs.map((r) => r.loadBefore).join(' / '),
    loadAfter: runs.map((r) => r.loadAfter).join(' / '),
    shapes: runs.flatMap((r) => r.shapes),
  };
}

const result = values.report ? await readRuns(values.report) : await measure();
if (!values.report) {
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, JSON.stringify(result, null, 2));
}
console.log(report(result));
