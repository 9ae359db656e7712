/**
 * Search jobs over a real libSQL file and the real C toolchain: a search is stored as it happens,
 * survives a process killed with SIGKILL (resumed in this process without spending its budget
 * twice), and a cancel kills the candidate being timed. The crash runs the compiled dist/ in a
 * child process (`npm run build` first, as for the CLI tests).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createLibsqlStore,
  makeTargetRecord,
  type LibsqlStore,
  type ProgressEvent,
  type SearchConfigInput,
} from '../../src/schedules/index.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import { createSearchService } from '../../src/search/search-service.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import type { Target } from '../../src/targets/target.js';
import { poolOfTargets } from '../../src/targets/target-pool.js';
import { GEMM, GEMM_REPLIES, createScriptedPlanner, type ScriptedPlannerOptions } from '../support/scripted-planner.js';

/** The lease of the child that is killed: short, so its search can be resumed here soon after. */
const CHILD_LEASE_MS = 400;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');
const task = { operation: { kind: 'gemm', dims: { M: 64, N: 64, K: 64 } }, target: 'local' } as const;
const timing = { warmup: 1, runs: 3 };
/** A search of one sample: the baseline and one child. */
const oneSample = {
  beamWidth: 1,
  plansPerCandidate: 1,
  implementationsPerPlan: 1,
  iterations: 1,
  budget: 1,
  menuKeep: 1,
};

let dir: string;
let store: LibsqlStore;

/** A target built from the real local executor (in its own root, so its processes can be found) and the real C toolchain. */
function localTarget(root: string): Target {
  const executor = createLocalExecutor({ root });
  const toolchain = createCToolchain();
  const target: Target = {
    id: 'local',
    member: 'local',
    description: 'this machine',
    executor,
    toolchain,
    fingerprint: () => toolchain.fingerprint(executor),
    record: async () => makeTargetRecord('local', 'this machine', await target.fingerprint()),
    evaluate: (request) => toolchain.evaluate({ ...request, executor }),
    close: () => executor.close(),
  };
  return target;
}

function service(target: Target, script: Omit<ScriptedPlannerOptions, 'baseline'> = { replies: GEMM_REPLIES }) {
  const planners: ReturnType<typeof createScriptedPlanner>[] = [];
  const svc = createSearchService({
    searches: store.searches,
    targets: () => poolOfTargets('local', [target]),
    planners: () => {
      const p = createScriptedPlanner({ baseline: GEMM.naive, ...script });
      planners.push(p);
      return p;
    },
    menus: () => CPU_MENU,
  });
  return { svc, planners };
}

/** Processes whose working directory is under `root` (compilers and candidates of an executor); `argv0` narrows to one program. */
function processesUnder(root: string, argv0?: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readlinkSync(`/proc/${entry}/cwd`).startsWith(root)) continue;
      if (argv0 === undefined || readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] === argv0)
        pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skb-jobs-'));
  store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
});

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('search jobs', () => {
  it('stores the search and its candidates, publishes progress, and records the best lineage', async () => {
    const target = localTarget(mkdtempSync(join(dir, 'ws-')));
    const { svc } = service(target);
    const config: SearchConfigInput = {
      beamWidth: 2,
      plansPerCandidate: 2,
      implementationsPerPlan: 1,
      iterations: 2,
      budget: 6,
      menuKeep: 1,
      timing,
    };
    const started = await svc.start(task, config);
    const events: ProgressEvent[] = [];
    for await (const e of svc.subscribe(started.id)) events.push(e);
    const done = await svc.wait(started.id);
    expect(done.status).toBe('finished');
    expect(done.samplesUsed).toBe(6);
    expect(done.targetKey).toMatch(/^t-[0-9a-f]{16}$/);
    const detail = (await svc.get(started.id))!;
    expect(detail.candidates.map((c) => c.sample)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(detail.candidates.find((c) => c.id === done.bestCandidateId)!.latencyMs).toBe(done.bestLatencyMs);
    expect(done.bestLineage!.map((s) => s.candidateId).at(-1) ?? detail.candidates[0]!.id).toBe(done.bestCandidateId);
    expect(events.at(-1)).toMatchObject({ type: 'finished', samplesUsed: 6, budget: 6 });
    expect(events.some((e) => e.type === 'iteration')).toBe(true);
    expect((await svc.list({ status: 'finished' }, { first: 10 })).items.map((s) => s.id)).toContain(started.id);
    await svc.close();
  });

  it('times the baseline of a task once per target and timing, and later searches of the task reuse it', async () => {
    const inner = localTarget(mkdtempSync(join(dir, 'ws-')));
    const evaluated: string[][] = [];
    const target: Target = {
      ...inner,
      evaluate: (request) => {
        evaluated.push(request.candidates);
        return inner.evaluate(request);
      },
    };
    const { svc } = service(target);
    const shape = { ...task, operation: { kind: 'gemm', dims: { M: 48, N: 48, K: 48 } } } as const;
    const runSearch = async (config: SearchConfigInput) => {
      const started = await svc.start(shape, config);
      expect((await svc.wait(started.id)).status).toBe('finished');
      return (await svc.get(started.id))!.candidates[0]!;
    };
    const timesBaseline = () => evaluated.filter((codes) => codes.includes(GEMM.naive)).length;

    const first = await runSearch({ ...oneSample, timing });
    expect(timesBaseline()).toBe(1);
    const second = await runSearch({ ...oneSample, timing });
    expect(timesBaseline()).toBe(1);
    expect(second.latencyMs).toBe(first.latencyMs);
    expect(second.feedback[0]).toMatch(/^baseline not timed again: search .* measured it at .* on this target/);
    // Other timing settings measure it again: a median of 5 runs is not a median of 3.
    await runSearch({ ...oneSample, timing: { ...timing, runs: 5 } });
    expect(timesBaseline()).toBe(2);
    await svc.close();
  });

  it("hands the task's problem source to the planner and to every evaluation", async () => {
    const inner = localTarget(mkdtempSync(join(dir, 'ws-')));
    const seen: Array<string | undefined> = [];
    const target: Target = {
      ...inner,
      evaluate: (request) => {
        seen.push(request.problemSource);
        return inner.evaluate(request);
      },
    };
    const plannerTasks: Array<string | undefined> = [];
    const scripted = createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES });
    const svc = createSearchService({
      searches: store.searches,
      targets: () => poolOfTargets('local', [target]),
      planners: () => ({
        ...scripted,
        propose: (request) => {
          plannerTasks.push(request.task.problemSource);
          return scripted.propose(request);
        },
      }),
      menus: () => CPU_MENU,
    });
    const started = await svc.start(
      { ...task, problemSource: 'the problem' },
      { beamWidth: 1, plansPerCandidate: 1, implementationsPerPlan: 1, iterations: 1, budget: 1, menuKeep: 1, timing },
    );
    expect((await svc.wait(started.id)).status).toBe('finished');
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen)).toEqual(new Set(['the problem']));
    expect(plannerTasks).toEqual(['the problem']);
    await svc.close();
  });

  it('resumes a search whose process was killed, with the samples an uninterrupted run uses', async () => {
    if (!existsSync(join(DIST, 'search', 'search-service.js')))
      throw new Error('dist/ is missing: run `npm run build` before this test');
    const config: SearchConfigInput = {
      beamWidth: 2,
      plansPerCandidate: 2,
      implementationsPerPlan: 2,
      iterations: 4,
      budget: 14,
      menuKeep: 1,
      seed: 7,
      timing,
    };
    const support = mkdtempSync(join(dir, 'child-'));
    // The scripted planner, compiled for the child: its one value import points at dist/.
    const planner = ts
      .transpileModule(readFileSync(join(ROOT, 'test/support/scripted-planner.ts'), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      })
      .outputText.replaceAll("'../../src/", `'${pathToFileURL(DIST).href}/`);
    writeFileSync(join(support, 'scripted-planner.mjs'), planner);
    const dist = (p: string) => JSON.stringify(pathToFileURL(join(DIST, p)).href);
    writeFileSync(
      join(support, 'run-search.mjs'),
      `import { createLibsqlStore } from ${dist('schedules/index.js')};
import { createSearchService } from ${dist('search/search-service.js')};
import { CPU_MENU } from ${dist('search/menus/cpu-menu.js')};
import { createTargetPool } from ${dist('targets/target-pool.js')};
import { GEMM, GEMM_REPLIES, createScriptedPlanner } from './scripted-planner.mjs';
const store = await createLibsqlStore({ url: process.argv[2] });
const pool = createTargetPool({ id: 'local', executor: { kind: 'local' }, toolchain: { kind: 'c', cc: 'gcc' } });
const svc = createSearchService({ searches: store.searches, targets: () => pool, planners: () => createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES }), menus: () => CPU_MENU, leaseMs: ${CHILD_LEASE_MS} });
const started = await svc.start(${JSON.stringify(task)}, ${JSON.stringify(config)});
console.log(started.id);
await svc.wait(started.id);
`,
    );
    const child = spawn(process.execPath, [join(support, 'run-search.mjs'), `file:${join(dir, 'kb.db')}`], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const id = await vi.waitFor(
      () => {
        expect(out, 'the child prints its search id once it started').toContain('\n');
        return out.trim();
      },
      { timeout: 30_000, interval: 50 },
    );
    await expect
      .poll(async () => (await store.searches.listCandidates(id)).length, {
        timeout: 30_000,
        interval: 50,
        message: 'samples stored by the child',
      })
      .toBeGreaterThanOrEqual(6);
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const before = await store.searches.listCandidates(id);
    expect((await store.searches.getSearch(id))!.status).toBe('running');
    expect(before.length).toBeLessThan(15);

    // The killed process still holds the search's lease until it lapses; no one may resume it before.
    const target = localTarget(mkdtempSync(join(dir, 'ws-')));
    const { svc, planners } = service(target);
    await new Promise((r) => setTimeout(r, 2 * CHILD_LEASE_MS));
    expect(await svc.resumeInterrupted()).toEqual([id]);
    const resumed = await svc.wait(id);
    const after = await store.searches.listCandidates(id);
    expect(resumed.status).toBe('finished');
    expect(resumed.samplesUsed).toBe(14);
    expect(after.map((c) => c.sample)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    // The stored samples were replayed, not evaluated again.
    for (const c of before)
      expect(after.find((a) => a.id === c.id)).toMatchObject({
        createdAt: c.createdAt,
        latencyMs: c.latencyMs,
        code: c.code,
      });
    const slotsStored = (before.length - 1) / 2;
    expect(planners[0]!.proposals.length).toBe(7 - slotsStored);

    const uninterrupted = await svc.start(task, config);
    expect((await svc.wait(uninterrupted.id)).samplesUsed).toBe(resumed.samplesUsed);
    await svc.close();
  });

  it('cancel kills the candidate being timed and ends the search cancelled', async () => {
    const root = mkdtempSync(join(dir, 'ws-'));
    const target = localTarget(root);
    const loops = [{ optionId: 'cpu.loop_reorder', label: 'Loop reordering', plan: 'Spin.', codes: [GEMM.forever] }];
    const { svc } = service(target, { replies: loops });
    const started = await svc.start(task, { ...oneSample, inventProbability: 0, timing });
    // The baseline has been measured and the looping candidate is running.
    await vi.waitFor(
      async () => {
        expect(await store.searches.listCandidates(started.id)).toHaveLength(1);
        expect(processesUnder(root, './run'), 'the looping candidate runs').not.toEqual([]);
      },
      { timeout: 30_000, interval: 50 },
    );
    const cancelled = await svc.cancel(started.id);
    expect(cancelled.status).toBe('cancelled');
    await expect
      .poll(() => processesUnder(root), {
        timeout: 2_000,
        interval: 50,
        message: 'processes left under the workspace after the cancel',
      })
      .toEqual([]);
    const detail = (await svc.get(started.id))!;
    expect(detail.candidates.map((c) => c.sample)).toEqual([0]);
    await svc.close();
  });
});
