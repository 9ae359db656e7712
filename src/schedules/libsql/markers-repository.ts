/**
 * The `kb_meta` table: the revisions of the schedule data and of the reuse records, and markers
 * the database keeps about itself. Markers share the table with the revision under a prefix, so no marker can overwrite it.
 */
import { SkbError } from '../errors.js';
import type { SqlExecutor } from './connection.js';

/** The revisions and the markers, over one executor. */
export interface MarkersRepository {
  revision(): Promise<number>;
  /** Increases the revision: every write that changes schedules or embeddings calls it once. */
  bumpRevision(): Promise<void>;
  /** Both revisions in one read: the schedules' (above) and the reuse records'. */
  revisions(): Promise<{ schedules: number; reuses: number }>;
  /** Increases the reuse revision: every write that changes reuse records calls it. */
  bumpReuseRevision(): Promise<void>;
  get(name: string): Promise<number | null>;
  set(name: string, value: number): Promise<void>;
}

/** The key of a marker; BAD_INPUT for a name that is not one. */
function markerKey(name: string): string {
  if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(name))
    throw new SkbError(
      'BAD_INPUT',
      `A marker name is 1 to 64 lower-case letters, digits, _ . -, starting with a letter; got "${name.slice(0, 80)}"`,
    );
  return `marker:${name}`;
}

export function createMarkersRepository(db: SqlExecutor): MarkersRepository {
  return {
    async revision() {
      const r = await db.execute(`SELECT value FROM kb_meta WHERE key = 'revision'`);
      return Number(r.rows[0]?.value ?? 0);
    },

    async bumpRevision() {
      await db.execute(`UPDATE kb_meta SET value = value + 1 WHERE key = 'revision'`);
    },

    async revisions() {
      const r = await db.execute(`SELECT key, value FROM kb_meta WHERE key IN ('revision', 'reuse_revision')`);
      const of = (key: string): number => Number(r.rows.find((row) => row.key === key)?.value ?? 0);
      return { schedules: of('revision'), reuses: of('reuse_revision') };
    },

    async bumpReuseRevision() {
      // The row appears with the first reuse write, so databases from before it need no migration.
      await db.execute(
        `INSERT INTO kb_meta (key, value) VALUES ('reuse_revision', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1`,
      );
    },

    async get(name) {
      const r = await db.execute({ sql: 'SELECT value FROM kb_meta WHERE key = ?', args: [markerKey(name)] });
      return r.rows[0] ? Number(r.rows[0].value) : null;
    },

    async set(name, value) {
      if (!Number.isSafeInteger(value))
        throw new SkbError('BAD_INPUT', `A marker value is an integer, got ${value} for ${name}`);
      await db.execute({
        sql: 'INSERT INTO kb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        args: [markerKey(name), value],
      });
    },
  };
}
