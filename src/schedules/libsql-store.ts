import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type InStatement, type Row, type Transaction } from '@libsql/client';
import { z } from 'zod';
import { canonicalJson } from './canonical.js';
import { SkbError, describeIssues } from './errors.js';
import { createLibsqlSearchStore, type SearchPatch, type SearchStore } from './libsql-search-store.js';
import type { SearchRecord } from './search.js';
import { migrate } from './migrations.js';
import { OperationSchema, shapeKey, structureKey } from './operation.js';
import { creationSortKey } from './ordering.js';
import { ReuseSchema, ScheduleContentSchema, toSchedule, type Reuse, type Schedule, type ScheduleContent, type ScheduleContentInput } from './schedule.js';
import type { EmbeddingRow, EmbeddingSpace, InsertResult, OperationSummary, Page, PageRequest, ReuseStats, ScheduleFilter, ShapeRow, Store } from './store.js';
import { TargetRecordSchema, targetFamily, targetKey, type TargetRecord } from './target.js';

export interface LibsqlStoreOptions {
  /** `file:path/to.db`, `:memory:`, or a `libsql://` / `http(s)://` / `ws(s)://` server URL. */
  url: string;
  authToken?: string;
  /** How long a writer waits for another process's lock on a file database, in ms. */
  busyTimeoutMs?: number;
}

type Executor = Pick<Client, 'execute'> | Transaction;

const SCHEDULE_COLUMNS = 's.seq, s.id, s.content_hash, s.content';
const CursorSchema = z.tuple([z.string().min(1), z.string().min(1)]);
const DimsSchema = z.record(z.string(), z.number().int());

function isMemoryUrl(url: string): boolean {
  return url === ':memory:' || url.startsWith('file::memory:') || url.includes('mode=memory');
}

/** The local path of a `file:` URL, or null for memory and remote databases. */
function localPath(url: string): string | null {
  if (!url.startsWith('file:') || isMemoryUrl(url)) return null;
  const withoutQuery = url.split('?')[0]!;
  return withoutQuery.startsWith('file://') ? fileURLToPath(withoutQuery) : resolve(withoutQuery.slice('file:'.length));
}

function corrupt(what: string, detail: string): SkbError {
  return new SkbError(
    'INTERNAL',
    `The database holds a corrupt ${what} (${detail}): restore the database from an export, or delete the row`,
    { what },
  );
}

function parseJsonColumn(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw corrupt(what, 'the JSON column is not text');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw corrupt(what, `the JSON column does not parse: ${(error as Error).message}`);
  }
}

/** Vectors are stored as little-endian float32 so the bytes mean the same on every machine. */
function vectorToBlob(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  return bytes;
}

function blobToVector(value: unknown, dim: number, what: string): Float32Array {
  const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : value instanceof Uint8Array ? value : null;
  if (!bytes) throw corrupt(what, 'the vector is not a blob');
  if (bytes.byteLength !== dim * 4) throw corrupt(what, `the vector has ${bytes.byteLength} bytes, expected ${dim * 4} for dimension ${dim}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function rowToSchedule(row: Row): Schedule {
  const id = String(row.id);
  const what = `schedule row ${id}`;
  const parsed = ScheduleContentSchema.safeParse(parseJsonColumn(row.content, what));
  if (!parsed.success) throw corrupt(what, describeIssues(parsed.error.issues));
  const schedule = toSchedule(parsed.data);
  if (schedule.id !== id || schedule.contentHash !== row.content_hash) {
    throw corrupt(what, `its content hashes to ${schedule.contentHash}, the row says ${String(row.content_hash)}`);
  }
  return schedule;
}

function rowToTarget(row: Row): TargetRecord {
  const what = `target row ${String(row.key)}`;
  const parsed = TargetRecordSchema.safeParse({
    key: row.key,
    family: row.family,
    name: row.name,
    description: row.description,
    fingerprint: parseJsonColumn(row.fingerprint, what),
  });
  if (!parsed.success) throw corrupt(what, describeIssues(parsed.error.issues));
  return parsed.data;
}

function rowToReuse(row: Row): Reuse {
  const parsed = ReuseSchema.safeParse({
    id: row.id,
    scheduleId: row.schedule_id,
    searchId: row.search_id,
    tier: row.tier,
    distance: row.distance,
    outcome: row.outcome,
    gain: row.gain ?? undefined,
    createdAt: row.created_at,
  });
  if (!parsed.success) throw corrupt(`reuse row ${String(row.id)}`, describeIssues(parsed.error.issues));
  return parsed.data;
}

/** Checks a target from outside: schema, and key and family that really derive from its fingerprint. */
export function validateTargetRecord(input: unknown): TargetRecord {
  const parsed = TargetRecordSchema.safeParse(input);
  if (!parsed.success) throw new SkbError('BAD_INPUT', `Invalid target: ${describeIssues(parsed.error.issues)}`);
  const t = parsed.data;
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

function encodeCursor(s: Pick<Schedule, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([creationSortKey(s.createdAt), s.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    return CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new SkbError('BAD_INPUT', `The cursor "${cursor.slice(0, 40)}" is not one this service issued: pass the endCursor of a previous page`);
  }
}

/** WHERE clause and arguments of a filter over `schedules s`. */
function filterSql(filter: ScheduleFilter): { where: string[]; args: Array<string | number> } {
  const where: string[] = [];
  const args: Array<string | number> = [];
  const eq = (column: string, value: string | undefined): void => {
    if (value === undefined) return;
    where.push(`${column} = ?`);
    args.push(value);
  };
  eq('s.kind', filter.kind);
  eq('s.structure_key', filter.structureKey);
  eq('s.shape_key', filter.shapeKey);
  eq('s.target_key', filter.targetKey);
  eq('s.target_family', filter.targetFamily);
  for (const [name, range] of Object.entries(filter.dims ?? {})) {
    const conds = ['d.schedule_seq = s.seq', 'd.name = ?'];
    args.push(name);
    if (range.min !== undefined) {
      conds.push('d.value >= ?');
      args.push(range.min);
    }
    if (range.max !== undefined) {
      conds.push('d.value <= ?');
      args.push(range.max);
    }
    where.push(`EXISTS (SELECT 1 FROM schedule_dims d WHERE ${conds.join(' AND ')})`);
  }
  if (filter.minSpeedup !== undefined) {
    where.push('s.speedup >= ?');
    args.push(filter.minSpeedup);
  }
  if (filter.ids !== undefined) {
    // One JSON argument instead of one placeholder per id keeps long lists under SQLite's variable limit.
    where.push('s.id IN (SELECT value FROM json_each(?))');
    args.push(JSON.stringify(filter.ids));
  }
  return { where, args };
}

/** `json_extract(value, '$[0]'), …` for the first `n` elements of each row of a `json_each` over an array of arrays. */
function jsonColumns(n: number): string {
  return Array.from({ length: n }, (_, i) => `json_extract(value, '$[${i}]')`).join(', ');
}

/** A SQL string literal: SQLite strings escape nothing but the quote. */
function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function sqlBlob(bytes: Uint8Array): string {
  return `X'${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}'`;
}

/**
 * Runs a write that carries a large payload (a batch of rows) as SQL text with literals, through
 * `executeMultiple` (sqlite3_exec, which finalizes its statements). The `libsql` binding never
 * finalizes a statement it prepares, and an unfinalized statement keeps its bound arguments, so a
 * payload passed as an argument would stay resident for the life of the process. Returns the
 * number of rows the statement changed.
 */
async function execPayload(tx: Transaction, sql: string): Promise<number> {
  await tx.executeMultiple(sql);
  const r = await tx.execute('SELECT changes() AS n');
  return Number(r.rows[0]?.n ?? 0);
}

/** Markers share kb_meta with the revision under a prefix, so no marker can overwrite it. */
function markerKey(name: string): string {
  if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(name)) throw new SkbError('BAD_INPUT', `A marker name is 1 to 64 lower-case letters, digits, _ . -, starting with a letter; got "${name.slice(0, 80)}"`);
  return `marker:${name}`;
}

function whereClause(parts: string[]): string {
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/**
 * Runs one task at a time. An in-memory libSQL database has a single connection, which an open
 * transaction holds, so nothing else may touch the client until it settles.
 */
function createLane(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * Opens (and migrates) the knowledge base's libSQL database. File databases use WAL so readers
 * never block the writer, and a busy timeout so two processes on one file wait instead of failing.
 */
/** The libSQL store, plus the search tables on the same connection (see libsql-search-store.ts). */
export type LibsqlStore = Store & {
  readonly searches: SearchStore;
  /**
   * Ends a search: applies `patch` to the search, writes the outcomes of its seeds (`patch.seeds`)
   * to their reuse records and, when given, stores its schedule (with its target and embedding) and
   * sets the search's scheduleId, all in ONE transaction: either the search is marked, its reuses
   * judged and its schedule stored, or nothing changed. `inserted` is false when equal
   * content was already stored (the search then refers to that schedule).
   */
  finishSearch(
    searchId: string,
    patch: SearchPatch,
    schedule?: { content: ScheduleContentInput; target?: TargetRecord; embedding: { embedderId: string; vector: Float32Array } },
  ): Promise<{ search: SearchRecord; schedule: Schedule | null; inserted: boolean }>;
};

export async function createLibsqlStore(options: LibsqlStoreOptions): Promise<LibsqlStore> {
  const { url } = options;
  const path = localPath(url);
  if (path) mkdirSync(dirname(path), { recursive: true });
  const memory = isMemoryUrl(url);
  let client: Client;
  try {
    client = createClient({ url, authToken: options.authToken, timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    throw new SkbError('CONFIG', `Cannot open the database at ${url}: ${(error as Error).message}. Check SKB_DB_URL`);
  }
  try {
    if (path) await client.execute('PRAGMA journal_mode = WAL');
    await migrate(client);
  } catch (error) {
    client.close();
    throw error;
  }

  const writeLane = createLane();
  // Reads of a file or remote database may run beside a write (WAL, separate connections); an
  // in-memory database has only the one connection, so its reads queue behind writes.
  const read = memory ? writeLane : <T>(task: () => Promise<T>): Promise<T> => task();

  function write<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return writeLane(async () => {
      const tx = await client.transaction('write');
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } catch (error) {
        await tx.rollback().catch(() => undefined);
        throw error;
      } finally {
        tx.close();
      }
    });
  }

  async function bumpRevision(tx: Transaction): Promise<void> {
    await tx.execute(`UPDATE kb_meta SET value = value + 1 WHERE key = 'revision'`);
  }

  /**
   * Every statement libSQL prepares keeps native memory for the life of the process (the `libsql`
   * binding never finalizes it, not even on close), so multi-row writes use one set-based statement
   * over a JSON array argument instead of one statement per row.
   */
  async function upsertTargetsIn(tx: Transaction, targets: TargetRecord[]): Promise<void> {
    if (targets.length === 0) return;
    const rows = targets.map((input) => {
      const t = validateTargetRecord(input);
      return [t.key, t.family, t.name, t.description, canonicalJson(t.fingerprint)];
    });
    // The name stays the one the target was first seen under; the description may be improved.
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
    await execPayload(
      tx,
      `INSERT INTO targets (key, family, name, description, fingerprint)
       SELECT ${jsonColumns(5)} FROM json_each(${sqlString(JSON.stringify(rows))}) WHERE true ORDER BY key
       ON CONFLICT (key) DO UPDATE SET description = excluded.description`,
    );
  }

  /** Sequence numbers of stored schedules by content hash (or by id), in one query. */
  async function seqsBy(ex: Executor, column: 'content_hash' | 'id', values: string[]): Promise<Map<string, number>> {
    if (values.length === 0) return new Map();
    const r = await ex.execute({
      sql: `SELECT ${column} AS k, seq FROM schedules WHERE ${column} IN (SELECT value FROM json_each(?))`,
      args: [JSON.stringify(values)],
    });
    return new Map(r.rows.map((row) => [String(row.k), Number(row.seq)]));
  }

  /**
   * Records the space's dimension on its first vectors and checks every vector against it, before
   * anything of the call is written.
   */
  async function ensureSpace(tx: Transaction, embedderId: string, vectors: Float32Array[]): Promise<number> {
    if (embedderId.length < 1 || embedderId.length > 200 || /[\u0000-\u001f]/.test(embedderId)) {
      throw new SkbError('BAD_INPUT', 'An embedder id is 1 to 200 printable characters, e.g. offline-v1-256');
    }
    const existing = await tx.execute({ sql: 'SELECT dim FROM embedding_spaces WHERE embedder_id = ?', args: [embedderId] });
    const recorded = existing.rows[0] ? Number(existing.rows[0].dim) : undefined;
    const dim = recorded ?? vectors[0]?.length ?? 0;
    for (const v of vectors) {
      if (v.length !== dim) {
        throw new SkbError(
          'EMBEDDING_SPACE_MISMATCH',
          recorded !== undefined
            ? `Embedder "${embedderId}" gives ${v.length}-dimensional vectors, but its space in the database holds ${dim}-dimensional ones: use another embedder id for the new model, or re-embed everything`
            : `Embedder "${embedderId}" gave vectors of ${dim} and ${v.length} dimensions in one batch: one embedding space has one dimension`,
          { embedderId, expectedDim: dim, actualDim: v.length },
        );
      }
      if (!v.every(Number.isFinite)) throw new SkbError('BAD_INPUT', `Embedder "${embedderId}" produced a vector with NaN or infinite values`);
    }
    if (recorded === undefined && vectors.length > 0) {
      if (dim === 0) throw new SkbError('BAD_INPUT', `Embedder "${embedderId}" produced empty vectors`);
      await tx.execute({ sql: 'INSERT INTO embedding_spaces (embedder_id, dim) VALUES (?, ?)', args: [embedderId, dim] });
    }
    return dim;
  }

  async function scheduleSeq(ex: Executor, id: string): Promise<{ seq: number; targetFamily: string } | null> {
    const r = await ex.execute({ sql: 'SELECT seq, target_family FROM schedules WHERE id = ?', args: [id] });
    const row = r.rows[0];
    return row ? { seq: Number(row.seq), targetFamily: String(row.target_family) } : null;
  }

  async function selectSchedules(statement: InStatement): Promise<Schedule[]> {
    const r = await client.execute(statement);
    return r.rows.map(rowToSchedule);
  }

  /** Checks schedule contents (and their vectors) before any transaction opens. */
  function parseContents(contents: ScheduleContentInput[], embeddings?: { vectors: Float32Array[] }): ScheduleContent[] {
    const parsed = contents.map((c, i) => {
      const result = ScheduleContentSchema.safeParse(c);
      if (!result.success) throw new SkbError('BAD_INPUT', `Schedule ${i + 1} of ${contents.length} is invalid: ${describeIssues(result.error.issues)}`);
      return result.data;
    });
    if (embeddings && embeddings.vectors.length !== parsed.length) {
      throw new SkbError('BAD_INPUT', `Got ${embeddings.vectors.length} embedding vectors for ${parsed.length} schedules: give one vector per schedule, in the same order`);
    }
    return parsed;
  }

  /** The insert path of insertSchedules, inside a transaction the caller opened (and commits). */
  async function insertIn(
    tx: Transaction,
    parsed: ScheduleContent[],
    opts: { targets?: TargetRecord[]; embeddings?: { embedderId: string; vectors: Float32Array[] } },
  ): Promise<InsertResult> {
    const embeddings = opts.embeddings;
    await upsertTargetsIn(tx, opts.targets ?? []);
    const dim = embeddings ? await ensureSpace(tx, embeddings.embedderId, embeddings.vectors) : 0;
    const targetKeys = [...new Set(parsed.map((c) => c.targetKey))];
    const families = await tx.execute({
      sql: 'SELECT key, family FROM targets WHERE key IN (SELECT value FROM json_each(?))',
      args: [JSON.stringify(targetKeys)],
    });
    const familyOf = new Map(families.rows.map((row) => [String(row.key), String(row.family)]));
    const missing = parsed.findIndex((c) => !familyOf.has(c.targetKey));
    if (missing >= 0) {
      throw new SkbError(
        'BAD_INPUT',
        `Schedule ${missing + 1} of ${parsed.length} refers to target ${parsed[missing]!.targetKey}, which is not stored: add the target first or pass it with the schedules`,
      );
    }
    const schedules = parsed.map(toSchedule);
    const stored = await seqsBy(tx, 'content_hash', schedules.map((s) => s.contentHash));
    const inserted: Schedule[] = [];
    const duplicates: string[] = [];
    const fresh: unknown[][] = [];
    const seen = new Set<string>();
    // Content repeated within the call counts as a duplicate of its first occurrence, as it would across calls.
    for (const [i, schedule] of schedules.entries()) {
      if (stored.has(schedule.contentHash) || seen.has(schedule.contentHash)) {
        duplicates.push(schedule.id);
        continue;
      }
      seen.add(schedule.contentHash);
      inserted.push(schedule);
      const content = parsed[i]!;
      fresh.push([
        schedule.id,
        schedule.contentHash,
        content.operation.kind,
        structureKey(content.operation),
        shapeKey(content.operation),
        canonicalJson(content.operation),
        content.targetKey,
        familyOf.get(content.targetKey)!,
        schedule.speedup,
        creationSortKey(content.createdAt),
        canonicalJson(content),
      ]);
    }
    if (fresh.length) {
      // ORDER BY key hands out sequence numbers in input order.
      await execPayload(
        tx,
        `INSERT INTO schedules (id, content_hash, kind, structure_key, shape_key, operation, target_key, target_family, speedup, created_at, content)
         SELECT ${jsonColumns(11)} FROM json_each(${sqlString(JSON.stringify(fresh))}) ORDER BY key`,
      );
      for (const [hash, seq] of await seqsBy(tx, 'content_hash', inserted.map((s) => s.contentHash))) stored.set(hash, seq);
      const dims = inserted.flatMap((s) => Object.entries(s.operation.dims).map(([name, value]) => [stored.get(s.contentHash)!, name, value]));
      await execPayload(tx, `INSERT INTO schedule_dims (schedule_seq, name, value) SELECT ${jsonColumns(3)} FROM json_each(${sqlString(JSON.stringify(dims))})`);
    }
    let embeddingsWritten = 0;
    if (embeddings && schedules.length) {
      // A duplicate keeps a vector it already has in this space; one it lacks is filled in. The
      // vectors travel as one blob that each row slices (substr counts bytes on a blob, from 1).
      const bytes = dim * 4;
      const blob = new Uint8Array(schedules.length * bytes);
      embeddings.vectors.forEach((v, i) => blob.set(vectorToBlob(v), i * bytes));
      const rows = schedules.map((s, i) => [stored.get(s.contentHash)!, i * bytes + 1]);
      embeddingsWritten = await execPayload(
        tx,
        `INSERT OR IGNORE INTO schedule_embeddings (schedule_seq, embedder_id, dim, vector)
         SELECT json_extract(value, '$[0]'), ${sqlString(embeddings.embedderId)}, ${dim}, substr(${sqlBlob(blob)}, json_extract(value, '$[1]'), ${bytes})
         FROM json_each(${sqlString(JSON.stringify(rows))}) ORDER BY key`,
      );
    }
    if (inserted.length || embeddingsWritten) await bumpRevision(tx);
    return { inserted, duplicates };
  }

  const searches = createLibsqlSearchStore({ client, read, write });

  const store: LibsqlStore = {
    searches,

    upsertTargets(targets) {
      return write((tx) => upsertTargetsIn(tx, targets));
    },

    getTarget(key) {
      return read(async () => {
        const r = await client.execute({ sql: 'SELECT * FROM targets WHERE key = ?', args: [key] });
        return r.rows[0] ? rowToTarget(r.rows[0]) : null;
      });
    },

    listTargets() {
      return read(async () => (await client.execute('SELECT * FROM targets ORDER BY key')).rows.map(rowToTarget));
    },

    insertSchedules(contents, opts = {}) {
      let parsed: ScheduleContent[];
      try {
        parsed = parseContents(contents, opts.embeddings);
      } catch (error) {
        return Promise.reject(error);
      }
      return write((tx) => insertIn(tx, parsed, opts));
    },

    finishSearch(searchId, patch, schedule) {
      let parsed: ScheduleContent[];
      try {
        parsed = schedule ? parseContents([schedule.content]) : [];
      } catch (error) {
        return Promise.reject(error);
      }
      return write(async (tx) => {
        // The search row first: if the schedule's insert fails, the rollback takes the status back too.
        let search = await searches.updateSearchIn(tx, searchId, patch);
        // The seeds' reuse records take the outcomes judged here in the same transaction, so no
        // crash leaves a finished search whose reuses stay pending. A seed schedule deleted since
        // took its reuse records with it: nothing to update then.
        if (patch.seeds) {
          for (const seed of search.seeds.filter((x) => x.outcome !== 'pending')) {
            await tx.execute({ sql: 'UPDATE reuses SET outcome = ?, gain = COALESCE(?, gain) WHERE id = ? AND search_id = ?', args: [seed.outcome, seed.gain ?? null, seed.reuseId, searchId] });
          }
        }
        if (!schedule) return { search, schedule: null, inserted: false };
        const result = await insertIn(tx, parsed, {
          ...(schedule.target ? { targets: [schedule.target] } : {}),
          embeddings: { embedderId: schedule.embedding.embedderId, vectors: [schedule.embedding.vector] },
        });
        const stored = toSchedule(parsed[0]!);
        search = await searches.updateSearchIn(tx, searchId, { scheduleId: stored.id });
        return { search, schedule: stored, inserted: result.inserted.length > 0 };
      });
    },

    reuseStats(ids) {
      return read(async () => {
        if (ids.length === 0) return [];
        const r = await client.execute({
          sql: `SELECT schedule_id, outcome, COUNT(*) AS n FROM reuses WHERE schedule_id IN (SELECT value FROM json_each(?)) GROUP BY schedule_id, outcome`,
          args: [JSON.stringify(ids)],
        });
        const stats = new Map<string, ReuseStats>();
        for (const row of r.rows) {
          const id = String(row.schedule_id);
          const entry = stats.get(id) ?? { scheduleId: id, improved: 0, replayed: 0, failed: 0, notImproved: 0, pending: 0 };
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
      });
    },

    getSchedule(id) {
      return read(async () => {
        const rows = await selectSchedules({ sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s WHERE s.id = ?`, args: [id] });
        return rows[0] ?? null;
      });
    },

    async listSchedules(filter, page: PageRequest): Promise<Page<Schedule>> {
      if (!Number.isInteger(page.first) || page.first < 1) {
        throw new SkbError('BAD_INPUT', `first must be a positive integer, got ${page.first}`);
      }
      const { where, args } = filterSql(filter);
      const pageWhere = [...where];
      const pageArgs = [...args];
      if (page.after) {
        const [createdAt, id] = decodeCursor(page.after);
        pageWhere.push('(s.created_at > ? OR (s.created_at = ? AND s.id > ?))');
        pageArgs.push(createdAt, createdAt, id);
      }
      return read(async () => {
        const total = await client.execute({ sql: `SELECT COUNT(*) AS n FROM schedules s ${whereClause(where)}`, args });
        const items = await selectSchedules({
          sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s ${whereClause(pageWhere)} ORDER BY s.created_at, s.id LIMIT ?`,
          args: [...pageArgs, page.first + 1],
        });
        const hasNextPage = items.length > page.first;
        const pageItems = items.slice(0, page.first);
        const last = pageItems.at(-1);
        return {
          items: pageItems,
          endCursor: hasNextPage && last ? encodeCursor(last) : null,
          hasNextPage,
          totalCount: Number(total.rows[0]?.n ?? 0),
        };
      });
    },

    allSchedules(filter) {
      const { where, args } = filterSql(filter);
      return read(() => selectSchedules({ sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s ${whereClause(where)} ORDER BY s.created_at, s.id`, args }));
    },

    deleteSchedule(id) {
      return write(async (tx) => {
        const found = await scheduleSeq(tx, id);
        if (!found) return false;
        await tx.execute({ sql: 'DELETE FROM schedule_embeddings WHERE schedule_seq = ?', args: [found.seq] });
        await tx.execute({ sql: 'DELETE FROM schedule_dims WHERE schedule_seq = ?', args: [found.seq] });
        await tx.execute({ sql: 'DELETE FROM reuses WHERE schedule_id = ?', args: [id] });
        await tx.execute({ sql: 'DELETE FROM schedules WHERE seq = ?', args: [found.seq] });
        await bumpRevision(tx);
        return true;
      });
    },

    listOperations() {
      return read(async () => {
        // The shape key encodes every field of the operation, so all rows of a group hold the same one.
        const r = await client.execute(
          `SELECT shape_key, structure_key, MIN(operation) AS operation, COUNT(*) AS n, MAX(speedup) AS best
           FROM schedules GROUP BY shape_key, structure_key ORDER BY shape_key`,
        );
        return r.rows.map((row): OperationSummary => {
          const what = `operation of shape ${String(row.shape_key)}`;
          const op = OperationSchema.safeParse(parseJsonColumn(row.operation, what));
          if (!op.success) throw corrupt(what, describeIssues(op.error.issues));
          return {
            operation: op.data,
            structureKey: String(row.structure_key),
            shapeKey: String(row.shape_key),
            scheduleCount: Number(row.n),
            bestSpeedup: Number(row.best),
          };
        });
      });
    },

    putEmbeddings(embedderId, rows) {
      return write(async (tx) => {
        const dim = await ensureSpace(
          tx,
          embedderId,
          rows.map((r) => r.vector),
        );
        if (rows.length === 0) return;
        const seqs = await seqsBy(tx, 'id', rows.map((r) => r.scheduleId));
        const unknown = rows.find((r) => !seqs.has(r.scheduleId));
        if (unknown) throw new SkbError('NOT_FOUND', `Cannot store an embedding for schedule ${unknown.scheduleId}: no such schedule`);
        const bytes = dim * 4;
        const blob = new Uint8Array(rows.length * bytes);
        rows.forEach((r, i) => blob.set(vectorToBlob(r.vector), i * bytes));
        // In input order, so a schedule given twice keeps its last vector.
        const slices = JSON.stringify(rows.map((r, i) => [seqs.get(r.scheduleId)!, i * bytes + 1]));
        await execPayload(
          tx,
          `INSERT INTO schedule_embeddings (schedule_seq, embedder_id, dim, vector)
           SELECT json_extract(value, '$[0]'), ${sqlString(embedderId)}, ${dim}, substr(${sqlBlob(blob)}, json_extract(value, '$[1]'), ${bytes})
           FROM json_each(${sqlString(slices)}) WHERE true ORDER BY key
           ON CONFLICT (embedder_id, schedule_seq) DO UPDATE SET dim = excluded.dim, vector = excluded.vector`,
        );
        await bumpRevision(tx);
      });
    },

    listEmbeddings(embedderId) {
      return read(async () => {
        const r = await client.execute({
          sql: `SELECT s.id, s.seq, s.target_family, e.dim, e.vector FROM schedule_embeddings e
                JOIN schedules s ON s.seq = e.schedule_seq WHERE e.embedder_id = ? ORDER BY s.seq`,
          args: [embedderId],
        });
        return r.rows.map(
          (row): EmbeddingRow => ({
            scheduleId: String(row.id),
            label: Number(row.seq),
            targetFamily: String(row.target_family),
            vector: blobToVector(row.vector, Number(row.dim), `embedding of schedule ${String(row.id)} in space ${embedderId}`),
          }),
        );
      });
    },

    embeddingSpaces() {
      return read(async () => {
        const r = await client.execute(
          `SELECT p.embedder_id, p.dim, COUNT(e.schedule_seq) AS n FROM embedding_spaces p
           LEFT JOIN schedule_embeddings e ON e.embedder_id = p.embedder_id GROUP BY p.embedder_id, p.dim ORDER BY p.embedder_id`,
        );
        return r.rows.map((row): EmbeddingSpace => ({ embedderId: String(row.embedder_id), dim: Number(row.dim), count: Number(row.n) }));
      });
    },

    scheduleLabel(id) {
      return read(async () => {
        const found = await scheduleSeq(client, id);
        return found ? { label: found.seq, targetFamily: found.targetFamily } : null;
      });
    },

    scheduleLabels(ids) {
      return read(async () => {
        if (ids.length === 0) return [];
        const r = await client.execute({
          sql: 'SELECT id, seq, target_family FROM schedules WHERE id IN (SELECT value FROM json_each(?))',
          args: [JSON.stringify(ids)],
        });
        return r.rows.map((row) => ({ scheduleId: String(row.id), label: Number(row.seq), targetFamily: String(row.target_family) }));
      });
    },

    listShapes({ structureKey: sKey, targetFamily: family }) {
      return read(async () => {
        // Only the dims of the operation column are extracted; the content is never read.
        const r = await client.execute({
          sql: `SELECT id, seq, shape_key, speedup, json_extract(operation, '$.dims') AS dims FROM schedules
                WHERE structure_key = ? AND target_family = ? ORDER BY seq`,
          args: [sKey, family],
        });
        return r.rows.map((row): ShapeRow => {
          const dims = DimsSchema.safeParse(parseJsonColumn(row.dims, `operation of schedule ${String(row.id)}`));
          if (!dims.success) throw corrupt(`operation of schedule ${String(row.id)}`, describeIssues(dims.error.issues));
          return { id: String(row.id), label: Number(row.seq), shapeKey: String(row.shape_key), dims: dims.data, speedup: Number(row.speedup) };
        });
      });
    },

    schedulesByLabels(labels) {
      return read(async () => {
        const r = await client.execute({
          sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s WHERE s.seq IN (SELECT value FROM json_each(?))`,
          args: [JSON.stringify(labels)],
        });
        const bySeq = new Map(r.rows.map((row) => [Number(row.seq), rowToSchedule(row)]));
        // Callers pass labels in rank order (nearest first); keep it.
        return labels.map((l) => bySeq.get(l)).filter((s): s is Schedule => s !== undefined);
      });
    },

    async recordReuse(input) {
      const parsed = ReuseSchema.safeParse({ ...input, id: input.id ?? `reu_${randomUUID()}`, createdAt: new Date().toISOString() });
      if (!parsed.success) throw new SkbError('BAD_INPUT', `Invalid reuse record: ${describeIssues(parsed.error.issues)}`);
      const reuse = parsed.data;
      return write(async (tx) => {
        if (!(await scheduleSeq(tx, reuse.scheduleId))) {
          throw new SkbError('NOT_FOUND', `Cannot record a reuse of schedule ${reuse.scheduleId}: no such schedule`);
        }
        const dup = await tx.execute({ sql: 'SELECT 1 FROM reuses WHERE id = ?', args: [reuse.id] });
        if (dup.rows.length) throw new SkbError('CONFLICT', `A reuse with id ${reuse.id} already exists: leave id out to get a fresh one`);
        await tx.execute({
          sql: `INSERT INTO reuses (id, schedule_id, search_id, tier, distance, outcome, gain, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          args: [reuse.id, reuse.scheduleId, reuse.searchId, reuse.tier, reuse.distance, reuse.outcome, reuse.gain ?? null, reuse.createdAt],
        });
        return reuse;
      });
    },

    updateReuse(id, patch) {
      return write(async (tx) => {
        const r = await tx.execute({ sql: 'SELECT * FROM reuses WHERE id = ?', args: [id] });
        if (!r.rows[0]) throw new SkbError('NOT_FOUND', `No reuse with id ${id}`);
        const current = rowToReuse(r.rows[0]);
        const parsed = ReuseSchema.safeParse({ ...current, outcome: patch.outcome, gain: patch.gain ?? current.gain });
        if (!parsed.success) throw new SkbError('BAD_INPUT', `Invalid reuse update: ${describeIssues(parsed.error.issues)}`);
        const next = parsed.data;
        await tx.execute({ sql: 'UPDATE reuses SET outcome = ?, gain = ? WHERE id = ?', args: [next.outcome, next.gain ?? null, id] });
        return next;
      });
    },

    listReuses(filter) {
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
      return read(async () => (await client.execute({ sql: `SELECT * FROM reuses ${whereClause(where)} ORDER BY created_at, id`, args })).rows.map(rowToReuse));
    },

    revision() {
      return read(async () => {
        const r = await client.execute(`SELECT value FROM kb_meta WHERE key = 'revision'`);
        return Number(r.rows[0]?.value ?? 0);
      });
    },

    async getMarker(name) {
      const key = markerKey(name);
      return read(async () => {
        const r = await client.execute({ sql: 'SELECT value FROM kb_meta WHERE key = ?', args: [key] });
        return r.rows[0] ? Number(r.rows[0].value) : null;
      });
    },

    async setMarker(name, value) {
      const key = markerKey(name);
      if (!Number.isSafeInteger(value)) throw new SkbError('BAD_INPUT', `A marker value is an integer, got ${value} for ${name}`);
      return write(async (tx) => {
        await tx.execute({ sql: 'INSERT INTO kb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', args: [key, value] });
      });
    },

    close() {
      client.close();
    },
  };
  return store;
}

