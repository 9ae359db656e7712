/**
 * Whether this machine can run the GPU suites, and with which Python. Candidates run with a minimal
 * PATH (system directories only), so the suites name the interpreter by its absolute path: the
 * `python3` this test process finds (on the GPU machines a virtual environment that holds PyTorch),
 * or SKB_TEST_PYTHON when set.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SANDBOX, installationOf, type SandboxSettings } from '../../src/targets/sandbox.js';

function resolvePython(): string {
  const named = process.env.SKB_TEST_PYTHON;
  if (named) return named;
  const found = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : 'python3';
}

/** Absolute path of the Python the GPU suites give the KernelBench toolchain. */
export const gpuPython = resolvePython();

/**
 * The sandbox a KernelBench target on `gpuPython` gets (as target.ts builds it): the NVIDIA
 * devices, and the interpreter's virtual environment read-only.
 */
export const gpuSandbox: SandboxSettings = {
  ...DEFAULT_SANDBOX,
  gpu: true,
  readOnlyPaths: [installationOf(gpuPython)].filter((p): p is string => p !== null),
};

const probe = (code: string): boolean => spawnSync(gpuPython, ['-c', code], { stdio: 'ignore' }).status === 0;

/** PyTorch (recognising a problem needs no GPU: it traces on the meta device). */
export const hasTorch = probe('import torch');

/** PyTorch with a CUDA device. */
export const hasGpu = probe('import torch; assert torch.cuda.is_available()');

/** PyTorch with a CUDA device, and Triton. */
export const hasGpuTriton = hasGpu && probe('import triton');

/**
 * The harness's answer line, `SKB_RESULT {json}`: a passing run with nothing measured, `fields`
 * laid over it (the fingerprint of a probe; correctness and timing of a candidate run).
 */
export function harnessResultLine(fields: Record<string, unknown>): string {
  return `SKB_RESULT ${JSON.stringify({
    version: 1,
    ok: true,
    errorKind: null,
    phase: null,
    message: null,
    traceback: null,
    fingerprint: null,
    correctness: null,
    timing: null,
    ...fields,
  })}`;
}

/** A GPU fingerprint as the harness reports one, for stand-in interpreters. */
export const STAND_IN_FINGERPRINT = {
  kind: 'gpu',
  name: 'NAME',
  smCount: 132,
  computeCapability: '9.0',
  driver: 'd',
  cuda: '13.0',
  torch: '2.11',
  triton: '3.6',
};

/**
 * The harness's line for a correct f32 candidate (five passing trials) timed at `candidateMs`
 * against eager at `referenceMs` (null: eager not timed in this run), `extra` laid over it.
 */
export function passingReportLine(
  fingerprint: unknown,
  candidateMs: number,
  referenceMs: number | null,
  extra: Record<string, unknown> = {},
): string {
  const stats = (ms: number) => ({ mean: ms, median: ms, std: 0, min: ms, max: ms, samplesMs: [ms, ms, ms] });
  const trial = {
    passed: true,
    maxAbsDiff: 1e-6,
    maxRelDiff: 1e-5,
    maxErrRatio: 0.02,
    mismatchFraction: 0,
    problem: null,
  };
  return harnessResultLine({
    fingerprint,
    correctness: {
      trials: 5,
      passed: 5,
      atol: 1e-4,
      rtol: 1e-4,
      dtype: 'float32',
      maxAbsDiff: 1e-6,
      maxRelDiff: 1e-5,
      maxErrRatio: 0.02,
      mismatchFraction: 0,
      details: [1, 2, 3, 4, 5].map((seed) => ({ ...trial, seed })),
    },
    timing: {
      warmup: 3,
      iters: 3,
      l2FlushBytes: 0,
      candidate: stats(candidateMs),
      reference: referenceMs === null ? null : stats(referenceMs),
    },
    ...extra,
  });
}

/**
 * Writes a stand-in `python` into a new directory under `parent` that answers the GPU probe with
 * a fingerprint named "GPU <value of the environment variable `nameVariable`>": the name comes
 * back only if that variable reached the sandboxed process. Returns the directory (give it to
 * the target's sandbox as a read-only path).
 */
export async function writeFakeGpuProbe(parent: string, nameVariable: string): Promise<string> {
  const bin = await mkdtemp(join(parent, 'skb-fake-python-'));
  const line = harnessResultLine({ fingerprint: STAND_IN_FINGERPRINT });
  await writeFile(join(bin, 'python'), `#!/bin/sh\necho '${line}' | sed "s/NAME/GPU $${nameVariable}/"\n`, {
    mode: 0o755,
  });
  await chmod(bin, 0o755);
  return bin;
}
