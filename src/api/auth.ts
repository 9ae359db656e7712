import { createHash, timingSafeEqual } from 'node:crypto';
import type { WriteAccess } from './graphql/context.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Decides whether a token grants write access: the same check for the Authorization header of a
 * GraphQL request and for the token field of a console form. `tokenHint` says where a user finds
 * the token (the variable, or the generated file).
 */
export function createTokenCheck(options: {
  apiToken: string;
  tokenHint: string;
}): (token: string | null) => WriteAccess {
  const expected = digest(options.apiToken);
  return (token) => {
    if (!token)
      return {
        canWrite: false,
        reason: `This mutation needs the API token: send the header Authorization: Bearer <token>, the token being ${options.tokenHint}.`,
      };
    // Compare digests so the comparison takes the same time whatever the token's length.
    if (!timingSafeEqual(digest(token), expected))
      return {
        canWrite: false,
        reason: `The API token is wrong: send ${options.tokenHint} as Authorization: Bearer <token>.`,
      };
    return { canWrite: true, reason: 'token' };
  };
}

/**
 * Decides whether a request may run mutations (which change the knowledge base and run code on
 * targets): only with `Authorization: Bearer <token>`, from every address. Loopback earns no
 * trust, because candidates, other accounts' processes and DNS-rebinding pages all speak from it.
 */
export function createWriteAccessCheck(options: {
  apiToken: string;
  tokenHint: string;
}): (request: Request) => WriteAccess {
  const check = createTokenCheck(options);
  return (request) => {
    const header = request.headers.get('authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return check(match ? match[1]! : null);
  };
}
