/**
 * One lane per target: evaluations of different searches on one target run one at a time, in
 * arrival order, so one search's timing runs never share the machine with another's.
 */
import { Mutex } from 'async-mutex';

/** Runs `task` in the lane of `key` once the tasks before it are done; a task still waiting leaves its turn (rejects with the reason) when `signal` aborts. */
export type TargetLanes = <T>(key: string, signal: AbortSignal, task: () => Promise<T>) => Promise<T>;

/** Creates the lanes of one search service; a lane lives as long as the service (there are few targets). */
export function createTargetLanes(): TargetLanes {
  const lanes = new Map<string, Mutex>();
  return async (key, signal, task) => {
    signal.throwIfAborted();
    const lane = lanes.get(key) ?? new Mutex();
    lanes.set(key, lane);
    const turn = lane.acquire();
    let release: () => void;
    try {
      release = await untilAborted(turn, signal);
    } catch (error) {
      // The turn still comes in order; it is handed on at once.
      void turn.then((handOn) => handOn());
      throw error;
    }
    try {
      return await task();
    } finally {
      release();
    }
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
