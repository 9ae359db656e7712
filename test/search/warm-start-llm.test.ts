/**
 * Warm start with the LLM planner: the first iteration's replay sends the seed's ordered plan list
 * in one implement prompt to the (scripted) model server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import { makeTargetRecord } from '../../src/schedules/index.js';
import { REPLAY_OPTION_ID } from '../../src/schedules/index.js';
import { createLlmPlanner } from '../../src/search/llm-planner.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';
import { createSearchService } from '../../src/search/search-service.js';
import { createTarget } from '../../src/targets/target.js';
import { poolOfTargets } from '../../src/targets/target-pool.js';
import { makeContent } from '../support/fixtures.js';
import { reply, startScriptedLlm, type ScriptedLlm } from '../support/scripted-llm.js';

let dir: string;
let kb: OpenedKnowledgeBase;
let llm: ScriptedLlm;
const target = createTarget({ id: 'local', executor: { kind: 'local' }, toolchain: { kind: 'c', cc: 'gcc' } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skb-warm-llm-'));
  kb = await openKnowledgeBase({
    dbUrl: `file:${join(dir, 'kb.db')}`,
    dataDir: dir,
    embedder: createOfflineEmbedder(),
    saveDelayMs: 0,
  });
  llm = await startScriptedLlm();
  llm.handle(() => reply.text('No code this time.'));
});

afterAll(async () => {
  await kb.close();
  await llm.close();
  await target.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('warm start with the LLM planner', () => {
  it('replays the seed as its ordered plan list in one implement prompt', async () => {
    const local = makeTargetRecord('local', 'this machine', await target.fingerprint());
    const seed = makeContent({
      dims: { M: 64, N: 64, K: 64 },
      target: local,
      optionIds: ['cpu.loop_reorder', 'cpu.compiler_hints'],
    });
    const [stored] = (await kb.addSchedules([seed], [local])).inserted;
    const svc = createSearchService({
      searches: kb.store.searches,
      targets: () => poolOfTargets('local', [target]),
      planners: () =>
        createLlmPlanner({ baseURL: llm.baseURL, models: ['coder'], menu: CPU_MENU, timeoutMs: 10_000, maxRetries: 0 }),
      menus: () => CPU_MENU,
      knowledgeBase: kb,
    });
    const started = await svc.start(
      { operation: { kind: 'gemm', dims: { M: 64, N: 64, K: 32 } }, target: 'local' },
      {
        planner: 'llm',
        models: ['coder'],
        beamWidth: 1,
        plansPerCandidate: 1,
        implementationsPerPlan: 1,
        iterations: 1,
        budget: 2,
        timing: { warmup: 1, runs: 3 },
      },
    );
    const done = await svc.wait(started.id);
    await svc.close();
    expect(done.status).toBe('finished');
    expect(done.seeds).toMatchObject([{ scheduleId: stored!.id, tier: 'structure', outcome: 'failed' }]);
    const replayPrompt = llm.requests.find((r) => r.user.includes('## Steps to apply, in order'));
    expect(replayPrompt).toBeDefined();
    const [first, second] = seed.steps.map((s) => replayPrompt!.user.indexOf(s.plan));
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first!);
    const candidates = await kb.store.searches.listCandidates(done.id);
    expect(candidates.find((c) => c.optionId === REPLAY_OPTION_ID)).toMatchObject({
      sample: 1,
      forcedFrom: { scheduleId: stored!.id, stepIndex: 2 },
      correct: false,
    });
    expect(done.samplesUsed).toBe(2);
    expect(done.scheduleId).toBeNull();
    expect(done.message).toContain('no schedule was stored');
  }, 120_000);
});
