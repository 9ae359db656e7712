/**
 * Lease tables: who holds a thing, until when. `search_leases` (migration 9): which service
 * replica runs which search; a replica runs a search only while it holds the lease, and once a
 * dead replica's lease has lapsed another claims the search and resumes it. `member_leases`
 * (migration 10): which search times on which pool member, so replicas sharing a database never
 * time two searches on one machine at once.
 */
import { rowsChanged, runWrite, type SqlExecutor } from './connection.js';

/** A lease table and the column its key lives in (fixed names, never input). */
export type LeaseTable = { table: 'search_leases'; key: 'search_id' } | { table: 'member_leases'; key: 'member' };

export const SEARCH_LEASES: LeaseTable = { table: 'search_leases', key: 'search_id' };
export const MEMBER_LEASES: LeaseTable = { table: 'member_leases', key: 'member' };

export interface LeasesRepository {
  /**
   * Takes or renews the lease of `key` for `owner` until `now + ttlMs`: succeeds when no one
   * holds it, `owner` holds it, or its holder's lease lapsed before `now`. Returns whether `owner`
   * holds it now.
   */
  claim(key: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives the lease up, if `owner` holds it. */
  release(key: string, owner: string): Promise<void>;
  /** The holder of a lease and until when (ms since the epoch), or null when none was ever taken. */
  holder(key: string): Promise<{ owner: string; expiresAt: number } | null>;
}

export function createLeasesRepository(db: SqlExecutor, { table, key }: LeaseTable = SEARCH_LEASES): LeasesRepository {
  return {
    async claim(id, owner, ttlMs, now) {
      // One statement: two replicas claiming at once cannot both succeed (SQLite serialises writes).
      await runWrite(db, {
        sql: `INSERT INTO ${table} (${key}, owner, expires_at) VALUES (?, ?, ?)
              ON CONFLICT (${key}) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
              WHERE ${table}.owner = excluded.owner OR ${table}.expires_at < ?`,
        args: [id, owner, now + ttlMs, now],
      });
      return (await rowsChanged(db)) > 0;
    },

    async release(id, owner) {
      await runWrite(db, {
        sql: `DELETE FROM ${table} WHERE ${key} = ? AND owner = ?`,
        args: [id, owner],
      });
    },

    async holder(id) {
      const r = await db.execute({
        sql: `SELECT owner, expires_at FROM ${table} WHERE ${key} = ?`,
        args: [id],
      });
      const row = r.rows[0];
      return row ? { owner: String(row.owner), expiresAt: Number(row.expires_at) } : null;
    },
  };
}
