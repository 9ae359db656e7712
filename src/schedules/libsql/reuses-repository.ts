/** The `reuses` table: schedules used to seed a search, and what came of it. */
import type { Row } from '@libsql/client';
import { SkbError, parseOrThrow } from '../errors.js';
import { ReuseSchema, type Reuse } from '../schedule.js';
import type { SearchSeed } from '../search.js';
import type { ReuseStats } from '../store.js';
import type { SqlExecutor } from './connection.js';
import type { MarkersRepository } from './markers-repository.js';
import { whereClause } from './sql-text.js';
import { parseStored } from './stored-rows.js';

/** The reuse records, over one executor. */
export interface ReusesRepository {
  /** Stores a new record; CONFLICT when its id is taken. The caller checks the schedule exists. */
  insert(reuse: Reuse): Promise<void>;
  /** Sets the outcome (and gain, when given) of a record; NOT_FOUND for an unknown id. */
  update(id: string, patch: Pick<Reuse, 'outcome'> & { gain?: number }): Promise<Reuse>;
  /**
   * Writes the outcomes judged for a search's seeds to their records. Pending seeds are left as
   * they are; a record that is gone (its schedule was deleted since) is skipped.
   */
  judgeSeeds(searchId: string, seeds: SearchSeed[]): Promise<void>;
  list(filter: { scheduleId?: string; searchId?: string }): Promise<Reuse[]>;
  stats(scheduleIds: string[]): Promise<ReuseStats[]>;
  deleteOfSchedule(scheduleId: string): Promise<void>;
}

function rowToReuse(row: Row): Reuse {
  return parseStored(
    ReuseSchema,
    {
      id: row.id,
      scheduleId: row.schedule_id,
      searchId: row.search_id,
      tier: row.tier,
      distance: row.distance,
      outcome: row.outcome,
      gain: row.gain ?? undefined,
      createdAt: row.created_at,
    },
    `reuse row ${String(row.id)}`,
  );
}

export function createReusesRepository(db: SqlExecutor, deps: { markers: MarkersRepository }): ReusesRepository {
  const { markers } = deps;
  return {
    async insert(reuse) {
      const dup = await db.execute({ sql: 'SELECT 1 FROM reuses WHERE id = ?', args: [reuse.id] });
      if (dup.rows.length)
        throw new SkbError('CONFLICT', `A reuse with id ${reuse.id} already exists: leave id out to get a fresh one`);
      await db.execute({
        sql: `INSERT INTO reuses (id, schedule_id, search_id, tier, distance, outcome, gain, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        args: [
          reuse.id,
          reuse.scheduleId,
          reuse.searchId,
          reuse.tier,
          reuse.distance,
          reuse.outcome,
          reuse.gain ?? null,
          reuse.createdAt,
        ],
      });
      await markers.bumpReuseRevision();
    },

    async update(id, patch) {
      const r = await db.execute({ sql: 'SELECT * FROM reuses WHERE id = ?', args: [id] });
      if (!r.rows[0]) throw new SkbError('NOT_FOUND', `No reuse with id ${id}`);
      const current = rowToReuse(r.rows[0]);
      const next = parseOrThrow(
        ReuseSchema,
        { ...current, outcome: patch.outcome, gain: patch.gain ?? current.gain },
        'Invalid reuse update',
      );
      await db.execute({
        sql: 'UPDATE reuses SET outcome = ?, gain = ? WHERE id = ?',
        args: [next.outcome, next.gain ?? null, id],
      });
      await markers.bumpReuseRevision();
      return next;
    },

    async judgeSeeds(searchId, seeds) {
      // One small statement per seed (a search has at most 16), so each gain stays a bound, exact double.
      for (const seed of seeds.filter((s) => s.outcome !== 'pending')) {
        await db.execute({
          sql: 'UPDATE reuses SET outcome = ?, gain = COALESCE(?, gain) WHERE id = ? AND search_id = ?',
          args: [seed.outcome, seed.gain ?? null, seed.reuseId, searchId],
        });
      }
      if (seeds.some((s) => s.outcome !== 'pending')) await markers.bumpReuseRevision();
    },

    async list(filter) {
      const where: string[] = [];
      const args: string[] = [];
      if (filter.scheduleId !== undefined) {
        where.push('schedule_id = ?');
        args.push(filter.scheduleId);
      }
      if (filter.searchId !== undefined) {
        where.push('search_id = ?');
        args.push(filter.searchId);
      }
      return (
        await db.execute({ sql: `SELECT * FROM reuses ${whereClause(where)} ORDER BY created_at, id`, args })
      ).rows.map(rowToReuse);
    },

    async stats(scheduleIds) {
      if (scheduleIds.length === 0) return [];
      const r = await db.execute({
        sql: `SELECT schedule_id, outcome, COUNT(*) AS n FROM reuses WHERE schedule_id IN (SELECT value FROM json_each(?)) GROUP BY schedule_id, outcome`,
        args: [JSON.stringify(scheduleIds)],
      });
      const stats = new Map<string, ReuseStats>();
      for (const row of r.rows) {
        const id = String(row.schedule_id);
        const entry = stats.get(id) ?? {
          scheduleId: id,
          improved: 0,
          replayed: 0,
          failed: 0,
          notImproved: 0,
          pending: 0,
        };
        const n = Number(row.n);
        const outcome = String(row.outcome);
        if (outcome === 'improved') entry.improved += n;
        else if (outcome === 'replayed') entry.replayed += n;
        else if (outcome === 'failed') entry.failed += n;
        else if (outcome === 'not_improved') entry.notImproved += n;
        else entry.pending += n;
        stats.set(id, entry);
      }
      return [...stats.values()];
    },

    async deleteOfSchedule(scheduleId) {
      await db.execute({ sql: 'DELETE FROM reuses WHERE schedule_id = ?', args: [scheduleId] });
      await markers.bumpReuseRevision();
    },
  };
}
