import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SkbError, messageOf } from '../../schedules/index.js';
import { loadConfig } from '../config.js';
import { openConfiguredKnowledgeBase } from '../configured-knowledge-base.js';
import { writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';

/** `skb import FILE`: all of a JSON Lines file, or (on any bad line) nothing. */
export const importCommand: CliCommand = {
  name: 'import',
  summary: 'import a JSON Lines file of schedules (all or nothing)',
  usage: `Usage: skb import FILE

Validates every line of FILE (as written by \`skb export\`), then stores all of it in one
transaction. Schedules already stored (same content) are counted as duplicates. If any line is
bad, every bad line is printed with its number, nothing is imported, and the exit code is 1.

${ENVIRONMENT_HELP}
`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const path = resolve(io.cwd, args.positionals[0]!);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new SkbError(
        'BAD_INPUT',
        `Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}. Check the file name.`,
        undefined,
        { cause: error },
      );
    }
    const config = loadConfig(io.env, io.cwd);
    const kb = await openConfiguredKnowledgeBase(config);
    try {
      const report = await kb.importJsonl(text);
      await writeOut(
        io.stdout,
        `imported ${report.imported} schedule(s), ${report.duplicates} duplicate(s) skipped, ${report.targets} target(s)\n`,
      );
    } finally {
      await kb.close();
    }
    return EXIT.ok;
  },
};
