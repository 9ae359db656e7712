/**
 * Stored Triton matmul schedules as the template planner writes them on a GPU target: each step's
 * params hold the full legal knob set and what it changed from the parent, and the final code is
 * the template instantiated at the last step's knobs. What `skb export --format triton-configs`
 * reads; the schedules pass the real schema.
 */
import {
  ScheduleContentSchema,
  toSchedule,
  type OperationInput,
  type Schedule,
  type ScheduleContent,
  type TargetRecord,
} from '../../src/schedules/index.js';
import { diff } from '../../src/search/template-moves.js';
import { kernelTemplateFor, tritonMatmulOptionsFor, type Knobs } from '../../src/targets/index.js';
import { parseOperation } from '../../src/schedules/index.js';

export interface TritonStepSpec {
  optionId: string;
  /** The knobs the step sets; the template legalizes them over the parent's. */
  knobs: Knobs;
}

export interface TritonScheduleSpec {
  target: TargetRecord;
  operation: OperationInput;
  steps: TritonStepSpec[];
  /** Baseline latency, then one per step; the best is the minimum. */
  latencies: number[];
  createdAt?: string;
}

/** A schedule of the Triton matmul template on a GPU target, as a search stores it. */
export function tritonScheduleContent(spec: TritonScheduleSpec): ScheduleContent {
  if (spec.target.fingerprint.kind !== 'gpu') throw new Error('tritonScheduleContent needs a GPU target');
  const op = parseOperation(spec.operation);
  const template = kernelTemplateFor('kernelbench', op.kind, tritonMatmulOptionsFor(spec.target.fingerprint));
  if (!template) throw new Error(`no Triton template for ${op.kind}`);
  if (spec.latencies.length !== spec.steps.length + 1) throw new Error('one latency per step, plus the baseline');
  let parent = template.baseline(op);
  const steps = spec.steps.map((step, i) => {
    const knobs = template.legalize(op, { ...parent, ...step.knobs });
    const changed = diff(parent, knobs);
    parent = knobs;
    return {
      optionId: step.optionId,
      optionLabel: step.optionId,
      plan: `Move ${Object.keys(changed).join(', ')}.`,
      params: { knobs, changed },
      latencyBeforeMs: spec.latencies[i]!,
      latencyAfterMs: spec.latencies[i + 1]!,
    };
  });
  return ScheduleContentSchema.parse({
    operation: op,
    targetKey: spec.target.key,
    steps,
    finalCode: template.generate(op, parent),
    baselineLatencyMs: spec.latencies[0],
    bestLatencyMs: Math.min(...spec.latencies),
    samplesUsed: steps.length * 4 + 1,
    settings: { beamWidth: 2, iterations: steps.length },
    models: [],
    provenance: { source: 'search', planner: 'template' },
    createdAt: spec.createdAt ?? '2026-02-01T00:00:00.000Z',
  });
}

/** The same, as a stored schedule (id, hash, speedup). */
export function tritonSchedule(spec: TritonScheduleSpec): Schedule {
  return toSchedule(tritonScheduleContent(spec));
}
