/**
 * The shipped seed schedules (data/seed-schedules.jsonl, made by scripts/build-seed-kb.mjs from
 * real template searches) imported once into a knowledge base, so a fresh install has something
 * to reuse. "Once" is recorded in the database itself: a user who deleted seeded schedules does
 * not get them back on the next start, and a new database (another SKB_DB_URL) gets them again.
 */
import { readFile } from 'node:fs/promises';
import { SkbError } from '../schedules/index.js';
import type { ImportReport, KnowledgeBase } from './knowledge-base.js';

/** The marker a knowledge base keeps once the seeds were imported; its value is when (ms since the epoch). */
export const SEEDS_MARKER = 'seeds_imported';

/** What importSeedsOnce did. `failed` leaves the knowledge base as it was and is tried again on the next start. */
export type SeedImportResult =
  | { status: 'imported'; imported: number; duplicates: number }
  | { status: 'already-imported'; at: Date }
  | { status: 'no-file' }
  | { status: 'failed'; message: string };

/** The part of the service's logger this needs (src/api's Logger fits). */
export interface SeedImportLogger {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * Imports the seed file at `path` into `kb` unless this knowledge base imported seeds before. A
 * missing file is not an error (an install without seeds). A file that does not import (bad
 * line, wrong embedder dimension, unreachable embedder) is logged as a warning and reported as
 * `failed`, never thrown: the service starts without seeds and tries again on the next start.
 * Two processes starting at once may both import; the second finds only duplicates.
 */
export async function importSeedsOnce(
  kb: Pick<KnowledgeBase, 'getMarker' | 'setMarker' | 'importJsonl'>,
  path: string,
  logger?: SeedImportLogger,
): Promise<SeedImportResult> {
  const at = await kb.getMarker(SEEDS_MARKER);
  if (at !== null) return { status: 'already-imported', at: new Date(at) };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      logger?.info(`No seed schedules at ${path}; the knowledge base starts empty.`);
      return { status: 'no-file' };
    }
    return failed(logger, path, `it cannot be read (${(error as Error).message})`);
  }
  let report: ImportReport;
  try {
    report = await kb.importJsonl(text);
  } catch (error) {
    const reason = error instanceof SkbError ? error.message : `unexpected error: ${(error as Error).message}`;
    return failed(logger, path, reason);
  }
  // Not caught: a database that took the schedules but cannot take one more row is a fault to see.
  await kb.setMarker(SEEDS_MARKER, Date.now());
  logger?.info(
    `Imported ${report.imported} seed schedules from ${path} (${report.duplicates} already stored); they are not imported again into this database.`,
  );
  return { status: 'imported', imported: report.imported, duplicates: report.duplicates };
}

function failed(logger: SeedImportLogger | undefined, path: string, reason: string): SeedImportResult {
  const message = `The seed schedules at ${path} were not imported: ${reason}. The service runs without them and tries again on the next start; fix or delete the file (regenerate it with scripts/build-seed-kb.mjs).`;
  logger?.warn(message);
  return { status: 'failed', message };
}
