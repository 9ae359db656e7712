/**
 * A target's pool: the members of one targets-file entry (several SSH hosts of one hardware
 * family, or the GPUs of a host), each running one search at a time. A search holds its member
 * from its first sample to its end, so all its samples are timed on one machine and its
 * comparisons stay fair; searches beyond the members wait their turn, first come first served.
 * A member that fails (the host drops, its GPU is gone, its hardware is not the pool's) is taken
 * out: it is offered again only once `retryMs` has passed, or when every member is down.
 */
import { hostname } from 'node:os';
import { SkbError, messageOf, targetFamily, targetKey } from '../schedules/index.js';
import { createMemberTarget, type Target, type TargetDeps } from './target.js';
import { membersOf, type TargetEntry } from './targets-file.js';

export type MemberStateName = 'idle' | 'busy' | 'down';

/** One member as `targets` shows it. */
export interface MemberState {
  name: string;
  state: MemberStateName;
  /** The search it runs now (busy), else null. */
  searchId: string | null;
  /** Why it was taken out of the pool (down), else null. */
  reason: string | null;
  /** When it entered this state (ISO 8601). */
  since: string;
  /** The key of its fingerprint, once it was taken (null before). */
  key: string | null;
}

/** A member held by one search until `release` (or `drop`, when the member failed under it). */
export interface MemberLease {
  readonly target: Target;
  /** Gives the member back to the pool. */
  release(): void;
  /** Takes the member out of the pool for `error` and gives up the lease. */
  drop(error: unknown): void;
}

export interface TargetPool {
  readonly id: string;
  /** The first member: what every member shares (toolchain kind, contract, description). */
  readonly primary: Target;
  /** Every member's target, in the order of the targets file. */
  readonly members: readonly Target[];
  /**
   * Waits for a member for search `searchId` (never one of `exclude`, the members the search
   * lost), checks it answers and is of the pool's hardware family, and hands it over. Rejects
   * with the reason when `signal` aborts, and with a TARGET error when no member is left to try.
   */
  acquire(searchId: string, signal: AbortSignal, exclude?: ReadonlySet<string>): Promise<MemberLease>;
  states(): MemberState[];
  close(): Promise<void>;
}

/** Errors of the machine, not of a candidate: the member, not the search, is to blame. */
export function isMemberFailure(error: unknown): boolean {
  return error instanceof SkbError && error.code === 'TARGET';
}

/** A down member is offered again after this long (a host back from a reboot rejoins by itself). */
export const MEMBER_RETRY_MS = 60_000;

interface Member {
  target: Target;
  state: MemberState;
  retryAt: number;
  /** The name every replica knows this machine (or GPU) by: a local member with its host name. */
  leaseKey: string;
  /** Until when a search of another replica holds it (its lease, seen when a claim failed). */
  elsewhereUntil: number;
}

/**
 * Leases on members kept in the database the replicas share, so two services on one database
 * never time two searches on one machine at once. Without them, members are this process's alone.
 */
export interface MemberClaims {
  /** Takes or renews the member's lease for search `owner`; whether `owner` holds it now. */
  claim(member: string, owner: string): Promise<boolean>;
  release(member: string, owner: string): Promise<void>;
  /** How long a lease lasts unrenewed: a dead replica's members are free again after it. */
  ttlMs: number;
  /** Called with errors of lease renewals and releases (the search goes on). */
  onError?: (error: unknown) => void;
}

export interface PoolOptions {
  /** How long a down member stays out (default MEMBER_RETRY_MS). */
  retryMs?: number;
  now?: () => number;
  /** Called with a member's fingerprint key when a search or check first takes the member. */
  onFingerprint?: (key: string) => void;
  /** Leases shared with the other replicas of the database (see MemberClaims). */
  claims?: MemberClaims;
}

/** A member's name as every replica knows it: "local" means this machine, so it takes the host name. */
function leaseKeyOf(member: string): string {
  return member.replace(/^local\b/, `local@${hostname()}`);
}

/** The pool of a targets-file entry: one target per member. Nothing connects until a member is used. */
export function createTargetPool(entry: TargetEntry, deps: TargetDeps & PoolOptions = {}): TargetPool {
  return poolOfTargets(
    entry.id,
    membersOf(entry).map((m) => createMemberTarget(entry, m, deps)),
    deps,
  );
}

/** A pool of targets already built (the members of target `id`, each named by its `member`). */
export function poolOfTargets(id: string, targets: readonly Target[], options: PoolOptions = {}): TargetPool {
  if (targets.length === 0) throw new SkbError('CONFIG', `Target ${id} has no members`);
  const retryMs = options.retryMs ?? MEMBER_RETRY_MS;
  const now = options.now ?? Date.now;
  const stamp = (): string => new Date(now()).toISOString();
  const members: Member[] = targets.map((target) => ({
    target,
    state: { name: target.member, state: 'idle', searchId: null, reason: null, since: stamp(), key: null },
    retryAt: 0,
    leaseKey: leaseKeyOf(target.member),
    elsewhereUntil: 0,
  }));
  const claims = options.claims;
  const reportClaimError = (error: unknown): void => claims?.onError?.(error);
  /** Gives up search `searchId`'s shared lease on `member`, if leases are shared; never throws. */
  const releaseClaim = async (member: Member, searchId: string): Promise<void> => {
    await claims?.release(member.leaseKey, searchId).catch(reportClaimError);
  };
  /** The family of the first member fingerprinted: every other member must match it. */
  let family: string | null = null;
  let waiters: (() => void)[] = [];

  const wake = (): void => {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  };
  const set = (member: Member, state: MemberStateName, searchId: string | null, reason: string | null): void => {
    member.state = { ...member.state, state, searchId, reason, since: stamp() };
  };
  const markDown = (member: Member, error: unknown): void => {
    set(member, 'down', null, messageOf(error));
    member.retryAt = now() + retryMs;
    wake();
  };
  /** Resolves at the next release or failure, or after `timeoutMs` (a member another replica holds may free up). */
  const waitForChange = (signal: AbortSignal, timeoutMs?: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(), timeoutMs);
      const onAbort = (): void => {
        clearTimeout(timer);
        waiters = waiters.filter((w) => w !== done);
        reject(signal.reason);
      };
      const done = (): void => {
        clearTimeout(timer);
        waiters = waiters.filter((w) => w !== done);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      waiters.push(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  /** Checks a reserved member: a down one must answer again; every one must be of the pool's family. */
  async function check(member: Member, wasDown: boolean): Promise<void> {
    if (wasDown) {
      const ws = await member.target.executor.createWorkspace();
      await ws.dispose();
    }
    const fingerprint = await member.target.fingerprint();
    if (member.state.key === null) {
      member.state.key = targetKey(fingerprint);
      options.onFingerprint?.(member.state.key);
    }
    const mine = targetFamily(fingerprint);
    family ??= mine;
    if (mine !== family)
      throw new SkbError(
        'TARGET',
        `${member.state.name} is hardware of family ${mine}, not the pool's ${family}: a pool's members must be one kind of machine (give it a target entry of its own)`,
      );
  }

  /** Hands `member` to search `searchId`, renewing its shared lease (if any) until released or dropped. */
  function holdLease(member: Member, searchId: string): MemberLease {
    let held = true;
    const renewal = claims
      ? setInterval(
          () => void claims.claim(member.leaseKey, searchId).catch(reportClaimError),
          Math.max(50, Math.floor(claims.ttlMs / 3)),
        )
      : undefined;
    renewal?.unref();
    const giveUp = (): void => {
      held = false;
      clearInterval(renewal);
      void releaseClaim(member, searchId);
    };
    return {
      target: member.target,
      release() {
        if (!held) return;
        giveUp();
        set(member, 'idle', null, null);
        wake();
      },
      drop(error) {
        if (!held) return;
        giveUp();
        markDown(member, error);
      },
    };
  }

  return {
    id,
    primary: members[0]!.target,
    members: members.map((m) => m.target),

    async acquire(searchId, signal, exclude = new Set()) {
      // Members that failed their check during this call: not tried twice in it.
      const failedNow = new Map<Member, string>();
      for (;;) {
        signal.throwIfAborted();
        const usable = members.filter((m) => !exclude.has(m.state.name) && !failedNow.has(m));
        const free = (m: Member): boolean => m.state.state === 'idle' && m.elsewhereUntil <= now();
        const pick =
          usable.find(free) ??
          usable.find((m) => m.state.state === 'down' && now() >= m.retryAt) ??
          // Every usable member is down: try them again rather than refusing the search unheard.
          (usable.some((m) => m.state.state === 'busy' || m.elsewhereUntil > now())
            ? undefined
            : usable.find((m) => m.state.state === 'down'));
        if (!pick) {
          if (usable.length === 0) {
            const reasons = members.map(
              (m) => `${m.state.name}: ${failedNow.get(m) ?? m.state.reason ?? 'lost by this search'}`,
            );
            throw new SkbError(
              'TARGET',
              `No member of target ${id} can run search ${searchId} (${reasons.join('; ')})`,
            );
          }
          // A member another replica holds is asked again when its lease could have lapsed.
          const elsewhere = usable.filter((m) => m.elsewhereUntil > now()).map((m) => m.elsewhereUntil - now());
          await waitForChange(signal, elsewhere.length ? Math.max(50, Math.min(...elsewhere)) : undefined);
          continue;
        }
        const before = { ...pick.state };
        const wasDown = before.state === 'down';
        set(pick, 'busy', searchId, null);
        // Claimed before it is probed: a first fingerprint must not run beside another replica's timing.
        let claimed = true;
        try {
          claimed = !claims || (await claims.claim(pick.leaseKey, searchId));
        } catch (error) {
          pick.state = before;
          wake();
          throw error;
        }
        if (!claimed) {
          // A search of another replica times on it: left to that one until its lease could lapse.
          pick.state = before;
          pick.elsewhereUntil = now() + Math.max(50, Math.floor(claims!.ttlMs / 2));
          continue;
        }
        try {
          await check(pick, wasDown);
        } catch (error) {
          await releaseClaim(pick, searchId);
          if (!isMemberFailure(error)) {
            pick.state = before;
            wake();
            throw error;
          }
          failedNow.set(pick, messageOf(error));
          markDown(pick, error);
          continue;
        }
        if (signal.aborted) {
          set(pick, 'idle', null, null);
          await releaseClaim(pick, searchId);
          wake();
          signal.throwIfAborted();
        }
        return holdLease(pick, searchId);
      }
    },

    states: () =>
      members.map((m) =>
        m.state.state === 'idle' && m.elsewhereUntil > now()
          ? { ...m.state, state: 'busy', reason: 'running a search of another replica of this database' }
          : { ...m.state },
      ),

    async close() {
      await Promise.all(members.map((m) => m.target.close()));
    },
  };
}
