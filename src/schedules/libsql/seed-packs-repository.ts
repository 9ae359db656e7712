/**
 * The `seed_packs`, `seed_pack_schedules` and `deleted_schedules` tables (migration 6): which
 * versions of which seed packs a database imported, every schedule each pack offered, and the
 * content hashes of deleted schedules, so that no pack brings back what a user deleted.
 */
import type { SeedPackRecord } from '../store.js';
import { runWrite, type SqlExecutor } from './connection.js';

export interface SeedPacksRepository {
  /** Each pack imported here at its newest version, with what it offered and how much of that is still stored. */
  list(): Promise<SeedPackRecord[]>;
  /** Of `hashes`, those a pack must not import: offered before by this pack, or deleted here. */
  excluded(pack: string, hashes: string[]): Promise<Set<string>>;
  /** Records a pack version as imported, with the content hashes it offered. */
  record(pack: { name: string; version: number }, hashes: string[]): Promise<void>;
  /** Keeps a deleted schedule's content hash. */
  noteDeleted(contentHash: string): Promise<void>;
}

export function createSeedPacksRepository(db: SqlExecutor): SeedPacksRepository {
  return {
    async list() {
      const r = await db.execute(
        `SELECT p.name, p.version, p.imported_at,
           (SELECT COUNT(*) FROM seed_pack_schedules h WHERE h.pack = p.name) AS offered,
           (SELECT COUNT(*) FROM seed_pack_schedules h WHERE h.pack = p.name AND (
              EXISTS (SELECT 1 FROM schedules s WHERE s.content_hash = h.content_hash)
              OR EXISTS (SELECT 1 FROM schedule_aliases a JOIN schedules s ON s.id = a.new_id WHERE a.old_hash = h.content_hash)
            )) AS stored
         FROM seed_packs p
         WHERE p.version = (SELECT MAX(q.version) FROM seed_packs q WHERE q.name = p.name)
         ORDER BY p.name`,
      );
      return r.rows.map(
        (row): SeedPackRecord => ({
          name: String(row.name),
          version: Number(row.version),
          importedAt: String(row.imported_at),
          offered: Number(row.offered),
          stored: Number(row.stored),
        }),
      );
    },

    async excluded(pack, hashes) {
      if (hashes.length === 0) return new Set();
      // One statement over the whole list (json_each), whatever its length.
      const r = await db.execute({
        sql: `SELECT j.value AS hash FROM json_each(?) AS j
              WHERE EXISTS (SELECT 1 FROM seed_pack_schedules h WHERE h.pack = ? AND h.content_hash = j.value)
                 OR EXISTS (SELECT 1 FROM deleted_schedules d WHERE d.content_hash = j.value)`,
        args: [JSON.stringify(hashes), pack],
      });
      return new Set(r.rows.map((row) => String(row.hash)));
    },

    async record(pack, hashes) {
      await runWrite(db, {
        sql: 'INSERT INTO seed_packs (name, version, imported_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        args: [pack.name, pack.version, new Date().toISOString()],
      });
      // `WHERE true`: SQLite cannot otherwise tell the upsert's ON CONFLICT from a join's ON.
      await runWrite(db, {
        sql: `INSERT INTO seed_pack_schedules (pack, content_hash) SELECT ?, j.value FROM json_each(?) AS j WHERE true
              ON CONFLICT DO NOTHING`,
        args: [pack.name, JSON.stringify(hashes)],
      });
    },

    async noteDeleted(contentHash) {
      await runWrite(db, {
        sql: 'INSERT INTO deleted_schedules (content_hash, deleted_at) VALUES (?, ?) ON CONFLICT DO NOTHING',
        args: [contentHash, new Date().toISOString()],
      });
    },
  };
}
