/**
 * The check a suspiciously fast KernelBench candidate gets (harness.py's check_model), run on
 * Debian's CPU PyTorch: every timed run on fresh inputs, each output compared with eager. The GPU
 * path of the same check is in kernelbench.test.ts's GPU suite; this one runs wherever
 * scripts/setup-test-deps.sh installed python3-torch (it skips elsewhere).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEBIAN_PYTHON = '/usr/bin/python3';
const hasCpuTorch = spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

describe.skipIf(!hasCpuTorch)('the check of a suspect candidate, on CPU PyTorch', () => {
  const ran = spawnSync(
    DEBIAN_PYTHON,
    [path('../fixtures/kernelbench/cpu_check_driver.py'), path('../../src/targets/kernelbench/harness.py')],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const verdicts = new Map(
    ran.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const v = JSON.parse(line) as { name: string } & Record<string, unknown>;
        return [v.name, v] as const;
      }),
  );

  it('passes an honest kernel, timing each of its runs on fresh inputs', () => {
    expect(ran.stderr).toBe('');
    expect(verdicts.get('honest')).toEqual({
      name: 'honest',
      passed: true,
      timedRuns: 6,
      check: { runs: 6, maxErrRatio: expect.any(Number) },
    });
  });

  it('passes a cache keyed on the inputs’ content, which fresh inputs make recompute', () => {
    expect(verdicts.get('caches_by_content')).toMatchObject({ passed: true, timedRuns: 6 });
  });

  it('fails a kernel that returns a kept output, and all zeros, as wrong answers of the check', () => {
    for (const name of ['caches_by_shape', 'zeros'])
      expect(verdicts.get(name)).toMatchObject({
        passed: false,
        kind: 'wrong_answer',
        phase: 'check',
        message: expect.stringMatching(/^timed run 1 of 6 on fresh inputs differs from eager PyTorch: max abs diff/),
      });
  });
});
