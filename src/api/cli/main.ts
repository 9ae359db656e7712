/**
 * The `skb` command line. Each subcommand is one module; to add one, import it and add it to
 * COMMANDS (the order is the order of `skb --help`).
 */
import type { CliCommand } from './command.js';
import { exportCommand } from './export-command.js';
import { importCommand } from './import-command.js';
import { kernelbenchCommand } from './kernelbench-command.js';
import { optimizeCommand } from './optimize-command.js';
import { revalidateCommand } from './revalidate-command.js';
import { runCli } from './run-cli.js';
import { scheduleCommand } from './schedule-command.js';
import { schedulesCommand } from './schedules-command.js';
import { searchCommand, searchesCommand } from './searches-command.js';
import { serveCommand } from './serve-command.js';
import { similarCommand } from './similar-command.js';
import { targetsCommand } from './targets-command.js';
import { tokenCommand } from './token-command.js';

export const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  optimizeCommand,
  kernelbenchCommand,
  searchesCommand,
  searchCommand,
  schedulesCommand,
  scheduleCommand,
  similarCommand,
  exportCommand,
  importCommand,
  revalidateCommand,
  targetsCommand,
  tokenCommand,
];

process.exitCode = await runCli(COMMANDS, process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
