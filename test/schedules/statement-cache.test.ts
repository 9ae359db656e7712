import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCachedReader, type CachedReader } from '../../src/schedules/libsql/statement-cache.js';

// The cached reader returns rows through a JSON wrapper; these values are the ones a plain read
// returns and JSON would bend (reals past 15 digits, blobs, quotes, control characters).
const REALS = [0.1 + 0.2, 1 / 3, 123456.78901234567, 5e-324, 1.7976931348623157e308, -2.5];
const TEXTS = ['plain', `it's "quoted" \\ back`, 'tab\tnew\nline \u0001 é 🚀', ''];

describe('cached reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skb-reader-'));
  const path = join(dir, 'kb.db');
  let reader: CachedReader;

  beforeAll(async () => {
    const client = createClient({ url: `file:${path}` });
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('CREATE TABLE v (i INTEGER PRIMARY KEY, r REAL, t TEXT, b BLOB)');
    for (const [i, r] of REALS.entries()) {
      await client.execute({
        sql: 'INSERT INTO v VALUES (?, ?, ?, ?)',
        args: [i, r, TEXTS[i % TEXTS.length]!, i % 2 ? new Uint8Array([0, i, 255]) : null],
      });
    }
    client.close();
    reader = openCachedReader(path, 1000);
  });
  afterAll(() => {
    reader.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns every value exactly as stored, in the order the statement asks for', async () => {
    for (let pass = 0; pass < 3; pass++) {
      const r = await reader.execute({ sql: 'SELECT i, r, t, b FROM v WHERE i >= ? ORDER BY i DESC', args: [1] });
      expect(r.columns).toEqual(['i', 'r', 't', 'b']);
      expect(r.rows.map((row) => row.i)).toEqual([5, 4, 3, 2, 1]);
      for (const row of r.rows) {
        const i = Number(row.i);
        expect(row.r).toBe(REALS[i]);
        expect(row.t).toBe(TEXTS[i % TEXTS.length]);
        if (i % 2) expect([...new Uint8Array(row.b as ArrayBuffer)]).toEqual([0, i, 255]);
        else expect(row.b).toBeNull();
      }
    }
  });

  it('answers an empty result, aggregates and a list passed as one JSON argument', async () => {
    expect((await reader.execute({ sql: 'SELECT i FROM v WHERE i > ?', args: [99] })).rows).toEqual([]);
    expect((await reader.execute('SELECT COUNT(*) AS n FROM v')).rows[0]?.n).toBe(REALS.length);
    const listed = await reader.execute({
      sql: 'SELECT i FROM v WHERE i IN (SELECT value FROM json_each(?)) ORDER BY i',
      args: [JSON.stringify([4, 0, 2])],
    });
    expect(listed.rows.map((row) => row.i)).toEqual([0, 2, 4]);
  });

  it('sees what another connection committed after a statement was first read', async () => {
    const count = async () => Number((await reader.execute('SELECT COUNT(*) AS n FROM v')).rows[0]?.n);
    const before = await count();
    const writer = createClient({ url: `file:${path}` });
    await writer.execute({ sql: 'INSERT INTO v (i, r, t) VALUES (?, ?, ?)', args: [100, 1.5, 'late'] });
    writer.close();
    expect(await count()).toBe(before + 1);
  });

  it('reads statements SQLite cannot wrap, and refuses to write', async () => {
    const pragma = await reader.execute('PRAGMA journal_mode');
    expect(pragma.rows[0]?.journal_mode).toBe('wal');
    await expect(reader.execute({ sql: 'DELETE FROM v WHERE i = ?', args: [0] })).rejects.toThrow(/readonly/i);
    await expect(reader.execute('SELECT i, i FROM v')).rejects.toThrow(/names a column twice/);
  });
});
