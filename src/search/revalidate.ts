/**
 * Revalidation: stored schedules' final code measured again on a target of their hardware family,
 * so a schedule whose correctness or speed no longer holds (after a compiler, driver or PyTorch
 * upgrade) is flagged, and retrieval ranks it lower. Each re-measurement is kept beside the
 * original; the schedule itself never changes.
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_SLOWER_BY_PCT,
  SkbError,
  revalidationStatus,
  toolchainVersionsOf,
  type Revalidation,
  type Schedule,
  type TargetRecord,
} from '../schedules/index.js';
import type { Target } from '../targets/index.js';
import type { KnowledgeBase } from './knowledge-base.js';

export interface RevalidateOptions {
  /** Only schedules of operations of this kind. */
  kind?: string;
  /** Slowdown (percent over the stored latency) above which a schedule is flagged `slower`. */
  slowerByPct?: number;
  /** Most schedules to re-measure, oldest first. */
  limit?: number;
  /** Called after each schedule is re-measured and recorded. */
  onResult?: (result: Revalidation, schedule: Schedule) => void | Promise<void>;
  signal?: AbortSignal;
}

const PAGE = 100;

/** The schedules a revalidation on `target` covers: its hardware family's, of `kind` when given. */
async function schedulesFor(kb: KnowledgeBase, target: TargetRecord, kind?: string): Promise<Schedule[]> {
  const all: Schedule[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await kb.listSchedules(
      { targetFamily: target.family, ...(kind ? { kind } : {}) },
      { first: PAGE, ...(after ? { after } : {}) },
    );
    all.push(...page.items);
    if (!page.hasNextPage || !page.endCursor) return all;
    after = page.endCursor;
  }
}

function describe(
  result: { correct: boolean; latencyMs: number | null; feedback: string[] },
  storedMs: number,
): string {
  if (!result.correct) return result.feedback.at(-1) ?? 'not correct';
  if (result.latencyMs === null) return 'correct but not timed';
  return `${result.latencyMs.toPrecision(4)} ms now, ${storedMs.toPrecision(4)} ms stored (${((result.latencyMs / storedMs - 1) * 100).toFixed(1)}%)`;
}

/**
 * Re-measures the stored schedules of `target`'s family, one at a time, and records each result.
 * Returns the records in the order measured.
 */
export async function revalidateSchedules(
  deps: { kb: KnowledgeBase; target: Target },
  options: RevalidateOptions = {},
): Promise<Revalidation[]> {
  const slowerByPct = options.slowerByPct ?? DEFAULT_SLOWER_BY_PCT;
  if (!Number.isFinite(slowerByPct) || slowerByPct < 0 || slowerByPct > 1000)
    throw new SkbError('BAD_INPUT', `slowerByPct must be a percentage from 0 to 1000, not ${slowerByPct}`);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 1))
    throw new SkbError('BAD_INPUT', `limit must be a positive integer, not ${limit}`);
  const record = await deps.target.record();
  await deps.kb.registerTargets([record]);
  const toolchain = toolchainVersionsOf(record.fingerprint);
  const schedules = (await schedulesFor(deps.kb, record, options.kind)).slice(0, limit);
  const done: Revalidation[] = [];
  for (const schedule of schedules) {
    options.signal?.throwIfAborted();
    const [result] = await deps.target.evaluate({
      operation: schedule.operation,
      candidates: [schedule.finalCode],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!result) throw new SkbError('INTERNAL', `The target returned no result for schedule ${schedule.id}`);
    const stored = schedule.bestLatencyMs;
    const timed = result.correct && result.latencyMs !== null && result.latencyMs > 0 ? result.latencyMs : null;
    const revalidation: Revalidation = {
      id: `rev_${randomUUID()}`,
      scheduleId: schedule.id,
      targetKey: record.key,
      measuredAt: new Date().toISOString(),
      status: revalidationStatus({ ...result, latencyMs: timed }, stored, slowerByPct),
      message: describe({ ...result, latencyMs: timed }, stored).slice(0, 2000),
      correct: result.correct,
      latencyMs: timed,
      storedLatencyMs: stored,
      ratio: timed === null ? null : timed / stored,
      slowerByPct,
      toolchain,
      ...(result.evidence ? { evidence: result.evidence } : {}),
    };
    await deps.kb.addRevalidation(revalidation);
    done.push(revalidation);
    await options.onResult?.(revalidation, schedule);
  }
  return done;
}
