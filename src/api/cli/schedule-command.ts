import { SkbError, type Reuse, type Revalidation, type Schedule } from '../../schedules/index.js';
import { loadConfig } from '../config.js';
import { parseScheduleId } from '../graphql/inputs.js';
import { openConfiguredKnowledgeBase } from '../configured-knowledge-base.js';
import { writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';
import { describeOperation, formatDistance, formatMs } from './search-report.js';
import { table } from './table.js';

/** "sch_x (structure, distance 0.12)" for each seed a schedule descends from. */
function describeDerivations(schedule: Schedule): string {
  const from = schedule.derivedFrom ?? [];
  if (from.length === 0) return 'none (measured from its own search alone)';
  return from
    .map((d) => {
      const how = [d.tier, d.distance === undefined ? undefined : `distance ${formatDistance(d.distance)}`].filter(
        Boolean,
      );
      return how.length ? `${d.scheduleId} (${how.join(', ')})` : d.scheduleId;
    })
    .join(', ');
}

/** "gcc 12.2.0" or "cuda 12.4, torch 2.5.1, triton 3.1.0": the toolchain a schedule was measured with. */
function describeToolchain(versions: Record<string, string>): string {
  return Object.entries(versions)
    .map(([tool, version]) => `${tool} ${version}`)
    .join(', ');
}

/** How a schedule was judged correct, in one line. */
function describeCorrectness(schedule: Schedule): string {
  const c = schedule.evidence?.correctness;
  if (!c) return 'not recorded (stored before evidence was kept, or the toolchain did not say)';
  const ratio =
    c.maxErrorRatio === null
      ? 'largest error not reported'
      : `largest error ${c.maxErrorRatio.toPrecision(3)} of the tolerance`;
  return `${c.trials} trials, ${ratio}, reference ${c.referencePrecision}; rule: ${c.toleranceRule}`;
}

/** The schedule's re-measurements, as a table. */
function describeRevalidations(revalidations: readonly Revalidation[]): string {
  if (revalidations.length === 0) return 'Revalidations: none (skb revalidate measures the final code again).';
  return `Revalidations (the final code measured again):\n${table(
    ['MEASURED', 'TARGET', 'STATUS', 'NOW', 'RATIO', 'TOOLCHAIN'],
    revalidations.map((r) => [
      r.measuredAt,
      r.targetKey,
      r.status,
      r.latencyMs === null ? '-' : `${formatMs(r.latencyMs)} ms`,
      r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
      describeToolchain(r.toolchain),
    ]),
  )}`;
}

/**
 * The text `skb schedule ID` prints: facts (the schedules it derives from among them), the steps
 * (a replayed step names its seed; steps replayed together share the group's latencies), the
 * schedules grown from it, then the searches it seeded.
 */
export function scheduleSummary(
  schedule: Schedule,
  reuses: readonly Reuse[],
  children: readonly Schedule[] = [],
  revalidations: readonly Revalidation[] = [],
): string {
  const facts: Array<[string, string]> = [
    ['schedule', schedule.id],
    ['operation', describeOperation(schedule.operation)],
    ['target', schedule.targetKey],
    ['baseline', `${formatMs(schedule.baselineLatencyMs)} ms`],
    ['best', `${formatMs(schedule.bestLatencyMs)} ms`],
    ['speedup', `${schedule.speedup.toFixed(2)}x`],
    ['samples', String(schedule.samplesUsed)],
    [
      'source',
      `${schedule.provenance.source}${schedule.provenance.searchId ? ` (search ${schedule.provenance.searchId})` : ''}`,
    ],
    ['created', schedule.createdAt],
    ['derived from', describeDerivations(schedule)],
    ['toolchain', schedule.evidence ? describeToolchain(schedule.evidence.toolchain) : 'not recorded'],
    ['correctness', describeCorrectness(schedule)],
  ];
  const width = Math.max(...facts.map(([k]) => k.length));
  const lines = facts.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push('');
  lines.push(
    schedule.steps.length
      ? table(
          ['STEP', 'OPTION', 'LATENCY', 'REPLAYED FROM', 'PLAN'],
          schedule.steps.map((step, i) => [
            String(i + 1),
            step.optionId,
            `${formatMs(step.latencyBeforeMs)} -> ${formatMs(step.latencyAfterMs)} ms`,
            step.replayOf ? `${step.replayOf.scheduleId} step ${step.replayOf.stepIndex + 1}` : '-',
            step.plan.replace(/\s+/g, ' ').trim(),
          ]),
        )
      : 'No steps: nothing beat the baseline.',
  );
  lines.push('');
  lines.push(
    children.length
      ? `Derived schedules (grown from this one): ${children.map((c) => c.id).join(', ')}`
      : 'Derived schedules: none yet.',
  );
  lines.push('');
  lines.push(describeRevalidations(revalidations));
  lines.push('');
  lines.push(
    reuses.length
      ? `Reuses (searches this schedule seeded):\n${table(
          ['SEARCH', 'TIER', 'DISTANCE', 'OUTCOME', 'GAIN', 'CREATED'],
          reuses.map((r) => [
            r.searchId,
            r.tier,
            formatDistance(r.distance),
            r.outcome,
            r.gain === undefined ? '-' : `${r.gain.toFixed(2)}x`,
            r.createdAt,
          ]),
        )}`
      : 'Reuses: none yet (no search has been seeded by this schedule).',
  );
  return `${lines.join('\n')}\n`;
}

/** `skb schedule ID`: one stored schedule with its steps and its reuses. */
export const scheduleCommand: CliCommand = {
  name: 'schedule',
  summary: 'show one stored schedule: operation, target, speedup, steps and the searches it seeded',
  usage: `Usage: skb schedule ID [--json]

Prints a stored schedule (an id such as sch_0123456789abcdef01234567, as skb optimize and
skb search print it): operation, target, baseline, best and speedup, the schedules it derives from (seeds whose
steps are on its lineage), its steps (a step replayed with the rest of a seed's sequence names
the seed and shares the group's latencies), the schedules derived from it, and its reuses (each
search it seeded: tier, distance, outcome, gain). An id the schedule had before its replay steps
were flattened still finds it. With --json, the schedule, its reuses and the ids of the
schedules derived from it as JSON.

${ENVIRONMENT_HELP}
`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const id = parseScheduleId(args.positionals[0]);
    const kb = await openConfiguredKnowledgeBase(loadConfig(io.env, io.cwd));
    try {
      const schedule = await kb.getSchedule(id);
      if (!schedule)
        throw new SkbError(
          'NOT_FOUND',
          `No schedule ${id}: see skb export or the schedules query for the ids there are.`,
        );
      const reuses = await kb.listReuses({ scheduleId: schedule.id });
      const children = await kb.scheduleChildren(schedule.id);
      const revalidations = await kb.listRevalidations(schedule.id);
      await writeOut(
        io.stdout,
        args.values.json === true
          ? `${JSON.stringify({ schedule, reuses, derivedSchedules: children.map((c) => c.id), revalidations }, null, 2)}\n`
          : scheduleSummary(schedule, reuses, children, revalidations),
      );
      return EXIT.ok;
    } finally {
      await kb.close();
    }
  },
};
