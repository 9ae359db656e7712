/**
 * The API token that mutations need, from every address. SKB_API_TOKEN when it is set; otherwise
 * one generated at the first start and kept in `<data dir>/api-token`, readable by its owner only,
 * so the CLI (`skb token`) and the browser of the same account can use it and nobody else can.
 * Loopback is not trusted: candidates, other users' processes and rebinding web pages all speak
 * from it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkbError } from '../schedules/index.js';
import type { Config } from './config.js';

export const API_TOKEN_FILE = 'api-token';

/** What a stored token looks like: generated ones are 43 base64url characters. */
const STORED_TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

export interface ApiToken {
  token: string;
  /** Where it came from: the environment, or the file (with its path). */
  source: { kind: 'env' } | { kind: 'file'; path: string; created: boolean };
}

/** The token the service requires, generating and storing one when neither exists yet. */
export async function resolveApiToken(config: Pick<Config, 'apiToken' | 'dataDir'>): Promise<ApiToken> {
  if (config.apiToken) return { token: config.apiToken, source: { kind: 'env' } };
  const path = join(config.dataDir, API_TOKEN_FILE);
  const stored = await readStoredToken(path);
  if (stored !== null) return { token: stored, source: { kind: 'file', path, created: false } };
  await mkdir(config.dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  try {
    // 'wx': two services starting at once on one data directory end up with the same token.
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw tokenFileError(path, error);
    const raced = await readStoredToken(path);
    if (raced !== null) return { token: raced, source: { kind: 'file', path, created: false } };
  }
  return { token, source: { kind: 'file', path, created: true } };
}

/** The stored token, or null when there is none; a file others may read is made private first. */
export async function readStoredToken(path: string): Promise<string | null> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) await chmod(path, 0o600);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw tokenFileError(path, error);
  }
  const token = text.trim();
  if (!STORED_TOKEN.test(token)) {
    throw new SkbError(
      'CONFIG',
      `The API token file ${path} does not hold a token (16 to 256 letters, digits, - or _): delete it to have a new one generated at the next start, or set SKB_API_TOKEN`,
    );
  }
  return token;
}

function tokenFileError(path: string, error: unknown): SkbError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new SkbError(
    'CONFIG',
    `Could not use the API token file ${path} (${code}): check SKB_DATA_DIR and its permissions, or set SKB_API_TOKEN`,
    undefined,
    { cause: error },
  );
}
