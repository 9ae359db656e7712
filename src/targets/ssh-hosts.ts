/**
 * Channel slots per SSH host, shared by every executor that names the host: pool members, and
 * entries of the targets file that point at the same machine, all count against one limit, since
 * the host's sshd refuses channels past its own MaxSessions whoever opens them.
 */
import { Semaphore } from 'async-mutex';
import { DEFAULT_SSH_SESSIONS, sshHostKey } from './targets-file.js';

export interface SshHostRegistry {
  /** The slots of host:port, created on first use with the host's limit. */
  slots(host: { host: string; port: number }): Semaphore;
}

/** A registry whose hosts get the limits of `limits` (host:port to channels), 4 for a host not in it. */
export function createSshHostRegistry(limits: ReadonlyMap<string, number> = new Map()): SshHostRegistry {
  const hosts = new Map<string, Semaphore>();
  return {
    slots(host) {
      const key = sshHostKey(host);
      let slots = hosts.get(key);
      if (!slots) {
        slots = new Semaphore(limits.get(key) ?? DEFAULT_SSH_SESSIONS);
        hosts.set(key, slots);
      }
      return slots;
    },
  };
}
