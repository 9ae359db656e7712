/**
 * The one error type of schedule-kb. `code` is stable (clients and scripts match on it);
 * `message` is a sentence that says what to change. `status` is the HTTP status the API maps it to.
 */
export type ErrorCode =
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  | 'EMBEDDING_SPACE_MISMATCH'
  | 'INDEX_CORRUPT'
  | 'IMPORT_FAILED'
  | 'CONFIG'
  | 'TARGET'
  | 'TOO_LARGE'
  | 'INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  EMBEDDING_SPACE_MISMATCH: 400,
  INDEX_CORRUPT: 500,
  IMPORT_FAILED: 400,
  CONFIG: 500,
  TARGET: 502,
  TOO_LARGE: 413,
  INTERNAL: 500,
};

export class SkbError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
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
