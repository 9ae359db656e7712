import { createHash, timingSafeEqual } from 'node:crypto';
import type { WriteAccess } from './graphql/context.js';

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function hostName(hostHeader: string | null): string {
  if (!hostHeader) return '';
  return hostHeader.startsWith('[')
    ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
    : (hostHeader.split(':')[0] ?? '');
}

/**
 * Decides whether a request may run mutations (which change the knowledge base and, later, run
 * code on targets). With an API token: only with `Authorization: Bearer <token>`. Without one the
 * server listens on loopback only; mutations then need a loopback peer and a loopback Host header,
 * the latter so a web page that rebinds its DNS name to 127.0.0.1 cannot write.
 */
export function createWriteAccessCheck(options: {
  apiToken: string | undefined;
}): (request: Request, remoteAddress: string | undefined) => WriteAccess {
  const expected = options.apiToken ? digest(options.apiToken) : null;
  return (request, remoteAddress) => {
    if (expected) {
      const header = request.headers.get('authorization');
      const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match)
        return {
          canWrite: false,
          reason: 'This mutation needs the API token: send the header Authorization: Bearer <SKB_API_TOKEN>.',
        };
      // Compare digests so the comparison takes the same time whatever the token's length.
      if (!timingSafeEqual(digest(match[1]!), expected))
        return {
          canWrite: false,
          reason: 'The API token is wrong: send the value of SKB_API_TOKEN as Authorization: Bearer <token>.',
        };
      return { canWrite: true, reason: 'token' };
    }
    const fromLoopback = remoteAddress !== undefined && LOOPBACK_ADDRESSES.has(remoteAddress);
    if (!fromLoopback || !LOOPBACK_HOSTS.has(hostName(request.headers.get('host')))) {
      return {
        canWrite: false,
        reason:
          'No SKB_API_TOKEN is set, so mutations are accepted only from this machine at http://127.0.0.1 or http://localhost: set SKB_API_TOKEN to allow others.',
      };
    }
    return { canWrite: true, reason: 'loopback' };
  };
}
