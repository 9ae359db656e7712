/**
 * A target's pool hands each search one member and keeps it for that search, queues searches
 * beyond the members, and takes out members that fail. Members here are targets whose executor
 * and fingerprint the test controls; the pool over real sshd hosts is test/api/target-pools.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLibsqlStore } from '../../src/schedules/index.js';
import { SkbError, type Fingerprint } from '../../src/schedules/index.js';
import type { Executor } from '../../src/targets/executor.js';
import { parseTargetsFile, membersOf, sshSessionLimits } from '../../src/targets/targets-file.js';
import { poolOfTargets, type MemberLease } from '../../src/targets/target-pool.js';
import type { Target } from '../../src/targets/target.js';

const HOST_KEY = `SHA256:${'A'.repeat(43)}`;

const CPU: Fingerprint = {
  kind: 'cpu',
  arch: 'x86_64',
  model: 'Test CPU 9000',
  isa: ['avx2', 'fma'],
  caches: { l2: 1 << 20 },
  cores: 4,
  compiler: 'gcc 12',
};

/** A member whose machine answers while `up.value` is true, with the fingerprint given. */
function member(name: string, options: { fingerprint?: Fingerprint; up?: { value: boolean } } = {}): Target {
  const up = options.up ?? { value: true };
  const down = () => new SkbError('TARGET', `${name} is unreachable`);
  const executor = {
    kind: 'ssh',
    describe: name,
    async createWorkspace() {
      if (!up.value) throw down();
      return { path: '/tmp/x', dispose: async () => undefined };
    },
  } as unknown as Executor;
  return {
    id: 'pool',
    member: name,
    description: 'test pool',
    executor,
    toolchain: { kind: 'c' } as Target['toolchain'],
    fingerprint: async () => {
      if (!up.value) throw down();
      return options.fingerprint ?? CPU;
    },
    record: async () => {
      throw new Error('not used');
    },
    evaluate: async () => [],
    close: async () => undefined,
  };
}

const live = () => new AbortController().signal;

describe('target pool', () => {
  it('runs one search per member and hands a freed member to the search that waited longest', async () => {
    const pool = poolOfTargets('pool', [member('a'), member('b')]);
    const first = await pool.acquire('s1', live());
    const second = await pool.acquire('s2', live());
    expect([first.target.member, second.target.member]).toEqual(['a', 'b']);
    expect(pool.states().map((m) => [m.name, m.state, m.searchId])).toEqual([
      ['a', 'busy', 's1'],
      ['b', 'busy', 's2'],
    ]);
    const order: string[] = [];
    const arrived = (name: string) => (lease: MemberLease) => {
      order.push(name);
      return lease;
    };
    const third = pool.acquire('s3', live()).then(arrived('s3'));
    const fourth = pool.acquire('s4', live()).then(arrived('s4'));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    second.release();
    const got = await third;
    expect(got.target.member).toBe('b');
    first.release();
    expect((await fourth).target.member).toBe('a');
    expect(order).toEqual(['s3', 's4']);
  });

  it('takes a dropped member out and gives the next search another one', async () => {
    const up = { value: true };
    const pool = poolOfTargets('pool', [member('a', { up }), member('b')], { retryMs: 60_000 });
    const lease = await pool.acquire('s1', live());
    up.value = false;
    lease.drop(new SkbError('TARGET', 'connection lost to a'));
    const [a] = pool.states();
    expect(a).toMatchObject({ name: 'a', state: 'down', reason: 'connection lost to a', searchId: null });
    // The search that lost a resumes elsewhere; a new search skips the down member too.
    const moved = await pool.acquire('s1', live(), new Set(['a']));
    expect(moved.target.member).toBe('b');
    moved.release();
    const next = await pool.acquire('s2', live());
    expect(next.target.member).toBe('b');
  });

  it('offers a down member again after the retry time, once it answers', async () => {
    let now = 1_000;
    const up = { value: false };
    const pool = poolOfTargets('pool', [member('a', { up }), member('b')], { retryMs: 5_000, now: () => now });
    // a fails its first check (unreachable) and is taken out; b runs the search.
    const onB = await pool.acquire('s1', live());
    expect(onB.target.member).toBe('b');
    expect(pool.states()[0]).toMatchObject({ state: 'down', reason: 'a is unreachable' });
    onB.release();
    up.value = true;
    expect((await pool.acquire('s2', live())).target.member).toBe('b');
    now += 5_000;
    expect((await pool.acquire('s3', live())).target.member).toBe('a');
  });

  it("tries every member again when all are down, and fails with each one's reason when none answers", async () => {
    const up = { value: true };
    const pool = poolOfTargets('pool', [member('a', { up }), member('b', { up })]);
    const a = await pool.acquire('s1', live());
    const b = await pool.acquire('s2', live());
    up.value = false;
    a.drop(new SkbError('TARGET', 'a dropped'));
    b.drop(new SkbError('TARGET', 'b dropped'));
    await expect(pool.acquire('s3', live())).rejects.toThrow(
      /No member of target pool can run search s3 \(a: a is unreachable; b: b is unreachable\)/,
    );
    up.value = true;
    expect((await pool.acquire('s4', live())).target.member).toBe('a');
  });

  it('refuses a member of another hardware family, naming both families', async () => {
    const other = { ...CPU, model: 'Other CPU 1' };
    const pool = poolOfTargets('pool', [member('a'), member('b', { fingerprint: other })]);
    const first = await pool.acquire('s1', live());
    // b is checked and refused; s2 waits for a instead.
    const waiting = pool.acquire('s2', live());
    await expect.poll(() => pool.states()[1]!.state).toBe('down');
    expect(pool.states()[1]!.reason).toMatch(
      /^b is hardware of family cpu-[0-9a-f]{12}, not the pool's cpu-[0-9a-f]{12}/,
    );
    first.release();
    expect((await waiting).target.member).toBe('a');
  });

  it('leaves the queue when the waiting search is cancelled, and the member goes to the next one', async () => {
    const pool = poolOfTargets('pool', [member('a')]);
    const held = await pool.acquire('s1', live());
    const cancel = new AbortController();
    const cancelled = pool.acquire('s2', cancel.signal);
    const next = pool.acquire('s3', live());
    cancel.abort(new SkbError('CANCELLED', 'Search s2 was cancelled'));
    await expect(cancelled).rejects.toThrow(/s2 was cancelled/);
    held.release();
    const got = await next;
    expect(pool.states()[0]).toMatchObject({ state: 'busy', searchId: 's3' });
    got.release();
    expect(pool.states()[0]).toMatchObject({ state: 'idle', searchId: null });
  });
});

describe('pools of replicas on one database', () => {
  it('never hands one member to two replicas at once: the second waits until the first releases it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-member-leases-'));
    const store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
    try {
      const claims = {
        claim: (m: string, o: string) => store.searches.claimMemberLease(m, o, 400),
        release: (m: string, o: string) => store.searches.releaseMemberLease(m, o),
        ttlMs: 400,
      };
      // Two services' pools over the same machine (this one: "local" takes the host name in the lease).
      const replicaA = poolOfTargets('pool', [member('local')], { claims });
      const replicaB = poolOfTargets('pool', [member('local')], { claims });
      const held = await replicaA.acquire('s1', live());
      let got = false;
      const waiting = replicaB.acquire('s2', live()).then((l) => {
        got = true;
        return l;
      });
      await expect.poll(() => replicaB.states()[0]!.reason ?? '').toMatch(/another replica/);
      expect(replicaB.states()[0]!.state).toBe('busy');
      await new Promise((r) => setTimeout(r, 900));
      // Renewed by the holder: still not handed over after two lease times.
      expect(got).toBe(false);
      held.release();
      const second = await waiting;
      expect(replicaB.states()[0]).toMatchObject({ state: 'busy', searchId: 's2' });
      second.release();
      // And a third search takes it at once now.
      (await replicaA.acquire('s3', live())).release();
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pools in the targets file', () => {
  const ssh = (host: string, port: number, maxSessions?: number) => ({
    kind: 'ssh',
    host,
    port,
    username: 'bench',
    privateKeyPath: '/k',
    hostKeySha256: HOST_KEY,
    ...(maxSessions !== undefined ? { maxSessions } : {}),
  });

  it('names each member, and a GPU host gives one member per device', () => {
    const file = parseTargetsFile({
      targets: [
        { id: 'boxes', members: [ssh('h1', 22), ssh('H2', 2222)], toolchain: { kind: 'c' } },
        {
          id: 'gpus',
          executor: { kind: 'local' },
          toolchain: { kind: 'kernelbench', devices: ['0', '1'] },
        },
      ],
    });
    expect(membersOf(file.targets[0]!).map((m) => m.name)).toEqual(['bench@h1:22', 'bench@h2:2222']);
    expect(membersOf(file.targets[1]!).map((m) => [m.name, m.device])).toEqual([
      ['local cuda:0', '0'],
      ['local cuda:1', '1'],
    ]);
  });

  it('refuses what a pool cannot be, saying what to fix', () => {
    const bad = (entry: Record<string, unknown>) => () =>
      parseTargetsFile({ targets: [{ id: 't', toolchain: { kind: 'c' }, ...entry }] });
    expect(bad({})).toThrow(/either one executor or a list of members/);
    expect(bad({ executor: { kind: 'local' }, members: [{ kind: 'local' }] })).toThrow(
      /either one executor or a list of members/,
    );
    expect(bad({ members: [] })).toThrow(/list at least one member/);
    expect(bad({ members: [ssh('h1', 22), ssh('h1', 22)] })).toThrow(/each member is listed once/);
    expect(() =>
      parseTargetsFile({
        targets: [
          {
            id: 't',
            executor: { kind: 'local' },
            toolchain: { kind: 'kernelbench', devices: ['0'], env: { CUDA_VISIBLE_DEVICES: '1' } },
          },
        ],
      }),
    ).toThrow(/either as devices .* or as env.CUDA_VISIBLE_DEVICES, not both/);
    expect(() =>
      parseTargetsFile({
        targets: [{ id: 't', executor: { kind: 'local' }, toolchain: { kind: 'kernelbench', devices: ['0; rm'] } }],
      }),
    ).toThrow(/each device is one CUDA_VISIBLE_DEVICES value/);
  });

  it('counts SSH channels per host over every entry that names it: the smallest maxSessions wins', () => {
    const file = parseTargetsFile({
      targets: [
        { id: 'a', members: [ssh('h1', 22, 6), ssh('h2', 22)], toolchain: { kind: 'c' } },
        { id: 'b', executor: ssh('H1', 22, 3), toolchain: { kind: 'c', cflags: ['-O2'] } },
      ],
    });
    expect(sshSessionLimits(file)).toEqual(
      new Map([
        ['h1:22', 3],
        ['h2:22', 4],
      ]),
    );
  });
});
