import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  messageOf,
  type Operation,
  parseOperation,
  parseShapeSpec,
  SkbError,
  type SearchConfigInput,
  type SearchRecord,
} from '../../schedules/index.js';
import type { SearchService, TaskRequest } from '../../search/index.js';
import { loadConfig } from '../config.js';
import { parseSearchConfigArg } from '../graphql/search-inputs.js';
import { createConsoleLogger, type Logger } from '../logger.js';
import { openServices } from '../services.js';
import { UsageError, writeOut, type CliCommand, type CliIo, type ParsedArgs } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';
import { createProgressView, searchJson, searchSummary } from './search-report.js';

const str = (args: ParsedArgs, name: string): string | undefined => {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
};

function integer(args: ParsedArgs, flag: string): number | undefined {
  const text = str(args, flag);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} must be a whole number, not "${text}"`);
  return Number(text);
}

/** A decimal flag (ranges are the API schema's to check), or undefined when it is not given. */
function decimal(args: ParsedArgs, flag: string, what: string): number | undefined {
  const text = str(args, flag);
  if (text === undefined) return undefined;
  if (!/^\d*\.?\d+$/.test(text)) throw new UsageError(`--${flag} must be ${what}, not "${text}"`);
  return Number(text);
}

/**
 * --cold, --seeds, --tiers and --guided-share as WarmStartInput (undefined when none is given, so
 * the defaults apply). The ranges are checked with the API's schema in parseSearchConfigArg.
 */
function warmStartFromArgs(args: ParsedArgs): Record<string, unknown> | undefined {
  const seeds = integer(args, 'seeds');
  const tiersText = str(args, 'tiers');
  const shareText = str(args, 'guided-share');
  if (args.values.cold === true) {
    const extra = [
      seeds !== undefined && '--seeds',
      tiersText !== undefined && '--tiers',
      shareText !== undefined && '--guided-share',
    ].filter(Boolean);
    if (extra.length) throw new UsageError(`--cold turns warm start off: drop ${extra.join(', ')}, or drop --cold`);
    return { enabled: false };
  }
  const guidedShare = decimal(args, 'guided-share', 'a number from 0 to 1');
  const tiers = tiersText
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const warmStart = { seeds, tiers, guidedShare };
  return Object.values(warmStart).some((v) => v !== undefined)
    ? Object.fromEntries(Object.entries(warmStart).filter(([, v]) => v !== undefined))
    : undefined;
}

/** `stride=2,pad=1,trans=tn` -> { stride: 2, pad: 1, trans: 'tn' }; numbers and booleans typed. */
function parseAttrs(text: string): Record<string, number | string | boolean> {
  const attrs: Record<string, number | string | boolean> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(.+)$/.exec(part);
    if (!m)
      throw new UsageError(`Bad --attrs entry "${part}": write NAME=VALUE separated by commas, e.g. stride=2,pad=1`);
    const value = m[2]!;
    attrs[m[1]!] = /^-?\d+$/.test(value) ? Number(value) : value === 'true' ? true : value === 'false' ? false : value;
  }
  return attrs;
}

/** The operation of the --op flags; undefined when --op is left out for a --problem file to be recognised. */
function operationFromArgs(args: ParsedArgs, problemGiven: boolean): Operation | undefined {
  const kind = str(args, 'op');
  const shape = str(args, 'shape');
  const epilogue = str(args, 'epilogue');
  const attrs = str(args, 'attrs');
  const dtype = str(args, 'dtype');
  if (!kind && problemGiven) {
    const extra = ['shape', 'dtype', 'epilogue', 'attrs'].filter((f) => str(args, f) !== undefined);
    if (extra.length)
      throw new UsageError(
        `--${extra.join(', --')} describe an --op: give --op with them, or drop them to let the target recognise the --problem file's operation`,
      );
    return undefined;
  }
  if (!kind) throw new UsageError('--op KIND is required (or a --problem FILE to recognise it from), e.g. --op gemm');
  if (!shape) throw new UsageError('--shape is required, e.g. --shape M=512,N=512,K=512');
  return parseOperation({
    kind,
    dims: parseShapeSpec(shape),
    ...(dtype ? { dtype } : {}),
    ...(epilogue
      ? {
          epilogue: epilogue
            .split(',')
            .map((e) => e.trim())
            .filter(Boolean),
        }
      : {}),
    ...(attrs ? { attrs: parseAttrs(attrs) } : {}),
  });
}

/**
 * The flags as a task and search settings; settings are checked against the same schema as the
 * API's. `problemSource` is the --problem file's text, read by the caller.
 */
export function optimizeRequestFromArgs(
  args: ParsedArgs,
  problemSource?: string,
): { task: TaskRequest; config: SearchConfigInput } {
  const operation = operationFromArgs(args, problemSource !== undefined);
  const raw: Record<string, unknown> = {
    planner: str(args, 'planner'),
    budget: integer(args, 'budget'),
    beamWidth: integer(args, 'beam'),
    plansPerCandidate: integer(args, 'plans'),
    implementationsPerPlan: integer(args, 'impls'),
    iterations: integer(args, 'iterations'),
    seed: integer(args, 'seed'),
    explore: decimal(args, 'explore', 'a number from 0.05 to 1'),
    escapeFactor: decimal(args, 'escape-factor', 'a number from 1 to 100'),
    warmStart: warmStartFromArgs(args),
    timing: timingFromArgs(args),
  };
  let config: SearchConfigInput;
  try {
    config = parseSearchConfigArg(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  } catch (error) {
    if (error instanceof SkbError) throw new UsageError(error.message);
    throw error;
  }
  const task: TaskRequest = {
    ...(operation ? { operation } : {}),
    target: str(args, 'target') ?? 'local',
    ...(problemSource !== undefined ? { problemSource } : {}),
  };
  return { task, config };
}

/** The most a problem file may hold (the API's limit on problemSource). */
const MAX_PROBLEM_BYTES = 1_000_000;

/** The text of the --problem file, or undefined when none is given. */
async function problemFromArgs(args: ParsedArgs, cwd: string): Promise<string | undefined> {
  const file = str(args, 'problem');
  if (file === undefined) return undefined;
  const path = resolve(cwd, file);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    throw new UsageError(`--problem ${file}: cannot read it (${messageOf(error)})`);
  }
  if (size > MAX_PROBLEM_BYTES)
    throw new UsageError(
      `--problem ${file} holds ${size} bytes; a KernelBench problem file is at most ${MAX_PROBLEM_BYTES}`,
    );
  return readFile(path, 'utf8');
}

/** `--timing`: a JSON object of timing overrides (checked with the rest of the config). */
function timingFromArgs(args: ParsedArgs): unknown {
  const text = str(args, 'timing');
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(
      `--timing takes a JSON object, e.g. '{"budgetMs":500}' (got ${JSON.stringify(text.slice(0, 80))})`,
    );
  }
}

/** Info lines would tear the progress bar; they are kept for SKB_DEBUG. */
function quietLogger(debug: boolean): Logger {
  const base = createConsoleLogger({ debug });
  return { ...base, info: base.debug };
}

/**
 * Follows the search's progress on stderr until it ends. The first Ctrl-C cancels the search (the
 * summary of what it found so far is still printed); the handler is removed afterwards so a second
 * Ctrl-C during shutdown behaves as usual.
 */
async function follow(search: SearchService, record: SearchRecord, io: CliIo): Promise<{ interrupted: boolean }> {
  const view = createProgressView(io.stderr as NodeJS.WritableStream & { isTTY?: boolean; columns?: number });
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    io.stderr.write('\ncancelling the search (Ctrl-C)...\n');
    search.cancel(record.id).catch((error: unknown) => io.stderr.write(`cancel failed: ${messageOf(error)}\n`));
  };
  process.on('SIGINT', onSigint);
  try {
    for await (const event of search.subscribe(record.id)) view.update(event);
    await search.wait(record.id);
  } finally {
    view.close();
    process.off('SIGINT', onSigint);
  }
  return { interrupted };
}

/** `skb optimize`: one search in this process, against the configured database, with a progress bar and a summary. */
export const optimizeCommand: CliCommand = {
  name: 'optimize',
  summary: 'run a budgeted beam search for one operation here and print baseline, best, speedup and the plan sequence',
  usage: `Usage: skb optimize --op KIND --shape NAME=SIZE,... [options]
       skb optimize --problem FILE --target ID [options]

Runs a beam search for the operation on a target of the targets file, in this process, storing
the search and its candidates in the configured database. Progress goes to stderr (a bar on a
terminal, plain lines otherwise); the summary goes to stdout: baseline and best latency, speedup,
samples used of the budget, how it was warm-started, the stored schedule (or why none was
stored), the seeds (schedule, tier, distance, outcome, gain) and the accepted plan sequence (step, option, latency before -> after, plan). Ctrl-C cancels the search and still
prints what it found. Exit code 0 when the search finished, 1 when it failed, 130 when cancelled.

Examples:
  skb optimize --op gemm --shape M=512,N=512,K=512 --budget 32
  skb optimize --op gemm --shape M=512,N=512,K=768 --seeds 2 --tiers exact,structure
  skb optimize --op gemm --shape M=512,N=512,K=512 --cold
  skb optimize --op conv2d --shape N=1,C=64,H=56,W=56,K=64,R=3,S=3 --attrs stride=1,pad=1
  skb optimize --problem KernelBench/level2/76_Gemm_Add_ReLU.py --target h200 --budget 16

Operation:
  --problem FILE        a KernelBench problem file (Model, get_inputs, get_init_inputs) to judge
                        candidates against on a kernelbench target; without --op the target
                        recognises its operation (torch.fx on the target): a product (nn.Linear,
                        matmul, bmm) and a chain of elementwise steps, an elementwise chain, a reduction,
                        softmax, a layer norm or RMS norm, a matvec, or a refusal naming the LLM planner
  --op KIND             gemm, batched_gemm, conv2d, matvec, softmax, layernorm, elementwise,
                        reduce or custom:<name>
  --shape SIZES         named sizes, e.g. M=512,N=512,K=512
  --dtype T             f32 (default), f16, bf16, f64, i8, i32
  --epilogue LIST       fused epilogue in order, e.g. bias,relu
  --attrs LIST          structural parameters, e.g. stride=2,pad=1

Search:
  --target ID           target of the targets file (default local; see skb targets list)
  --planner P           template (default: kernel templates, offline) or llm (SKB_OPENAI_BASE_URL, SKB_MODELS)
  --budget N            most samples (evaluated implementations) to spend (default 64)
  --beam N              beam width (default 4)
  --plans N             plans per beam candidate (default 4)
  --impls N             implementations per plan (default 2)
  --iterations N        iterations (default 8)
  --seed N              random seed (default 1)
  --explore X           share of plan slots that move at random instead of taking the cost model's best, 0.05 to 1 (default 0.25)
  --timing JSON         timing overrides, e.g. '{"budgetMs":500,"minRuns":5}': warmup, runs, minRuns,
                        budgetMs, stableSpreadPct (defaults 3, 15, 3, 250, 3; see the README)
  --escape-factor X     when an iteration admits no child, the fastest within X of its parent still enters the beam, 1 to 100 (default 1.3; 1 never)

Warm start (on by default: the search starts from similar stored schedules of the database):
  --cold                run without seeds (warm start off)
  --seeds N             most stored schedules to seed from, 0 to 16 (default 3)
  --tiers LIST          tiers a seed may come from: exact,structure,similar,transfer (default all)
  --guided-share X      share of each parent's plan slots that follow its seed's next step, 0 to 1 (default 0.5)

Output:
  --json                print the search, its steps and its whole tree as JSON instead of the table

${ENVIRONMENT_HELP}
  SKB_MODELS            comma-separated models of the LLM planner (default gpt-4o-mini)
  SKB_TARGETS_FILE      the targets file (default data/targets.json, else this machine with gcc)
  SKB_DEBUG             set to 1 to log debug lines
`,
  options: {
    op: { type: 'string' },
    problem: { type: 'string' },
    shape: { type: 'string' },
    dtype: { type: 'string' },
    epilogue: { type: 'string' },
    attrs: { type: 'string' },
    target: { type: 'string' },
    planner: { type: 'string' },
    budget: { type: 'string' },
    beam: { type: 'string' },
    plans: { type: 'string' },
    impls: { type: 'string' },
    iterations: { type: 'string' },
    seed: { type: 'string' },
    explore: { type: 'string' },
    'escape-factor': { type: 'string' },
    timing: { type: 'string' },
    cold: { type: 'boolean' },
    seeds: { type: 'string' },
    tiers: { type: 'string' },
    'guided-share': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const { task, config: searchConfig } = optimizeRequestFromArgs(args, await problemFromArgs(args, io.cwd));
    const config = loadConfig(io.env, io.cwd);
    const services = await openServices(config, {
      cwd: io.cwd,
      env: io.env,
      logger: quietLogger(Boolean(io.env.SKB_DEBUG)),
    });
    try {
      if (!services.targetIds.includes(task.target)) {
        throw new UsageError(
          `Unknown target "${task.target}": use one of ${services.targetIds.join(', ')} (see skb targets list)`,
        );
      }
      const record = await services.search.start(task, searchConfig);
      await writeOut(
        io.stderr,
        `search ${record.id}: ${record.task.operation.kind} on ${task.target}, budget ${record.config.budget} samples, ${record.config.planner} planner\n`,
      );
      const { interrupted } = await follow(services.search, record, io);
      const detail = await services.search.get(record.id);
      if (!detail) throw new SkbError('INTERNAL', `Search ${record.id} vanished from the database while it ran.`);
      await writeOut(io.stdout, args.values.json === true ? searchJson(detail) : searchSummary(detail));
      if (detail.search.status === 'finished') return EXIT.ok;
      return detail.search.status === 'cancelled' || interrupted ? EXIT.interrupted : EXIT.failed;
    } finally {
      await services.close();
    }
  },
};
