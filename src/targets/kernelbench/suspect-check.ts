/**
 * What the check of a suspect candidate decides. A correct candidate faster than eager PyTorch by
 * more than the suspicion threshold (result.ts) is run a second time with `--check`: a process of
 * its own, another seed, and every timed run on inputs drawn fresh and compared with eager PyTorch
 * on the same inputs (harness.py's check_model). A result cached between calls is then either
 * recomputed, and timed as what it costs, or wrong; work on another stream is timed as before.
 * So a real win (a kernel fusing what eager runs as many passes) is admitted, at the check's
 * latency, and a trick is not.
 */
import type { CandidateResult } from '../toolchain.js';
import type { KernelBenchOutcome, ProblemFailure } from './result.js';

/** Timed runs of a check, each on fresh inputs; a few tens keep the median steady for seconds of GPU time. */
export const CHECK_RUNS = 20;

/** The seed of a check's weights and trial inputs: not the first run's, so nothing tuned to those passes by chance. */
export const checkSeed = (seed: number): number => seed + 1;

type Outcome = KernelBenchOutcome | ProblemFailure;

const times = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(1)}x`);

/**
 * The candidate's result after its check: admitted (no `suspect`) at the check's latency when every
 * check run matched eager, wrong when one did not, still suspect (the first measurement kept) when
 * the check could not run. `reference` is eager PyTorch's median from the first run.
 */
export function judgeChecked(
  first: CandidateResult & { suspect: string },
  checked: Outcome,
  reference: number | null,
): { result: CandidateResult; speedup: number | null } {
  const firstSpeedup = reference !== null && first.latencyMs ? reference / first.latencyMs : null;
  if (!('problem' in checked) && checked.result.correct && checked.check && checked.result.latencyMs) {
    const speedup = reference !== null ? reference / checked.result.latencyMs : null;
    const note = `checked, since its first run was ${times(firstSpeedup)} faster than eager PyTorch (above the suspicion threshold): ${checked.check.runs} timed runs in a second process, each on inputs drawn fresh and compared with eager PyTorch on them, all within the tolerance; admitted at their median, ${checked.result.latencyMs.toPrecision(4)} ms (${times(speedup)})`;
    return {
      result: { ...checked.result, fingerprintKey: first.fingerprintKey, feedback: [...checked.result.feedback, note] },
      speedup,
    };
  }
  if (!('problem' in checked) && checked.result.errorKind === 'wrong_answer') {
    return {
      result: {
        ...checked.result,
        fingerprintKey: first.fingerprintKey,
        feedback: [
          `its first run was ${times(firstSpeedup)} faster than eager PyTorch, and its check failed: ${checked.result.feedback[0] ?? 'wrong answer'}`,
          ...checked.result.feedback.slice(1),
        ],
      },
      speedup: null,
    };
  }
  const why =
    'problem' in checked
      ? `the problem failed under the check's seed (${checked.problem})`
      : checked.result.correct
        ? 'the harness reported no check'
        : (checked.result.feedback[0] ?? 'it failed');
  return {
    result: { ...first, feedback: [...first.feedback, `its check could not confirm it: ${why}`] },
    speedup: firstSpeedup,
  };
}
