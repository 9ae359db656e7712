/**
 * The `kb_meta` table: the revision of the schedule data, and markers the database keeps about
 * itself. Markers share the table with the revision under a prefix, so no marker can overwrite it.
 */
import { SkbError } from '../errors.js';
import type { SqlExecutor } from './connection.js';

/** The revision and the markers, over one executor. */
export interface MarkersRepository {
  revision(): Promise<number>;
  /** Increases the revision: every write that changes schedules or embeddings calls it once. */
  bumpRevision(): Promise<void>;
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
