import { z } from 'zod';
import {
  ReuseTierSchema,
  SkbError,
  parseOrThrow,
  parseOperation,
  type Operation,
  type ReuseTier,
  type ScheduleFilter,
} from '../../schedules/index.js';
import type { ExportFormat, ExportRequest, SimilarQuery } from '../../search/index.js';

/** The most items one request may ask for (`first`, `k`): bounds the work a single query can cause. */
export const MAX_PAGE_SIZE = 100;

/** A target key (t-0123456789abcdef) or the name of a target configured on this service ("local"). */
const TargetRefSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9_.-]{1,64}$/,
    'a target is a key such as t-0123456789abcdef (see the targets query) or a configured name such as local',
  );

/** Turns a target name into its key; keys pass through. */
export type TargetResolver = (ref: string) => string;

const CountSchema = (name: string) =>
  z
    .number()
    .int()
    .min(1, `${name} must be at least 1`)
    .max(MAX_PAGE_SIZE, `${name} must be at most ${MAX_PAGE_SIZE}: page through larger results`);

const DimRangeSchema = z
  .object({ name: z.string().min(1).max(32), min: z.number().int().nullish(), max: z.number().int().nullish() })
  .refine((r) => r.min != null || r.max != null, 'a dimension range needs min, max or both')
  .refine((r) => r.min == null || r.max == null || r.min <= r.max, 'a dimension range needs min <= max');

const FilterSchema = z
  .object({
    kind: z.string().max(80).nullish(),
    structureKey: z.string().max(1000).nullish(),
    shapeKey: z.string().max(2000).nullish(),
    target: TargetRefSchema.nullish(),
    targetFamily: z.string().max(64).nullish(),
    dims: z.array(DimRangeSchema).max(16).nullish(),
    minSpeedup: z.number().finite().nonnegative().nullish(),
  })
  .nullish();

const DimInputSchema = z.object({ name: z.string(), size: z.number().int() });

const OperationArgSchema = z.object({
  kind: z.string(),
  dims: z.array(DimInputSchema),
  dtype: z.string().nullish(),
  layout: z.string().nullish(),
  epilogue: z.array(z.string()).nullish(),
  attrs: z.record(z.string(), z.unknown()).nullish(),
});

const TiersSchema = z.array(ReuseTierSchema).min(1, 'tiers, when given, must name at least one tier').nullish();

/** GraphQL ScheduleFilter -> store filter; null fields are left out. */
export function parseFilter(value: unknown, resolveTarget: TargetResolver): ScheduleFilter {
  const f = parseOrThrow(FilterSchema, value, 'Invalid filter');
  if (!f) return {};
  const out: ScheduleFilter = {};
  if (f.kind != null) out.kind = f.kind;
  if (f.structureKey != null) out.structureKey = f.structureKey;
  if (f.shapeKey != null) out.shapeKey = f.shapeKey;
  if (f.target != null) out.targetKey = resolveTarget(f.target);
  if (f.targetFamily != null) out.targetFamily = f.targetFamily;
  if (f.minSpeedup != null) out.minSpeedup = f.minSpeedup;
  if (f.dims?.length) {
    const dims: NonNullable<ScheduleFilter['dims']> = {};
    for (const range of f.dims) {
      if (dims[range.name])
        throw new SkbError(
          'BAD_INPUT',
          `Invalid filter: dimension ${range.name} is given twice; give one range per dimension`,
        );
      dims[range.name] = {
        ...(range.min != null ? { min: range.min } : {}),
        ...(range.max != null ? { max: range.max } : {}),
      };
    }
    out.dims = dims;
  }
  return out;
}

/** GraphQL OperationInput (dims as a list) -> a validated domain operation. */
export function parseOperationArg(value: unknown): Operation {
  const o = parseOrThrow(OperationArgSchema, value, 'Invalid operation');
  const dims: Record<string, number> = {};
  for (const d of o.dims) {
    if (d.name in dims) throw new SkbError('BAD_INPUT', `Invalid operation: dimension ${d.name} is given twice`);
    dims[d.name] = d.size;
  }
  return parseOperation({
    kind: o.kind,
    dims,
    ...(o.dtype != null ? { dtype: o.dtype } : {}),
    ...(o.layout != null ? { layout: o.layout } : {}),
    ...(o.epilogue != null ? { epilogue: o.epilogue } : {}),
    ...(o.attrs != null ? { attrs: o.attrs } : {}),
  });
}

// Built once: zod compiles an object schema on its first parse, which per request costs more than the parse.
const PageArgsSchema = z.object({
  first: CountSchema('first'),
  after: z
    .string()
    .max(1000)
    .nullish()
    .transform((a) => a ?? null),
});
const SimilarArgsSchema = z.object({ target: TargetRefSchema, k: CountSchema('k'), tiers: TiersSchema });

/** Page arguments of the `schedules` query. */
export function parsePage(args: { first?: unknown; after?: unknown }): { first: number; after: string | null } {
  return parseOrThrow(PageArgsSchema, args, 'Invalid page arguments');
}

/** Arguments of `similarSchedules`. */
export function parseSimilarArgs(
  args: { operation?: unknown; target?: unknown; k?: unknown; tiers?: unknown },
  resolveTarget: TargetResolver,
): SimilarQuery {
  const { target, k, tiers } = parseOrThrow(SimilarArgsSchema, args, 'Invalid similarSchedules arguments');
  return {
    operation: parseOperationArg(args.operation),
    targetKey: resolveTarget(target),
    k,
    ...(tiers ? { tiers: tiers as ReuseTier[] } : {}),
  };
}

/** Arguments of `exportSchedules`. */
export function parseExportArgs(
  args: { filter?: unknown; similarTo?: unknown; pruned?: unknown },
  resolveTarget: TargetResolver,
): ExportRequest {
  const pruned = parseOrThrow(z.boolean().nullish(), args.pruned, 'Invalid pruned') ?? false;
  const request: ExportRequest = { filter: parseFilter(args.filter, resolveTarget), pruned };
  if (args.similarTo != null) {
    const s = parseOrThrow(
      z.object({ operation: z.unknown(), target: z.unknown(), k: z.unknown() }),
      args.similarTo,
      'Invalid similarTo',
    );
    request.similarTo = parseSimilarArgs({ operation: s.operation, target: s.target, k: s.k ?? 10 }, resolveTarget);
  }
  return request;
}

const EXPORT_FORMAT_ARGS: Record<string, ExportFormat> = { JSONL: 'jsonl', TRITON_CONFIGS: 'triton-configs' };

/** The `format` argument of `exportSchedules` (GraphQL has checked it is an ExportFormat value). */
export function parseExportFormat(value: unknown): ExportFormat {
  const format = parseOrThrow(
    z.enum(Object.keys(EXPORT_FORMAT_ARGS) as [string, ...string[]]).nullish(),
    value,
    'Invalid format',
  );
  return EXPORT_FORMAT_ARGS[format ?? 'JSONL']!;
}

/** A schedule id argument. */
export function parseScheduleId(value: unknown): string {
  return parseOrThrow(
    z.string().regex(/^sch_[0-9a-f]{24}$/, 'a schedule id looks like sch_ followed by 24 hex digits'),
    value,
    'Invalid schedule id',
  );
}

/** The JSONL text of an import. */
export function parseJsonlArg(value: unknown): string {
  return parseOrThrow(
    z.string().min(1, 'the JSONL text is empty: pass the output of exportSchedules'),
    value,
    'Invalid jsonl',
  );
}
