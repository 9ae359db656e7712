/**
 * harness.py's judging on Debian's CPU PyTorch, wherever scripts/setup-test-deps.sh installed
 * python3-torch (it skips elsewhere): the check a suspiciously fast candidate gets (check_model:
 * every timed run on fresh inputs, each output compared with eager), and one trial's verdict
 * (compare), whole and walked in pieces as a 7 GB output is. The GPU paths of both are in
 * kernelbench.test.ts's GPU suite.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEBIAN_PYTHON, hasCpuTorch } from '../support/cpu-torch.js';
const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

/** The driver's verdicts for one mode, by case name, and what it wrote to stderr. */
function drive(mode: 'check' | 'compare') {
  const ran = spawnSync(
    DEBIAN_PYTHON,
    [path('../fixtures/kernelbench/cpu_harness_driver.py'), path('../../src/targets/kernelbench/harness.py'), mode],
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
  return { ran, verdicts };
}

describe.skipIf(!hasCpuTorch)('the check of a suspect candidate, on CPU PyTorch', () => {
  const { ran, verdicts } = hasCpuTorch ? drive('check') : { ran: null, verdicts: new Map() };

  it('passes an honest kernel, timing each of its runs on fresh inputs', () => {
    expect(ran!.stderr).toBe('');
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

describe.skipIf(!hasCpuTorch)("one trial's verdict (compare), on CPU PyTorch", () => {
  const { ran, verdicts } = hasCpuTorch ? drive('compare') : { ran: null, verdicts: new Map() };
  type Verdict = { passed: boolean; problem: string | null };
  const whole = (name: string) => (verdicts.get(name) as { whole: Verdict } | undefined)?.whole;

  it('gives the same verdict, maxima and mismatch fraction walked in pieces as whole', () => {
    expect(ran!.stderr).toBe('');
    expect(verdicts.size).toBe(10);
    for (const [name, v] of verdicts) expect(v.pieces, name).toEqual(v.whole);
  });

  it('passes right and slightly-off outputs, fails wrong ones, zeros below the tolerance, NaN, shape and dtype', () => {
    for (const name of ['exact', 'noise', 'half', 'two_d']) expect(whole(name), name).toMatchObject({ passed: true });
    expect(whole('wrong')).toMatchObject({ passed: false, problem: null });
    expect(whole('tuple')).toMatchObject({ passed: false });
    expect(whole('zeros_below_tolerance')!.problem).toMatch(/within atol elementwise but its relative L2 error is 1 /);
    expect(whole('nan')).toMatchObject({
      passed: false,
      problem: 'output 0 holds NaN or Inf where the reference is finite',
    });
    expect(whole('shape')!.problem).toBe('output 0 has shape [70, 50]; the reference has [50, 70]');
    expect(whole('dtype')!.problem).toBe('output 0 has dtype float64; the reference has float32');
  });
});
