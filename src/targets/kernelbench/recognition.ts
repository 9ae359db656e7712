/**
 * What recognize.py's run on the target says a KernelBench problem computes. Its output comes from
 * another machine running the user's file, so it is validated like any input from outside: the
 * operation must parse, and its template must be able to write a candidate for it.
 */
import { z } from 'zod';
import { SkbError, parseOperation, type Operation } from '../../schedules/index.js';
import type { ExecResult } from '../executor.js';
import { gpuTemplateFor } from '../templates/index.js';

const PREFIX = 'SKB_RECOGNIZED ';

const ReplySchema = z.union([
  z.object({ operation: z.unknown() }).strict(),
  z.object({ unsupported: z.string().max(2000) }).strict(),
  z.object({ error: z.string().max(2000) }).strict(),
  z.object({ target: z.string().max(2000) }).strict(),
]);

/** How a user whose problem no template computes can still search it. */
export const LLM_PLANNER_HINT =
  'Search it with the LLM planner (config { planner: "llm" }, or skb optimize --planner llm), giving the operation with the problem file';

/** The recognised operation, or a typed error that says what to do instead. */
export function interpretRecognition(ran: ExecResult): Operation {
  const line = ran.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(PREFIX));
  if (!line) {
    const why = ran.limitExceeded
      ? `it hit the ${ran.limitExceeded} limit`
      : `it exited with ${ran.signal ?? ran.exitCode}: ${ran.stderr.trim().slice(-400) || 'no output'}`;
    throw new SkbError('TARGET', `Recognising the problem's operation failed on the target: ${why}`);
  }
  let reply: z.infer<typeof ReplySchema>;
  try {
    reply = ReplySchema.parse(JSON.parse(line.slice(PREFIX.length)));
  } catch {
    throw new SkbError(
      'TARGET',
      `The target's recogniser printed a reply that is not one it writes: ${line.slice(0, 200)}`,
    );
  }
  if ('target' in reply) throw new SkbError('TARGET', `The target cannot recognise problems: ${reply.target}`);
  if ('error' in reply)
    throw new SkbError('BAD_INPUT', `The problem file cannot be read: ${reply.error}. Fix the file and try again.`);
  if ('unsupported' in reply)
    throw new SkbError('BAD_INPUT', `No template computes this problem: ${reply.unsupported}. ${LLM_PLANNER_HINT}.`);
  const operation = parseOperation(reply.operation);
  // The template's own checks: an operation it could not write a candidate for is not one it can search.
  const template = gpuTemplateFor(operation.kind);
  if (!template)
    throw new SkbError(
      'BAD_INPUT',
      `No template computes this problem: no GPU template for ${operation.kind}. ${LLM_PLANNER_HINT}.`,
    );
  template.generate(operation, template.baseline(operation));
  return operation;
}
