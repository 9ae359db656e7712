/**
 * The whole loop on a GPU machine, through the real service: `skb serve` runs as a child process
 * with a KernelBench target on this machine (local executor, the real harness, the GPU), and this
 * driver talks to it over GraphQL as a user would.
 *
 *   phase llm:   one LLM-planner search (translate iteration first) on a KernelBench gemm problem;
 *                the model is the scripted OpenAI-compatible server of test/support, started here,
 *                which answers plan prompts with a menu option and implement prompts with code from
 *                the Triton template, moved the way the plan says.
 *   phase reuse: template-planner searches at a fixed budget: cold searches on "training" shapes
 *                (their schedules are stored by the service), then each held-out shape cold
 *                (warm start off) and warm (warm start on, seeds from the stored schedules).
 *
 * The device has no Node and no network: scripts/pack-device-node.sh builds this file (with src/ and
 * the scripted server) and packs a Node binary and the production dependencies; bench/gpu/README
 * (RESULTS.md) has the device command. Results go to --out as JSON lines as they arrive, so a run
 * cut short still returns what it measured.
 *
 *   phase throughput: one template-planner search (warm start off) on a 4096^3 fp32 gemm, for the
 *                wall seconds per sample; run it with --warm-workers off and on to compare a fresh
 *                Python per candidate with candidates forked from the warm worker.
 *
 *   phase pool:  with --devices 0,1,...: the target is a pool with one member per GPU; two searches
 *                started at once, the members' states polled every second over `targets { members }`
 *                (each search on one GPU, never two on one, a search beyond the GPUs queued).
 *
 *   node search-e2e.js --out DIR --python /path/to/python3 [--phases llm,reuse,throughput,pool] [--deadline 480]
 *                      [--budget 6] [--train-budget 10] [--llm-budget 6] [--runs 100]
 *                      [--reuse-set bf16-large|f32-batched] [--warm-workers on|off] [--devices 0,1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseOperation, type Operation } from '../../src/schedules/index.js';
import { INVENTED_OPTION_ID } from '../../src/search/menus/menu.js';
import {
  createTritonMatmulTemplate,
  legalizeTritonMatmul,
} from '../../src/targets/templates/triton-matmul-template.js';
import type { Knobs } from '../../src/targets/templates/template.js';
import { reply, startScriptedLlm, type RecordedRequest, type ScriptedReply } from '../../test/support/scripted-llm.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(tmpdir(), 'skb-gpu-e2e') },
    python: { type: 'string', default: 'python3' },
    phases: { type: 'string', default: 'llm,reuse' },
    deadline: { type: 'string', default: '480' },
    budget: { type: 'string', default: '6' },
    'train-budget': { type: 'string', default: '10' },
    runs: { type: 'string', default: '100' },
    'llm-budget': { type: 'string', default: '6' },
    'reuse-set': { type: 'string', default: 'bf16-large' },
    'warm-workers': { type: 'string', default: 'on' },
    /** GPUs as pool members (CUDA_VISIBLE_DEVICES values, comma-separated), instead of the one the environment names. */
    devices: { type: 'string' },
  },
});

const OUT = resolve(args.out);
mkdirSync(OUT, { recursive: true });
const started = Date.now();
const deadlineMs = Number(args.deadline) * 1000;
const budget = Number(args.budget);
const trainBudget = Number(args['train-budget']);
const timedRuns = Number(args.runs);
const llmBudget = Number(args['llm-budget']);
for (const [name, v] of [
  ['deadline', deadlineMs],
  ['budget', budget],
  ['train-budget', trainBudget],
  ['runs', timedRuns],
  ['llm-budget', llmBudget],
] as const) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
}
const phases = new Set(args.phases.split(','));
if (!['on', 'off'].includes(args['warm-workers'])) throw new Error('--warm-workers is on or off');
const warmWorkers = args['warm-workers'] === 'on';
const log = (line: string): void => {
  const stamp = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[${stamp}s] ${line}`);
};
const record = (file: string, value: unknown): void => appendFileSync(join(OUT, file), `${JSON.stringify(value)}\n`);
const left = (): number => deadlineMs - (Date.now() - started);

// ---------------------------------------------------------------------------------------------
// The scripted model: plans name a menu option; implementations are the Triton template's code
// with the knobs the option moves changed from the parent's (read from the parent code's constants).

const PREFERRED = [
  'cuda.shared_tile',
  'cuda.occupancy',
  'cuda.l2_locality',
  'cuda.double_buffer',
  'cuda.register_tile',
  'cuda.async_copy',
  'cuda.block_size',
];
const TRANSLATE_PREFERRED = ['cuda.to_triton', 'cuda.fuse_to_cuda', 'cuda.to_inline_cuda', 'cuda.to_functional'];

function menuIds(user: string): string[] {
  return [...user.matchAll(/^\d+\. `([a-z0-9_.]+)`:/gm)].map((m) => m[1]!);
}

function parentKnobs(user: string): Knobs | null {
  const current = user.split('## Current code')[1] ?? '';
  const read = (name: string): number | string | undefined => {
    const m = current.match(new RegExp(`^${name} = (\\d+|"[a-z0-9]+")$`, 'm'));
    if (!m) return undefined;
    return m[1]!.startsWith('"') ? m[1]!.slice(1, -1) : Number(m[1]);
  };
  const block_m = read('BLOCK_M');
  if (block_m === undefined) return null;
  return {
    impl: 'triton',
    block_m,
    block_n: read('BLOCK_N')!,
    block_k: read('BLOCK_K')!,
    group_m: read('GROUP_M')!,
    num_warps: read('NUM_WARPS')!,
    num_stages: read('NUM_STAGES')!,
    precision: read('PRECISION')!,
  };
}

/** What the scripted engineer does for each option: a deterministic move of the knobs it names. */
function applyOption(op: Operation, optionId: string, parent: Knobs | null): Knobs {
  if (!parent) return legalizeTritonMatmul(op, { impl: 'triton' });
  const k: Knobs = { ...parent };
  const n = (name: string): number => k[name] as number;
  switch (optionId) {
    case 'cuda.shared_tile':
      k.block_m = Math.min(256, n('block_m') * 2);
      k.block_n = Math.min(256, n('block_n') * 2);
      k.block_k = 64;
      break;
    case 'cuda.register_tile':
      k.block_n = Math.min(256, n('block_n') * 2);
      break;
    case 'cuda.occupancy':
    case 'cuda.block_size':
      k.num_warps = n('num_warps') === 4 ? 8 : 4;
      break;
    case 'cuda.double_buffer':
    case 'cuda.async_copy':
      k.num_stages = n('num_stages') >= 4 ? 3 : n('num_stages') + 1;
      break;
    case 'cuda.l2_locality':
      k.group_m = n('group_m') === 1 ? 8 : 1;
      break;
    case 'cuda.tensor_cores':
    case 'cuda.mixed_precision':
      if (op.dtype === 'f32') k.precision = k.precision === 'ieee' ? 'tf32x3' : 'ieee';
      break;
    default:
      // Options the template has no knob for (and invented ones): a smaller pipeline change.
      k.num_stages = n('num_stages') === 3 ? 4 : 3;
  }
  return legalizeTritonMatmul(op, k);
}

function scriptedEngineer(op: Operation): (request: RecordedRequest) => ScriptedReply {
  const template = createTritonMatmulTemplate(op.kind as 'gemm' | 'batched_gemm');
  let turn = 0;
  return (request) => {
    turn += 1;
    const { user } = request;
    if (user.includes('## Plan to apply:')) {
      const optionId = user.match(/## Plan to apply: [^\n]*\(`([a-z0-9_.]+)`\)/)?.[1] ?? 'unknown';
      const knobs = applyOption(op, optionId, parentKnobs(user));
      return reply.code(template.generate(op, knobs), 'python');
    }
    if (user.includes('## Steps to apply, in order')) {
      const steps = [...user.matchAll(/^### Step \d+: [^\n]*\(`([a-z0-9_.]+)`\)/gm)].map((m) => m[1]!);
      let knobs: Knobs | null = parentKnobs(user);
      for (const step of steps) knobs = applyOption(op, step, knobs);
      return reply.code(template.generate(op, knobs ?? legalizeTritonMatmul(op, { impl: 'triton' })), 'python');
    }
    const forced = user.match(/This step must apply option `([a-z0-9_.]+)`/)?.[1];
    if (forced) return reply.plan(forced, `Apply ${forced} to the Triton kernel's launch constants for this shape.`);
    if (user.includes(`Use option id \`${INVENTED_OPTION_ID}\``)) {
      return reply.text(
        `OPTION: ${INVENTED_OPTION_ID}\nNAME: deeper pipeline\nPLAN:\nKeep one more K tile in flight: raise NUM_STAGES by one so the loads of step k+2 overlap the MMA of step k.`,
      );
    }
    const menu = menuIds(user);
    const translate = user.includes('In this phase we move work into custom kernels');
    const order = translate
      ? TRANSLATE_PREFERRED
      : [...PREFERRED.slice(turn % PREFERRED.length), ...PREFERRED.slice(0, turn % PREFERRED.length)];
    const pick = order.find((id) => menu.includes(id)) ?? menu[0] ?? 'cuda.triton';
    const plan = translate
      ? 'Replace torch.matmul and the eager epilogue with one Triton kernel: 64x64 output tiles, K in steps of 32, bias and ReLU applied to the accumulator before the store.'
      : `Use ${pick} on the Triton kernel: change the launch constants it governs for this problem size and keep the rest.`;
    return reply.plan(pick, plan);
  };
}

// ---------------------------------------------------------------------------------------------
// The service, as a child process, and GraphQL calls to it.

interface Service {
  url: string;
  child: ChildProcess;
  token: string;
}

async function startService(dir: string, env: Record<string, string>): Promise<Service> {
  const main = fileURLToPath(new URL('../../src/api/cli/main.js', import.meta.url));
  const token = 'gpu-e2e-token-0123456789';
  const child = spawn(process.execPath, [main, 'serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      SKB_DB_URL: `file:${join(dir, 'kb.db')}`,
      SKB_DATA_DIR: dir,
      // The CPU seed packs say nothing about the GPU: each run's knowledge is what it searched.
      SKB_SEED_PACKS: 'none',
      SKB_PORT: '0',
      SKB_API_TOKEN: token,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => appendFileSync(join(OUT, 'service.log'), d));
  const url = await new Promise<string>((resolveUrl, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`the service did not start in 180 s; it printed: ${seen.slice(-2000)}`)),
      180_000,
    );
    child.stdout!.on('data', (d: Buffer) => {
      appendFileSync(join(OUT, 'service.log'), d);
      seen += d.toString();
      const m = seen.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code} before listening: ${seen.slice(-2000)}`));
    });
  });
  return { url, child, token };
}

async function gql<T>(service: Service, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${service.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data as T;
}

interface CandidateRow {
  sample: number;
  iteration: number;
  optionId: string | null;
  latencyMs: number | null;
  correct: boolean;
  errorKind: string | null;
  admitted: boolean;
  model: string | null;
  forcedFrom: { scheduleId: string } | null;
  params: Record<string, unknown> | null;
  createdAt: string;
}

interface SearchRow {
  id: string;
  status: string;
  samplesUsed: number;
  baselineLatencyMs: number | null;
  bestLatencyMs: number | null;
  speedup: number | null;
  scheduleId: string | null;
  error: string | null;
  message: string | null;
  seeds: Array<{ scheduleId: string; tier: string; distance: number; outcome: string }>;
  steps: Array<{ optionId: string; plan: string }> | null;
  candidates: CandidateRow[];
}

const SEARCH_FIELDS = `id status samplesUsed baselineLatencyMs bestLatencyMs speedup scheduleId error message
  seeds { scheduleId tier distance outcome } steps { optionId plan }
  candidates { sample iteration optionId latencyMs correct errorKind admitted model forcedFrom { scheduleId } params createdAt }`;

function operationInput(op: Operation): Record<string, unknown> {
  return {
    kind: op.kind,
    dims: Object.entries(op.dims).map(([name, size]) => ({ name, size })),
    dtype: op.dtype,
    epilogue: op.epilogue,
    ...(op.layout ? { layout: op.layout } : {}),
  };
}

async function runSearch(service: Service, op: Operation, config: Record<string, unknown>): Promise<SearchRow> {
  const startedAt = Date.now();
  const { startSearch } = await gql<{ startSearch: { id: string } }>(
    service,
    'mutation($task: TaskInput!, $config: SearchConfigInput) { startSearch(task: $task, config: $config) { id } }',
    { task: { operation: operationInput(op), target: 'gpu' }, config },
  );
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const { search } = await gql<{ search: SearchRow }>(
      service,
      `query($id: ID!) { search(id: $id) { ${SEARCH_FIELDS} } }`,
      { id: startSearch.id },
    );
    if (['finished', 'failed', 'cancelled'].includes(search.status)) {
      log(
        `search ${search.id}: ${search.status} in ${((Date.now() - startedAt) / 1000).toFixed(0)} s, ${search.samplesUsed} samples, baseline ${fmt(search.baselineLatencyMs)} best ${fmt(search.bestLatencyMs)} ms${search.error ? `, error: ${search.error}` : ''}${search.message ? ` (${search.message})` : ''}`,
      );
      return search;
    }
  }
}

const fmt = (v: number | null | undefined): string => (v == null ? '-' : v.toFixed(4));

function logCandidates(search: SearchRow): void {
  for (const c of search.candidates) {
    const k = (c.params?.knobs ?? null) as Record<string, unknown> | null;
    const knobs = k
      ? k.impl === 'torch'
        ? 'torch'
        : `${String(k.block_m)}x${String(k.block_n)}x${String(k.block_k)} g${String(k.group_m)} w${String(k.num_warps)} s${String(k.num_stages)} ${String(k.precision)}`
      : '';
    const forced = c.forcedFrom ? ' (seeded)' : '';
    log(
      `  sample ${c.sample} it ${c.iteration} ${c.optionId ?? 'baseline'}${forced} ${c.correct ? fmt(c.latencyMs) : c.errorKind}${c.admitted ? ' admitted' : ''} ${c.model ?? ''} ${knobs} @${c.createdAt.slice(11, 19)}`,
    );
  }
}

/** Best latency after each number of samples (the baseline counts as sample 0). */
function bestBySample(search: SearchRow): number[] {
  const rows = [...search.candidates].sort((a, b) => a.sample - b.sample);
  const curve: number[] = [];
  let best = Infinity;
  for (const c of rows) {
    if (c.correct && c.latencyMs !== null) best = Math.min(best, c.latencyMs);
    curve[c.sample] = best;
  }
  for (let i = 1; i < curve.length; i++) curve[i] ??= curve[i - 1]!;
  return curve;
}

// ---------------------------------------------------------------------------------------------

const gemm = (
  label: string,
  dims: Record<string, number>,
  dtype: 'bf16' | 'f32',
  epilogue: string[] = [],
  kind = 'gemm',
): { label: string; op: Operation } => ({
  label,
  op: parseOperation({ kind, dims, dtype, epilogue }),
});

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skb-gpu-e2e-'));
  const targetsFile = join(dir, 'targets.json');
  const devices = args.devices?.split(',').filter(Boolean);
  const passEnv = Object.fromEntries(
    ['LD_LIBRARY_PATH', 'CUDA_HOME', ...(devices ? [] : ['CUDA_VISIBLE_DEVICES']), 'TRITON_PTXAS_PATH']
      .filter((k) => process.env[k])
      .map((k) => [k, process.env[k]!]),
  );
  writeFileSync(
    targetsFile,
    JSON.stringify({
      targets: [
        {
          id: 'gpu',
          description:
            'One NVIDIA Hopper GPU (H100/H200: 132 SMs, HBM3, wgmma tensor cores); PyTorch eager calls cuBLAS.',
          executor: { kind: 'local' },
          toolchain: {
            kind: 'kernelbench',
            python: args.python,
            warmWorkers,
            ...(Object.keys(passEnv).length ? { env: passEnv } : {}),
            ...(devices ? { devices } : {}),
          },
        },
      ],
    }),
  );
  const llm = await startScriptedLlm();
  const service = await startService(dir, {
    SKB_TARGETS_FILE: targetsFile,
    SKB_OPENAI_BASE_URL: llm.baseURL,
    SKB_OPENAI_API_KEY: 'scripted',
    SKB_MODELS: 'scripted-a,scripted-b',
  });
  log(`service at ${service.url}; data in ${dir}`);
  const timing = { warmup: 10, runs: timedRuns };
  /** The template-planner searches of the reuse and throughput phases, less budget and warm start. */
  const templateConfig = {
    planner: 'template',
    beamWidth: 2,
    plansPerCandidate: 2,
    implementationsPerPlan: 1,
    iterations: 8,
    seed: 1,
    timing,
  };
  try {
    const { targets } = await gql<{ targets: Array<{ key: string; fingerprint: unknown }> }>(
      service,
      '{ targets { key fingerprint } }',
    );
    log(`targets: ${JSON.stringify(targets).slice(0, 600)}`);
    record('targets.jsonl', targets);

    if (phases.has('llm')) {
      const { label, op } = gemm('llm-e2e-2048-bias-relu-bf16', { M: 2048, N: 2048, K: 2048 }, 'bf16', [
        'bias',
        'relu',
      ]);
      llm.handle(scriptedEngineer(op));
      const config = {
        planner: 'llm',
        translateIterations: 1,
        iterations: 3,
        beamWidth: 2,
        plansPerCandidate: 2,
        implementationsPerPlan: 1,
        budget: llmBudget,
        seed: 7,
        timing,
        warmStart: { enabled: false },
      };
      log(`phase llm: ${label}, ${JSON.stringify(config)}`);
      const search = await runSearch(service, op, config);
      const models = new Set(llm.requests.map((r) => r.model));
      const result = { phase: 'llm', label, config, modelCalls: llm.requests.length, models: [...models], search };
      record('searches.jsonl', result);
      logCandidates(search);
    }

    if (phases.has('reuse')) {
      // bf16-large: the LLM-style shapes; f32-batched: where the template beats eager PyTorch even
      // with its launch overhead (3xTF32 products), so a training search stores a schedule.
      const sets = {
        'bf16-large': {
          train: [gemm('llm-4096x11008x4096-bf16', { M: 4096, N: 11008, K: 4096 }, 'bf16')],
          heldOut: [
            gemm('square-4096-bf16', { M: 4096, N: 4096, K: 4096 }, 'bf16'),
            gemm('tall-skinny-16384x128x4096-bf16', { M: 16384, N: 128, K: 4096 }, 'bf16'),
          ],
        },
        'f32-batched': {
          train: [gemm('batched-8x1024-f32', { B: 8, M: 1024, N: 1024, K: 1024 }, 'f32', [], 'batched_gemm')],
          heldOut: [gemm('batched-16x1024-f32', { B: 16, M: 1024, N: 1024, K: 1024 }, 'f32', [], 'batched_gemm')],
        },
      } as const;
      const set = sets[args['reuse-set'] as keyof typeof sets];
      if (!set) throw new Error(`--reuse-set is one of ${Object.keys(sets).join(', ')}`);
      const { train, heldOut } = set;
      const base = templateConfig;
      for (const { label, op } of train) {
        if (left() < 150_000) {
          log(`skipping training search ${label}: ${Math.round(left() / 1000)} s left`);
          continue;
        }
        const search = await runSearch(service, op, { ...base, budget: trainBudget, warmStart: { enabled: false } });
        record('searches.jsonl', { phase: 'train', label, budget: trainBudget, curve: bestBySample(search), search });
        logCandidates(search);
      }
      for (const { label, op } of heldOut) {
        // Cold and warm run as a pair, or not at all: one without the other compares nothing.
        if (left() < 150_000) {
          log(`skipping ${label}: ${Math.round(left() / 1000)} s left`);
          continue;
        }
        for (const mode of ['cold', 'warm'] as const) {
          const search = await runSearch(service, op, { ...base, budget, warmStart: { enabled: mode === 'warm' } });
          const curve = bestBySample(search);
          record('searches.jsonl', { phase: mode, label, budget, curve, search });
          log(
            `  ${mode} ${label}: best by sample ${curve.map((v) => fmt(v)).join(' ')}; seeds ${search.seeds.map((s) => `${s.tier}:${s.outcome}`).join(', ') || 'none'}`,
          );
          logCandidates(search);
        }
      }
    }
    if (phases.has('pool')) {
      // Two searches at once on the pool: with one GPU the second waits queued, with two each takes one.
      const { label, op } = gemm('pool-2048-bf16', { M: 2048, N: 2048, K: 2048 }, 'bf16');
      const config = { ...templateConfig, budget: 3, warmStart: { enabled: false } };
      log(`phase pool: two searches of ${label} on devices ${devices?.join(',') ?? '(environment)'}`);
      const states: unknown[] = [];
      let polling = true;
      const poll = (async () => {
        while (polling) {
          const { targets } = await gql<{ targets: Array<{ name: string; members: unknown[] }> }>(
            service,
            '{ targets { name members { name state searchId reason } } }',
          );
          states.push({ at: new Date().toISOString(), members: targets.flatMap((t) => t.members) });
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      const searches = await Promise.all([runSearch(service, op, config), runSearch(service, op, config)]);
      polling = false;
      await poll;
      record('pool.jsonl', { phase: 'pool', label, devices, states, searches });
      for (const snapshot of states) log(`  members ${JSON.stringify(snapshot)}`);
    }
    if (phases.has('throughput')) {
      const { label, op } = gemm('throughput-4096-f32', { M: 4096, N: 4096, K: 4096 }, 'f32');
      const config = { ...templateConfig, budget, warmStart: { enabled: false } };
      log(`phase throughput: ${label}, warm workers ${args['warm-workers']}, ${JSON.stringify(config)}`);
      const t0 = Date.now();
      const search = await runSearch(service, op, config);
      const wallS = (Date.now() - t0) / 1000;
      // Seconds between consecutive candidates' records: one sample each, the baseline's own start excluded.
      const stamps = [...search.candidates].sort((a, b) => a.sample - b.sample).map((c) => Date.parse(c.createdAt));
      const gaps = stamps.slice(1).map((t, i) => (t - stamps[i]!) / 1000);
      const median = [...gaps].sort((a, b) => a - b)[gaps.length >> 1] ?? null;
      record('searches.jsonl', { phase: 'throughput', label, warmWorkers, wallS, gaps, search });
      log(
        `  throughput ${label}, warm workers ${args['warm-workers']}: ${wallS.toFixed(0)} s for ${search.samplesUsed} samples (${(wallS / Math.max(1, search.samplesUsed)).toFixed(1)} s/sample); median gap between samples ${median?.toFixed(1) ?? '-'} s`,
      );
      logCandidates(search);
    }
  } finally {
    service.child.kill('SIGTERM');
    await new Promise((r) => service.child.once('exit', r));
    await llm.close();
  }
}

main().then(
  () => log('done'),
  (error: unknown) => {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    // A failure before the service started leaves the scripted model listening: exit, not wait on it.
    process.exit(1);
  },
);
