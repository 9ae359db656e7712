/** SQL text the repositories build in code: literals for values, and the fragments they repeat. */
import { SkbError } from '../errors.js';

/** A value a statement of this folder binds or writes as a literal. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/**
 * The SQL literal of a value. SQLite strings escape nothing but the quote; a string holding NUL
 * goes as hex, since sqlite3_exec reads the statement as a C string. A fractional number is
 * refused: written out it passes SQLite's decimal parser, which can miss the double by one unit in
 * the last place, so it must stay a bound argument.
 */
export function sqlLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new SkbError('INTERNAL', `Cannot write ${value} as a SQL literal exactly: bind it`);
    return String(value);
  }
  if (typeof value === 'string') {
    return value.includes('\u0000')
      ? `CAST(${sqlLiteral(Buffer.from(value, 'utf8'))} AS TEXT)`
      : `'${value.replaceAll("'", "''")}'`;
  }
  return `X'${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}'`;
}

/**
 * The statement with each `?` placeholder replaced by the literal of its argument, in order.
 * Quoted text and identifiers are skipped, so a `?` inside them is left alone.
 */
export function inlineArguments(sql: string, args: readonly SqlValue[]): string {
  let out = '';
  let next = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      if (next >= args.length)
        throw new SkbError('INTERNAL', `The statement has more placeholders than its ${args.length} arguments`);
      out += sqlLiteral(args[next++]!);
    } else {
      out += ch;
    }
  }
  if (next !== args.length)
    throw new SkbError('INTERNAL', `The statement has ${next} placeholders for ${args.length} arguments`);
  return out;
}

/** `json_extract(value, '$[0]'), …` for the first `n` elements of each row of a `json_each` over an array of arrays. */
export function jsonColumns(n: number): string {
  return Array.from({ length: n }, (_, i) => `json_extract(value, '$[${i}]')`).join(', ');
}

/** `WHERE a AND b`, or nothing for no conditions. */
export function whereClause(conditions: readonly string[]): string {
  return conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
}
