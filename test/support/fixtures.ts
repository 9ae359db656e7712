/**
 * Builders of valid domain values for tests. Every builder returns data that passed the real zod
 * schemas, so a test that uses them exercises the same shapes production code sees.
 */
import {
  type CandidateRecord,
  ScheduleContentSchema,
  makeTargetRecord,
  type CpuFingerprint,
  type GpuFingerprint,
  type OperationInput,
  type ScheduleContent,
  type ScheduleContentInput,
  type TargetRecord,
} from '../../src/schedules/index.js';

/** A plausible x86-64 CPU fingerprint; override any field (e.g. `model`) to get another target. */
export function cpuFingerprint(overrides: Partial<CpuFingerprint> = {}): CpuFingerprint {
  return {
    kind: 'cpu',
    arch: 'x86_64',
    model: 'Test CPU 9000 @ 3.0GHz',
    isa: ['avx2', 'fma', 'sse4_2'],
    caches: { l1d: 32 * 1024, l2: 1024 * 1024, l3: 32 * 1024 * 1024 },
    cores: 2,
    compiler: 'gcc 12.2.0',
    ...overrides,
  };
}

/** A plausible GPU fingerprint. */
export function gpuFingerprint(overrides: Partial<GpuFingerprint> = {}): GpuFingerprint {
  return {
    kind: 'gpu',
    name: 'NVIDIA H100 80GB HBM3',
    smCount: 132,
    computeCapability: '9.0',
    driver: '550.54.15',
    cuda: '12.4',
    torch: '2.4.0',
    ...overrides,
  };
}

/** A CPU target record; pass another `model` (or any field) for a target of another family. */
export function makeCpuTarget(name = 'local', overrides: Partial<CpuFingerprint> = {}): TargetRecord {
  return makeTargetRecord(name, `Test CPU target "${name}": AVX2 + FMA, 32 KiB L1d.`, cpuFingerprint(overrides));
}

/** A GPU target record. */
export function makeGpuTarget(name = 'gpu', overrides: Partial<GpuFingerprint> = {}): TargetRecord {
  return makeTargetRecord(name, `Test GPU target "${name}".`, gpuFingerprint(overrides));
}

/** Default dimensions per operation kind, used when a test does not care about sizes. */
export const DEFAULT_DIMS: Record<string, Record<string, number>> = {
  gemm: { M: 256, N: 256, K: 256 },
  batched_gemm: { B: 4, M: 128, N: 128, K: 128 },
  conv2d: { N: 1, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3 },
  matvec: { M: 1024, K: 1024 },
  softmax: { M: 256, N: 1024 },
  layernorm: { M: 256, N: 1024 },
};

export interface ContentSpec {
  /** Operation kind; default gemm. */
  kind?: string;
  /** Sizes; default DEFAULT_DIMS[kind]. */
  dims?: Record<string, number>;
  /** Extra operation fields (dtype, layout, epilogue, attrs). */
  operation?: Partial<OperationInput>;
  /** The target the schedule was measured on (its key is used). */
  target: TargetRecord | string;
  /**
   * Latencies in ms: the baseline first, then the latency after each step. The number of steps is
   * `latencies.length - 1`; the best latency is the minimum. Default [10, 6, 4].
   */
  latencies?: number[];
  /** Option ids of the steps, in order; default cpu.step_<i>. Its length must match the steps. */
  optionIds?: string[];
  /** ISO timestamp; default 2026-01-01T00:00:00.000Z. */
  createdAt?: string;
  samplesUsed?: number;
  finalCode?: string;
  /** Any other content field to override (negatives, settings, models, provenance). */
  extra?: Partial<ScheduleContentInput>;
}

/** Valid ScheduleContent for an operation on a target, with one step per latency after the first. */
export function makeContent(spec: ContentSpec): ScheduleContent {
  const kind = spec.kind ?? 'gemm';
  const dims = spec.dims ?? DEFAULT_DIMS[kind] ?? { N: 1024 };
  const latencies = spec.latencies ?? [10, 6, 4];
  const [baseline, ...after] = latencies;
  if (baseline === undefined) throw new Error('makeContent: latencies needs at least the baseline');
  if (spec.optionIds && spec.optionIds.length !== after.length) {
    throw new Error(`makeContent: ${spec.optionIds.length} option ids for ${after.length} steps`);
  }
  const steps = after.map((latencyAfterMs, i) => {
    const optionId = spec.optionIds?.[i] ?? `cpu.step_${i + 1}`;
    return {
      optionId,
      optionLabel: `Step ${i + 1} (${optionId})`,
      plan: `Apply ${optionId} to the ${kind} kernel.`,
      params: { step: i + 1 },
      latencyBeforeMs: i === 0 ? baseline : after[i - 1]!,
      latencyAfterMs,
    };
  });
  const input: ScheduleContentInput = {
    operation: { kind, dims, ...spec.operation },
    targetKey: typeof spec.target === 'string' ? spec.target : spec.target.key,
    steps,
    finalCode: spec.finalCode ?? `/* ${kind} ${JSON.stringify(dims)} */\nvoid kernel(void) {}\n`,
    baselineLatencyMs: baseline,
    bestLatencyMs: Math.min(...latencies),
    samplesUsed: spec.samplesUsed ?? steps.length * 4 + 1,
    settings: { beamWidth: 2, iterations: steps.length },
    models: [],
    provenance: { source: 'search', planner: 'template' },
    createdAt: spec.createdAt ?? '2026-01-01T00:00:00.000Z',
    ...spec.extra,
  };
  return ScheduleContentSchema.parse(input);
}

/** `n` distinct gemm contents on one target, with increasing M and creation times one second apart. */
export function makeContents(target: TargetRecord, n: number, start = Date.UTC(2026, 0, 1)): ScheduleContent[] {
  return Array.from({ length: n }, (_, i) =>
    makeContent({
      target,
      dims: { M: 64 * (i + 1), N: 256, K: 256 },
      latencies: [10 + i, 5 + i / 2],
      createdAt: new Date(start + i * 1000).toISOString(),
    }),
  );
}

/** A deterministic unit-length vector of `dim` floats derived from `seed`. */
export function makeVector(dim: number, seed: number): Float32Array {
  const v = new Float32Array(dim);
  let x = (seed * 2654435761) >>> 0 || 1;
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    v[i] = x / 0xffffffff - 0.5;
    norm += v[i]! * v[i]!;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dim; i++) v[i] = v[i]! * scale;
  return v;
}

/**
 * Sample `sample` of search `searchId` (0: the baseline), a child of the baseline: correct and
 * admitted at `latencyMs`; override any field (correct, errorKind, suspect).
 */
export function sampleCandidate(
  searchId: string,
  sample: number,
  latencyMs: number,
  overrides: Partial<CandidateRecord> = {},
): CandidateRecord {
  return {
    id: `${searchId}-c${sample}`,
    searchId,
    parentId: sample === 0 ? null : `${searchId}-c0`,
    iteration: sample === 0 ? 0 : 1,
    sample,
    optionId: sample === 0 ? null : 'cuda.split_k',
    optionLabel: null,
    plan: null,
    params: null,
    code: '',
    correct: true,
    latencyMs,
    errorKind: null,
    output: '',
    feedback: [],
    admitted: true,
    forcedFrom: null,
    model: null,
    createdAt: new Date(0).toISOString(),
    ...overrides,
  };
}
