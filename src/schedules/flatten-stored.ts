/**
 * Migration 7's data change: every stored schedule made flat (see flatten-replays.ts) and given
 * the seeds it descends from, with what refers to schedules by id following them to their new ids.
 *
 * A flattened schedule's content changes, so its content hash and id change with it; the old id
 * stays an alias (`schedule_aliases`), so `schedule(id:)` and seed packs that offered the old
 * content still find it. Where the search that made a schedule is still stored, its seeds (with
 * the tier and distance they were retrieved at) are read off the search's lineage; otherwise the
 * replay steps name them.
 */
import type { Transaction } from '@libsql/client';
import { canonicalJson } from './canonical.js';
import { flattenBatch } from './flatten-replays.js';
import { bestLineage, derivationsOf } from './lineage.js';
import { ScheduleContentSchema, toSchedule, type Derivation, type ScheduleContent } from './schedule.js';
import type { CandidateRecord } from './candidate.js';
import type { SearchSeed } from './search.js';

interface StoredRow {
  seq: number;
  id: string;
  content: ScheduleContent;
}

/** Reads a JSON column leniently: a row that does not parse is left to the store's own corruption reports. */
function parseJson(text: unknown): unknown {
  try {
    return JSON.parse(String(text));
  } catch {
    return null;
  }
}

/** The seeds each stored search's best lineage descends from, by search id. */
async function searchDerivations(tx: Transaction, searchIds: string[]): Promise<Map<string, Derivation[]>> {
  const out = new Map<string, Derivation[]>();
  if (searchIds.length === 0) return out;
  const ids = JSON.stringify(searchIds);
  const searches = await tx.execute({
    sql: 'SELECT id, record FROM searches WHERE id IN (SELECT value FROM json_each(?))',
    args: [ids],
  });
  const candidates = await tx.execute({
    sql: 'SELECT search_id, record FROM candidates WHERE search_id IN (SELECT value FROM json_each(?))',
    args: [ids],
  });
  const bySearch = new Map<string, CandidateRecord[]>();
  for (const row of candidates.rows) {
    const record = parseJson(row.record) as CandidateRecord | null;
    if (!record || typeof record.id !== 'string') continue;
    const list = bySearch.get(String(row.search_id)) ?? [];
    list.push(record);
    bySearch.set(String(row.search_id), list);
  }
  for (const row of searches.rows) {
    const record = parseJson(row.record) as { bestCandidateId?: unknown; seeds?: unknown } | null;
    if (!record || typeof record.bestCandidateId !== 'string' || !Array.isArray(record.seeds)) continue;
    const path = bestLineage({ bestCandidateId: record.bestCandidateId }, bySearch.get(String(row.id)) ?? []);
    const derived = derivationsOf(path, record.seeds as SearchSeed[]);
    if (derived.length) out.set(String(row.id), derived);
  }
  return out;
}

/** Rewrites one JSON column of a table, row by row, in one set-based UPDATE. */
async function rewriteJson(tx: Transaction, table: string, rows: Array<[string, string]>): Promise<void> {
  if (rows.length === 0) return;
  await tx.execute({
    sql: `UPDATE ${table} SET record = json_extract(j.value, '$[1]') FROM json_each(?) AS j
          WHERE ${table}.id = json_extract(j.value, '$[0]')`,
    args: [JSON.stringify(rows)],
  });
}

/** Follows every reference to a re-identified schedule to its new id: reuses, searches, candidates. */
async function repoint(tx: Transaction, newIdOf: ReadonlyMap<string, string>): Promise<void> {
  const pairs = JSON.stringify([...newIdOf]);
  await tx.execute({
    sql: `UPDATE reuses SET schedule_id = json_extract(j.value, '$[1]') FROM json_each(?) AS j
          WHERE reuses.schedule_id = json_extract(j.value, '$[0]')`,
    args: [pairs],
  });
  const to = (id: unknown) => (typeof id === 'string' ? (newIdOf.get(id) ?? id) : id);
  const searches = await tx.execute('SELECT id, record FROM searches');
  const searchRows: Array<[string, string]> = [];
  for (const row of searches.rows) {
    const record = parseJson(row.record) as { scheduleId?: unknown; seeds?: Array<{ scheduleId?: unknown }> } | null;
    if (!record) continue;
    const before = JSON.stringify(record);
    record.scheduleId = to(record.scheduleId);
    if (Array.isArray(record.seeds)) for (const seed of record.seeds) seed.scheduleId = to(seed.scheduleId);
    const after = JSON.stringify(record);
    if (after !== before) searchRows.push([String(row.id), after]);
  }
  await rewriteJson(tx, 'searches', searchRows);
  const forced = await tx.execute(
    `SELECT id, record FROM candidates WHERE json_extract(record, '$.forcedFrom.scheduleId') IS NOT NULL`,
  );
  const candidateRows: Array<[string, string]> = [];
  for (const row of forced.rows) {
    const record = parseJson(row.record) as { forcedFrom: { scheduleId: unknown } } | null;
    if (!record) continue;
    const id = to(record.forcedFrom.scheduleId);
    if (id === record.forcedFrom.scheduleId) continue;
    record.forcedFrom.scheduleId = id;
    candidateRows.push([String(row.id), JSON.stringify(record)]);
  }
  await rewriteJson(tx, 'candidates', candidateRows);
}

export async function flattenStoredSchedules(tx: Transaction): Promise<void> {
  const rows = await tx.execute('SELECT seq, id, content FROM schedules ORDER BY created_at, seq');
  const stored: StoredRow[] = [];
  for (const row of rows.rows) {
    const parsed = ScheduleContentSchema.safeParse(parseJson(row.content));
    if (parsed.success) stored.push({ seq: Number(row.seq), id: String(row.id), content: parsed.data });
  }
  const searchIds = [
    ...new Set(stored.flatMap((s) => (s.content.provenance.searchId ? [s.content.provenance.searchId] : []))),
  ];
  const derivations = await searchDerivations(tx, searchIds);
  const given = stored.map(({ content }) => {
    const derived = content.provenance.searchId ? derivations.get(content.provenance.searchId) : undefined;
    return derived && !content.derivedFrom ? { ...content, derivedFrom: derived } : content;
  });
  // Every seed a stored replay names is stored in this batch or nowhere.
  const { contents: flat } = await flattenBatch(given, () => null);

  const newIdOf = new Map<string, string>();
  const updates: unknown[][] = [];
  const duplicates: number[] = [];
  const taken = new Map(stored.map((s) => [s.id, s.seq]));
  for (const [i, row] of stored.entries()) {
    const schedule = toSchedule(flat[i]!);
    if (schedule.id === row.id) continue;
    newIdOf.set(row.id, schedule.id);
    const holder = taken.get(schedule.id);
    // Flat content equal to a schedule stored already is that schedule: the row goes, its id stays an alias.
    if (holder !== undefined && holder !== row.seq) {
      duplicates.push(row.seq);
      continue;
    }
    taken.set(schedule.id, row.seq);
    updates.push([row.seq, schedule.id, schedule.contentHash, canonicalJson(flat[i]!)]);
  }
  if (newIdOf.size === 0) return;
  // reuses.schedule_id follows schedules.id: checked at commit, once both have moved.
  await tx.execute('PRAGMA defer_foreign_keys = ON');
  const seqs = JSON.stringify(duplicates);
  for (const table of ['schedule_embeddings', 'schedule_dims']) {
    await tx.execute({
      sql: `DELETE FROM ${table} WHERE schedule_seq IN (SELECT value FROM json_each(?))`,
      args: [seqs],
    });
  }
  await tx.execute({ sql: 'DELETE FROM schedules WHERE seq IN (SELECT value FROM json_each(?))', args: [seqs] });
  // Ids and hashes are unique: each row first takes a placeholder, so no new id meets an old one mid-update.
  await tx.execute({
    sql: `UPDATE schedules SET id = 'flattening-' || seq, content_hash = 'flattening-' || seq
          WHERE seq IN (SELECT json_extract(value, '$[0]') FROM json_each(?))`,
    args: [JSON.stringify(updates)],
  });
  await tx.execute({
    sql: `UPDATE schedules SET id = json_extract(j.value, '$[1]'), content_hash = json_extract(j.value, '$[2]'),
            content = json_extract(j.value, '$[3]')
          FROM json_each(?) AS j WHERE schedules.seq = json_extract(j.value, '$[0]')`,
    args: [JSON.stringify(updates)],
  });
  const oldHashOf = new Map(stored.map((s) => [s.id, toSchedule(s.content).contentHash]));
  await tx.execute({
    sql: `INSERT INTO schedule_aliases (old_id, old_hash, new_id) SELECT json_extract(value, '$[0]'),
            json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?) WHERE true ON CONFLICT DO NOTHING`,
    args: [JSON.stringify([...newIdOf].map(([oldId, newId]) => [oldId, oldHashOf.get(oldId), newId]))],
  });
  await repoint(tx, newIdOf);
  await tx.execute(`UPDATE kb_meta SET value = value + 1 WHERE key = 'revision'`);
}
