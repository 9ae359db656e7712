/**
 * Debian's CPU PyTorch (python3-torch, which scripts/setup-test-deps.sh installs): the Python code
 * that decides (the harness's judging, a template's launcher helpers) runs on it without a GPU.
 * Tests that need it skip where it is missing.
 */
import { spawnSync } from 'node:child_process';

export const DEBIAN_PYTHON = '/usr/bin/python3';

export const hasCpuTorch = spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
