import {
  shapeKey,
  structureKey,
  type Operation,
  type Page,
  type Schedule,
} from '../../schedules/index.js';
import type { ApiContext } from './context.js';
import { parseExportArgs, parseFilter, parseJsonlArg, parsePage, parseScheduleId, parseSimilarArgs } from './inputs.js';
import { JsonScalar } from './json-scalar.js';

type Args = Record<string, unknown>;

/**
 * The resolver map of schema.graphql. Resolvers hold no logic: they validate arguments (inputs.ts)
 * and call the knowledge base or its store; the field resolvers below only reshape domain values
 * (dims as a list, keys derived from the operation) for the schema.
 */
export const resolvers = {
  JSON: JsonScalar,

  Query: {
    schedules: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.store.listSchedules(parseFilter(args.filter, ctx.resolveTarget), parsePage(args)),
    schedule: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.store.getSchedule(parseScheduleId(args.id)),
    similarSchedules: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.similar(parseSimilarArgs(args, ctx.resolveTarget)),
    exportSchedules: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.exportJsonl(parseExportArgs(args, ctx.resolveTarget)),
    operations: (_: unknown, __: Args, ctx: ApiContext) => ctx.kb.store.listOperations(),
    targets: (_: unknown, __: Args, ctx: ApiContext) => ctx.kb.store.listTargets(),
    health: (_: unknown, __: Args, ctx: ApiContext) => ctx.health(),
  },

  Mutation: {
    importSchedules: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.importJsonl(parseJsonlArg(args.jsonl)),
    deleteSchedule: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.deleteSchedule(parseScheduleId(args.id)),
  },

  ScheduleConnection: {
    nodes: (page: Page<Schedule>) => page.items,
    pageInfo: (page: Page<Schedule>) => ({ endCursor: page.endCursor, hasNextPage: page.hasNextPage }),
  },

  Operation: {
    dims: (op: Operation) => Object.entries(op.dims).map(([name, size]) => ({ name, size })),
    structureKey: (op: Operation) => structureKey(op),
    shapeKey: (op: Operation) => shapeKey(op),
    attrs: (op: Operation) => JSON.stringify(op.attrs),
  },

  Schedule: {
    target: (schedule: Schedule, _: Args, ctx: ApiContext) => ctx.loadTarget(schedule.targetKey),
    reuses: (schedule: Schedule, _: Args, ctx: ApiContext) => ctx.kb.store.listReuses({ scheduleId: schedule.id }),
  },
};
