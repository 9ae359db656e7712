/**
 * A target pool as a user runs one: a targets file whose entry names two SSH hosts (real OpenSSH
 * servers on loopback), the service `skb serve` assembles, searches started and watched over
 * GraphQL. A pool runs one search per member, times each search on one member, shows its members
 * in `targets`, and moves a search off a member that drops without spending budget twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSshd, type TestSshd } from '../support/sshd.js';
import { gemmInput, startSearchServer, type SearchTestServer } from './search-server.js';

const START = `mutation Start($task: TaskInput!, $config: SearchConfigInput) {
  startSearch(task: $task, config: $config) { id status }
}`;
const SEARCH = `query One($id: ID!) {
  search(id: $id) { id status samplesUsed budget message error candidates { sample correct latencyMs } }
}`;
const MEMBERS = `{ targets { name configured members { name state searchId reason key } } }`;

interface Member {
  name: string;
  state: 'idle' | 'busy' | 'down';
  searchId: string | null;
  reason: string | null;
  key: string | null;
}
interface Search {
  id: string;
  status: string;
  samplesUsed: number;
  budget: number;
  message: string | null;
  error: string | null;
  candidates: { sample: number; correct: boolean; latencyMs: number | null }[];
}

const gemm = gemmInput;
const CONFIG = {
  budget: 4,
  beamWidth: 2,
  plansPerCandidate: 2,
  implementationsPerPlan: 1,
  warmStart: { enabled: false },
};

let hosts: TestSshd[] = [];
let dir: string;

/** A service whose targets file has one entry, "boxes", with every host as a member. */
async function servePool(members: TestSshd[]): Promise<SearchTestServer> {
  const file = join(dir, `targets-${members.map((h) => h.port).join('-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      targets: [
        {
          id: 'boxes',
          description: 'Two loopback hosts of one machine, as a pool.',
          members: members.map((h) => ({
            kind: 'ssh',
            host: h.host,
            port: h.port,
            username: h.username,
            privateKeyPath: h.privateKeyPath,
            hostKeySha256: h.hostKeySha256,
          })),
          toolchain: { kind: 'c', cc: 'gcc' },
        },
      ],
    }),
  );
  return startSearchServer({ targetsFile: file });
}

async function search(server: SearchTestServer, id: string): Promise<Search> {
  const reply = await server.gql(SEARCH, { id });
  expect(reply.body.errors).toBeUndefined();
  return reply.body.data!.search as Search;
}

async function members(server: SearchTestServer): Promise<Member[]> {
  const reply = await server.gql(MEMBERS);
  expect(reply.body.errors).toBeUndefined();
  const targets = reply.body.data!.targets as { members: Member[] }[];
  return targets.flatMap((t) => t.members);
}

async function start(server: SearchTestServer, size: number, config: Record<string, unknown> = CONFIG) {
  const reply = await server.gql(START, { task: { operation: gemm(size), target: 'boxes' }, config });
  expect(reply.body.errors).toBeUndefined();
  return (reply.body.data!.startSearch as { id: string }).id;
}

function over(server: SearchTestServer, id: string, timeout = 110_000): Promise<Search> {
  return vi.waitFor(
    async () => {
      const s = await search(server, id);
      if (s.status === 'queued' || s.status === 'running') throw new Error(`search ${id} is ${s.status}`);
      return s;
    },
    { timeout, interval: 200 },
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skb-pools-'));
  hosts = await Promise.all([startSshd(), startSshd()]);
}, 30_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('target pools over real sshd hosts', () => {
  it('runs one search per member at once, keeps each search on one member, and queues the rest', async () => {
    const server = await servePool(hosts);
    try {
      const ids = [await start(server, 48), await start(server, 56), await start(server, 64)];
      // Which members each search was seen on, and the most members busy at once.
      const seenOn = new Map<string, Set<string>>();
      let mostBusy = 0;
      let sawQueued = false;
      await vi.waitFor(
        async () => {
          const now = await members(server);
          const busy = now.filter((m) => m.state === 'busy');
          mostBusy = Math.max(mostBusy, busy.length);
          for (const m of busy) seenOn.set(m.searchId!, (seenOn.get(m.searchId!) ?? new Set()).add(m.name));
          const searches = await Promise.all(ids.map((id) => search(server, id)));
          if (searches.some((s) => s.status === 'queued') && busy.length === 2) sawQueued = true;
          if (searches.some((s) => s.status === 'queued' || s.status === 'running')) throw new Error('still running');
        },
        { timeout: 170_000, interval: 100 },
      );
      const ended = await Promise.all(ids.map((id) => search(server, id)));
      for (const s of ended) {
        expect(s.status, s.error ?? '').toBe('finished');
        expect(s.samplesUsed).toBe(s.budget);
      }
      expect(mostBusy).toBe(2);
      // The third search waited (queued) while both members were busy, then took one.
      expect(sawQueued).toBe(true);
      expect([...seenOn.keys()].sort()).toEqual([...ids].sort());
      for (const names of seenOn.values()) expect(names.size).toBe(1);
      const after = await members(server);
      expect(after.map((m) => [m.name, m.state])).toEqual(
        hosts.map((h) => [`${h.username}@${h.host}:${h.port}`, 'idle']),
      );
      expect(after.every((m) => m.key?.startsWith('t-'))).toBe(true);
    } finally {
      await server.stop();
    }
  }, 180_000);

  it('moves a search off a member that drops and resumes it on another without spending its budget twice', async () => {
    // Hosts of their own: this test takes one off the network.
    const own = await Promise.all([startSshd(), startSshd()]);
    const server = await servePool(own);
    try {
      const id = await start(server, 96, { ...CONFIG, budget: 8 });
      // Once two candidates are measured on its member, that member's host goes away.
      const first = await vi.waitFor(
        async () => {
          const [s, ms] = [await search(server, id), await members(server)];
          const on = ms.find((m) => m.searchId === id);
          if (!on || s.samplesUsed < 2) throw new Error('not far enough yet');
          return on;
        },
        { timeout: 60_000, interval: 50 },
      );
      const dropped = own.find((h) => first.name === `${h.username}@${h.host}:${h.port}`)!;
      await dropped.kill();
      const ended = await over(server, id);
      expect(ended.status, ended.error ?? '').toBe('finished');
      expect(ended.samplesUsed).toBe(8);
      // The baseline and each sample once: none measured twice, none lost.
      expect(ended.candidates.map((c) => c.sample).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      // The candidate in flight when the host went is not stored as a failure of its own.
      expect(ended.candidates.filter((c) => !c.correct)).toEqual([]);
      expect(ended.message).toMatch(
        new RegExp(`Moved off member ${first.name.replaceAll('.', '\\.')} after it failed`),
      );
      const after = await members(server);
      const down = after.find((m) => m.name === first.name)!;
      expect(down.state).toBe('down');
      expect(down.reason).toMatch(/connection lost|cannot reach/);
      expect(after.find((m) => m.name !== first.name)!.state).toBe('idle');
      // The console's targets page shows the same: the member down, with why.
      const page = await (await fetch(`${server.url}/targets`)).text();
      expect(page).toContain(`<code>${first.name}</code> <span class="member-down">down</span>`);
      expect(page).toMatch(/connection lost|cannot reach/);
    } finally {
      await server.stop();
      await Promise.all(own.map((h) => h.stop()));
    }
  }, 180_000);
});
