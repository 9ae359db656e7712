/**
 * Stored Triton matmul schedules as the template planner writes them on a GPU target: each step's
 * params hold the full legal knob set and what it changed from the parent, and the final code is
 * the template instantiated at the last step's knobs. What `skb export --format triton-configs`
 * reads; the schedules pass the real schema.
 */
import {
  ScheduleContentSchema,
  parseOperation,
  type OperationInput,
  type ScheduleContent,
  type TargetRecord,
} from '../../src/schedules/index.js';
import { diff } from '../../src/search/template-moves.js';
import { kernelTemplateFor, tritonMatmulOptionsFor, type Knobs } from '../../src/targets/index.js';

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

/**
 * Triton schedules of the suites on one GPU target, a Hopper one (compute capability 9.x, whose
 * shared memory admits the 4-stage 128x256x64 tiles of `big`): configs, shapes and speedups the tests name.
 */
export function tritonExamples(gpu: TargetRecord) {
  /** 4096^3 bf16 tuned to 128x256x64 tiles, 8 warps, 4 stages (legal on Hopper's shared memory): 1.25x. */
  const big = tritonScheduleContent({
    target: gpu,
    operation: { kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'bf16' },
    steps: [
      { optionId: 'cuda.triton', knobs: { impl: 'triton' } },
      { optionId: 'cuda.shared_tile', knobs: { block_n: 256 } },
      { optionId: 'cuda.block_size', knobs: { num_warps: 8 } },
      { optionId: 'cuda.double_buffer', knobs: { num_stages: 4 } },
    ],
    latencies: [1, 0.95, 0.9, 0.85, 0.8],
  });
  /** 2048^3 bf16 at the template's default Triton start: 2x. */
  const mid = tritonScheduleContent({
    target: gpu,
    operation: { kind: 'gemm', dims: { M: 2048, N: 2048, K: 2048 }, dtype: 'bf16' },
    steps: [{ optionId: 'cuda.triton', knobs: { impl: 'triton' } }],
    latencies: [1, 0.5],
    createdAt: '2026-02-01T00:00:01.000Z',
  });
  /** Another shape that ended on the very config of `mid`: 1.25x. */
  const midTwin = tritonScheduleContent({
    target: gpu,
    operation: { kind: 'gemm', dims: { M: 1024, N: 1024, K: 1024 }, dtype: 'bf16' },
    steps: [{ optionId: 'cuda.triton', knobs: { impl: 'triton' } }],
    latencies: [1, 0.8],
    createdAt: '2026-02-01T00:00:02.000Z',
  });
  /** A batched f32 gemm with bias, 3xTF32 products, GROUP_M 1 and 2 stages. */
  const batched = tritonScheduleContent({
    target: gpu,
    operation: { kind: 'batched_gemm', dims: { B: 8, M: 512, N: 256, K: 1024 }, dtype: 'f32', epilogue: ['bias'] },
    steps: [
      { optionId: 'cuda.triton', knobs: { impl: 'triton', block_m: 64, block_n: 64, block_k: 32 } },
      { optionId: 'cuda.l2_locality', knobs: { group_m: 1 } },
      { optionId: 'cuda.tensor_cores', knobs: { precision: 'tf32x3', num_stages: 2 } },
    ],
    latencies: [2, 1.9, 1.8, 1.2],
    createdAt: '2026-02-01T00:00:03.000Z',
  });
  /** Went into Triton and back to cuBLAS: its best kernel is torch.matmul. */
  const backToCublas = tritonScheduleContent({
    target: gpu,
    operation: { kind: 'gemm', dims: { M: 512, N: 512, K: 512 }, dtype: 'f16' },
    steps: [
      { optionId: 'cuda.triton', knobs: { impl: 'triton' } },
      { optionId: 'cuda.cublas', knobs: { impl: 'torch', block_m: 128, block_n: 128, block_k: 64 } },
    ],
    latencies: [1, 0.99, 0.98],
  });
  return { big, mid, midTwin, batched, backToCublas };
}
