/** Runs the built `skb` CLI (bin/skb.js over dist/) as a child process, as a user would. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'skb.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a knowledge base in `dir`, and nothing of this process's SKB_* settings. */
export function envFor(dir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    SKB_DB_URL: `file:${join(dir, 'kb.db')}`,
    SKB_DATA_DIR: dir,
    // An empty knowledge base to start from; the seed pack tests ask for packs.
    SKB_SEED_PACKS: 'none',
  };
}

/** `skb ARGS` in `dir`, with the knowledge base of `dir`. */
export function skb(args: string[], dir: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: dir, env: envFor(dir), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
      },
    );
  });
}
