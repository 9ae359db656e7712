import { parseOperation, ReuseTierSchema, type ReuseTier } from '../../schedules/index.js';
import { createTargetResolver } from '../graphql/context.js';
import { MAX_PAGE_SIZE } from '../graphql/inputs.js';
import { UsageError, writeOut, type CliCommand, type ParsedArgs } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { countFlag, shapeFlag, stringFlag } from './flags.js';
import { EXIT } from './run-cli.js';
import { describeOperation, formatDistance } from './search-report.js';
import { table } from './table.js';
import { withServices } from './with-services.js';

function tiersFlag(args: ParsedArgs): ReuseTier[] | undefined {
  const text = stringFlag(args, 'tiers');
  if (text === undefined) return undefined;
  return text.split(',').map((t) => {
    const tier = ReuseTierSchema.safeParse(t.trim());
    if (!tier.success)
      throw new UsageError(`--tiers takes ${ReuseTierSchema.options.join(', ')} separated by commas, not "${t}"`);
    return tier.data;
  });
}

/** `skb similar`: the stored schedules that would seed a search of this operation, as similarSchedules ranks them. */
export const similarCommand: CliCommand = {
  name: 'similar',
  summary: 'the stored schedules most similar to an operation, with tier, distance, score and reason',
  usage: `Usage: skb similar --op KIND --shape NAME=SIZE,... [--target T] [--k N] [--tiers exact,structure,similar,transfer] [--json]

Prints the schedules a search of this operation on target T would be offered as seeds, best first,
as the similarSchedules query ranks them: tier (exact shape, same structure, or similar by
embedding), distance, score, the schedule and why it matched. Only schedules of T's hardware
family are considered.

Options:
  --op KIND             the operation kind (gemm, conv2d, softmax, layernorm, custom:<name>, ...)
  --shape SIZES         its sizes, e.g. M=512,N=512,K=512
  --target T            a target key (t-...) or a configured name (default local: this machine)
  --k N                 how many matches (default 10, at most ${MAX_PAGE_SIZE})
  --tiers LIST          only these tiers, e.g. exact,structure
  --json                the matches, with their whole schedules, as JSON

${ENVIRONMENT_HELP}
`,
  options: {
    op: { type: 'string' },
    shape: { type: 'string' },
    target: { type: 'string' },
    k: { type: 'string' },
    tiers: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const kind = stringFlag(args, 'op');
    const dims = shapeFlag(args, 'shape');
    if (!kind || !dims)
      throw new UsageError('skb similar needs --op KIND and --shape, e.g. --op gemm --shape M=512,N=512,K=512');
    const operation = parseOperation({ kind, dims });
    const k = countFlag(args, 'k', 10, MAX_PAGE_SIZE);
    const tiers = tiersFlag(args);
    const target = stringFlag(args, 'target') ?? 'local';
    const matches = await withServices(io, (services) =>
      services.kb.similar({
        operation,
        targetKey: createTargetResolver(services.targetNames)(target),
        k,
        ...(tiers ? { tiers } : {}),
      }),
    );
    if (args.values.json === true) {
      await writeOut(io.stdout, `${JSON.stringify(matches, null, 2)}\n`);
      return EXIT.ok;
    }
    if (matches.length === 0) {
      await writeOut(
        io.stdout,
        `No stored schedule of this target's hardware family is similar to ${describeOperation(operation)}.\n`,
      );
      return EXIT.ok;
    }
    const rows = matches.map((m) => [
      m.tier,
      formatDistance(m.distance),
      m.score.toFixed(3),
      m.schedule.id,
      describeOperation(m.schedule.operation),
      `${m.schedule.speedup.toFixed(2)}x`,
      m.reason,
    ]);
    await writeOut(
      io.stdout,
      `${table(['TIER', 'DISTANCE', 'SCORE', 'SCHEDULE', 'OPERATION', 'SPEEDUP', 'REASON'], rows)}\n`,
    );
    return EXIT.ok;
  },
};
