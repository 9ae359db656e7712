/** The `baselines` table (migration 4): each task's baseline, measured once per target and timing. */
import { MeasuredBaselineSchema, type MeasuredBaseline } from '../measured-baseline.js';
import { parseOrThrow } from '../errors.js';
import { runWrite, type SqlExecutor } from './connection.js';
import { parseJsonColumn, parseStored } from './stored-rows.js';

export interface BaselinesRepository {
  /** The baseline stored under `key`; null when none is, or the row does not read back (it is then measured again). */
  get(key: string): Promise<MeasuredBaseline | null>;
  /** Stores a measurement under `key`, replacing an earlier one (a row that did not read back, or a racing search's). */
  put(key: string, targetKey: string, baseline: MeasuredBaseline): Promise<void>;
}

export function createBaselinesRepository(db: SqlExecutor): BaselinesRepository {
  return {
    async get(key) {
      const r = await db.execute({ sql: 'SELECT key, record FROM baselines WHERE key = ?', args: [key] });
      const row = r.rows[0];
      if (!row) return null;
      const what = `baseline row ${key}`;
      // A measured baseline is a cache of sample 0, not the truth: one that does not read back is
      // measured again rather than failing the search.
      try {
        return parseStored(MeasuredBaselineSchema, parseJsonColumn(row.record, what), what);
      } catch {
        return null;
      }
    },

    async put(key, targetKey, input) {
      const baseline = parseOrThrow(MeasuredBaselineSchema, input, `Invalid measured baseline ${key}`);
      await runWrite(db, {
        sql: 'INSERT INTO baselines (key, target_key, measured_at, record) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET target_key = excluded.target_key, measured_at = excluded.measured_at, record = excluded.record',
        args: [key, targetKey, baseline.measuredAt, JSON.stringify(baseline)],
      });
    },
  };
}
