/** Runs the built `skb` CLI (bin/skb.js over dist/) as a child process, as a user would. */
import { execFile, spawn } from 'node:child_process';
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

/**
 * `skb serve` on a free port in `dir` (with `env` over envFor's): resolves once it printed its URL
 * and the start-up lines, with the child, its exit and what it printed so far (`output()` for later).
 */
export async function startServe(dir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: dir,
    env: { ...envFor(dir), SKB_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*Mutations need/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited early with ${code}: ${stderr}`)));
  });
  return { child, exited, url, stdout, output: () => `${stdout}${stderr}` };
}
