import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { messageOf, parseOperation, SkbError, type ScheduleFilter } from '../../schedules/index.js';
import { EXPORT_FORMATS, type ExportFormat, type ExportRequest, type KnowledgeBase } from '../../search/index.js';
import { loadConfig } from '../config.js';
import { createTargetResolver, isTargetKey } from '../graphql/context.js';
import { MAX_PAGE_SIZE } from '../graphql/inputs.js';
import { openConfiguredKnowledgeBase } from '../configured-knowledge-base.js';
import { UsageError, writeOut, type CliCommand, type ParsedArgs } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { stringFlag } from './flags.js';
import { EXIT } from './run-cli.js';
import { withServices } from './with-services.js';

/**
 * Turns the flags into an export request, refusing combinations that would silently mean
 * something else; `resolveTarget` turns --target (a key or a configured name) into a key.
 */
export function exportRequestFromArgs(
  args: ParsedArgs,
  resolveTarget: (ref: string) => string = (ref) => ref,
): ExportRequest {
  const filter: ScheduleFilter = {};
  const kind = stringFlag(args, 'kind');
  const structure = stringFlag(args, 'structure-key');
  const ref = stringFlag(args, 'target');
  const similar = stringFlag(args, 'similar-to-op');
  const k = stringFlag(args, 'k');
  if (kind) filter.kind = kind;
  if (structure) filter.structureKey = structure;
  const request: ExportRequest = { filter, pruned: args.values.pruned === true };
  if (k !== undefined && similar === undefined) throw new UsageError('--k only applies with --similar-to-op');
  if (similar === undefined) {
    if (ref) filter.targetKey = resolveTarget(ref);
    return request;
  }
  if (!ref)
    throw new UsageError('--similar-to-op needs --target KEY or NAME: similarity is only meaningful on one target');
  let raw: unknown;
  try {
    raw = JSON.parse(similar);
  } catch {
    throw new UsageError(
      `--similar-to-op must be an operation as JSON, e.g. '{"kind":"gemm","dims":{"M":512,"N":512,"K":512}}'`,
    );
  }
  const count = k === undefined ? 10 : Number(k);
  if (!Number.isInteger(count) || count < 1 || count > MAX_PAGE_SIZE)
    throw new UsageError(`--k must be an integer from 1 to ${MAX_PAGE_SIZE}, not ${k}`);
  request.similarTo = { operation: parseOperation(raw), targetKey: resolveTarget(ref), k: count };
  return request;
}

/** The --format flag: jsonl unless told otherwise. */
export function exportFormatFromArgs(args: ParsedArgs): ExportFormat {
  const format = stringFlag(args, 'format') ?? 'jsonl';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, not "${format}"`);
  return format as ExportFormat;
}

/** `skb export`: matching schedules as JSON Lines or Triton autotune configs, to stdout or a file. */
export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'write schedules as JSON Lines or Triton configs (all, filtered, pruned, or similar to one operation)',
  usage: `Usage: skb export [--out FILE] [--pruned] [--kind K] [--structure-key S] [--target T]
       skb export --similar-to-op JSON --target T [--k N] [--out FILE] [--pruned]
       skb export --format triton-configs --similar-to-op JSON --target T [--k N] [--out FILE]

Writes the matching schedules, with their targets and operations, as JSON Lines (the format
\`skb import\` and the importSchedules mutation read).

With --format triton-configs it writes the Triton matmul schedules among them (gemm and
batched_gemm whose best kernel is the Triton template, on GPU targets) as a Python list to paste
into @triton.autotune(configs=[...]): one triton.Config per distinct configuration, best first
(with --similar-to-op in retrieval order, otherwise by measured speedup), each under a comment
naming its schedule, shape and speedup. Other schedules are skipped; when none is left the
command fails and says why.

Options:
  --format F            jsonl (default) or triton-configs
  --out FILE            write to FILE instead of stdout
  --pruned              only the best schedule per operation shape and target (and the seeds
                        whose steps a kept schedule replays)
  --kind K              only operations of kind K (gemm, conv2d, custom:<name>, ...)
  --structure-key S     only operations with structure key S
  --target T            only schedules measured on target T (a key t-..., or a configured name
                        such as local); with --similar-to-op, the target whose hardware family
                        the similar schedules must share
  --similar-to-op JSON  the schedules most similar to this operation, all tiers, e.g.
                        '{"kind":"gemm","dims":{"M":512,"N":512,"K":512}}'
  --k N                 how many similar schedules (default 10, at most ${MAX_PAGE_SIZE})

${ENVIRONMENT_HELP}
`,
  options: {
    format: { type: 'string' },
    out: { type: 'string' },
    pruned: { type: 'boolean' },
    kind: { type: 'string' },
    'structure-key': { type: 'string' },
    target: { type: 'string' },
    'similar-to-op': { type: 'string' },
    k: { type: 'string' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const format = exportFormatFromArgs(args);
    const write = (kb: KnowledgeBase, request: ExportRequest) =>
      format === 'triton-configs' ? kb.exportTritonConfigs(request) : kb.exportJsonl(request);
    const ref = stringFlag(args, 'target');
    let text: string;
    if (ref !== undefined && !isTargetKey(ref)) {
      // A name is known only once the configured targets are fingerprinted, as skb similar does.
      text = await withServices(io, (services) =>
        write(services.kb, exportRequestFromArgs(args, createTargetResolver(services.targetNames))),
      );
    } else {
      const request = exportRequestFromArgs(args);
      const kb = await openConfiguredKnowledgeBase(loadConfig(io.env, io.cwd));
      try {
        text = await write(kb, request);
      } finally {
        await kb.close();
      }
    }
    const out = stringFlag(args, 'out');
    if (!out) {
      await writeOut(io.stdout, text);
      return EXIT.ok;
    }
    const path = resolve(io.cwd, out);
    try {
      await writeFile(path, text, 'utf8');
    } catch (error) {
      throw new SkbError(
        'BAD_INPUT',
        `Cannot write ${path}: ${messageOf(error)}. Choose a writable --out path.`,
        undefined,
        { cause: error },
      );
    }
    const written =
      format === 'triton-configs'
        ? `${text.split('\n').filter((line) => line.trimStart().startsWith('triton.Config(')).length} Triton config(s)`
        : `${text.split('\n').filter((line) => line.includes('"type":"schedule"')).length} schedule(s)`;
    await writeOut(io.stderr, `wrote ${written} to ${path}\n`);
    return EXIT.ok;
  },
};
