/**
 * Progress of the searches running in this process: their jobs publish events, subscribers (the
 * GraphQL subscription, the CLI) read them as an async iterable from the moment they subscribe.
 */
import { EventEmitter, on } from 'node:events';
import { speedupOf, type ProgressEvent, type SearchRecord } from '../schedules/index.js';

const TERMINAL = new Set<ProgressEvent['type']>(['finished', 'cancelled', 'failed']);

/** Progress events of the searches running in this process, from their jobs to their subscribers. */
export interface ProgressBus {
  publish(event: ProgressEvent): void;
  /** Ends the subscriptions of a search whose job ended: they read what was published, then stop. */
  end(searchId: string): void;
  /** Events of one search published from now on; ends after a terminal event, after `end`, or (quietly) when `signal` aborts. */
  subscribe(searchId: string, signal?: AbortSignal): AsyncGenerator<ProgressEvent>;
}

/** A bus with no subscribers; it keeps no events, so a subscriber sees only what is published after it subscribed. */
export function createProgressBus(): ProgressBus {
  const emitter = new EventEmitter();
  // Any number of clients may watch one search.
  emitter.setMaxListeners(0);
  // Prefixed, so no search id can be taken for one of the emitter's own event names ('error').
  const eventName = (searchId: string): string => `progress:${searchId}`;
  const endName = (searchId: string): string => `end:${searchId}`;
  return {
    publish(event) {
      emitter.emit(eventName(event.searchId), event);
    },
    end(searchId) {
      emitter.emit(endName(searchId));
    },
    async *subscribe(searchId, signal) {
      if (signal?.aborted) return;
      // events.on yields the arguments of each emit; publish emits one event.
      const events = on(emitter, eventName(searchId), {
        close: [endName(searchId)],
        ...(signal ? { signal } : {}),
      }) as AsyncIterableIterator<[ProgressEvent]>;
      try {
        for await (const [event] of events) {
          if (signal?.aborted) return;
          yield event;
          if (TERMINAL.has(event.type)) return;
        }
      } catch (error) {
        // A subscriber that goes away ends its subscription; that is no error.
        if (signal?.aborted) return;
        throw error;
      }
    },
  };
}

/** The event that tells where a stored search stands (its last state, for a search that is not running here). */
export function progressEventOf(record: SearchRecord): ProgressEvent {
  const type: ProgressEvent['type'] =
    record.status === 'finished'
      ? 'finished'
      : record.status === 'cancelled'
        ? 'cancelled'
        : record.status === 'failed'
          ? 'failed'
          : 'started';
  return {
    searchId: record.id,
    type,
    status: record.status,
    iteration: record.iteration,
    iterations: record.config.iterations,
    samplesUsed: record.samplesUsed,
    budget: record.config.budget,
    baselineLatencyMs: record.baselineLatencyMs,
    bestLatencyMs: record.bestLatencyMs,
    speedup: speedupOf(record),
    ...(record.error ? { message: record.error } : record.message ? { message: record.message } : {}),
  };
}
