/** The `revalidations` table (migration 8): re-measurements of stored schedules, newest last. */
import type { Row } from '@libsql/client';
import { RevalidationSchema, type Revalidation } from '../revalidation.js';
import { canonicalJson } from '../canonical.js';
import { runWrite, type SqlExecutor } from './connection.js';
import { parseJsonColumn, parseStored } from './stored-rows.js';

export interface RevalidationsRepository {
  add(record: Revalidation): Promise<void>;
  /** Every revalidation of a schedule, oldest first. */
  ofSchedule(scheduleId: string): Promise<Revalidation[]>;
  /** The newest revalidation of each of these schedules that has one. */
  latest(scheduleIds: string[]): Promise<Map<string, Revalidation>>;
  deleteOfSchedule(scheduleId: string): Promise<void>;
}

function parse(row: Row): Revalidation {
  const what = `revalidation row ${String(row.id)}`;
  return parseStored(RevalidationSchema, parseJsonColumn(row.record, what), what);
}

export function createRevalidationsRepository(db: SqlExecutor): RevalidationsRepository {
  return {
    async add(record) {
      await runWrite(db, {
        sql: 'INSERT INTO revalidations (id, schedule_id, target_key, measured_at, record) VALUES (?, ?, ?, ?, ?)',
        args: [record.id, record.scheduleId, record.targetKey, record.measuredAt, canonicalJson(record)],
      });
    },

    async ofSchedule(scheduleId) {
      const r = await db.execute({
        sql: 'SELECT id, record FROM revalidations WHERE schedule_id = ? ORDER BY measured_at, id',
        args: [scheduleId],
      });
      return r.rows.map(parse);
    },

    async latest(scheduleIds) {
      if (scheduleIds.length === 0) return new Map();
      const r = await db.execute({
        sql: `SELECT v.id, v.record FROM revalidations v
              WHERE v.schedule_id IN (SELECT value FROM json_each(?))
                AND v.id = (SELECT w.id FROM revalidations w WHERE w.schedule_id = v.schedule_id
                            ORDER BY w.measured_at DESC, w.id DESC LIMIT 1)`,
        args: [JSON.stringify(scheduleIds)],
      });
      return new Map(r.rows.map(parse).map((v) => [v.scheduleId, v]));
    },

    async deleteOfSchedule(scheduleId) {
      await db.execute({ sql: 'DELETE FROM revalidations WHERE schedule_id = ?', args: [scheduleId] });
    },
  };
}
