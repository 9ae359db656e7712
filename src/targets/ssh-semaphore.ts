/**
 * A counting semaphore, first come first served. The SSH executor holds one per host so that no more
 * than `maxSessions` exec or SFTP channels are open at once: OpenSSH refuses channels past its own
 * `MaxSessions` (10 by default), and a refusal mid-search would look like a failed candidate.
 */
export interface Semaphore {
  /** Waits for a free slot; the returned function gives it back (calling it twice is harmless). */
  acquire(): Promise<() => void>;
  /** Slots in use now. */
  readonly inUse: number;
}

export function createSemaphore(slots: number): Semaphore {
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`semaphore needs a positive integer slot count, got ${slots}`);
  let inUse = 0;
  const waiting: Array<() => void> = [];

  const makeRelease = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot overtake it.
      if (next) next();
      else inUse -= 1;
    };
  };

  return {
    get inUse() {
      return inUse;
    },
    acquire() {
      if (inUse < slots) {
        inUse += 1;
        return Promise.resolve(makeRelease());
      }
      return new Promise((resolve) => waiting.push(() => resolve(makeRelease())));
    },
  };
}
