/**
 * The knowledge base's libSQL connection: the client, the lane writes take one at a time, their
 * transactions, and the one rule for how a write's values reach SQLite (`runWrite`). Every
 * repository of this folder runs its statements through what this module hands it.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type Transaction } from '@libsql/client';
import { Mutex } from 'async-mutex';
import { SkbError, messageOf } from '../errors.js';
import { migrate } from '../migrations.js';
import { inlineArguments, type SqlValue } from './sql-text.js';
import { openCachedReader, type CachedReader } from './statement-cache.js';

export interface LibsqlStoreOptions {
  /** `file:path/to.db`, `:memory:`, or a `libsql://` / `http(s)://` / `ws(s)://` server URL. */
  url: string;
  authToken?: string;
  /** How long a writer waits for another process's lock on a file database, in ms. */
  busyTimeoutMs?: number;
}

/** What a repository runs its statements on: the client for reads, a transaction for writes. */
export type SqlExecutor = Pick<Transaction, 'execute' | 'executeMultiple'>;

/** The opened database: reads and writes go through `read` and `write`, never around them. */
export interface LibsqlConnection {
  /** Runs a read on the client (queued behind writes where the database has one connection). */
  read<T>(work: (db: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs work in one write transaction, one at a time: it commits when `work` resolves and rolls back when it throws. */
  write<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): void;
}

function isMemoryUrl(url: string): boolean {
  return url === ':memory:' || url.startsWith('file::memory:') || url.includes('mode=memory');
}

/** The local path of a `file:` URL, or null for memory and remote databases. */
function localPath(url: string): string | null {
  if (!url.startsWith('file:') || isMemoryUrl(url)) return null;
  const withoutQuery = url.split('?')[0]!;
  return withoutQuery.startsWith('file://') ? fileURLToPath(withoutQuery) : resolve(withoutQuery.slice('file:'.length));
}

/**
 * Opens (and migrates) the knowledge base's libSQL database. File databases use WAL so readers
 * never block the writer, and a busy timeout so two processes on one file wait instead of failing.
 */
export async function openLibsqlConnection(options: LibsqlStoreOptions): Promise<LibsqlConnection> {
  const { url } = options;
  const path = localPath(url);
  if (path) mkdirSync(dirname(path), { recursive: true });
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let client: Client;
  try {
    client = createClient({ url, authToken: options.authToken, timeout: busyTimeoutMs });
  } catch (error) {
    throw new SkbError(
      'CONFIG',
      `Cannot open the database at ${url}: ${messageOf(error)}. Check SKB_DB_URL`,
      undefined,
      { cause: error },
    );
  }
  let reader: CachedReader | null = null;
  try {
    if (path) await client.execute('PRAGMA journal_mode = WAL');
    await migrate(client);
    // A file database's reads go through a connection of their own that reuses its statements.
    if (path) reader = openCachedReader(path, busyTimeoutMs);
  } catch (error) {
    client.close();
    throw error;
  }

  // An in-memory libSQL database has a single connection, which an open transaction holds, so
  // nothing else may touch the client until it settles: its reads queue behind writes. Reads of a
  // file or remote database run beside a write (WAL, separate connections).
  const lane = new Mutex();
  const memory = isMemoryUrl(url);

  return {
    read(work) {
      if (reader) return work(reader);
      return memory ? lane.runExclusive(() => work(client)) : work(client);
    },
    write(work) {
      return lane.runExclusive(async () => {
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
    },
    close() {
      reader?.close();
      client.close();
    },
  };
}

/** From this much text (characters) and blob (bytes) among its values on, a write sends them as literals (see runWrite). */
const LITERAL_SIZE = 1024;

function payloadSize(args: readonly SqlValue[]): number {
  let size = 0;
  for (const value of args) {
    if (typeof value === 'string') size += value.length;
    else if (value instanceof Uint8Array) size += value.byteLength;
  }
  return size;
}

/**
 * Runs one write statement (`?` placeholders, values in `args`); the one place that decides how
 * its values reach SQLite. The `libsql` binding never finalizes a statement it prepares (libsql-js
 * issue #153), and an unfinalized statement keeps its bound arguments: every `execute` holds a few
 * KiB plus its arguments for the life of the process. A write whose values reach LITERAL_SIZE
 * (a batch of rows as one JSON array, a search record, vectors) is therefore sent as SQL text with
 * its values written in as literals, through `executeMultiple` (sqlite3_exec, which finalizes), so
 * its payload is freed once written. Smaller writes stay bound: bound values arrive exactly (see
 * sqlLiteral on fractional numbers), and what they keep is bounded per call, as for every read.
 */
export async function runWrite(tx: SqlExecutor, statement: { sql: string; args: readonly SqlValue[] }): Promise<void> {
  if (payloadSize(statement.args) < LITERAL_SIZE) await tx.execute({ sql: statement.sql, args: [...statement.args] });
  else await tx.executeMultiple(inlineArguments(statement.sql, statement.args));
}

/** How many rows the transaction's last write changed (SQLite's `changes()`). */
export async function rowsChanged(tx: SqlExecutor): Promise<number> {
  const r = await tx.execute('SELECT changes() AS n');
  return Number(r.rows[0]?.n ?? 0);
}
