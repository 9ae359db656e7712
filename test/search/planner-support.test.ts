/**
 * One answer to "can planner P run operation O on toolchain T": the service, the planner factory
 * and the template planner refuse with the same sentence, taken from plannerSupport.
 */
import { describe, expect, it } from 'vitest';
import { createPlannerFactory } from '../../src/api/planners.js';
import { SearchConfigSchema, parseOperation } from '../../src/schedules/index.js';
import { plannerSupport } from '../../src/search/planner-support.js';
import { createKernelBenchToolchain } from '../../src/targets/kernelbench/kernelbench-toolchain.js';

const factory = createPlannerFactory({
  config: { models: ['a-model'], openaiBaseUrl: 'http://localhost:1/v1', openaiApiKey: undefined },
  cpu: { byTarget: new Map(), local: { isa: [] } },
});
const template = SearchConfigSchema.parse({});
const task = (kind: string, dims: Record<string, number>) => ({
  operation: parseOperation({ kind, dims }),
  hardware: 'here',
  contract: '',
});

describe('plannerSupport', () => {
  it('lets the template planner run the kinds its toolchain has templates for, and says which those are', () => {
    expect(plannerSupport('template', 'c', 'conv2d')).toEqual({ ok: true });
    expect(plannerSupport('template', 'kernelbench', 'batched_gemm')).toEqual({ ok: true });
    for (const kind of ['matvec', 'softmax', 'elementwise', 'reduce', 'layernorm'])
      expect(plannerSupport('template', 'kernelbench', kind)).toEqual({ ok: true });
    const gpu = plannerSupport('template', 'kernelbench', 'conv2d');
    expect(gpu.ok).toBe(false);
    if (!gpu.ok)
      expect(gpu.reason).toMatch(
        /no kernel template for conv2d operations on the kernelbench toolchain \(it has gemm, batched_gemm, .*\).*planner "llm"/,
      );
  });

  it('lets the LLM planner run any operation on a toolchain with a menu, and no planner run on one without', () => {
    expect(plannerSupport('llm', 'c', 'custom:fft')).toEqual({ ok: true });
    expect(plannerSupport('llm', 'kernelbench', 'softmax')).toEqual({ ok: true });
    for (const planner of ['llm', 'template'] as const) {
      const none = plannerSupport(planner, 'fortran', 'gemm');
      expect(none.ok).toBe(false);
      if (!none.ok) expect(none.reason).toMatch(/fortran toolchain: it has no optimization menu/);
    }
  });

  it('is the sentence the template planner refuses with, on either toolchain', () => {
    const c = factory(template);
    const gpu = factory(template, { id: 'h200', toolchain: createKernelBenchToolchain() });
    for (const [planner, toolchain, op] of [
      [c, 'c', task('custom:fft', { N: 64 })],
      [gpu, 'kernelbench', task('conv2d', { N: 1, C: 4, H: 8, W: 8, K: 4, R: 3, S: 3 })],
    ] as const) {
      const support = plannerSupport('template', toolchain, op.operation.kind);
      if (support.ok) throw new Error('expected a refusal');
      expect(() => planner.baseline(op)).toThrow(support.reason);
    }
    expect(factory(SearchConfigSchema.parse({ planner: 'llm' })).id).not.toBe('template');
  });
});
