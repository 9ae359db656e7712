/**
 * The Python files the KernelBench toolchain runs on a target (the harness, the warm worker, the
 * problem recogniser) ship beside this module. `tsc` copies no .py files into dist/, so from a
 * build the source tree's copy is used; both layouts are tried in order.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SkbError } from '../../schedules/index.js';

export type KernelBenchScript = 'harness.py' | 'gpu-worker.py' | 'recognize.py';

function candidatePaths(name: KernelBenchScript): URL[] {
  return [
    // Running from src/ (vitest, tsx).
    new URL(`./${name}`, import.meta.url),
    // Running from dist/targets/kernelbench/: the repository's src/ sits three levels up.
    new URL(`../../../src/targets/kernelbench/${name}`, import.meta.url),
  ];
}

const cached = new Map<KernelBenchScript, Promise<string>>();

/** A shipped script's source, read once per process (a failed read is tried again next time). */
export function kernelBenchScriptSource(name: KernelBenchScript): Promise<string> {
  let source = cached.get(name);
  if (!source) {
    source = readFirst(name);
    source.catch(() => cached.delete(name));
    cached.set(name, source);
  }
  return source;
}

/** The harness's Python source. */
export function kernelBenchHarnessSource(): Promise<string> {
  return kernelBenchScriptSource('harness.py');
}

async function readFirst(name: KernelBenchScript): Promise<string> {
  const paths = candidatePaths(name);
  for (const url of paths) {
    try {
      return await readFile(url, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const tried = paths.map((u) => fileURLToPath(u)).join(', ');
  throw new SkbError(
    'CONFIG',
    `The KernelBench ${name} was not found at ${tried}; run from a checkout that has src/targets/kernelbench/${name}`,
  );
}
