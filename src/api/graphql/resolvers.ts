import { NO_SCHEDULES, poolMembersOf, type ListedTarget } from '../target-listing.js';
import {
  SkbError,
  bestLineage,
  shapeKey,
  speedupOf,
  structureKey,
  type Derivation,
  type Revalidation,
  type Operation,
  type Page,
  type ProgressEvent,
  type Schedule,
  type TargetRecord,
  type SearchRecord,
  type SearchSeed,
} from '../../schedules/index.js';
import { walkRelatives } from '../../search/index.js';
import type { ApiContext } from './context.js';
import {
  parseExportArgs,
  parseExportFormat,
  parseFilter,
  parseJsonlArg,
  parsePage,
  parseScheduleId,
  parseSimilarArgs,
} from './inputs.js';
import { JsonScalar } from './json-scalar.js';
import { parseSearchConfigArg, parseSearchId, parseSearchesArgs, parseTaskArg } from './search-inputs.js';

type Args = Record<string, unknown>;

/** yoga adds the HTTP request to the context; its signal ends a subscription when the client goes away. */
type SubscriptionContext = ApiContext & { request?: Request };

async function searchTree(search: SearchRecord, ctx: ApiContext) {
  const detail = await ctx.loadSearch(search.id);
  if (!detail) throw new SkbError('NOT_FOUND', `Search ${search.id} no longer exists.`);
  return detail;
}

/**
 * The resolver map of schema.graphql. Resolvers hold no logic: they validate arguments (inputs.ts)
 * and call the knowledge base or its store; the field resolvers below only reshape domain values
 * (dims as a list, keys derived from the operation) for the schema.
 */
export const resolvers = {
  JSON: JsonScalar,

  Query: {
    schedules: (_: unknown, args: Args, ctx: ApiContext) =>
      ctx.kb.listSchedules(parseFilter(args.filter, ctx.resolveTarget), parsePage(args)),
    schedule: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.getSchedule(parseScheduleId(args.id)),
    similarSchedules: (_: unknown, args: Args, ctx: ApiContext) =>
      ctx.kb.similar(parseSimilarArgs(args, ctx.resolveTarget)),
    exportSchedules: (_: unknown, args: Args, ctx: ApiContext) => {
      const request = parseExportArgs(args, ctx.resolveTarget);
      return parseExportFormat(args.format) === 'triton-configs'
        ? ctx.kb.exportTritonConfigs(request)
        : ctx.kb.exportJsonl(request);
    },
    operations: (_: unknown, __: Args, ctx: ApiContext) => ctx.kb.listOperations(),
    targets: async (_: unknown, __: Args, ctx: ApiContext) => [...(await ctx.loadListedTargets()).values()],
    health: (_: unknown, __: Args, ctx: ApiContext) => ctx.health(),
    search: async (_: unknown, args: Args, ctx: ApiContext) =>
      (await ctx.loadSearch(parseSearchId(args.id)))?.search ?? null,
    searches: (_: unknown, args: Args, ctx: ApiContext) => {
      const { filter, page } = parseSearchesArgs(args);
      return ctx.search().list(filter, page);
    },
  },

  Mutation: {
    importSchedules: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.importJsonl(parseJsonlArg(args.jsonl)),
    deleteSchedule: (_: unknown, args: Args, ctx: ApiContext) => ctx.kb.deleteSchedule(parseScheduleId(args.id)),
    startSearch: (_: unknown, args: Args, ctx: ApiContext) =>
      ctx.search().start(parseTaskArg(args.task, ctx.targetIds), parseSearchConfigArg(args.config)),
    cancelSearch: (_: unknown, args: Args, ctx: ApiContext) => ctx.search().cancel(parseSearchId(args.id)),
  },

  Subscription: {
    searchProgress: {
      subscribe: async (_: unknown, args: Args, ctx: SubscriptionContext): Promise<AsyncIterable<ProgressEvent>> => {
        const id = parseSearchId(args.id);
        if (!(await ctx.loadSearch(id)))
          throw new SkbError('NOT_FOUND', `No search ${id}: see the searches query for the ids there are.`);
        return ctx.search().subscribe(id, ctx.request?.signal);
      },
      resolve: (event: ProgressEvent) => event,
    },
  },

  SearchConnection: {
    nodes: (page: Page<SearchRecord>) => page.items,
    pageInfo: (page: Page<SearchRecord>) => ({ endCursor: page.endCursor, hasNextPage: page.hasNextPage }),
  },

  SearchSeed: {
    schedule: (seed: SearchSeed, _: Args, ctx: ApiContext) => ctx.kb.getSchedule(seed.scheduleId),
  },

  Search: {
    target: (search: SearchRecord, _: Args, ctx: ApiContext) =>
      search.targetKey ? ctx.loadTarget(search.targetKey) : null,
    budget: (search: SearchRecord) => search.config.budget,
    speedup: (search: SearchRecord) => speedupOf(search),
    steps: (search: SearchRecord) => search.bestLineage,
    schedule: (search: SearchRecord, _: Args, ctx: ApiContext) =>
      search.scheduleId ? ctx.kb.getSchedule(search.scheduleId) : null,
    candidates: async (search: SearchRecord, _: Args, ctx: ApiContext) => (await searchTree(search, ctx)).candidates,
    bestLineage: async (search: SearchRecord, _: Args, ctx: ApiContext) => {
      const detail = await searchTree(search, ctx);
      return bestLineage(detail.search, detail.candidates);
    },
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

  // A target reached from a schedule or a search reads like its row of the targets list.
  Target: {
    name: listed((l, t) => l?.displayName ?? t.name),
    configured: listed((l) => (l?.configuredAs ?? null) !== null),
    configuredAs: listed((l) => l?.configuredAs ?? null),
    origin: listed((l) => l?.origin ?? ''),
    scheduleCount: listed((l) => l?.scheduleCount ?? 0),
    schedulesBySource: listed((l) => l?.sources ?? NO_SCHEDULES),
    members: listed((l, t, ctx) => poolMembersOf(ctx.memberStates(), l?.configuredAs ?? null, t.key)),
  },

  Schedule: {
    target: (schedule: Schedule, _: Args, ctx: ApiContext) => ctx.loadTarget(schedule.targetKey),
    reuses: (schedule: Schedule, _: Args, ctx: ApiContext) => ctx.kb.listReuses({ scheduleId: schedule.id }),
    derivedFrom: (schedule: Schedule) => schedule.derivedFrom ?? [],
    evidence: (schedule: Schedule) => schedule.evidence ?? null,
    revalidations: (schedule: Schedule, _: Args, ctx: ApiContext) => ctx.kb.listRevalidations(schedule.id),
    ancestors: (schedule: Schedule, args: { depth: number }, ctx: ApiContext) =>
      walkRelatives(ctx.kb, schedule, 'ancestors', args.depth),
    descendants: (schedule: Schedule, args: { depth: number }, ctx: ApiContext) =>
      walkRelatives(ctx.kb, schedule, 'descendants', args.depth),
  },

  Revalidation: {
    correctness: (r: Revalidation) => r.evidence ?? null,
  },

  Derivation: {
    schedule: (d: Derivation, _: Args, ctx: ApiContext) => ctx.kb.getSchedule(d.scheduleId),
  },
};

/** A Target field read from the request's target listing (the target's row there, if it has one). */
function listed<T>(read: (row: ListedTarget | undefined, t: TargetRecord, ctx: ApiContext) => T) {
  return async (t: TargetRecord, _: Args, ctx: ApiContext): Promise<T> =>
    read((await ctx.loadListedTargets()).get(t.key), t, ctx);
}
