/** The `targets` table: where schedules were measured, keyed by their fingerprint. */
import type { Row } from '@libsql/client';
import { canonicalJson } from '../canonical.js';
import { SkbError, parseOrThrow } from '../errors.js';
import { TargetRecordSchema, targetFamily, targetKey, type TargetRecord } from '../target-record.js';
import { runWrite, type SqlExecutor } from './connection.js';
import { jsonColumns } from './sql-text.js';
import { parseJsonColumn, parseStored } from './stored-rows.js';

/** The targets, over one executor. */
export interface TargetsRepository {
  /** Inserts new targets and updates the description of known ones, in one statement. */
  upsert(targets: TargetRecord[]): Promise<void>;
  get(key: string): Promise<TargetRecord | null>;
  /** Every target, by key. */
  list(): Promise<TargetRecord[]>;
  /** The hardware family of each of these keys that is stored. */
  familiesOf(keys: string[]): Promise<Map<string, string>>;
}

/** Checks a target from outside: schema, and key and family that really derive from its fingerprint. */
export function validateTargetRecord(input: unknown): TargetRecord {
  const t = parseOrThrow(TargetRecordSchema, input, 'Invalid target');
  const key = targetKey(t.fingerprint);
  const family = targetFamily(t.fingerprint);
  if (t.key !== key || t.family !== family) {
    throw new SkbError(
      'BAD_INPUT',
      `Target "${t.name}" has key ${t.key} and family ${t.family}, but its fingerprint gives ${key} and ${family}: build target records with makeTargetRecord`,
    );
  }
  return t;
}

function rowToTarget(row: Row): TargetRecord {
  const what = `target row ${String(row.key)}`;
  return parseStored(
    TargetRecordSchema,
    {
      key: row.key,
      family: row.family,
      name: row.name,
      description: row.description,
      fingerprint: parseJsonColumn(row.fingerprint, what),
    },
    what,
  );
}

export function createTargetsRepository(db: SqlExecutor): TargetsRepository {
  return {
    async upsert(targets) {
      if (targets.length === 0) return;
      const rows = targets.map((input) => {
        const t = validateTargetRecord(input);
        return [t.key, t.family, t.name, t.description, canonicalJson(t.fingerprint)];
      });
      // The name stays the one the target was first seen under; the description may be improved.
      // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
      await runWrite(db, {
        sql: `INSERT INTO targets (key, family, name, description, fingerprint)
              SELECT ${jsonColumns(5)} FROM json_each(?) WHERE true ORDER BY key
              ON CONFLICT (key) DO UPDATE SET description = excluded.description`,
        args: [JSON.stringify(rows)],
      });
    },

    async get(key) {
      const r = await db.execute({ sql: 'SELECT * FROM targets WHERE key = ?', args: [key] });
      return r.rows[0] ? rowToTarget(r.rows[0]) : null;
    },

    async list() {
      return (await db.execute('SELECT * FROM targets ORDER BY key')).rows.map(rowToTarget);
    },

    async familiesOf(keys) {
      const r = await db.execute({
        sql: 'SELECT key, family FROM targets WHERE key IN (SELECT value FROM json_each(?))',
        args: [JSON.stringify(keys)],
      });
      return new Map(r.rows.map((row) => [String(row.key), String(row.family)]));
    },
  };
}
