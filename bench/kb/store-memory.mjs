// Resident memory of writes through the libSQL store alone, in two phases on one fresh file
// database, printing RSS and V8 heap every few thousand rows (after a GC when --expose-gc is given):
// 1. schedules: `insertSchedules` in batches of --batch (with 128-dimensional embeddings, as the
//    knowledge base writes them);
// 2. candidates: what a running search writes, per plan slot: its --samples candidates
//    (`searches.insertCandidates`, each with --code-bytes of code), the admitted marks and the
//    search's progress (`updateSearch`); a new search every --per-search candidates.
// Memory that grows with the number of writes, not with the data, shows up as a steady climb.
//
//   npm run build && node --expose-gc bench/kb/store-memory.mjs [--count 20000] [--batch 1000] [--every 5]
//     [--candidates 20000] [--samples 2] [--per-search 64] [--code-bytes 4096]
// --every: report every --every x --batch rows of each phase.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ScheduleContentSchema,
  SearchConfigSchema,
  createLibsqlStore,
  makeTargetRecord,
  parseOperation,
} from '../../dist/schedules/index.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '1000' },
    every: { type: 'string', default: '5' },
    candidates: { type: 'string', default: '20000' },
    samples: { type: 'string', default: '2' },
    'per-search': { type: 'string', default: '64' },
    'code-bytes': { type: 'string', default: '4096' },
  },
});
const count = Number(values.count);
const batchSize = Number(values.batch);
const reportRows = Number(values.every) * batchSize;
const candidateCount = Number(values.candidates);
const samples = Number(values.samples);
const perSearch = Number(values['per-search']);
const codeBytes = Number(values['code-bytes']);

const target = makeTargetRecord('local', 'bench CPU', {
  kind: 'cpu',
  arch: 'x86_64',
  model: 'Bench CPU',
  isa: ['avx2'],
  caches: { l1d: 32768, l2: 1048576 },
  cores: 2,
  compiler: 'gcc 12',
});
const operation = (i) =>
  parseOperation({
    kind: 'gemm',
    dtype: 'f32',
    epilogue: [],
    dims: { M: 16 * (1 + (i % 256)), N: 16 * (1 + ((i >> 8) % 256)), K: 16 * (1 + (i >> 16)) },
  });

function content(i) {
  return ScheduleContentSchema.parse({
    operation: operation(i),
    targetKey: target.key,
    steps: [
      {
        optionId: 'cpu.tile',
        optionLabel: 'tile',
        plan: `tile ${i}`,
        params: { i },
        latencyBeforeMs: 10,
        latencyAfterMs: 5,
      },
    ],
    finalCode: `/* ${i} */`,
    baselineLatencyMs: 10,
    bestLatencyMs: 5,
    samplesUsed: 4,
    provenance: { source: 'seed', note: `memory ${i}` },
    createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  });
}

/** Code of about --code-bytes that differs per candidate, as generated kernels do. */
const code = (i) =>
  `/* candidate ${i} */\n` +
  `for (int i = 0; i < ${i}; i++) { c[i] += a[i] * b[i]; }\n`.repeat(Math.ceil(codeBytes / 56)).slice(0, codeBytes);

function search(s) {
  const now = new Date(Date.UTC(2026, 1, 1) + s * 1000).toISOString();
  return {
    id: `bench-search-${s}`,
    status: 'running',
    task: { operation: operation(s), target: 'local', baselineCode: code(-s) },
    targetKey: target.key,
    config: SearchConfigSchema.parse({ budget: perSearch }),
    samplesUsed: 0,
    iteration: 0,
    baselineLatencyMs: 10,
    bestLatencyMs: 10,
    bestCandidateId: null,
    scheduleId: null,
    bestLineage: null,
    seeds: [],
    error: null,
    message: null,
    createdAt: now,
    updatedAt: now,
  };
}

function candidate(searchId, sample, i) {
  return {
    id: `${searchId}-c${sample}`,
    searchId,
    parentId: null,
    iteration: 1 + Math.floor(sample / 8),
    sample,
    optionId: 'cpu.tile',
    optionLabel: 'tile',
    plan: `tile the loops by ${sample}`,
    params: { tile: sample },
    code: code(i),
    correct: true,
    latencyMs: 10 - sample / perSearch,
    errorKind: null,
    output: `ok ${i}\n`.repeat(32),
    feedback: [`sample ${sample} ran`],
    admitted: false,
    forcedFrom: null,
    model: null,
    createdAt: new Date(Date.UTC(2026, 1, 1) + i * 1000).toISOString(),
  };
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
const dir = mkdtempSync(join(tmpdir(), 'skb-store-memory-'));
const store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });

function phase(name) {
  globalThis.gc?.();
  const start = process.memoryUsage().rss;
  console.log(`${name.padStart(10)}  rss MiB  rss growth MiB  heap MiB`);
  return (n) => {
    globalThis.gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    console.log(
      `${String(n).padStart(10)}  ${mib(rss).padStart(7)}  ${mib(rss - start).padStart(14)}  ${mib(heapUsed).padStart(8)}`,
    );
  };
}

let report = phase('schedules');
report(0);
for (let done = 0; done < count; ) {
  const contents = Array.from({ length: Math.min(batchSize, count - done) }, (_, j) => content(done + j));
  const vectors = contents.map((_, j) => Float32Array.from({ length: 128 }, (_, d) => Math.sin(done + j + d)));
  await store.insertSchedules(contents, { targets: [target], embeddings: { embedderId: 'bench-v1-128', vectors } });
  done += contents.length;
  if (done % reportRows < contents.length || done >= count) report(done);
}

report = phase('candidates');
report(0);
for (let done = 0, s = 0; done < candidateCount; s++) {
  const record = search(s);
  await store.searches.createSearch(record);
  for (let sample = 1; sample <= perSearch && done < candidateCount; ) {
    const slot = [];
    for (; slot.length < samples && sample <= perSearch && done < candidateCount; sample++, done++)
      slot.push(candidate(record.id, sample, done));
    await store.searches.insertCandidates(slot);
    await store.searches.markAdmitted(record.id, [slot[0].id]);
    await store.searches.updateSearch(record.id, {
      samplesUsed: sample - 1,
      iteration: slot[0].iteration,
      bestLatencyMs: slot.at(-1).latencyMs,
      bestCandidateId: slot.at(-1).id,
    });
    if (done % reportRows < slot.length || done >= candidateCount) report(done);
  }
}
store.close();
rmSync(dir, { recursive: true, force: true });
