/**
 * Reading rows back: the database is an edge like any file, so every JSON column is parsed and
 * validated, and a row that fails says which one it is and what to do about it.
 */
import type { z } from 'zod';
import { SkbError, describeIssues } from '../errors.js';

/** The error of a row that cannot be what its table says it is. */
export function corrupt(what: string, detail: string): SkbError {
  return new SkbError(
    'INTERNAL',
    `The database holds a corrupt ${what} (${detail}): restore the database from an export, or delete the row`,
    { what },
  );
}

/** A JSON column, parsed. */
export function parseJsonColumn(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw corrupt(what, 'the JSON column is not text');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw corrupt(what, `the JSON column does not parse: ${(error as Error).message}`);
  }
}

/** A value read from a row, validated against its schema. */
export function parseStored<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw corrupt(what, describeIssues(parsed.error.issues));
  return parsed.data;
}
