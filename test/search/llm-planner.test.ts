import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseOperation } from '../../src/schedules/index.js';
import { createLlmPlanner, modelNewFromProblem, type LlmPlannerOptions } from '../../src/search/llm-planner.js';
import { parseCodeReply, parsePlanReply, stripThinking } from '../../src/search/llm/parse.js';
import { CPU_MENU, CUDA_MENU, INVENTED_OPTION_ID, menuFor } from '../../src/search/menus/index.js';
import type { CandidateView, ForcedStep, PlanningTask, ProposeRequest } from '../../src/search/planner.js';
import { createRng } from '../../src/search/rng.js';
import { naiveBaseline } from '../../src/targets/c/baselines.js';
import { entryPointFor } from '../../src/targets/c/entry-points.js';
import { kernelBenchProblemFor } from '../../src/targets/kernelbench/problems.js';
import { reply, startScriptedLlm, type ScriptedLlm } from '../support/scripted-llm.js';

const operation = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
const task: PlanningTask = {
  operation,
  hardware:
    'Intel Xeon Gold 6230 (x86-64, AVX2 + FMA + AVX-512F), 32 KB L1d, 1 MB L2; gcc 12 -O3 -march=native; single core.',
  contract: entryPointFor(operation).contract,
};
const parent: CandidateView = {
  id: 's1.3',
  code: naiveBaseline(operation),
  latencyMs: 12.3456,
  feedback: ["1.23 GFLOP/s = 2.1% of this machine's estimated single-core f32 peak", 'working set 48 KB fits in L2'],
  lineage: [{ optionId: 'cpu.loop_reorder', plan: 'Swap the n and k loops so B is read row-wise.' }],
};
const subset = [CPU_MENU.options[0]!, CPU_MENU.options[3]!, CPU_MENU.options[9]!];
const GOOD_CODE =
  '#include <stddef.h>\nvoid kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) { /* new */ }';

let llm: ScriptedLlm;
beforeAll(async () => {
  llm = await startScriptedLlm();
});
afterAll(async () => {
  await llm.close();
});
beforeEach(() => llm.reset());

function planner(overrides: Partial<LlmPlannerOptions> = {}) {
  return createLlmPlanner({
    baseURL: llm.baseURL,
    apiKey: 'sk-test',
    models: ['model-a'],
    menu: CPU_MENU,
    timeoutMs: 5_000,
    maxRetries: 0,
    retryBaseMs: 10,
    ...overrides,
  });
}

function proposeRequest(overrides: Partial<ProposeRequest> = {}): ProposeRequest {
  return {
    task,
    parent,
    iteration: 2,
    iterations: 5,
    phase: 'optimize',
    menu: subset,
    invent: false,
    rules: CPU_MENU.rules,
    rng: createRng(7),
    ...overrides,
  };
}

describe('LLM planner: the plan prompt', () => {
  it('shows only the dropout subset, the latency, the feedback, the lineage, the hardware, the rules and "phase i of T"', async () => {
    llm.enqueue(reply.plan('cpu.vectorize', 'Vectorize the n loop with 8-wide AVX2 FMAs.'));
    const outcome = await planner().propose(proposeRequest());
    expect(outcome.ok).toBe(true);
    const [req] = llm.requests;
    expect(req!.path).toBe('/v1/chat/completions');
    expect(req!.model).toBe('model-a');
    expect(req!.authorization).toBe('Bearer sk-test');
    const prompt = req!.user;
    for (const o of subset) expect(prompt).toContain(`\`${o.id}\`: ${o.label}.`);
    for (const o of CPU_MENU.options.filter((x) => !subset.includes(x)))
      expect(prompt).not.toContain(o.id === 'cpu.loop_reorder' ? `\`${o.id}\`:` : o.id);
    expect(prompt).toContain('Measured latency: 12.35 ms');
    expect(prompt).toContain(`- ${parent.feedback[0]}`);
    expect(prompt).toContain('- working set 48 KB fits in L2');
    expect(prompt).toContain('1. [cpu.loop_reorder] Swap the n and k loops');
    expect(prompt).toContain(task.hardware);
    expect(prompt).toContain(task.contract);
    for (const rule of CPU_MENU.rules) expect(prompt).toContain(`- ${rule}`);
    expect(prompt).toContain('This is phase 2 of 5.');
    expect(prompt).toMatch(/Choose exactly one option from the menu/);
    expect(prompt).toContain('OPTION: <option id>');
    expect(prompt).toContain(parent.code.trimEnd());
  });

  it('returns the chosen option with its label, the plan text, the model and the token usage', async () => {
    llm.enqueue({
      kind: 'text',
      content:
        '<think>Maybe tiling? OPTION: cpu.cache_tile</think>\n**OPTION:** `cpu.vectorize`\nPLAN:\nVectorize the n loop.',
      usage: { prompt_tokens: 812, completion_tokens: 64 },
    });
    const outcome = await planner().propose(proposeRequest());
    expect(outcome).toMatchObject({
      ok: true,
      value: {
        optionId: 'cpu.vectorize',
        optionLabel: 'Vectorization',
        text: 'Vectorize the n loop.',
        model: 'model-a',
      },
    });
    expect(outcome.usage).toHaveLength(1);
    expect(outcome.usage[0]).toMatchObject({
      model: 'model-a',
      promptTokens: 812,
      completionTokens: 64,
      purpose: 'plan',
    });
    expect(outcome.usage[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('records zero tokens when the server reports no usage', async () => {
    llm.enqueue({ kind: 'text', content: 'OPTION: 2\nPLAN: vectorize', usage: null });
    const outcome = await planner().propose(proposeRequest());
    expect(outcome).toMatchObject({ ok: true, value: { optionId: subset[1]!.id } });
    expect(outcome.usage[0]).toMatchObject({ promptTokens: 0, completionTokens: 0 });
  });

  it('requires the forced option of a seed step and shows the seed plan as a hint', async () => {
    const forced: ForcedStep = {
      optionId: 'cpu.pack',
      plan: 'Pack 64x256 panels of B into an aligned buffer.',
      scheduleId: 'sch-1',
      stepIndex: 1,
    };
    llm.enqueue(reply.plan('cpu.vectorize', 'ignore the hint'), reply.plan('cpu.pack', 'Pack B panels of 64 columns.'));
    const p = planner();
    const wrong = await p.propose(proposeRequest({ forced }));
    expect(wrong).toMatchObject({ ok: false });
    expect(wrong.ok ? '' : wrong.error).toMatch(/"cpu.vectorize", which is not among the offered options \(cpu.pack\)/);
    const prompt = llm.requests[0]!.user;
    expect(prompt).toContain('This step must apply option `cpu.pack`: Operand packing.');
    expect(prompt).toContain('> Pack 64x256 panels of B into an aligned buffer.');
    const right = await p.propose(proposeRequest({ forced }));
    expect(right).toMatchObject({ ok: true, value: { optionId: 'cpu.pack', optionLabel: 'Operand packing', forced } });
  });

  it('asks for an invented optimization, and names it from the reply', async () => {
    llm.enqueue(reply.text('OPTION: invented\nNAME: Z-order traversal\nPLAN:\nWalk the output tiles in Morton order.'));
    const outcome = await planner().propose(proposeRequest({ invent: true }));
    expect(outcome).toMatchObject({
      ok: true,
      value: {
        optionId: INVENTED_OPTION_ID,
        optionLabel: 'Z-order traversal',
        text: 'Walk the output tiles in Morton order.',
      },
    });
    const prompt = llm.requests[0]!.user;
    expect(prompt).toContain('Known optimizations (do NOT choose these)');
    expect(prompt).toContain('Invent exactly one new optimization not on the list');
    expect(prompt).toContain('NAME: <short name>');
  });

  it('counts replies that choose an option off the menu, give no option or give no plan as failed samples', async () => {
    llm.enqueue(
      reply.plan('cpu.pack', 'pack it'),
      reply.text('I would tile the loops.'),
      reply.text('OPTION: cpu.vectorize\nPLAN:'),
      reply.empty(),
    );
    const p = planner();
    const results = [
      await p.propose(proposeRequest()),
      await p.propose(proposeRequest()),
      await p.propose(proposeRequest()),
      await p.propose(proposeRequest()),
    ];
    expect(results.map((r) => r.ok)).toEqual([false, false, false, false]);
    const errors = results.map((r) => (r.ok ? '' : r.error));
    expect(errors[0]).toMatch(/"cpu.pack", which is not among the offered options/);
    expect(errors[1]).toMatch(/no "OPTION: <id>" line/);
    expect(errors[2]).toMatch(/plan text is empty/);
    expect(errors[3]).toMatch(/empty reply/);
    for (const r of results) expect(r.usage).toHaveLength(1);
  });
});

describe('LLM planner: implement and replay', () => {
  it('sends the parent code, the plan and the rules, and takes the last fenced block of each reply', async () => {
    llm.enqueue(
      reply.text(`First a fragment:\n\`\`\`c\nfor (;;) {}\n\`\`\`\nAnd the file:\n\`\`\`c\n${GOOD_CODE}\n\`\`\``),
      reply.text(`<think>\n\`\`\`c\nnot this\n\`\`\`\n</think>\n\`\`\`\n${GOOD_CODE}\n\`\`\``),
    );
    const plan = { optionId: 'cpu.vectorize', optionLabel: 'Vectorization', text: 'Vectorize the n loop with FMAs.' };
    const outcome = await planner({ models: ['model-a', 'model-b'] }).implement({
      task,
      parent,
      plan,
      count: 2,
      rules: CPU_MENU.rules,
      rng: createRng(1),
    });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.value.map((i) => i.code)).toEqual([`${GOOD_CODE}\n`, `${GOOD_CODE}\n`]);
    expect(new Set(outcome.value.map((i) => i.model))).toEqual(new Set(['model-a', 'model-b']));
    expect(outcome.usage.map((u) => u.purpose)).toEqual(['implement', 'implement']);
    const prompt = llm.requests[0]!.user;
    expect(prompt).toContain('## Plan to apply: Vectorization (`cpu.vectorize`)\nVectorize the n loop with FMAs.');
    expect(prompt).toContain(parent.code.trimEnd());
    expect(prompt).toContain('Measured latency: 12.35 ms');
    for (const rule of CPU_MENU.rules) expect(prompt).toContain(`- ${rule}`);
    expect(prompt).toContain('one fenced code block (```c ... ```)');
  });

  it('returns the good implementations when some replies fail, and fails only when all do', async () => {
    const plan = { optionId: 'cpu.unroll', optionLabel: 'Loop unrolling', text: 'Unroll k by 4.' };
    const p = planner();
    llm.enqueue(reply.code(GOOD_CODE), reply.text('no code here'));
    const partial = await p.implement({ task, parent, plan, count: 2, rules: [], rng: createRng(1) });
    expect(partial).toMatchObject({ ok: true, value: [{ code: `${GOOD_CODE}\n` }] });
    expect(partial.usage).toHaveLength(2);
    llm.enqueue(reply.text('```c\n\n```'), reply.text('```c\nint x;'));
    const none = await p.implement({ task, parent, plan, count: 2, rules: [], rng: createRng(1) });
    expect(none.ok).toBe(false);
    expect(none.ok ? '' : none.error).toMatch(/last fenced code block of the reply is empty.*no fenced code block/);
  });

  it('replays a seed schedule as one implement call listing its steps in order', async () => {
    llm.enqueue(reply.code(GOOD_CODE));
    const steps: ForcedStep[] = [
      { optionId: 'cpu.loop_reorder', plan: 'Use i-k-j order.', scheduleId: 's', stepIndex: 0 },
      { optionId: 'cpu.register_block', plan: 'Hold a 4x8 block of C in registers.', scheduleId: 's', stepIndex: 1 },
    ];
    const p = planner();
    const outcome = await p.replay!({ task, parent, steps, rules: CPU_MENU.rules, rng: createRng(3) });
    expect(outcome).toMatchObject({ ok: true, value: [{ code: `${GOOD_CODE}\n`, model: 'model-a' }] });
    expect(llm.requests).toHaveLength(1);
    const prompt = llm.requests[0]!.user;
    const first = prompt.indexOf('### Step 1: Loop reordering (`cpu.loop_reorder`)\nUse i-k-j order.');
    const second = prompt.indexOf('### Step 2: Register blocking (`cpu.register_block`)\nHold a 4x8 block');
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
  });
});

describe('LLM planner: ensemble', () => {
  it('splits plan and implement requests round-robin across the models, starting where the rng says, reproducibly', async () => {
    llm.handle((req) =>
      req.system.includes('plan one optimization') ? reply.plan('cpu.vectorize', 'vectorize') : reply.code(GOOD_CODE),
    );
    const models = ['m1', 'm2', 'm3'];
    const run = async (): Promise<string[]> => {
      llm.requests.length = 0;
      const p = planner({ models });
      for (let i = 0; i < 4; i++) await p.propose(proposeRequest({ rng: createRng(11) }));
      await p.implement({
        task,
        parent,
        plan: { optionId: 'cpu.vectorize', optionLabel: 'Vectorization', text: 'v' },
        count: 3,
        rules: [],
        rng: createRng(11),
      });
      return llm.requests.map((r) => r.model);
    };
    const first = await run();
    const start = models.indexOf(first[0]!);
    expect(first.slice(0, 4)).toEqual([0, 1, 2, 3].map((i) => models[(start + i) % 3]));
    expect(new Set(first.slice(4))).toEqual(new Set(models));
    expect(await run()).toEqual(first);
  });
});

describe('LLM planner: unreliable endpoints', () => {
  it('retries 500 and 429 with back-off and then succeeds, recording every attempt', async () => {
    llm.enqueue(reply.status(500), reply.status(429, '0'), reply.plan('cpu.vectorize', 'vectorize'));
    const started = performance.now();
    const outcome = await planner({ maxRetries: 3, retryBaseMs: 60 }).propose(proposeRequest());
    const elapsed = performance.now() - started;
    expect(outcome).toMatchObject({ ok: true, value: { optionId: 'cpu.vectorize' } });
    expect(llm.requests).toHaveLength(3);
    expect(outcome.usage).toHaveLength(3);
    // Back-off with jitter: at least half of 60 ms, then half of 120 ms.
    expect(elapsed).toBeGreaterThanOrEqual(90);
  });

  it('gives up after the configured retries, and does not retry a 400', async () => {
    llm.enqueue(reply.status(503), reply.status(503), reply.status(503));
    const p = planner({ maxRetries: 2, retryBaseMs: 5 });
    const outcome = await p.propose(proposeRequest());
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.error).toMatch(/HTTP 503.*after 3 attempts/);
    expect(llm.requests).toHaveLength(3);
    llm.enqueue(reply.status(400));
    const bad = await p.propose(proposeRequest());
    expect(bad.ok ? '' : bad.error).toMatch(/HTTP 400/);
    expect(llm.requests).toHaveLength(4);
  });

  it('turns a reply slower than the timeout into a failed sample', async () => {
    llm.enqueue(reply.slow(3_000, 'OPTION: cpu.vectorize\nPLAN: late'));
    const outcome = await planner({ timeoutMs: 300 }).propose(proposeRequest());
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.error).toMatch(/model-a: no reply within 300 ms/);
    expect(outcome.usage).toHaveLength(1);
  });

  it('turns malformed JSON, a reply without choices and empty content into failed samples', async () => {
    llm.enqueue(reply.malformedJson(), reply.wrongShape(), reply.empty());
    const p = planner();
    const plan = { optionId: 'cpu.vectorize', optionLabel: 'Vectorization', text: 'v' };
    const a = await p.propose(proposeRequest());
    const b = await p.propose(proposeRequest());
    const c = await p.implement({ task, parent, plan, count: 1, rules: [], rng: createRng(1) });
    expect([a.ok, b.ok, c.ok]).toEqual([false, false, false]);
    expect(b.ok ? '' : b.error).toMatch(/malformed reply: choices: the reply has no choices/);
    expect(c.ok ? '' : c.error).toMatch(/empty reply/);
  });

  it("leaves no abort listener on the search's signal once its requests end, however many there were", async () => {
    const controller = new AbortController();
    for (let i = 0; i < 15; i++) llm.enqueue(reply.plan('cpu.vectorize', `plan ${i}`));
    const p = planner();
    for (let i = 0; i < 15; i++)
      expect(await p.propose(proposeRequest({ signal: controller.signal }))).toMatchObject({ ok: true });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('stops waiting when the search is cancelled', async () => {
    llm.enqueue(reply.slow(3_000, 'OPTION: cpu.vectorize\nPLAN: late'));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const outcome = await planner({ maxRetries: 5 }).propose(proposeRequest({ signal: controller.signal }));
    expect(outcome).toMatchObject({ ok: false, error: expect.stringMatching(/cancelled/) });
    expect(llm.requests).toHaveLength(1);
  });

  it('refuses settings without models', () => {
    expect(() => createLlmPlanner({ models: [], menu: CPU_MENU })).toThrow(/name at least one model \(SKB_MODELS\)/);
  });
});

describe('LLM planner: KernelBench', () => {
  it("starts from the problem's Model renamed ModelNew and asks for Python", async () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 256, N: 128, K: 64 }, epilogue: ['bias', 'relu'] });
    const p = createLlmPlanner({ baseURL: llm.baseURL, models: ['coder'], menu: CUDA_MENU, maxRetries: 0 });
    const base = p.baseline({ operation: op, hardware: 'NVIDIA H100', contract: 'ModelNew' }).code;
    expect(base).toMatch(/^class ModelNew\(nn\.Module\):$/m);
    expect(base).toContain('out = torch.matmul(A, B)');
    expect(base).toContain('out = torch.relu(out)');
    expect(base).not.toMatch(/^class Model\(/m);
    expect(base).not.toContain('def get_inputs');
    expect(base).not.toContain('def get_init_inputs');
    expect(modelNewFromProblem(kernelBenchProblemFor(op))).toBe(base);

    llm.enqueue(
      reply.plan('cuda.to_inline_cuda', 'Write the bias+ReLU as one CUDA kernel.'),
      reply.code('class ModelNew: pass', 'python'),
    );
    const kbParent: CandidateView = { id: 'r', code: base, latencyMs: 0.5, feedback: [], lineage: [] };
    const planned = await p.propose({
      ...proposeRequest(),
      task: { operation: op, hardware: 'NVIDIA H100', contract: 'ModelNew' },
      parent: kbParent,
      phase: 'translate',
      iteration: 1,
      menu: CUDA_MENU.translateOptions,
      rules: CUDA_MENU.rules,
    });
    expect(planned).toMatchObject({
      ok: true,
      value: { optionId: 'cuda.to_inline_cuda', optionLabel: 'Inline CUDA for one operation' },
    });
    expect(llm.requests[0]!.user).toContain('```python\n');
    expect(llm.requests[0]!.user).toContain('This is phase 1 of 5. The current code is (mostly) framework code.');
    expect(llm.requests[0]!.user).toContain('Do not import, call or subclass the reference `Model`');
    const impl = await p.implement({
      task: { operation: op, hardware: 'NVIDIA H100', contract: 'ModelNew' },
      parent: kbParent,
      plan: planned.ok ? planned.value : { optionId: '', optionLabel: '', text: '' },
      count: 1,
      rules: CUDA_MENU.rules,
      rng: createRng(2),
    });
    expect(impl).toMatchObject({ ok: true, value: [{ code: 'class ModelNew: pass\n' }] });
    expect(llm.requests[1]!.user).toContain('one fenced code block (```python ... ```)');
  });

  it("starts from the task's own problem source when it has one", () => {
    const op = parseOperation({ kind: 'custom:scale', dims: { N: 1024 } });
    const problem =
      'import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n    def forward(self, x):\n        return x * 2\n\n\ndef get_inputs():\n    return [torch.randn(1024)]\n\n\ndef get_init_inputs():\n    return []\n';
    const p = createLlmPlanner({ baseURL: llm.baseURL, models: ['coder'], menu: CUDA_MENU, maxRetries: 0 });
    const base = p.baseline({
      operation: op,
      hardware: 'NVIDIA H100',
      contract: 'ModelNew',
      problemSource: problem,
    }).code;
    expect(base).toContain('class ModelNew(nn.Module):');
    expect(base).toContain('return x * 2');
    expect(base).not.toContain('def get_inputs');
    // Without it, an operation that has no generated problem is refused with a clear message.
    expect(() => p.baseline({ operation: op, hardware: 'NVIDIA H100', contract: 'ModelNew' })).toThrow(
      /pass the problem source/,
    );
  });

  it('refuses a problem without a Model class', () => {
    expect(() => modelNewFromProblem('def f(): pass\n')).toThrow(/defines no top-level `class Model/);
  });
});

describe('menus and reply parsing', () => {
  it('has a CUDA menu of 40-65 options and a translate menu, with unique ids, and keeps the CPU ids', () => {
    expect(menuFor('c')).toBe(CPU_MENU);
    expect(menuFor('kernelbench')).toBe(CUDA_MENU);
    expect(CUDA_MENU.options.length).toBeGreaterThanOrEqual(40);
    expect(CUDA_MENU.options.length).toBeLessThanOrEqual(65);
    expect(CUDA_MENU.translateOptions.some((o) => /inline CUDA/.test(o.description))).toBe(true);
    const ids = [...CUDA_MENU.options, ...CUDA_MENU.translateOptions].map((o) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^cuda\.[a-z0-9_]+$/);
    expect(CPU_MENU.options.map((o) => o.id)).toContain('cpu.register_block');
    for (const rule of ['ModelNew', 'reference `Model`', 'dtype']) expect(CUDA_MENU.rules.join('\n')).toContain(rule);
  });

  it('strips thinking blocks, including a stray closing tag and an unclosed block', () => {
    expect(stripThinking('<think>a</think>answer')).toBe('answer');
    expect(stripThinking('reasoning without opening tag</think>\nanswer')).toBe('answer');
    expect(stripThinking('<thinking>x</thinking> A <reasoning>y</reasoning> B')).toBe('A  B');
    expect(stripThinking('answer <think>cut off')).toBe('answer');
  });

  it('reads a plan written before its OPTION line, and an option given by its number', () => {
    const allowed = new Set(subset.map((o) => o.id));
    expect(parsePlanReply('Tile M and N by 64.\nOPTION: cpu.cache_tile.', subset, allowed)).toEqual({
      ok: true,
      value: { optionId: 'cpu.cache_tile', text: 'Tile M and N by 64.' },
    });
    expect(parsePlanReply('OPTION: 3\nPLAN: add restrict', subset, allowed)).toEqual({
      ok: true,
      value: { optionId: 'cpu.compiler_hints', text: 'add restrict' },
    });
    expect(parseCodeReply('```python\nx = 1\n```\ntext\n```c\nint y;\n```')).toEqual({
      ok: true,
      value: { code: 'int y;\n', language: 'c' },
    });
  });
});
