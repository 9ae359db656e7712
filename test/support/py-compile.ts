/**
 * Compiles generated Python files with one `python3 -m py_compile` (the templates' tests check that
 * every knob value writes a file Python accepts, without a GPU). The files live in a temporary
 * folder removed when the call returns.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes the sources and compiles them all in one run; returns its status and output. */
export async function pyCompile(sources: readonly string[]): Promise<{ status: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'skb-py-compile-'));
  try {
    const files = await Promise.all(
      sources.map(async (s, i) => {
        const path = join(dir, `candidate_${i}.py`);
        await writeFile(path, s);
        return path;
      }),
    );
    const ran = spawnSync('python3', ['-m', 'py_compile', ...files], { encoding: 'utf8' });
    return { status: ran.status, output: `${ran.stdout}${ran.stderr}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether this machine has a python3 to compile with (tests that need it skip without it). */
export const hasPython = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;
