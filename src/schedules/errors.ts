/**
 * The one error type of schedule-kb. `code` is stable (clients and scripts match on it);
 * `message` is a sentence that says what to change. `status` is the HTTP status the API maps it to.
 */
export type ErrorCode =
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'CANCELLED'
  | 'UNAUTHORIZED'
  | 'EMBEDDING_SPACE_MISMATCH'
  | 'INDEX_CORRUPT'
  | 'IMPORT_FAILED'
  | 'CONFIG'
  | 'TARGET'
  | 'TOO_LARGE'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  // 499, as nginx names a request the client gave up on: the work stopped because someone asked it to.
  CANCELLED: 499,
  UNAUTHORIZED: 401,
  EMBEDDING_SPACE_MISMATCH: 400,
  INDEX_CORRUPT: 500,
  IMPORT_FAILED: 400,
  CONFIG: 500,
  TARGET: 502,
  TOO_LARGE: 413,
  DEADLINE_EXCEEDED: 504,
  INTERNAL: 500,
};

export class SkbError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  /**
   * @param options.cause the error this one explains (kept as `error.cause`, so a log shows the
   *   whole chain while the message stays a sentence for the user).
   */
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SkbError';
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }
}

export function isSkbError(error: unknown): error is SkbError {
  return error instanceof SkbError;
}

/** Turns a zod error into one readable line per problem: `path: message`. */
export function describeIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues
    .map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/** What `parseOrThrow` needs of a zod schema: a `safeParse` that says what failed. */
interface SafeParser<T> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/**
 * Validates `value` against `schema` at an edge (GraphQL input, a file, the environment, a stored
 * row, a model reply) and returns the parsed value, or throws an SkbError of `code` whose message
 * starts with `what` and names every problem (`Invalid operation: dims.M: ...`).
 */
export function parseOrThrow<T>(schema: SafeParser<T>, value: unknown, what: string, code: ErrorCode = 'BAD_INPUT'): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SkbError(code, `${what}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** The message of anything thrown, for a sentence that wraps it (pass the error itself as `cause`). */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
