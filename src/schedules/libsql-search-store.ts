/**
 * Searches and their candidates in the knowledge base's libSQL database (tables of migration 3).
 * The search jobs write here as a search happens, so a restarted process can resume from it. Every
 * row is validated with zod when read back: the database is an edge like any file.
 */
import type { Client, Row, Transaction } from '@libsql/client';
import { z } from 'zod';
import { SkbError, describeIssues } from './errors.js';
import { LineageStepSchema, SearchConfigSchema, SearchSeedSchema, SearchStatusSchema, TaskSchema, type CandidateRecord, type SearchRecord, type SearchStatus } from './search.js';
import type { Page, PageRequest } from './store.js';

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
    admitted: z.boolean(),
    forcedFrom: z.object({ scheduleId: z.string(), stepIndex: z.number().int().nonnegative() }).strict().nullable(),
    model: z.string().nullable(),
    createdAt: z.string().min(1),
  })
  .strict();

const CursorSchema = z.tuple([z.string().min(1), z.string().min(1)]);

/** What may change on a stored search. */
export type SearchPatch = Partial<
  Pick<
    SearchRecord,
    'status' | 'targetKey' | 'samplesUsed' | 'iteration' | 'baselineLatencyMs' | 'bestLatencyMs' | 'bestCandidateId' | 'bestLineage' | 'error' | 'scheduleId' | 'seeds' | 'message'
  >
>;

/** Persistence of searches and candidates; one module owns these two tables. */
export interface SearchStore {
  createSearch(record: SearchRecord): Promise<void>;
  /** Applies the patch and returns the record as stored; NOT_FOUND for an unknown id. */
  updateSearch(id: string, patch: SearchPatch): Promise<SearchRecord>;
  getSearch(id: string): Promise<SearchRecord | null>;
  /** Newest first. */
  listSearches(filter: { status?: SearchStatus }, page: PageRequest): Promise<Page<SearchRecord>>;
  /** Searches in any of these states, oldest first (resume after a restart). */
  searchesWithStatus(statuses: SearchStatus[]): Promise<SearchRecord[]>;
  /** Stores candidates in one write: all of them or none. A sample number stored twice is a CONFLICT. */
  insertCandidates(records: CandidateRecord[]): Promise<void>;
  /** Marks these candidates of a search as admitted to the beam. */
  markAdmitted(searchId: string, ids: string[]): Promise<void>;
  /** Every candidate of a search, in sample order. */
  listCandidates(searchId: string): Promise<CandidateRecord[]>;
  /**
   * Applies the patch inside a write transaction another store opened, so that it commits together
   * with that store's writes (a search marked finished with its schedule). NOT_FOUND for an unknown id.
   */
  updateSearchIn(tx: Transaction, id: string, patch: SearchPatch): Promise<SearchRecord>;
}

/** How the search store reaches the knowledge base's connection (shared with the schedule store). */
export interface SearchStoreDeps {
  client: Pick<Client, 'execute'>;
  /** Runs a read (queued behind writes where the database has one connection). */
  read: <T>(task: () => Promise<T>) => Promise<T>;
  /** Runs work in one write transaction, one at a time. */
  write: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>;
}

function parseRecord<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(String(raw));
  } catch {
    throw new SkbError('INTERNAL', `The stored ${what} is not valid JSON: the database was changed outside schedule-kb`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new SkbError('INTERNAL', `The stored ${what} is invalid (${describeIssues(parsed.error.issues)}): the database was changed outside schedule-kb`);
  return parsed.data;
}

const rowToSearch = (row: Row): SearchRecord => parseRecord(SearchRecordSchema, row.record, `search ${String(row.id)}`);

function rowToCandidate(row: Row): CandidateRecord {
  const record = parseRecord(CandidateRecordSchema, row.record, `candidate ${String(row.id)}`);
  return { ...record, admitted: Number(row.admitted) === 1 };
}

function encodeCursor(record: SearchRecord): string {
  return Buffer.from(JSON.stringify([record.createdAt, record.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    return CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new SkbError('BAD_INPUT', `The cursor "${cursor.slice(0, 40)}" is not one this service issued: pass the endCursor of a previous page`);
  }
}

/** Creates the search store over the knowledge base's libSQL connection. */
export function createLibsqlSearchStore({ client, read, write }: SearchStoreDeps): SearchStore {
  async function putSearch(tx: Transaction, record: SearchRecord): Promise<void> {
    const valid = SearchRecordSchema.parse(record);
    await tx.execute({
      sql: `INSERT INTO searches (id, status, created_at, updated_at, record) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record`,
      args: [valid.id, valid.status, valid.createdAt, valid.updatedAt, JSON.stringify(valid)],
    });
  }

  async function updateIn(tx: Transaction, id: string, patch: SearchPatch): Promise<SearchRecord> {
    const r = await tx.execute({ sql: 'SELECT id, record FROM searches WHERE id = ?', args: [id] });
    if (!r.rows[0]) throw new SkbError('NOT_FOUND', `No search with id ${id}`);
    const next: SearchRecord = { ...rowToSearch(r.rows[0]), ...patch, updatedAt: new Date().toISOString() };
    await putSearch(tx, next);
    return next;
  }

  return {
    createSearch(record) {
      return write(async (tx) => {
        const existing = await tx.execute({ sql: 'SELECT 1 FROM searches WHERE id = ?', args: [record.id] });
        if (existing.rows[0]) throw new SkbError('CONFLICT', `A search with id ${record.id} is already stored`);
        await putSearch(tx, record);
      });
    },

    updateSearch(id, patch) {
      return write((tx) => updateIn(tx, id, patch));
    },

    updateSearchIn: updateIn,

    getSearch(id) {
      return read(async () => {
        const r = await client.execute({ sql: 'SELECT id, record FROM searches WHERE id = ?', args: [id] });
        return r.rows[0] ? rowToSearch(r.rows[0]) : null;
      });
    },

    listSearches(filter, page) {
      if (!Number.isInteger(page.first) || page.first < 1 || page.first > 500) {
        throw new SkbError('BAD_INPUT', `Ask for 1 to 500 searches per page (got ${page.first})`);
      }
      return read(async () => {
        const where: string[] = [];
        const args: string[] = [];
        if (filter.status) {
          where.push('status = ?');
          args.push(filter.status);
        }
        const total = await client.execute({ sql: `SELECT COUNT(*) AS n FROM searches ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, args });
        if (page.after) {
          const [createdAt, id] = decodeCursor(page.after);
          where.push('(created_at < ? OR (created_at = ? AND id < ?))');
          args.push(createdAt, createdAt, id);
        }
        const r = await client.execute({
          sql: `SELECT id, record FROM searches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`,
          args: [...args, page.first + 1],
        });
        const items = r.rows.slice(0, page.first).map(rowToSearch);
        const last = items[items.length - 1];
        return {
          items,
          endCursor: last ? encodeCursor(last) : null,
          hasNextPage: r.rows.length > page.first,
          totalCount: Number(total.rows[0]?.n ?? 0),
        };
      });
    },

    searchesWithStatus(statuses) {
      return read(async () => {
        const r = await client.execute({
          sql: 'SELECT id, record FROM searches WHERE status IN (SELECT value FROM json_each(?)) ORDER BY created_at, id',
          args: [JSON.stringify(statuses)],
        });
        return r.rows.map(rowToSearch);
      });
    },

    insertCandidates(records) {
      if (records.length === 0) return Promise.resolve();
      const valid = records.map((c) => CandidateRecordSchema.parse(c));
      return write(async (tx) => {
        for (const c of valid) {
          const clash = await tx.execute({ sql: 'SELECT id FROM candidates WHERE search_id = ? AND sample = ?', args: [c.searchId, c.sample] });
          if (clash.rows[0]) {
            throw new SkbError('CONFLICT', `Sample ${c.sample} of search ${c.searchId} is already stored (candidate ${String(clash.rows[0].id)}): a sample is never evaluated twice`);
          }
          await tx.execute({
            sql: 'INSERT INTO candidates (id, search_id, sample, admitted, record) VALUES (?, ?, ?, ?, ?)',
            args: [c.id, c.searchId, c.sample, c.admitted ? 1 : 0, JSON.stringify(c)],
          });
        }
      });
    },

    markAdmitted(searchId, ids) {
      if (ids.length === 0) return Promise.resolve();
      return write(async (tx) => {
        await tx.execute({
          sql: 'UPDATE candidates SET admitted = 1 WHERE search_id = ? AND id IN (SELECT value FROM json_each(?))',
          args: [searchId, JSON.stringify(ids)],
        });
      });
    },

    listCandidates(searchId) {
      return read(async () => {
        const r = await client.execute({ sql: 'SELECT id, admitted, record FROM candidates WHERE search_id = ? ORDER BY sample', args: [searchId] });
        return r.rows.map(rowToCandidate);
      });
    },
  };
}
