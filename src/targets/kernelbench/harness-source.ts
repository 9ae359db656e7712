/**
 * The KernelBench harness is a Python file shipped beside this module. `tsc` copies no .py files
 * into dist/, so from a build the source tree's copy is used; both layouts are tried in order.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SkbError } from '../../schedules/index.js';

const CANDIDATE_PATHS = [
  // Running from src/ (vitest, tsx).
  new URL('./harness.py', import.meta.url),
  // Running from dist/targets/kernelbench/: the repository's src/ sits three levels up.
  new URL('../../../src/targets/kernelbench/harness.py', import.meta.url),
];

let cached: Promise<string> | undefined;

/** The harness's Python source, read once per process. */
export function kernelBenchHarnessSource(): Promise<string> {
  cached ??= readFirst().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function readFirst(): Promise<string> {
  for (const url of CANDIDATE_PATHS) {
    try {
      return await readFile(url, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const tried = CANDIDATE_PATHS.map((u) => fileURLToPath(u)).join(', ');
  throw new SkbError(
    'CONFIG',
    `The KernelBench harness (harness.py) was not found at ${tried}; run from a checkout that has src/targets/kernelbench/harness.py`,
  );
}
