/**
 * Seed packs: the schedules schedule-kb ships (made by scripts/build-seed-kb.mjs from real
 * template searches), read from the installed package, not from SKB_DATA_DIR. A manifest
 * (data/seed-packs/packs.json) names each pack, its version and its export file. A database
 * records which version of each pack it imported and every schedule that pack offered; at start
 * a newer version's new schedules are imported, and nothing a user deleted comes back (deleted
 * schedules are kept by content hash). Packs are knowledge to start from, never required: a
 * pack that does not import is logged and tried again on the next start.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseJsonl, SkbError, toSchedule, type ParsedExport } from '../schedules/index.js';
import type { KnowledgeBase } from './knowledge-base.js';

/** The manifest of the packs this package ships (two levels above this module, in src/ and in dist/ alike). */
export const PACKAGE_SEED_PACKS = fileURLToPath(new URL('../../data/seed-packs/packs.json', import.meta.url));

/**
 * The marker databases got when they imported the unversioned seed file, before packs: such a
 * database has imported version 1 of the reference pack.
 */
export const LEGACY_SEEDS_MARKER = 'seeds_imported';
const LEGACY_PACK = 'cpu-reference';

const PackSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,63}$/, 'a pack name is lower-case letters, digits and -, starting with a letter'),
    version: z.number().int().positive(),
    file: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.jsonl$/, 'a pack file is a .jsonl name beside the manifest'),
    description: z.string().max(500),
  })
  .strict();
export type SeedPack = z.infer<typeof PackSchema>;

const ManifestSchema = z
  .object({
    format: z.literal('schedule-kb-seed-packs'),
    packs: z
      .array(PackSchema)
      .max(64)
      .refine((packs) => new Set(packs.map((p) => p.name)).size === packs.length, 'pack names must be distinct'),
  })
  .strict();

/** What happened to one pack at start. `failed` leaves the knowledge base as it was. */
export type SeedPackResult = { pack: string; version: number } & (
  | { status: 'imported'; imported: number; duplicates: number; excluded: number }
  | { status: 'current' }
  | { status: 'failed'; message: string }
);

/** The part of the service's logger this needs (src/api's Logger fits). */
export interface SeedPackLogger {
  info(message: string): void;
  warn(message: string): void;
}

type SeedPackKb = Pick<
  KnowledgeBase,
  'getMarker' | 'addSchedules' | 'seedPacks' | 'seedPackExclusions' | 'recordSeedPack'
>;

/** Reads and checks a manifest; BAD_INPUT naming the file and the problem. */
export async function readSeedPackManifest(path: string): Promise<SeedPack[]> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SkbError('BAD_INPUT', `The seed pack manifest ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SkbError(
      'BAD_INPUT',
      `The seed pack manifest ${path} is invalid at ${issue.path.join('.') || 'the top level'}: ${issue.message}`,
    );
  }
  return parsed.data.packs;
}

/**
 * Imports every pack of the manifest at `manifestPath` that this database has not imported at
 * that version. A missing manifest is an install without seeds; a broken one, or a pack file
 * that does not import, is a warning, never thrown.
 */
export async function importSeedPacks(
  kb: SeedPackKb,
  manifestPath: string,
  logger?: SeedPackLogger,
): Promise<SeedPackResult[]> {
  let packs: SeedPack[];
  try {
    packs = await readSeedPackManifest(manifestPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      logger?.info(`No seed packs at ${manifestPath}; the knowledge base starts with what it holds.`);
      return [];
    }
    logger?.warn(`No seed packs were imported: ${(error as Error).message}`);
    return [];
  }
  const results: SeedPackResult[] = [];
  for (const pack of packs) results.push(await importPack(kb, pack, join(dirname(manifestPath), pack.file), logger));
  return results;
}

async function importPack(
  kb: SeedPackKb,
  pack: SeedPack,
  path: string,
  logger?: SeedPackLogger,
): Promise<SeedPackResult> {
  const id = { pack: pack.name, version: pack.version };
  const fail = (reason: string): SeedPackResult => {
    const message = `Seed pack ${pack.name} v${pack.version} (${path}) was not imported: ${reason}. The service runs without it and tries again on the next start.`;
    logger?.warn(message);
    return { ...id, status: 'failed', message };
  };
  const imported = (await kb.seedPacks()).find((p) => p.name === pack.name)?.version ?? 0;
  const legacy = imported === 0 && pack.name === LEGACY_PACK && (await kb.getMarker(LEGACY_SEEDS_MARKER)) !== null;
  // A pack this database holds at this version is not read again: every start would parse it.
  if (imported >= pack.version) return { ...id, status: 'current' };
  let parsed: ParsedExport;
  try {
    parsed = parseJsonl(await readFile(path, 'utf8'));
  } catch (error) {
    return fail(error instanceof SkbError ? error.message : `it cannot be read (${(error as Error).message})`);
  }
  const hashes = parsed.contents.map((content) => toSchedule(content).contentHash);
  if (legacy) {
    // This database imported the unversioned seed file, which is version 1 of this pack: what it
    // offered then is taken to be this file's schedules, so those since deleted stay deleted.
    await kb.recordSeedPack({ name: pack.name, version: 1 }, hashes);
    if (pack.version === 1) return { ...id, status: 'current' };
  }

  let result: { imported: number; duplicates: number; excluded: number };
  try {
    const excluded = await kb.seedPackExclusions(pack.name, hashes);
    const wanted = parsed.contents.filter((_, i) => !excluded.has(hashes[i]!));
    const inserted = wanted.length ? await kb.addSchedules(wanted, parsed.targets) : { inserted: [], duplicates: [] };
    result = { imported: inserted.inserted.length, duplicates: inserted.duplicates.length, excluded: excluded.size };
  } catch (error) {
    return fail(error instanceof SkbError ? error.message : `unexpected error: ${(error as Error).message}`);
  }
  // Not caught: a database that took the schedules but cannot take the record is a fault to see.
  await kb.recordSeedPack({ name: pack.name, version: pack.version }, hashes);
  logger?.info(
    `Seed pack ${pack.name} v${pack.version}: imported ${result.imported} schedules` +
      (result.duplicates ? `, ${result.duplicates} already stored` : '') +
      (result.excluded ? `, ${result.excluded} left out (offered before or deleted here)` : '') +
      '.',
  );
  return { ...id, status: 'imported', ...result };
}

/** One line for people: the packs a database holds, e.g. "cpu-reference v1 (18 schedules)". */
export function describeSeedPacks(packs: ReadonlyArray<{ name: string; version: number; stored: number }>): string {
  if (packs.length === 0) return 'no seed packs';
  return packs.map((p) => `${p.name} v${p.version} (${p.stored} schedule${p.stored === 1 ? '' : 's'})`).join(', ');
}
