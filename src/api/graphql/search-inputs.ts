import { z } from 'zod';
import {
  ReuseTierSchema,
  SearchConfigSchema,
  SearchStatusSchema,
  SkbError,
  TASK_NEEDS_OPERATION,
  parseOrThrow,
  type PageRequest,
  type SearchConfigInput,
  type SearchStatus,
} from '../../schedules/index.js';
import type { TaskRequest } from '../../search/index.js';
import { parseOperationArg, parsePage } from './inputs.js';

/** Search ids are opaque to the API, but bounded so a hostile id cannot reach the database as a huge string. */
const SearchIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a search id is 1 to 64 letters, digits, _ . - (see the searches query)');

const TaskArgSchema = z.object({
  operation: z.unknown().optional(),
  target: z.string().min(1, 'name a target such as local').max(64),
  baselineCode: z.string().max(1_000_000).nullish(),
  problemSource: z.string().max(1_000_000).nullish(),
});

const TIERS = ReuseTierSchema.options.join(', ');

/**
 * WarmStartInput, checked before the whole config so each mistake gets a sentence that says the
 * allowed range instead of zod's generic one. The ranges are those of WarmStartConfigSchema.
 */
const WarmStartArgSchema = z
  .object({
    enabled: z.boolean({ error: 'warmStart.enabled is true or false' }).optional(),
    seeds: z
      .number({ error: 'warmStart.seeds is a whole number from 0 to 16' })
      .int('warmStart.seeds is a whole number from 0 to 16')
      .min(0, 'warmStart.seeds is a whole number from 0 to 16 (0 retrieves none; use enabled: false to run cold)')
      .max(16, 'warmStart.seeds is at most 16')
      .optional(),
    tiers: z
      .array(
        z.enum(ReuseTierSchema.options, {
          error: (issue) => `unknown tier ${JSON.stringify(issue.input)} in warmStart.tiers: use ${TIERS}`,
        }),
      )
      .min(1, `warmStart.tiers needs at least one of ${TIERS} (omit it for all; use enabled: false to run cold)`)
      .refine((tiers) => new Set(tiers).size === tiers.length, 'warmStart.tiers lists a tier twice')
      .optional(),
    guidedShare: z
      .number({ error: 'warmStart.guidedShare is a number from 0 to 1' })
      .min(0, 'warmStart.guidedShare is a share from 0 (seeds are only replayed) to 1 (every slot follows a seed)')
      .max(1, 'warmStart.guidedShare is a share from 0 (seeds are only replayed) to 1 (every slot follows a seed)')
      .optional(),
  })
  .strict();

/** Issues of the warm-start settings as sentences (the messages above say the field themselves). */
function parseWarmStartArg(value: unknown): void {
  const result = WarmStartArgSchema.safeParse(value);
  if (result.success) return;
  const sentences = result.error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? `warmStart: ${issue.message}; the fields are enabled, seeds, tiers, guidedShare`
      : issue.message,
  );
  throw new SkbError('BAD_INPUT', `Invalid warm start settings: ${[...new Set(sentences)].join('; ')}.`);
}

/** Drops null fields (GraphQL sends null for omitted nullable fields) so zod defaults apply. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/** A search id argument. */
export function parseSearchId(value: unknown): string {
  return parseOrThrow(SearchIdSchema, value, 'Invalid search id');
}

/**
 * GraphQL TaskInput -> a validated task on one of the configured targets. The target is checked
 * here, not when the search starts, so a typo fails the mutation instead of a search record.
 */
export function parseTaskArg(value: unknown, targetIds: readonly string[]): TaskRequest {
  const t = parseOrThrow(TaskArgSchema, value, 'Invalid task');
  if (!targetIds.includes(t.target)) {
    throw new SkbError(
      'BAD_INPUT',
      `Unknown target "${t.target}": searches run on the targets of the targets file (SKB_TARGETS_FILE): ${targetIds.join(', ') || 'none are configured'}`,
    );
  }
  if (t.operation == null && t.problemSource == null) throw new SkbError('BAD_INPUT', TASK_NEEDS_OPERATION);
  return {
    ...(t.operation != null ? { operation: parseOperationArg(t.operation) } : {}),
    target: t.target,
    ...(t.baselineCode != null ? { baselineCode: t.baselineCode } : {}),
    ...(t.problemSource != null ? { problemSource: t.problemSource } : {}),
  };
}

/**
 * GraphQL SearchConfigInput -> search settings input, validated against SearchConfigSchema
 * (planner names, ranges) so bad settings fail before anything starts. Defaults stay unfilled:
 * the search service fills them, and the composition root adds the configured models.
 */
export function parseSearchConfigArg(value: unknown): SearchConfigInput {
  if (value == null) return {};
  const input = withoutNulls(value) as SearchConfigInput;
  if (input.warmStart !== undefined) parseWarmStartArg(input.warmStart);
  parseOrThrow(SearchConfigSchema, input, 'Invalid search config');
  return input;
}

/** Arguments of the `searches` query. */
export function parseSearchesArgs(args: { status?: unknown; first?: unknown; after?: unknown }): {
  filter: { status?: SearchStatus };
  page: PageRequest;
} {
  const status = parseOrThrow(SearchStatusSchema.nullish(), args.status, 'Invalid status');
  return { filter: status ? { status } : {}, page: parsePage(args) };
}
