/**
 * The GPU fingerprint of a target: the KernelBench harness run in `--fingerprint-only` mode, so
 * the fingerprint stored with a measurement is read by the very code that measured it.
 */
import { SkbError, type GpuFingerprint } from '../schedules/index.js';
import type { ExecLimits, Executor } from './executor.js';
import { kernelBenchHarnessSource } from './kernelbench/python-sources.js';
import { parseHarnessLine } from './kernelbench/result.js';
import { trimOutput } from './toolchain.js';

export interface GpuProbeOptions {
  /** Python interpreter with PyTorch on the target; default python3. */
  python?: string;
  /** Extra environment for the probe (CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH, ...). */
  env?: Record<string, string>;
  /** Limits of the probe; CUDA needs an unlimited address space (see GPU_PROCESS_LIMITS). */
  limits?: Partial<ExecLimits>;
}

/**
 * Limits that a CUDA process can live with. CUDA reserves far more virtual address space than the
 * GPU has memory, so an address-space cap (RLIMIT_AS) breaks its initialisation and does not bound
 * device memory anyway: the cap is set past any real address space. PyTorch and Triton start many
 * threads, and RLIMIT_NPROC counts threads.
 */
export const GPU_PROCESS_LIMITS: Partial<ExecLimits> = {
  memoryBytes: Number.MAX_SAFE_INTEGER,
  maxProcesses: 1024,
};

/**
 * Reads the fingerprint of the GPU behind `executor`: name, SM count, compute capability, driver,
 * CUDA, PyTorch and Triton versions. Stable across runs on one machine.
 * Throws SkbError TARGET with the harness's own explanation when there is no PyTorch or no GPU.
 */
export async function gpuFingerprint(executor: Executor, options: GpuProbeOptions = {}): Promise<GpuFingerprint> {
  const ws = await executor.createWorkspace();
  try {
    await ws.writeFile('harness.py', await kernelBenchHarnessSource());
    const ran = await ws.exec({
      argv: [options.python ?? 'python3', 'harness.py', '--fingerprint-only'],
      limits: { wallMs: 120_000, ...GPU_PROCESS_LIMITS, ...options.limits },
      env: { PYTHONDONTWRITEBYTECODE: '1', ...options.env },
    });
    const parsed = parseHarnessLine(ran.stdout);
    if (!parsed.ok) {
      const how = ran.limitExceeded
        ? `hit the ${ran.limitExceeded} limit`
        : ran.signal
          ? `died of ${ran.signal}`
          : `exited with status ${ran.exitCode}`;
      throw new SkbError(
        'TARGET',
        `The GPU probe on ${executor.describe} ${parsed.reason} and ${how}; check that "${options.python ?? 'python3'}" runs there. Output: ${trimOutput(ran.stderr + ran.stdout, 600)}`,
      );
    }
    const { report } = parsed;
    if (!report.ok || !report.fingerprint) {
      throw new SkbError(
        'TARGET',
        `The GPU probe on ${executor.describe} failed: ${report.message ?? 'no fingerprint reported'}. Use a target with an NVIDIA GPU and a CUDA build of PyTorch, or set the python option to an interpreter that has one.`,
      );
    }
    return report.fingerprint;
  } finally {
    await ws.dispose();
  }
}
