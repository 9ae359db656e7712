/**
 * Which processes of this machine still run a command line holding a marker. Candidates run in
 * PID namespaces, so pids they report mean nothing outside; their command lines are visible from
 * here, and both executors under test run their commands on this machine.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live (not zombie) processes whose command line contains `marker`. */
export function runningWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The state follows the command name, which is in parentheses and may hold spaces.
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
