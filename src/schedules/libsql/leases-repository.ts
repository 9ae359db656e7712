/**
 * The `search_leases` table (migration 9): which service replica runs which search, until when.
 * A replica runs a search only while it holds the lease; a replica that dies stops renewing, and
 * once its lease has lapsed another replica claims the search and resumes it.
 */
import { rowsChanged, runWrite, type SqlExecutor } from './connection.js';

export interface LeasesRepository {
  /**
   * Takes or renews the lease of a search for `owner` until `now + ttlMs`: succeeds when no one
   * holds it, `owner` holds it, or its holder's lease lapsed before `now`. Returns whether `owner`
   * holds it now.
   */
  claim(searchId: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives the lease up, if `owner` holds it. */
  release(searchId: string, owner: string): Promise<void>;
  /** The holder of a search's lease and until when (ms since the epoch), or null when none was ever taken. */
  holder(searchId: string): Promise<{ owner: string; expiresAt: number } | null>;
}

export function createLeasesRepository(db: SqlExecutor): LeasesRepository {
  return {
    async claim(searchId, owner, ttlMs, now) {
      // One statement: two replicas claiming at once cannot both succeed (SQLite serialises writes).
      await runWrite(db, {
        sql: `INSERT INTO search_leases (search_id, owner, expires_at) VALUES (?, ?, ?)
              ON CONFLICT (search_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
              WHERE search_leases.owner = excluded.owner OR search_leases.expires_at < ?`,
        args: [searchId, owner, now + ttlMs, now],
      });
      return (await rowsChanged(db)) > 0;
    },

    async release(searchId, owner) {
      await runWrite(db, {
        sql: 'DELETE FROM search_leases WHERE search_id = ? AND owner = ?',
        args: [searchId, owner],
      });
    },

    async holder(searchId) {
      const r = await db.execute({
        sql: 'SELECT owner, expires_at FROM search_leases WHERE search_id = ?',
        args: [searchId],
      });
      const row = r.rows[0];
      return row ? { owner: String(row.owner), expiresAt: Number(row.expires_at) } : null;
    },
  };
}
