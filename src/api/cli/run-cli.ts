import { parseArgs } from 'node:util';
import { isSkbError } from '../../schedules/index.js';
import { UsageError, writeOut, type CliCommand, type CliIo } from './command.js';

/** Exit codes: 0 done, 1 the command failed, 2 it was called wrongly, 130 stopped by Ctrl-C. */
export const EXIT = { ok: 0, failed: 1, usage: 2, flagged: 3, interrupted: 130 } as const;

function overview(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'skb: a knowledge base of tensor-kernel optimization schedules',
    '',
    'Usage: skb <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `skb <command> --help` for the options of one command.',
    'Configuration comes from SKB_* environment variables (see `skb serve --help`).',
    '',
  ].join('\n');
}

function isParseArgsError(error: unknown): error is Error {
  const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** Dispatches `argv` (without node and the script) to one of `commands` and returns the exit code. */
export async function runCli(commands: readonly CliCommand[], argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    await writeOut(io.stderr, overview(commands));
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    await writeOut(io.stdout, overview(commands));
    return EXIT.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    await writeOut(
      io.stderr,
      `skb: unknown command "${name}". Commands: ${commands.map((c) => c.name).join(', ')}. Run skb --help.\n`,
    );
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    await writeOut(io.stdout, command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    const parsed = parseArgs({
      args: rest,
      options: command.options,
      allowPositionals: command.positionals.max > 0,
      strict: true,
    });
    const count = parsed.positionals.length;
    if (count < command.positionals.min || count > command.positionals.max) {
      throw new UsageError(
        command.positionals.max === 0
          ? `skb ${name} takes no arguments besides its options (got "${parsed.positionals.join(' ')}")`
          : `skb ${name} takes ${command.positionals.min === command.positionals.max ? command.positionals.min : `${command.positionals.min} to ${command.positionals.max}`} argument(s), got ${count}`,
      );
    }
    return await command.run(
      { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals },
      io,
    );
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      await writeOut(io.stderr, `skb ${name}: ${error.message}\nRun skb ${name} --help for its usage.\n`);
      return EXIT.usage;
    }
    if (isSkbError(error)) {
      const lines = [`skb ${name}: ${error.message}`];
      const errors = error.details?.errors;
      if (Array.isArray(errors)) {
        for (const e of errors as Array<{ line?: unknown; message?: unknown }>)
          lines.push(`  line ${String(e.line)}: ${String(e.message)}`);
      }
      await writeOut(io.stderr, `${lines.join('\n')}\n`);
      return EXIT.failed;
    }
    await writeOut(
      io.stderr,
      `skb ${name}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failed;
  }
}
