import {
  bestLineage,
  replayedSeedId,
  shapeKey,
  splitHereNote,
  stepsFromReplayText,
  speedupOf,
  tallyFailedSamples,
  type CandidateRecord,
  type LineageStep,
  type Operation,
  type ProgressEvent,
  type SearchRecord,
  type SearchSeed,
} from '../../schedules/index.js';
import type { SearchDetail } from '../../search/index.js';
import { table } from './table.js';

/** Milliseconds with enough digits to compare candidates. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null) return '-';
  return ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(3) : ms.toPrecision(3);
}

export function formatSpeedup(speedup: number | null): string {
  return speedup == null ? '-' : `${speedup.toFixed(2)}x`;
}

/** `gemm M=512,N=512,K=512 f32 +bias+relu stride=2` */
export function describeOperation(op: Operation): string {
  const dims = Object.entries(op.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const attrs = Object.entries(op.attrs)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return [op.kind, dims, op.dtype, op.epilogue.length ? `+${op.epilogue.join('+')}` : '', attrs]
    .filter(Boolean)
    .join(' ');
}

/**
 * The accepted plan sequence: the steps the search recorded when it finished, or, for a search
 * still running or stopped early, the lineage of its best candidate so far.
 */
export function acceptedSteps(search: SearchRecord, candidates: readonly CandidateRecord[]): LineageStep[] {
  if (search.bestLineage) return search.bestLineage;
  const lineage = bestLineage(search, candidates);
  return lineage.slice(1).map((c, i) => ({
    candidateId: c.id,
    optionId: c.optionId ?? '',
    optionLabel: c.optionLabel ?? '',
    plan: c.plan ?? '',
    params: c.params,
    latencyBeforeMs: lineage[i]!.latencyMs ?? 0,
    latencyAfterMs: c.latencyMs ?? 0,
  }));
}

/** The accepted plan sequence as table rows: step, option, latency before -> after, plan. */
export function stepRows(search: SearchRecord, candidates: readonly CandidateRecord[]): string[][] {
  return acceptedSteps(search, candidates).map((step, i) => [
    String(i + 1),
    step.optionId,
    `${formatMs(step.latencyBeforeMs)} -> ${formatMs(step.latencyAfterMs)} ms`,
    planCell(step).replace(/\s+/g, ' ').trim(),
  ]);
}

/**
 * A step's plan as the table shows it. A replay's plan text spells out every step of its seed,
 * which the stored schedule lists one per row; here it reads as the seed, its options in order,
 * and what the replay set on this machine.
 */
function planCell(step: LineageStep): string {
  const seedId = replayedSeedId(step);
  if (!seedId) return step.plan;
  const replayed = stepsFromReplayText(step.plan).map((s) => s.optionId);
  const { here } = splitHereNote(step.plan);
  const options = replayed.length ? ` (${replayed.join(', ')})` : '';
  return `Replayed ${seedId}'s ${replayed.length} steps${options}${here ? `; here: ${here}` : ''}`;
}

/** `0`, `0.25`, `1.83`: shape and embedding distances are small numbers. */
export function formatDistance(distance: number): string {
  return distance === 0 ? '0' : distance >= 100 ? distance.toFixed(0) : distance.toPrecision(3);
}

/** Seeds as table rows: schedule id, tier, distance, outcome, gain (`-` until measured). */
export function seedRows(seeds: readonly SearchSeed[]): string[][] {
  return seeds.map((seed) => [
    seed.scheduleId,
    seed.tier,
    formatDistance(seed.distance),
    seed.outcome,
    seed.gain === undefined ? '-' : formatSpeedup(seed.gain),
  ]);
}

/** One line on how the search was seeded: off, or how many seeds it found under which settings. */
function describeWarmStart(search: SearchRecord): string {
  const ws = search.config.warmStart;
  if (!ws.enabled) return 'off (ran cold)';
  const settings = `at most ${ws.seeds} from ${ws.tiers.join(',')}, guided share ${ws.guidedShare}`;
  if (search.status === 'queued') return `on (${settings})`;
  return `${search.seeds.length === 0 ? 'no seed found' : `${search.seeds.length} seed${search.seeds.length === 1 ? '' : 's'}`} (${settings})`;
}

/**
 * The summary `skb optimize` and `skb search ID` print: results first (with how the search was
 * seeded and the schedule it stored, or why none was), then its seeds, then the plan sequence.
 */
export function searchSummary(detail: SearchDetail): string {
  const { search, candidates } = detail;
  const { suspect = 0, ...errors } = tallyFailedSamples(candidates);
  const failed = Object.values(errors).reduce((n, count) => n + count, 0);
  const lost = `${failed} failed${suspect ? `, ${suspect} suspect: above the suspicion threshold, not confirmed by their check` : ''}`;
  const facts: Array<[string, string]> = [
    ['search', `${search.id} (${search.status})`],
    [
      'operation',
      `${describeOperation(search.task.operation)} on ${search.task.target}${search.targetKey ? ` (${search.targetKey})` : ''}`,
    ],
    [
      'planner',
      `${search.config.planner}${search.config.models.length ? ` (${search.config.models.join(', ')})` : ''}, seed ${search.config.seed}`,
    ],
    ['baseline', `${formatMs(search.baselineLatencyMs)} ms`],
    ['best', `${formatMs(search.bestLatencyMs)} ms`],
    ['speedup', formatSpeedup(speedupOf(search))],
    ['samples', `${search.samplesUsed}/${search.config.budget} (${lost})`],
  ];
  facts.push(['warm start', describeWarmStart(search)]);
  const over = search.status !== 'queued' && search.status !== 'running';
  if (search.scheduleId) {
    facts.push(['schedule', search.scheduleId]);
    if (search.message) facts.push(['note', search.message]);
  } else if (over) {
    facts.push(['schedule', `none stored${search.message ? `: ${search.message}` : ''}`]);
  } else if (search.message) {
    facts.push(['note', search.message]);
  }
  if (search.error) facts.push(['error', search.error]);
  const width = Math.max(...facts.map(([k]) => k.length));
  const lines = facts.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (search.seeds.length) {
    lines.push(
      '',
      'Seeds (stored schedules this search started from):',
      table(['SEED', 'TIER', 'DISTANCE', 'OUTCOME', 'GAIN'], seedRows(search.seeds)),
    );
  }
  const rows = stepRows(search, candidates);
  lines.push('');
  lines.push(
    rows.length
      ? table(['STEP', 'OPTION', 'LATENCY', 'PLAN'], rows)
      : 'No step beat the baseline: the accepted plan sequence is empty.',
  );
  return `${lines.join('\n')}\n`;
}

/** One line per search for `skb searches`. */
export function searchListTable(searches: readonly SearchRecord[]): string {
  const rows = searches.map((s) => [
    s.id,
    s.status,
    describeOperation(s.task.operation),
    s.task.target,
    `${s.samplesUsed}/${s.config.budget}`,
    formatSpeedup(speedupOf(s)),
    s.createdAt,
  ]);
  return `${table(['ID', 'STATUS', 'OPERATION', 'TARGET', 'SAMPLES', 'SPEEDUP', 'CREATED'], rows)}\n`;
}

/** The search as JSON for `--json`: the record, its accepted steps and the whole tree. */
export function searchJson(detail: SearchDetail): string {
  const { search, candidates } = detail;
  return `${JSON.stringify(
    {
      search,
      shapeKey: shapeKey(search.task.operation),
      speedup: speedupOf(search),
      steps: acceptedSteps(search, candidates).map((step, i) => ({ step: i + 1, ...step })),
      candidates,
    },
    null,
    2,
  )}\n`;
}

/**
 * Renders progress events on stderr: on a terminal one line redrawn in place (a bar), otherwise
 * plain lines (start, each iteration, each new best, the end) so logs stay readable.
 */
export function createProgressView(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {
  const tty = stream.isTTY === true;
  let lastBest: number | null = null;
  let drawn = false;
  const status = (e: ProgressEvent) =>
    `${e.samplesUsed}/${e.budget} samples  iteration ${e.iteration}/${e.iterations}  baseline ${formatMs(e.baselineLatencyMs)} ms  best ${formatMs(e.bestLatencyMs)} ms (${formatSpeedup(e.speedup)})`;
  return {
    update(e: ProgressEvent): void {
      const terminal = e.type === 'finished' || e.type === 'cancelled' || e.type === 'failed';
      if (tty) {
        const width = 24;
        const filled = Math.min(width, Math.round((e.samplesUsed / Math.max(1, e.budget)) * width));
        const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${status(e)}`;
        const max = Math.max(20, (stream.columns ?? 120) - 1);
        stream.write(`\r\x1b[2K${line.length > max ? line.slice(0, max) : line}`);
        drawn = true;
        if (terminal) {
          stream.write(`\n${e.type}${e.message ? `: ${e.message}` : ''}\n`);
          drawn = false;
        }
        return;
      }
      const improved = e.bestLatencyMs != null && e.bestLatencyMs !== lastBest;
      if (e.type === 'sample' && !improved) return;
      lastBest = e.bestLatencyMs;
      stream.write(`${e.type === 'sample' ? 'new best' : e.type}: ${status(e)}${e.message ? `  ${e.message}` : ''}\n`);
    },
    /** Ends a bar left mid-line (e.g. when the stream of events stops without a final event). */
    close(): void {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
