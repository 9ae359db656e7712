import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { SkbError, messageOf, tallyFailedSamples } from '../../schedules/index.js';
import type { KernelBenchToolchain } from '../../targets/kernelbench/kernelbench-toolchain.js';
import { eagerCandidate, torchCompileCandidate } from '../../targets/kernelbench/torch-compile-candidate.js';
import {
  geomean,
  overEager,
  parseSuiteResults,
  runKernelBenchSuite,
  searchWinner,
  type SuiteDeps,
  type SuiteProblem,
  type SuiteResults,
  type SuiteSearch,
} from '../kernelbench-suite.js';
import type { Services } from '../services.js';
import { UsageError, writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { countFlag, stringFlag } from './flags.js';
import { EXIT } from './run-cli.js';
import { describeOperation, formatMs } from './search-report.js';
import { table } from './table.js';
import { withServices } from './with-services.js';

/** The most problem files one run takes, and the most a file may hold (the API's problemSource limit). */
const MAX_PROBLEMS = 500;
const MAX_PROBLEM_BYTES = 1_000_000;

async function readProblems(files: readonly string[], cwd: string): Promise<{ file: string; source: string }[]> {
  const problems = [];
  for (const file of files) {
    const path = resolve(cwd, file);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      throw new UsageError(`${file}: cannot read it (${messageOf(error)})`);
    }
    if (size > MAX_PROBLEM_BYTES)
      throw new UsageError(`${file} holds ${size} bytes; a KernelBench problem file is at most ${MAX_PROBLEM_BYTES}`);
    problems.push({ file, source: await readFile(path, 'utf8') });
  }
  return problems;
}

/** The results of an earlier run at `path`, or null when there is none; a file that is not one is refused, untouched. */
async function previousResults(path: string): Promise<SuiteResults | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return parseSuiteResults(text);
  } catch {
    throw new UsageError(
      `--out ${path} holds something other than skb kernelbench results: name another file, or remove it`,
    );
  }
}

/** Writes through a temporary file, so a run killed mid-write leaves the last whole results. */
async function saveResults(path: string, results: SuiteResults): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

function requireKernelBenchTarget(services: Services, targetId: string): void {
  const kind = services.target(targetId).primary.toolchain.kind;
  if (kind !== 'kernelbench')
    throw new UsageError(
      `Target ${targetId} has a ${kind} toolchain: skb kernelbench needs a kernelbench target of the targets file (see skb targets list)`,
    );
}

/** The service's side of the suite: searches through the search service, timing on a held member. */
function suiteDeps(
  services: Services,
  targetId: string,
  budget: number,
  out: string,
  io: { stderr: NodeJS.WritableStream },
): SuiteDeps {
  return {
    async search(problemSource, warmStart) {
      const started = performance.now();
      const record = await services.search.start({ target: targetId, problemSource }, { budget, warmStart });
      const ended = await services.search.wait(record.id);
      const wallSeconds = (performance.now() - started) / 1000;
      const candidates = (await services.search.get(record.id))?.candidates ?? [];
      return {
        record: ended,
        wallSeconds,
        failedSamples: tallyFailedSamples(candidates),
        best: searchWinner(ended, candidates),
      };
    },
    async reference(problemSource) {
      // Held like a search holds its member, so no search of this service times on it meanwhile.
      const lease = await services.target(targetId).acquire('kernelbench-reference', new AbortController().signal);
      try {
        const toolchain = lease.target.toolchain as KernelBenchToolchain;
        // The problem's own Model first, so eager is timed even when torch.compile fails to build.
        const [eager, compiled] = await toolchain.evaluateProblem({
          problemSource,
          candidates: [eagerCandidate(problemSource), torchCompileCandidate(problemSource)],
          executor: lease.target.executor,
        });
        const eagerMs = eager?.referenceLatencyMs ?? null;
        if (eagerMs === null)
          throw new SkbError(
            'BAD_INPUT',
            `the problem's eager reference could not be timed: ${eager?.result.feedback.join('; ') || 'no result'}`,
          );
        const compileMs = compiled?.result.correct ? compiled.result.latencyMs : null;
        const ok = compileMs !== null;
        return {
          eagerMs,
          compileMs,
          compileError: ok ? null : compiled?.result.feedback.join('; ').slice(0, 500) || 'torch.compile failed',
        };
      } finally {
        lease.release();
      }
    },
    save: (results) => saveResults(out, results),
    progress: (line) => io.stderr.write(`${line}\n`),
  };
}

function speedupCell(entry: SuiteProblem, ms: number | null | undefined): string {
  const x = overEager(entry, ms);
  return ms == null ? '-' : `${formatMs(ms)} ms (${x === null ? '-' : `${x.toFixed(2)}x`})`;
}

function searchCells(entry: SuiteProblem, search: SuiteSearch | null): string[] {
  if (!search) return ['-', '-'];
  const how = search.status === 'finished' ? '' : ` ${search.status}`;
  return [speedupCell(entry, search.bestMs) + how, `${search.samples} / ${search.wallSeconds} s`];
}

/** The printed report: a row per problem, then the geometric means over eager. */
export function suiteReport(results: SuiteResults): string {
  const rows = results.problems.map((p) => [
    basename(p.file),
    p.operation ? describeOperation(p.operation) : p.error ? `not searched: ${p.error.slice(0, 120)}` : '-',
    p.eagerMs === null ? '-' : `${formatMs(p.eagerMs)} ms`,
    p.compileMs === null ? (p.compileError ? 'failed' : '-') : speedupCell(p, p.compileMs),
    ...searchCells(p, p.cold),
    ...searchCells(p, p.warm),
  ]);
  const mean = (pick: (p: SuiteProblem) => number | null | undefined) => geomeanOver(results.problems, pick);
  const searched = results.problems.filter((p) => p.cold?.status === 'finished');
  const lines = [
    table(
      ['PROBLEM', 'OPERATION', 'EAGER', 'TORCH.COMPILE', 'COLD BEST', 'SAMPLES / WALL', 'WARM BEST', 'SAMPLES / WALL'],
      rows,
    ),
    '',
    `Geometric means over eager, budget ${results.budget} on ${results.target} (${searched.length} of ${results.problems.length} problems searched):`,
    `  torch.compile ${mean((p) => p.compileMs)}, cold best ${mean((p) => p.cold?.bestMs)}, warm best ${mean((p) => p.warm?.bestMs)}`,
    // Where a template covers only some problems, compare like with like too.
    `  over the searched problems: torch.compile ${geomeanOver(searched, (p) => p.compileMs)}, cold ${geomeanOver(searched, (p) => p.cold?.bestMs)}, warm ${geomeanOver(searched, (p) => p.warm?.bestMs)}`,
    ...failedSampleLines(results.problems),
    ...winnerLines(results.problems),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Per search that lost samples, how many and why: a search that ended near 1x because its
 * kernels failed reads differently from one whose kernels were correct and no faster.
 */
function failedSampleLines(problems: readonly SuiteProblem[]): string[] {
  const lines: string[] = [];
  for (const p of problems)
    for (const [phase, search] of phasesOf(p)) {
      const causes = Object.entries(search.failedSamples).sort(([a], [b]) => a.localeCompare(b));
      if (!causes.length) continue;
      const failed = causes.reduce((n, [, count]) => n + count, 0);
      const why = causes.map(([cause, count]) => `${count} ${cause}`).join(', ');
      lines.push(`  ${basename(p.file)} ${phase}: ${failed} of ${search.samples} samples did not count (${why})`);
    }
  return lines.length ? ['', 'Samples that did not count (see skb search ID):', ...lines] : [];
}

/** Each finished search's phases as [name, search], in the report's order. */
function phasesOf(p: SuiteProblem): [string, SuiteSearch][] {
  return (
    [
      ['cold', p.cold],
      ['warm', p.warm],
    ] as const
  ).filter((e): e is ['cold' | 'warm', SuiteSearch] => e[1] !== null);
}

/** What each search ended on: the winning sample's option and knobs, or the baseline kept. */
function winnerLines(problems: readonly SuiteProblem[]): string[] {
  const lines: string[] = [];
  for (const p of problems)
    for (const [phase, search] of phasesOf(p)) {
      if (search.status !== 'finished') continue;
      const best = search.best;
      const what = !best
        ? 'the baseline (nothing beat it)'
        : `sample ${best.sample}${best.optionId ? ` (${best.optionId})` : ''}${best.knobs ? `: ${knobText(best.knobs)}` : ''}`;
      lines.push(`  ${basename(p.file)} ${phase}: ${what}`);
    }
  return lines.length ? ['', 'What each search ended on:', ...lines] : [];
}

/** Knobs as `name=value` pairs in the order the template gave them. */
function knobText(knobs: Record<string, unknown>): string {
  return Object.entries(knobs)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

function geomeanOver(problems: readonly SuiteProblem[], pick: (p: SuiteProblem) => number | null | undefined): string {
  const g = geomean(problems.map((p) => overEager(p, pick(p))));
  return g === null ? '-' : `${g.toFixed(3)}x`;
}

/** `skb kernelbench FILE...`: KernelBench problems through the service, with eager and torch.compile beside. */
export const kernelbenchCommand: CliCommand = {
  name: 'kernelbench',
  summary:
    'run KernelBench problem files through the service: eager, torch.compile, cold and warm searches, as a table',
  usage: `Usage: skb kernelbench FILE... --target ID [--budget N] [--out FILE] [--json]

Runs KernelBench problem files (your own checkout's, e.g. KernelBench/level2/*.py) through the
service on a kernelbench target of the targets file. For each problem, in order: eager PyTorch
and torch.compile (default mode) timed by the harness in one run; then a cold search (warm start
off, the operation recognised from the problem's forward). Then, for each problem, a warm search
seeded from the schedules the other problems' searches stored (every retrieval tier but exact,
so no problem seeds itself). Prints per problem: eager, torch.compile, cold and warm best (with
the speedup over eager), samples and wall time, and the geometric means over eager; then the
searches that lost samples (how many, and why), and what each search ended on (the winning
sample, its menu option and the template's knobs, or the baseline kept).

Results are saved to --out after every step; running the same command again resumes where it
stopped (a step already done for an unchanged file, target and budget is not run again).
Problems no template computes are reported with the reason and left out of the searches.

Options:
  --target ID           a kernelbench target of the targets file (required)
  --budget N            samples per search (default 16)
  --out FILE            results as JSON, read again to resume (default skb-kernelbench.json)
  --json                print the results as JSON instead of the table

Exit status: 0 when every recognised problem was searched, 1 when a search failed or nothing could be searched.

${ENVIRONMENT_HELP}
  SKB_TARGETS_FILE      the targets file (default data/targets.json)
`,
  options: {
    target: { type: 'string' },
    budget: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: MAX_PROBLEMS },
  async run(args, io) {
    const targetId = stringFlag(args, 'target');
    if (!targetId) throw new UsageError('--target ID is required: a kernelbench target of the targets file');
    const budget = countFlag(args, 'budget', 16, 10_000);
    const out = resolve(io.cwd, stringFlag(args, 'out') ?? 'skb-kernelbench.json');
    const problems = await readProblems(args.positionals, io.cwd);
    if (new Set(problems.map((p) => p.file)).size !== problems.length)
      throw new UsageError('A problem file is named twice: name each once');
    const previous = await previousResults(out);
    return withServices(io, async (services) => {
      if (!services.targetIds.includes(targetId))
        throw new UsageError(
          `Unknown target "${targetId}": use one of ${services.targetIds.join(', ')} (see skb targets list)`,
        );
      requireKernelBenchTarget(services, targetId);
      const results = await runKernelBenchSuite(
        suiteDeps(services, targetId, budget, out, io),
        problems,
        { target: targetId, budget },
        previous,
      );
      await writeOut(
        io.stdout,
        args.values.json === true ? `${JSON.stringify(results, null, 2)}\n` : suiteReport(results),
      );
      await writeOut(io.stderr, `results: ${out}\n`);
      const searched = results.problems.filter((p) => p.cold?.status === 'finished' && p.warm?.status === 'finished');
      const failed = results.problems.some(
        (p) => (p.cold && p.cold.status !== 'finished') || (p.warm && p.warm.status !== 'finished'),
      );
      return searched.length === 0 || failed ? EXIT.failed : EXIT.ok;
    });
  },
};
