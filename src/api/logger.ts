import { isSkbError } from '../schedules/index.js';

/** The service's log sink. Tests pass their own to see what the service logs. */
export interface Logger {
  debug(message: string, ...meta: unknown[]): void;
  info(message: string, ...meta: unknown[]): void;
  warn(message: string, ...meta: unknown[]): void;
  error(message: string, ...meta: unknown[]): void;
}

/** Logs to stderr (stdout stays free for command output such as JSONL); debug only when SKB_DEBUG is set. */
export function createConsoleLogger(options: { debug?: boolean } = {}): Logger {
  const write = (level: string, message: string, meta: unknown[]) => {
    const rest = meta.map((m) =>
      m instanceof Error ? (m.stack ?? m.message) : typeof m === 'string' ? m : JSON.stringify(m),
    );
    process.stderr.write(`${new Date().toISOString()} ${level} ${[message, ...rest].join(' ')}\n`);
  };
  return {
    debug: (message, ...meta) => {
      if (options.debug) write('debug', message, meta);
    },
    info: (message, ...meta) => write('info', message, meta),
    warn: (message, ...meta) => write('warn', message, meta),
    error: (message, ...meta) => write('error', message, meta),
  };
}

/**
 * The logger graphql-yoga writes to. yoga logs every error its mask replaced; user errors
 * (SkbError below 500) are expected traffic, so they go to debug and only real faults to error.
 */
export function toYogaLogger(logger: Logger): {
  debug(...a: unknown[]): void;
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
} {
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  return {
    debug: (...args) => logger.debug(`graphql: ${text(args)}`),
    info: (...args) => logger.info(`graphql: ${text(args)}`),
    warn: (...args) => logger.warn(`graphql: ${text(args)}`),
    error: (...args) => {
      const [first] = args;
      const cause = rootOf(first);
      if (isSkbError(cause) && cause.status < 500) logger.debug(`graphql: ${cause.code}: ${cause.message}`);
      else logger.error('graphql: unexpected error', cause ?? first);
    },
  };
}

function rootOf(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && 'originalError' in current && current.originalError)
    current = current.originalError;
  return current;
}
