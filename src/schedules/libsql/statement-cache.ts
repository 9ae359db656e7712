/**
 * Reads of a file database that cost no memory for good. The `libsql` binding (0.5.x) leaks native
 * memory on two paths (libsql-js issue #153): every statement it prepares is never finalized
 * (about 3.5 KiB each; `@libsql/client` prepares one per `execute`), and every multi-row read
 * (`all`, `iterate`) leaves its row cursor behind (about 0.9 KiB each, even on a reused
 * statement); a server answering `similarSchedules` grew by about 30 KiB a query. Only `get` on a
 * reused statement frees what it used. So each distinct SQL text is prepared once per connection
 * (the repositories keep the texts few: lists go as one JSON argument through `json_each(?)`), and
 * a read that returns rows is wrapped so that SQLite returns them all as one JSON value, read with
 * `get`. Each value travels with its type, reals as 17 significant digits and blobs as hex, so
 * rows arrive exactly as a plain read would give them.
 */
import Database from 'libsql';
import type { ResultSet, Row } from '@libsql/client';
import { SkbError, messageOf } from '../errors.js';
import type { SqlExecutor } from './connection.js';
import type { SqlValue } from './sql-text.js';

/** More distinct texts than this means a repository builds SQL per call; the oldest are dropped (and leak). */
const MAX_STATEMENTS = 512;

type Prepared =
  /** A statement that returns rows, wrapped to return them as one JSON text of [type, value, ...] arrays. */
  | { kind: 'json'; statement: Database.Statement<unknown[]>; columns: string[] }
  /** A statement that returns no rows. */
  | { kind: 'run'; statement: Database.Statement<unknown[]> }
  /** One SQLite cannot wrap (a PRAGMA, say): read as is, at the binding's cost per call. */
  | { kind: 'rows'; statement: Database.Statement<unknown[]>; columns: string[] };

const quoteName = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** A column of the wrapped statement as its type and a value JSON carries exactly. */
function encodedColumn(name: string): string {
  const c = `q.${quoteName(name)}`;
  return `typeof(${c}), CASE typeof(${c}) WHEN 'real' THEN printf('%!.17g', ${c}) WHEN 'blob' THEN hex(${c}) ELSE ${c} END`;
}

function wrappedSql(sql: string, columns: string[]): string {
  return `SELECT json_group_array(json_array(${columns.map(encodedColumn).join(', ')})) FROM (${sql}) AS q`;
}

function decodedValue(type: unknown, value: unknown): unknown {
  if (type === 'real') return value === 'Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
  // As @libsql/client returns blobs: an ArrayBuffer of their own.
  if (type === 'blob') return new Uint8Array(Buffer.from(String(value), 'hex')).buffer;
  return value;
}

function decodedRows(json: string, width: number): unknown[][] {
  return (JSON.parse(json) as unknown[][]).map((encoded) =>
    Array.from({ length: width }, (_, i) => decodedValue(encoded[2 * i], encoded[2 * i + 1])),
  );
}

/** A bound value as the binding takes it: blobs as Buffers. */
function bindable(value: SqlValue): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value)
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    : value;
}

function resultOf(columns: string[], rows: unknown[][]): ResultSet {
  const named = rows.map((values) => {
    const row: Record<string, unknown> = {};
    for (const [i, column] of columns.entries()) if (!Object.hasOwn(row, column)) row[column] = values[i];
    return row as Row;
  });
  return {
    columns,
    columnTypes: columns.map(() => ''),
    rows: named,
    rowsAffected: 0,
    lastInsertRowid: undefined,
    toJSON: () => ({ columns, rows }),
  };
}

export interface CachedReader extends SqlExecutor {
  close(): void;
}

/** Opens a read-only connection to the database file whose statements are prepared once and reused. */
export function openCachedReader(path: string, busyTimeoutMs: number): CachedReader {
  const db = new Database(path, { timeout: busyTimeoutMs });
  // The binding ignores its `readonly` option; SQLite's own switch refuses writes on this connection.
  db.exec('PRAGMA query_only = ON');
  const cache = new Map<string, Prepared>();

  function prepare(sql: string): Prepared {
    const plain = db.prepare(sql);
    let columns: string[];
    try {
      // Raw rows (arrays) are the binding's path that survives reuse; raw() throws for a statement without rows.
      plain.raw(true);
      columns = plain.columns().map((c) => c.name);
    } catch {
      return { kind: 'run', statement: plain };
    }
    if (new Set(columns).size !== columns.length)
      throw new SkbError('INTERNAL', `A read names a column twice (${columns.join(', ')}): alias its columns apart`);
    let wrapped: Database.Statement<unknown[]>;
    try {
      wrapped = db.prepare(wrappedSql(sql, columns));
      wrapped.raw(true);
    } catch {
      return { kind: 'rows', statement: plain, columns };
    }
    return { kind: 'json', statement: wrapped, columns };
  }

  function prepared(sql: string): Prepared {
    const hit = cache.get(sql);
    if (hit) {
      // Re-inserting keeps the map in least-recently-used order.
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    const entry = prepare(sql);
    cache.set(sql, entry);
    if (cache.size > MAX_STATEMENTS) cache.delete(cache.keys().next().value as string);
    return entry;
  }

  return {
    async execute(stmt) {
      const { sql, args } =
        typeof stmt === 'string' ? { sql: stmt, args: [] } : { sql: stmt.sql, args: stmt.args ?? [] };
      if (!Array.isArray(args)) throw new SkbError('INTERNAL', 'Reads bind positional arguments only');
      try {
        const entry = prepared(sql);
        const values = (args as SqlValue[]).map(bindable);
        switch (entry.kind) {
          case 'json': {
            const [json] = entry.statement.get(values) as [string];
            return resultOf(entry.columns, decodedRows(json, entry.columns.length));
          }
          case 'rows':
            return resultOf(entry.columns, entry.statement.all(values) as unknown[][]);
          case 'run':
            entry.statement.run(values);
            return resultOf([], []);
        }
      } catch (error) {
        if (error instanceof SkbError) throw error;
        throw new SkbError('INTERNAL', `Reading the knowledge base failed: ${messageOf(error)}`, undefined, {
          cause: error,
        });
      }
    },
    async executeMultiple(sql) {
      db.exec(sql);
    },
    close() {
      cache.clear();
      db.close();
    },
  };
}
