/**
 * Whether this machine can run the GPU suites, and with which Python. Candidates run with a minimal
 * PATH (system directories only), so the suites name the interpreter by its absolute path: the
 * `python3` this test process finds (on the GPU machines a virtual environment that holds PyTorch),
 * or SKB_TEST_PYTHON when set.
 */
import { spawnSync } from 'node:child_process';
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

/** PyTorch with a CUDA device. */
export const hasGpu = probe('import torch; assert torch.cuda.is_available()');

/** PyTorch with a CUDA device, and Triton. */
export const hasGpuTriton = hasGpu && probe('import triton');
