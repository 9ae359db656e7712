import type { Client, Transaction } from '@libsql/client';
import { SkbError } from './errors.js';
import { flattenStoredSchedules } from './flatten-stored.js';
import { OperationSchema, shapeKey, structureKey } from './operation.js';

/** One schema change. Versions are applied in ascending order and never edited once released. */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
  /** A data change SQL alone cannot make, run after the statements in the same transaction. */
  run?: (tx: Transaction) => Promise<void>;
}

/**
 * Recomputes every stored schedule's structure and shape keys with the current key functions, in
 * one set-based UPDATE (one statement, whatever the number of rows: see runWrite on why).
 */
async function rekeySchedules(tx: Transaction): Promise<void> {
  const rows = await tx.execute('SELECT seq, operation, structure_key, shape_key FROM schedules');
  const changed: Array<[number, string, string]> = [];
  for (const row of rows.rows) {
    const parsed = OperationSchema.safeParse(JSON.parse(String(row.operation)));
    // A row that does not read back is left to the store's own corruption reports.
    if (!parsed.success) continue;
    const structure = structureKey(parsed.data);
    const shape = shapeKey(parsed.data);
    if (structure !== row.structure_key || shape !== row.shape_key) changed.push([Number(row.seq), structure, shape]);
  }
  if (changed.length === 0) return;
  await tx.execute({
    sql: `UPDATE schedules SET structure_key = json_extract(j.value, '$[1]'), shape_key = json_extract(j.value, '$[2]')
          FROM json_each(?) AS j WHERE schedules.seq = json_extract(j.value, '$[0]')`,
    args: [JSON.stringify(changed)],
  });
}

/**
 * The store's schema. `schedules.seq` is AUTOINCREMENT so a deleted schedule's number is never
 * handed out again: ANN indexes use it as their label and must not confuse an old vector with a
 * new schedule.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: [
      `CREATE TABLE kb_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
      `INSERT INTO kb_meta (key, value) VALUES ('revision', 0)`,
      `CREATE TABLE targets (
        key TEXT PRIMARY KEY,
        family TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        fingerprint TEXT NOT NULL
      )`,
      `CREATE INDEX targets_family ON targets (family)`,
      `CREATE TABLE schedules (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        content_hash TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        structure_key TEXT NOT NULL,
        shape_key TEXT NOT NULL,
        operation TEXT NOT NULL,
        target_key TEXT NOT NULL REFERENCES targets (key),
        target_family TEXT NOT NULL,
        speedup REAL NOT NULL,
        created_at TEXT NOT NULL,
        content TEXT NOT NULL
      )`,
      `CREATE INDEX schedules_order ON schedules (created_at, id)`,
      `CREATE INDEX schedules_structure ON schedules (structure_key)`,
      `CREATE INDEX schedules_shape ON schedules (shape_key)`,
      `CREATE INDEX schedules_target ON schedules (target_key)`,
      `CREATE INDEX schedules_family ON schedules (target_family)`,
      `CREATE TABLE schedule_dims (
        schedule_seq INTEGER NOT NULL REFERENCES schedules (seq),
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (schedule_seq, name)
      )`,
      `CREATE INDEX schedule_dims_range ON schedule_dims (name, value)`,
      `CREATE TABLE embedding_spaces (embedder_id TEXT PRIMARY KEY, dim INTEGER NOT NULL CHECK (dim > 0))`,
      `CREATE TABLE schedule_embeddings (
        schedule_seq INTEGER NOT NULL REFERENCES schedules (seq),
        embedder_id TEXT NOT NULL REFERENCES embedding_spaces (embedder_id),
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (embedder_id, schedule_seq)
      )`,
      `CREATE INDEX schedule_embeddings_seq ON schedule_embeddings (schedule_seq)`,
      `CREATE TABLE reuses (
        id TEXT PRIMARY KEY,
        schedule_id TEXT NOT NULL REFERENCES schedules (id),
        search_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        distance REAL NOT NULL,
        outcome TEXT NOT NULL,
        gain REAL,
        created_at TEXT NOT NULL
      )`,
      `CREATE INDEX reuses_schedule ON reuses (schedule_id)`,
      `CREATE INDEX reuses_search ON reuses (search_id)`,
    ],
  },
  {
    version: 2,
    name: 'structure and family index for shape ranking',
    statements: [`CREATE INDEX schedules_structure_family ON schedules (structure_key, target_family)`],
  },
  {
    version: 3,
    name: 'searches and their candidates',
    statements: [
      `CREATE TABLE searches (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        record TEXT NOT NULL
      )`,
      `CREATE INDEX searches_order ON searches (created_at, id)`,
      `CREATE INDEX searches_status ON searches (status)`,
      // UNIQUE (search_id, sample): a resumed search can never store one sample twice.
      `CREATE TABLE candidates (
        id TEXT PRIMARY KEY,
        search_id TEXT NOT NULL REFERENCES searches (id),
        sample INTEGER NOT NULL,
        admitted INTEGER NOT NULL DEFAULT 0,
        record TEXT NOT NULL,
        UNIQUE (search_id, sample)
      )`,
    ],
  },
  {
    version: 4,
    name: 'measured baselines, reused across searches of one task',
    statements: [
      `CREATE TABLE baselines (
        key TEXT PRIMARY KEY,
        target_key TEXT NOT NULL,
        measured_at TEXT NOT NULL,
        record TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    name: 'canonical operation keys: layouts and attributes at their defaults key as omitted',
    statements: [],
    run: rekeySchedules,
  },
  {
    version: 6,
    name: 'versioned seed packs and deleted schedules kept by content hash',
    statements: [
      `CREATE TABLE seed_packs (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
      )`,
      // Every schedule a pack version offered, stored or not: what "this pack holds here" is counted against.
      `CREATE TABLE seed_pack_schedules (
        pack TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        PRIMARY KEY (pack, content_hash)
      )`,
      // A deleted schedule is never brought back by a seed pack, whichever version offers it.
      `CREATE TABLE deleted_schedules (content_hash TEXT PRIMARY KEY, deleted_at TEXT NOT NULL)`,
    ],
  },
  {
    version: 7,
    name: "flat plan sequences: a replay step becomes the seed's own steps, with derivedFrom; old ids kept as aliases",
    statements: [
      `CREATE TABLE schedule_aliases (old_id TEXT PRIMARY KEY, old_hash TEXT NOT NULL, new_id TEXT NOT NULL)`,
      `CREATE INDEX schedule_aliases_hash ON schedule_aliases (old_hash)`,
    ],
    run: flattenStoredSchedules,
  },
  {
    version: 8,
    name: 'revalidations: stored schedules measured again, beside the original measurement',
    statements: [
      `CREATE TABLE revalidations (
        id TEXT PRIMARY KEY,
        schedule_id TEXT NOT NULL,
        target_key TEXT NOT NULL,
        measured_at TEXT NOT NULL,
        record TEXT NOT NULL
      )`,
      `CREATE INDEX revalidations_schedule ON revalidations (schedule_id, measured_at)`,
    ],
  },
  {
    version: 9,
    name: 'search leases: one replica runs a search at a time, another resumes it when the lease lapses',
    statements: [
      `CREATE TABLE search_leases (search_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
    ],
  },
  {
    version: 10,
    name: 'member leases: one search at a time on a pool member, across the replicas of a database',
    statements: [
      `CREATE TABLE member_leases (member TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
    ],
  },
];

/**
 * Brings the database up to the newest migration. Pending migrations run in one write transaction
 * together with their `schema_migrations` rows, so a crash leaves the schema at a known version;
 * the applied versions are read inside that transaction, so two processes opening one file at
 * once do not both apply the same migration.
 */
export async function migrate(client: Client, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await client.execute(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  );
  const tx = await client.transaction('write');
  try {
    const rows = await tx.execute('SELECT version FROM schema_migrations ORDER BY version');
    const applied = new Set(rows.rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...migrations.map((m) => m.version));
    const unknown = [...applied].filter((v) => v > newest);
    if (unknown.length) {
      throw new SkbError(
        'CONFIG',
        `The database has schema version ${Math.max(...unknown)}, newer than this schedule-kb knows (${newest}): upgrade schedule-kb or point SKB_DB_URL at another database`,
      );
    }
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      for (const sql of m.statements) await tx.execute(sql);
      await m.run?.(tx);
      await tx.execute({
        sql: 'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
        args: [m.version, m.name, new Date().toISOString()],
      });
      done.push(m.version);
    }
    await tx.commit();
    return done;
  } catch (error) {
    await tx.rollback().catch(() => undefined);
    throw error;
  } finally {
    tx.close();
  }
}
