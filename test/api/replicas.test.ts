/**
 * Replicas on one database: two `skb serve` processes share one libSQL file. A search started on
 * the first runs there under its lease; the second leaves it alone. When the first is killed
 * (SIGKILL: no chance to hand anything over), the second resumes the search once the lease lapses
 * and finishes it, with every sample stored exactly once and none spent twice. Real processes, a
 * real database file, real gcc-compiled candidates. Runs the compiled dist/: `npm run build` first.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServe } from '../support/cli.js';

const TOKEN = 'replica-test-token-0123456789';
const LEASE_MS = 1000;
const BUDGET = 10;

let dir: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'search', 'search-service.js')))
    throw new Error('dist/ is missing or old: run `npm run build` before the CLI tests');
  dir = mkdtempSync(join(tmpdir(), 'skb-replicas-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const reply = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await reply.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

interface SearchView {
  status: string;
  samplesUsed: number;
  candidates: Array<{ sample: number }>;
}
const SEARCH = `query($id: ID!) { search(id: $id) { status samplesUsed candidates { sample } } }`;
const read = async (url: string, id: string) => (await gql(url, SEARCH, { id })).search as SearchView;

describe('two replicas on one database', () => {
  it('a killed replica’s search is resumed by the other after its lease lapses, no sample lost or spent twice', async () => {
    // One database, an index directory each (the index is derived, each replica keeps its own).
    const env = (name: string) => ({
      SKB_DATA_DIR: join(dir, name),
      SKB_API_TOKEN: TOKEN,
      SKB_SEARCH_LEASE_MS: String(LEASE_MS),
    });
    const a = await startServe(dir, env('a'));
    const b = await startServe(dir, env('b'));
    try {
      const started = (await gql(
        a.url,
        `mutation($task: TaskInput!, $config: SearchConfigInput) { startSearch(task: $task, config: $config) { id } }`,
        {
          task: {
            operation: {
              kind: 'gemm',
              dims: [
                { name: 'M', size: 96 },
                { name: 'N', size: 96 },
                { name: 'K', size: 96 },
              ],
            },
            target: 'local',
          },
          // Each sample timed for a while, so the kill lands mid-search.
          config: {
            budget: BUDGET,
            seed: 5,
            warmStart: { enabled: false },
            timing: { budgetMs: 300, stableSpreadPct: 0 },
          },
        },
      )) as { startSearch: { id: string } };
      const id = started.startSearch.id;
      await expect
        .poll(async () => (await read(b.url, id)).candidates.length, { timeout: 60_000, interval: 100 })
        .toBeGreaterThanOrEqual(3);
      const before = await read(b.url, id);
      expect(before.status).toBe('running');
      expect(before.candidates.length).toBeLessThan(BUDGET + 1);
      // While the first replica renews its lease, the second has not touched the search.
      expect(b.output()).not.toContain(id);

      a.child.kill('SIGKILL');
      await a.exited;
      await expect
        .poll(async () => (await read(b.url, id)).status, { timeout: 120_000, interval: 200 })
        .toBe('finished');
      const after = await read(b.url, id);
      expect(after.samplesUsed).toBe(BUDGET);
      expect(after.candidates.map((c) => c.sample)).toEqual(Array.from({ length: BUDGET + 1 }, (_, i) => i));
      expect(b.output()).toMatch(
        new RegExp(`resumed 1 search\\(es\\) whose replica stopped renewing its lease: ${id}`),
      );
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGTERM');
      await b.exited;
    }
  }, 240_000);
});
