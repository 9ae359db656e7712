/**
 * The schedules with what hangs off them: `schedules`, their sizes (`schedule_dims`), their
 * embeddings (`embedding_spaces`, `schedule_embeddings`) and the integer labels ANN indexes know
 * them by (`schedules.seq`). Every write here that changes schedules or embeddings bumps the
 * revision once.
 */
import type { InStatement, Row } from '@libsql/client';
import { z } from 'zod';
import { canonicalJson } from '../canonical.js';
import { SkbError } from '../errors.js';
import { measuredPointsOf, ScheduleMeasurementsSchema, type MeasuredPoint } from '../measured-point.js';
import { OperationSchema, shapeKey, structureKey } from '../operation.js';
import { flattenBatch, type ScheduleAlias } from '../flatten-replays.js';
import { creationSortKey } from '../ordering.js';
import {
  ProvenanceSchema,
  ScheduleContentSchema,
  toSchedule,
  type Schedule,
  type ScheduleContent,
} from '../schedule.js';
import type {
  EmbeddingRow,
  EmbeddingSpace,
  InsertResult,
  MeasuredPointsQuery,
  OperationSummary,
  Page,
  PageRequest,
  ScheduleFilter,
  ShapeRow,
  TargetSourceCount,
} from '../store.js';
import type { TargetRecord } from '../target-record.js';
import { rowsChanged, runWrite, type SqlExecutor } from './connection.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { MarkersRepository } from './markers-repository.js';
import { scheduleFilterSql } from './schedule-filter-sql.js';
import { jsonColumns, whereClause } from './sql-text.js';
import { corrupt, parseJsonColumn, parseStored } from './stored-rows.js';
import type { TargetsRepository } from './targets-repository.js';
import { blobToVector, vectorToBlob } from './vector-blob.js';

/** Vectors of one embedding space, one per schedule in the order of the schedules they go with. */
export interface EmbeddingBatch {
  embedderId: string;
  vectors: Float32Array[];
}

/** The schedules, their sizes, embeddings and labels, over one executor. */
export interface SchedulesRepository {
  /**
   * Inserts validated contents (and the targets given with them) as Store.insertSchedules does:
   * content already stored is reported as a duplicate, and a vector is written only where its
   * schedule has none in that space yet.
   */
  insert(
    contents: ScheduleContent[],
    options: { targets?: TargetRecord[]; embeddings?: EmbeddingBatch },
  ): Promise<InsertResult>;
  /** The schedule of this id, or of an id it had before its replays were flattened (see flatten-replays.ts). */
  get(id: string): Promise<Schedule | null>;
  /** Schedules whose `derivedFrom` names `id`, oldest first. */
  childrenOf(id: string): Promise<Schedule[]>;
  /** Flattens contents against the stored schedules and each other, with the aliases of those whose id changes. */
  flatten(contents: ScheduleContent[]): Promise<{ contents: ScheduleContent[]; aliases: ScheduleAlias[] }>;
  exists(id: string): Promise<boolean>;
  page(filter: ScheduleFilter, page: PageRequest): Promise<Page<Schedule>>;
  all(filter: ScheduleFilter): Promise<Schedule[]>;
  /** Deletes a schedule with its sizes and embeddings (its reuses are the reuses repository's); false when there was none. */
  delete(id: string): Promise<boolean>;
  operations(): Promise<OperationSummary[]>;
  shapes(group: { structureKey: string; targetFamily: string }): Promise<ShapeRow[]>;
  measuredPoints(query: MeasuredPointsQuery): Promise<MeasuredPoint[]>;
  label(id: string): Promise<{ label: number; targetFamily: string } | null>;
  labels(ids: string[]): Promise<Array<{ scheduleId: string; label: number; targetFamily: string }>>;
  /** Schedules by label, in the order of `labels`; unknown labels are left out. */
  byLabels(labels: number[]): Promise<Schedule[]>;
  /** Stores (or replaces) vectors of stored schedules; NOT_FOUND for an unknown schedule id. */
  putEmbeddings(embedderId: string, rows: Array<{ scheduleId: string; vector: Float32Array }>): Promise<void>;
  embeddings(embedderId: string): Promise<EmbeddingRow[]>;
  spaces(): Promise<EmbeddingSpace[]>;
  sourceCounts(): Promise<TargetSourceCount[]>;
}

const SCHEDULE_COLUMNS = 's.seq, s.id, s.content_hash, s.content';
const DimsSchema = z.record(z.string(), z.number().int());

function rowToSchedule(row: Row): Schedule {
  const id = String(row.id);
  const what = `schedule row ${id}`;
  const schedule = toSchedule(parseStored(ScheduleContentSchema, parseJsonColumn(row.content, what), what));
  if (schedule.id !== id || schedule.contentHash !== row.content_hash) {
    throw corrupt(what, `its content hashes to ${schedule.contentHash}, the row says ${String(row.content_hash)}`);
  }
  return schedule;
}

/** The vectors as one blob that each row of a statement slices (substr counts bytes on a blob, from 1). */
function vectorsBlob(vectors: Float32Array[], dim: number): Uint8Array {
  const blob = new Uint8Array(vectors.length * dim * 4);
  for (const [i, v] of vectors.entries()) blob.set(vectorToBlob(v), i * dim * 4);
  return blob;
}

export function createSchedulesRepository(
  db: SqlExecutor,
  deps: { targets: TargetsRepository; markers: MarkersRepository },
): SchedulesRepository {
  const { targets, markers } = deps;

  async function select(statement: InStatement): Promise<Schedule[]> {
    return (await db.execute(statement)).rows.map(rowToSchedule);
  }

  async function getSchedule(id: string): Promise<Schedule | null> {
    const rows = await select({
      sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s
            WHERE s.id = ? OR s.id = (SELECT a.new_id FROM schedule_aliases a WHERE a.old_id = ?)`,
      args: [id, id],
    });
    return rows.find((s) => s.id === id) ?? rows[0] ?? null;
  }

  function flatten(contents: ScheduleContent[]) {
    return flattenBatch(contents, async (id) => {
      const seed = await getSchedule(id);
      return seed ? { id: seed.id, steps: seed.steps } : null;
    });
  }

  async function seqOf(id: string): Promise<{ seq: number; targetFamily: string } | null> {
    const r = await db.execute({ sql: 'SELECT seq, target_family FROM schedules WHERE id = ?', args: [id] });
    const row = r.rows[0];
    return row ? { seq: Number(row.seq), targetFamily: String(row.target_family) } : null;
  }

  /** Sequence numbers of stored schedules by content hash (or by id), in one query. */
  async function seqsBy(column: 'content_hash' | 'id', values: string[]): Promise<Map<string, number>> {
    if (values.length === 0) return new Map();
    const r = await db.execute({
      sql: `SELECT ${column} AS k, seq FROM schedules WHERE ${column} IN (SELECT value FROM json_each(?))`,
      args: [JSON.stringify(values)],
    });
    return new Map(r.rows.map((row) => [String(row.k), Number(row.seq)]));
  }

  /**
   * Records the space's dimension on its first vectors and checks every vector against it, before
   * anything of the call is written.
   */
  async function ensureSpace(embedderId: string, vectors: Float32Array[]): Promise<number> {
    if (embedderId.length < 1 || embedderId.length > 200 || [...embedderId].some((ch) => ch.charCodeAt(0) < 0x20)) {
      throw new SkbError('BAD_INPUT', 'An embedder id is 1 to 200 printable characters, e.g. offline-v1-256');
    }
    const existing = await db.execute({
      sql: 'SELECT dim FROM embedding_spaces WHERE embedder_id = ?',
      args: [embedderId],
    });
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
      if (!v.every(Number.isFinite))
        throw new SkbError('BAD_INPUT', `Embedder "${embedderId}" produced a vector with NaN or infinite values`);
    }
    if (recorded === undefined && vectors.length > 0) {
      if (dim === 0) throw new SkbError('BAD_INPUT', `Embedder "${embedderId}" produced empty vectors`);
      await db.execute({
        sql: 'INSERT INTO embedding_spaces (embedder_id, dim) VALUES (?, ?)',
        args: [embedderId, dim],
      });
    }
    return dim;
  }

  return {
    async insert(parsed, options) {
      const { embeddings } = options;
      await targets.upsert(options.targets ?? []);
      const dim = embeddings ? await ensureSpace(embeddings.embedderId, embeddings.vectors) : 0;
      const familyOf = await targets.familiesOf([...new Set(parsed.map((c) => c.targetKey))]);
      const missing = parsed.findIndex((c) => !familyOf.has(c.targetKey));
      if (missing >= 0) {
        throw new SkbError(
          'BAD_INPUT',
          `Schedule ${missing + 1} of ${parsed.length} refers to target ${parsed[missing]!.targetKey}, which is not stored: add the target first or pass it with the schedules`,
        );
      }
      // Every schedule is stored flat: a replay step becomes the seed's steps (see flatten-replays.ts).
      const { contents: flat, aliases } = await flatten(parsed);
      const schedules = flat.map(toSchedule);
      const stored = await seqsBy(
        'content_hash',
        schedules.map((s) => s.contentHash),
      );
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
        const content = flat[i]!;
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
        await runWrite(db, {
          sql: `INSERT INTO schedules (id, content_hash, kind, structure_key, shape_key, operation, target_key, target_family, speedup, created_at, content)
                SELECT ${jsonColumns(11)} FROM json_each(?) ORDER BY key`,
          args: [JSON.stringify(fresh)],
        });
        for (const [hash, seq] of await seqsBy(
          'content_hash',
          inserted.map((s) => s.contentHash),
        ))
          stored.set(hash, seq);
        const dims = inserted.flatMap((s) =>
          Object.entries(s.operation.dims).map(([name, value]) => [stored.get(s.contentHash)!, name, value]),
        );
        await runWrite(db, {
          sql: `INSERT INTO schedule_dims (schedule_seq, name, value) SELECT ${jsonColumns(3)} FROM json_each(?)`,
          args: [JSON.stringify(dims)],
        });
      }
      if (aliases.length) {
        await runWrite(db, {
          sql: `INSERT INTO schedule_aliases (old_id, old_hash, new_id) SELECT ${jsonColumns(3)} FROM json_each(?) WHERE true
                ON CONFLICT DO NOTHING`,
          args: [JSON.stringify(aliases.map((a) => [a.oldId, a.oldHash, a.newId]))],
        });
      }
      let embeddingsWritten = 0;
      if (embeddings && schedules.length) {
        // A duplicate keeps a vector it already has in this space; one it lacks is filled in.
        const bytes = dim * 4;
        const rows = schedules.map((s, i) => [stored.get(s.contentHash)!, i * bytes + 1]);
        await runWrite(db, {
          sql: `INSERT OR IGNORE INTO schedule_embeddings (schedule_seq, embedder_id, dim, vector)
                SELECT json_extract(value, '$[0]'), ?, ?, substr(?, json_extract(value, '$[1]'), ?)
                FROM json_each(?) ORDER BY key`,
          args: [embeddings.embedderId, dim, vectorsBlob(embeddings.vectors, dim), bytes, JSON.stringify(rows)],
        });
        embeddingsWritten = await rowsChanged(db);
      }
      if (inserted.length || embeddingsWritten) await markers.bumpRevision();
      return { inserted, duplicates, storedIds: schedules.map((s) => s.id) };
    },

    get: getSchedule,
    flatten,

    async childrenOf(id) {
      return select({
        sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s
              WHERE EXISTS (SELECT 1 FROM json_each(s.content, '$.derivedFrom') d WHERE json_extract(d.value, '$.scheduleId') = ?)
              ORDER BY s.created_at, s.id`,
        args: [id],
      });
    },

    async exists(id) {
      return (await seqOf(id)) !== null;
    },

    async page(filter, page) {
      if (!Number.isInteger(page.first) || page.first < 1) {
        throw new SkbError('BAD_INPUT', `first must be a positive integer, got ${page.first}`);
      }
      const { where, args } = scheduleFilterSql(filter);
      const pageWhere = [...where];
      const pageArgs = [...args];
      if (page.after) {
        const [createdAt, id] = decodeCursor(page.after);
        pageWhere.push('(s.created_at > ? OR (s.created_at = ? AND s.id > ?))');
        pageArgs.push(createdAt, createdAt, id);
      }
      const total = await db.execute({ sql: `SELECT COUNT(*) AS n FROM schedules s ${whereClause(where)}`, args });
      const items = await select({
        sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s ${whereClause(pageWhere)} ORDER BY s.created_at, s.id LIMIT ?`,
        args: [...pageArgs, page.first + 1],
      });
      const hasNextPage = items.length > page.first;
      const pageItems = items.slice(0, page.first);
      const last = pageItems.at(-1);
      return {
        items: pageItems,
        endCursor: hasNextPage && last ? encodeCursor([creationSortKey(last.createdAt), last.id]) : null,
        hasNextPage,
        totalCount: Number(total.rows[0]?.n ?? 0),
      };
    },

    async all(filter) {
      const { where, args } = scheduleFilterSql(filter);
      return select({
        sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s ${whereClause(where)} ORDER BY s.created_at, s.id`,
        args,
      });
    },

    async delete(id) {
      const found = await seqOf(id);
      if (!found) return false;
      await db.execute({ sql: 'DELETE FROM schedule_embeddings WHERE schedule_seq = ?', args: [found.seq] });
      await db.execute({ sql: 'DELETE FROM schedule_dims WHERE schedule_seq = ?', args: [found.seq] });
      await db.execute({ sql: 'DELETE FROM schedules WHERE seq = ?', args: [found.seq] });
      await markers.bumpRevision();
      return true;
    },

    async operations() {
      // The shape key encodes every field of the operation, so all rows of a group hold the same one.
      const r = await db.execute(
        `SELECT shape_key, structure_key, MIN(operation) AS operation, COUNT(*) AS n, MAX(speedup) AS best
         FROM schedules GROUP BY shape_key, structure_key ORDER BY shape_key`,
      );
      return r.rows.map((row): OperationSummary => {
        const what = `operation of shape ${String(row.shape_key)}`;
        return {
          operation: parseStored(OperationSchema, parseJsonColumn(row.operation, what), what),
          structureKey: String(row.structure_key),
          shapeKey: String(row.shape_key),
          scheduleCount: Number(row.n),
          bestSpeedup: Number(row.best),
        };
      });
    },

    async shapes({ structureKey: sKey, targetFamily: family }) {
      // Only the dims of the operation column are extracted; the content is never read.
      const r = await db.execute({
        sql: `SELECT id, seq, shape_key, speedup, json_extract(operation, '$.dims') AS dims FROM schedules
              WHERE structure_key = ? AND target_family = ? ORDER BY seq`,
        args: [sKey, family],
      });
      return r.rows.map((row): ShapeRow => {
        const what = `operation of schedule ${String(row.id)}`;
        const dims = parseStored(DimsSchema, parseJsonColumn(row.dims, what), what);
        return {
          id: String(row.id),
          label: Number(row.seq),
          shapeKey: String(row.shape_key),
          dims,
          speedup: Number(row.speedup),
        };
      });
    },

    async measuredPoints({ structureKey: sKey, targetFamily: family, createdBefore, limit = 256 }) {
      // Only the parts of the content that hold measurements are extracted: never the final code.
      const r = await db.execute({
        sql: `SELECT id, operation, json_extract(content, '$.steps') AS steps,
                json_extract(content, '$.negatives') AS negatives,
                json_extract(content, '$.measurements') AS measurements
              FROM schedules WHERE structure_key = ? AND target_family = ?${createdBefore ? ' AND created_at < ?' : ''}
              ORDER BY created_at DESC, id DESC LIMIT ?`,
        args: [sKey, family, ...(createdBefore ? [createdBefore] : []), limit],
      });
      return r.rows.reverse().flatMap((row) => {
        const what = `schedule ${String(row.id)}`;
        const operation = parseStored(OperationSchema, parseJsonColumn(row.operation, `operation of ${what}`), what);
        const parts = parseStored(
          ScheduleMeasurementsSchema,
          {
            steps: parseJsonColumn(row.steps, `steps of ${what}`),
            negatives: parseJsonColumn(row.negatives, `negatives of ${what}`),
            ...(row.measurements !== null ? { measurements: parseJsonColumn(row.measurements, what) } : {}),
          },
          `measurements of ${what}`,
        );
        return measuredPointsOf(operation, parts);
      });
    },

    async label(id) {
      const found = await seqOf(id);
      return found ? { label: found.seq, targetFamily: found.targetFamily } : null;
    },

    async labels(ids) {
      if (ids.length === 0) return [];
      const r = await db.execute({
        sql: 'SELECT id, seq, target_family FROM schedules WHERE id IN (SELECT value FROM json_each(?))',
        args: [JSON.stringify(ids)],
      });
      return r.rows.map((row) => ({
        scheduleId: String(row.id),
        label: Number(row.seq),
        targetFamily: String(row.target_family),
      }));
    },

    async byLabels(labels) {
      const r = await db.execute({
        sql: `SELECT ${SCHEDULE_COLUMNS} FROM schedules s WHERE s.seq IN (SELECT value FROM json_each(?))`,
        args: [JSON.stringify(labels)],
      });
      const bySeq = new Map(r.rows.map((row) => [Number(row.seq), rowToSchedule(row)]));
      // Callers pass labels in rank order (nearest first); keep it.
      return labels.map((l) => bySeq.get(l)).filter((s): s is Schedule => s !== undefined);
    },

    async putEmbeddings(embedderId, rows) {
      const dim = await ensureSpace(
        embedderId,
        rows.map((r) => r.vector),
      );
      if (rows.length === 0) return;
      const seqs = await seqsBy(
        'id',
        rows.map((r) => r.scheduleId),
      );
      const unknown = rows.find((r) => !seqs.has(r.scheduleId));
      if (unknown)
        throw new SkbError(
          'NOT_FOUND',
          `Cannot store an embedding for schedule ${unknown.scheduleId}: no such schedule`,
        );
      const bytes = dim * 4;
      // In input order, so a schedule given twice keeps its last vector.
      const slices = rows.map((r, i) => [seqs.get(r.scheduleId)!, i * bytes + 1]);
      await runWrite(db, {
        sql: `INSERT INTO schedule_embeddings (schedule_seq, embedder_id, dim, vector)
              SELECT json_extract(value, '$[0]'), ?, ?, substr(?, json_extract(value, '$[1]'), ?)
              FROM json_each(?) WHERE true ORDER BY key
              ON CONFLICT (embedder_id, schedule_seq) DO UPDATE SET dim = excluded.dim, vector = excluded.vector`,
        args: [
          embedderId,
          dim,
          vectorsBlob(
            rows.map((r) => r.vector),
            dim,
          ),
          bytes,
          JSON.stringify(slices),
        ],
      });
      await markers.bumpRevision();
    },

    async embeddings(embedderId) {
      const r = await db.execute({
        sql: `SELECT s.id, s.seq, s.target_family, e.dim, e.vector FROM schedule_embeddings e
              JOIN schedules s ON s.seq = e.schedule_seq WHERE e.embedder_id = ? ORDER BY s.seq`,
        args: [embedderId],
      });
      return r.rows.map(
        (row): EmbeddingRow => ({
          scheduleId: String(row.id),
          label: Number(row.seq),
          targetFamily: String(row.target_family),
          vector: blobToVector(
            row.vector,
            Number(row.dim),
            `embedding of schedule ${String(row.id)} in space ${embedderId}`,
          ),
        }),
      );
    },

    async spaces() {
      const r = await db.execute(
        `SELECT p.embedder_id, p.dim, COUNT(e.schedule_seq) AS n FROM embedding_spaces p
         LEFT JOIN schedule_embeddings e ON e.embedder_id = p.embedder_id GROUP BY p.embedder_id, p.dim ORDER BY p.embedder_id`,
      );
      return r.rows.map(
        (row): EmbeddingSpace => ({ embedderId: String(row.embedder_id), dim: Number(row.dim), count: Number(row.n) }),
      );
    },

    async sourceCounts() {
      const r = await db.execute(
        // A schedule counts as a seed when a seed pack offered it (the shipped seeds keep the
        // provenance of the searches that made them), and as found here only when its search ran on
        // this database; everything else was imported.
        `SELECT s.target_key,
           CASE
             WHEN json_extract(s.content, '$.provenance.source') = 'seed'
               OR EXISTS (SELECT 1 FROM seed_pack_schedules h WHERE h.content_hash = s.content_hash) THEN 'seed'
             WHEN json_extract(s.content, '$.provenance.source') = 'search'
               AND EXISTS (SELECT 1 FROM searches r WHERE r.id = json_extract(s.content, '$.provenance.searchId'))
               THEN 'search'
             ELSE 'import'
           END AS source,
           COUNT(*) AS n
         FROM schedules s GROUP BY s.target_key, source ORDER BY s.target_key, source`,
      );
      return r.rows.map(
        (row): TargetSourceCount => ({
          targetKey: String(row.target_key),
          source: ProvenanceSchema.shape.source.parse(row.source),
          count: Number(row.n),
        }),
      );
    },
  };
}
