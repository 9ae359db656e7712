import type { ParseArgsConfig } from 'node:util';

/** Where a command reads its environment and writes its output; the real process in production. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** What node:util parseArgs produced for a command's declared options. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** One `skb <name>` subcommand. main.ts lists them; adding one is one import and one table entry. */
export interface CliCommand {
  name: string;
  /** One line for `skb --help`. */
  summary: string;
  /** Full usage text for `skb <name> --help`: synopsis, flags, environment. */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** How many positional arguments it takes. */
  positionals: { min: number; max: number };
  /** Runs the command; resolves to the process exit code. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** A mistake in how the command was called: reported with a hint to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Writes text and waits until the stream has taken it, so large outputs are not cut off at exit. */
export function writeOut(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
