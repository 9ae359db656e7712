/**
 * The `searches` and `candidates` tables (migration 3). The search jobs write here as a search
 * happens, so a restarted process can resume from it.
 */
import type { Row } from '@libsql/client';
import { z } from 'zod';
import { SkbError, parseOrThrow } from '../errors.js';
import {
  LineageStepSchema,
  SearchConfigSchema,
  SearchSeedSchema,
  SearchStatusSchema,
  type SearchPatch,
  type SearchRecord,
  type SearchStatus,
} from '../search.js';
import type { CandidateRecord } from '../candidate.js';
import { CorrectnessEvidenceSchema } from '../schedule.js';
import { TaskSchema } from '../task.js';
import type { Page, PageRequest } from '../store.js';
import { runWrite, type SqlExecutor } from './connection.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { jsonColumns, whereClause } from './sql-text.js';
import { parseJsonColumn, parseStored } from './stored-rows.js';

const SearchRecordSchema = z
  .object({
    id: z.string().min(1),
    status: SearchStatusSchema,
    task: TaskSchema,
    targetKey: z.string().nullable(),
    config: SearchConfigSchema,
    samplesUsed: z.number().int().nonnegative(),
    iteration: z.number().int().nonnegative(),
    baselineLatencyMs: z.number().nonnegative().nullable(),
    bestLatencyMs: z.number().nonnegative().nullable(),
    bestCandidateId: z.string().nullable(),
    scheduleId: z.string().nullable(),
    bestLineage: z.array(LineageStepSchema).nullable(),
    // Searches stored before warm start existed have neither field.
    seeds: z.array(SearchSeedSchema).default([]),
    error: z.string().nullable(),
    message: z.string().nullable().default(null),
    createdAt: z.string().min(1),
    updatedAt: z.string().min(1),
  })
  .strict();

const CandidateRecordSchema = z
  .object({
    id: z.string().min(1),
    searchId: z.string().min(1),
    parentId: z.string().nullable(),
    iteration: z.number().int().nonnegative(),
    sample: z.number().int().nonnegative(),
    optionId: z.string().nullable(),
    optionLabel: z.string().nullable(),
    plan: z.string().nullable(),
    params: z.record(z.string(), z.unknown()).nullable(),
    code: z.string(),
    correct: z.boolean(),
    latencyMs: z.number().nonnegative().nullable(),
    errorKind: z.string().nullable(),
    output: z.string(),
    feedback: z.array(z.string()),
    suspect: z.string().optional(),
    evidence: CorrectnessEvidenceSchema.optional(),
    admitted: z.boolean(),
    forcedFrom: z.object({ scheduleId: z.string(), stepIndex: z.number().int().nonnegative() }).strict().nullable(),
    model: z.string().nullable(),
    createdAt: z.string().min(1),
  })
  .strict();

/** The searches and their candidates, over one executor; SearchStore's promises hold method by method. */
export interface SearchesRepository {
  create(record: SearchRecord): Promise<void>;
  update(id: string, patch: SearchPatch): Promise<SearchRecord>;
  get(id: string): Promise<SearchRecord | null>;
  list(filter: { status?: SearchStatus }, page: PageRequest): Promise<Page<SearchRecord>>;
  withStatus(statuses: SearchStatus[]): Promise<SearchRecord[]>;
  insertCandidates(records: CandidateRecord[]): Promise<void>;
  markAdmitted(searchId: string, ids: string[]): Promise<void>;
  candidates(searchId: string): Promise<CandidateRecord[]>;
}

function rowToSearch(row: Row): SearchRecord {
  const what = `search row ${String(row.id)}`;
  return parseStored(SearchRecordSchema, parseJsonColumn(row.record, what), what);
}

function rowToCandidate(row: Row): CandidateRecord {
  const what = `candidate row ${String(row.id)}`;
  return {
    ...parseStored(CandidateRecordSchema, parseJsonColumn(row.record, what), what),
    admitted: Number(row.admitted) === 1,
  };
}

export function createSearchesRepository(db: SqlExecutor): SearchesRepository {
  async function put(input: SearchRecord): Promise<void> {
    const record = parseOrThrow(SearchRecordSchema, input, `Invalid search ${input.id}`);
    await runWrite(db, {
      sql: `INSERT INTO searches (id, status, created_at, updated_at, record) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record`,
      args: [record.id, record.status, record.createdAt, record.updatedAt, JSON.stringify(record)],
    });
  }

  return {
    async create(record) {
      const existing = await db.execute({ sql: 'SELECT 1 FROM searches WHERE id = ?', args: [record.id] });
      if (existing.rows[0]) throw new SkbError('CONFLICT', `A search with id ${record.id} is already stored`);
      await put(record);
    },

    async update(id, patch) {
      const r = await db.execute({ sql: 'SELECT id, record FROM searches WHERE id = ?', args: [id] });
      if (!r.rows[0]) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
      const next: SearchRecord = { ...rowToSearch(r.rows[0]), ...patch, updatedAt: new Date().toISOString() };
      await put(next);
      return next;
    },

    async get(id) {
      const r = await db.execute({ sql: 'SELECT id, record FROM searches WHERE id = ?', args: [id] });
      return r.rows[0] ? rowToSearch(r.rows[0]) : null;
    },

    async list(filter, page) {
      if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) {
        throw new SkbError('BAD_INPUT', `Ask for 1 to 500 searches per page (got ${page.first})`);
      }
      const where: string[] = [];
      const args: string[] = [];
      if (filter.status) {
        where.push('status = ?');
        args.push(filter.status);
      }
      const total = await db.execute({ sql: `SELECT COUNT(*) AS n FROM searches ${whereClause(where)}`, args });
      if (page.after) {
        const [createdAt, id] = decodeCursor(page.after);
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        args.push(createdAt, createdAt, id);
      }
      const r = await db.execute({
        sql: `SELECT id, record FROM searches ${whereClause(where)} ORDER BY created_at DESC, id DESC LIMIT ?`,
        args: [...args, page.first + 1],
      });
      const items = r.rows.slice(0, page.first).map(rowToSearch);
      const last = items.at(-1);
      return {
        items,
        endCursor: last ? encodeCursor([last.createdAt, last.id]) : null,
        hasNextPage: r.rows.length > page.first,
        totalCount: Number(total.rows[0]?.n ?? 0),
      };
    },

    async withStatus(statuses) {
      const r = await db.execute({
        sql: 'SELECT id, record FROM searches WHERE status IN (SELECT value FROM json_each(?)) ORDER BY created_at, id',
        args: [JSON.stringify(statuses)],
      });
      return r.rows.map(rowToSearch);
    },

    async insertCandidates(input) {
      const records = input.map((c) => parseOrThrow(CandidateRecordSchema, c, `Invalid candidate ${c.id}`));
      const clashes = await db.execute({
        sql: `SELECT c.id, c.search_id, c.sample FROM candidates c
              JOIN json_each(?) j ON c.search_id = json_extract(j.value, '$[0]') AND c.sample = json_extract(j.value, '$[1]')`,
        args: [JSON.stringify(records.map((c) => [c.searchId, c.sample]))],
      });
      // Stored samples, then those earlier in this call: a sample given twice clashes with its first.
      const holder = new Map(
        clashes.rows.map((row) => [`${String(row.sample)} ${String(row.search_id)}`, String(row.id)]),
      );
      for (const c of records) {
        const key = `${c.sample} ${c.searchId}`;
        const taken = holder.get(key);
        if (taken !== undefined) {
          throw new SkbError(
            'CONFLICT',
            `Sample ${c.sample} of search ${c.searchId} is already stored (candidate ${taken}): a sample is never evaluated twice`,
          );
        }
        holder.set(key, c.id);
      }
      await runWrite(db, {
        sql: `INSERT INTO candidates (id, search_id, sample, admitted, record) SELECT ${jsonColumns(5)} FROM json_each(?) ORDER BY key`,
        args: [JSON.stringify(records.map((c) => [c.id, c.searchId, c.sample, c.admitted ? 1 : 0, JSON.stringify(c)]))],
      });
    },

    async markAdmitted(searchId, ids) {
      await runWrite(db, {
        sql: 'UPDATE candidates SET admitted = 1 WHERE search_id = ? AND id IN (SELECT value FROM json_each(?))',
        args: [searchId, JSON.stringify(ids)],
      });
    },

    async candidates(searchId) {
      const r = await db.execute({
        sql: 'SELECT id, admitted, record FROM candidates WHERE search_id = ? ORDER BY sample',
        args: [searchId],
      });
      return r.rows.map(rowToCandidate);
    },
  };
}
