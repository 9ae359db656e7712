import { SkbError, type Reuse, type Schedule } from '../../schedules/index.js';
import { loadConfig } from '../config.js';
import { parseScheduleId } from '../graphql/inputs.js';
import { openConfiguredKnowledgeBase } from '../configured-knowledge-base.js';
import { writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';
import { describeOperation, formatDistance, formatMs } from './search-report.js';
import { table } from './table.js';

/** The text `skb schedule ID` prints: facts, the steps, then the searches it seeded. */
export function scheduleSummary(schedule: Schedule, reuses: readonly Reuse[]): string {
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
  ];
  const width = Math.max(...facts.map(([k]) => k.length));
  const lines = facts.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  lines.push('');
  lines.push(
    schedule.steps.length
      ? table(
          ['STEP', 'OPTION', 'LATENCY', 'PLAN'],
          schedule.steps.map((step, i) => [
            String(i + 1),
            step.optionId,
            `${formatMs(step.latencyBeforeMs)} -> ${formatMs(step.latencyAfterMs)} ms`,
            step.plan.replace(/\s+/g, ' ').trim(),
          ]),
        )
      : 'No steps: nothing beat the baseline.',
  );
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
skb search print it): operation, target, baseline, best and speedup, its steps, and its reuses
(each search it seeded: tier, distance, outcome, gain). With --json, the schedule and its reuses
as JSON.

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
      const reuses = await kb.listReuses({ scheduleId: id });
      await writeOut(
        io.stdout,
        args.values.json === true
          ? `${JSON.stringify({ schedule, reuses }, null, 2)}\n`
          : scheduleSummary(schedule, reuses),
      );
      return EXIT.ok;
    } finally {
      await kb.close();
    }
  },
};
