/**
 * Reading model replies. Everything a model writes is untrusted: a reply that does not follow the
 * format is a failed sample (a `ParseResult` with an error), never an exception.
 */
import { z } from 'zod';
import { INVENTED_OPTION_ID, type MenuOption } from '../menus/menu.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const THINK_TAGS = ['think', 'thinking', 'reasoning', 'reflection'];

/**
 * Removes reasoning blocks (<think>...</think> and similar). Some servers (DeepSeek-R1 behind vLLM)
 * strip the opening tag but leave the closing one, so everything before a stray closing tag is
 * reasoning too. A block that never closes means the reply was cut off inside the reasoning: nothing
 * after it is an answer.
 */
export function stripThinking(text: string): string {
  let out = text;
  for (const tag of THINK_TAGS) {
    out = out.replace(new RegExp(`<${tag}>[\\s\\S]*?</${tag}>`, 'gi'), '');
    const close = out.toLowerCase().lastIndexOf(`</${tag}>`);
    if (close >= 0) out = out.slice(close + tag.length + 3);
    const open = out.toLowerCase().indexOf(`<${tag}>`);
    if (open >= 0) out = out.slice(0, open);
  }
  return out.trim();
}

/** What the plan prompt asks for, once read: the chosen option and the plan text. */
export const PlanReplySchema = z.object({
  optionId: z.string().min(1),
  /** Short name of an invented option; absent for menu options. */
  name: z.string().min(1).max(120).optional(),
  text: z.string().trim().min(1, 'the plan text is empty'),
});
export type PlanReply = z.infer<typeof PlanReplySchema>;

const OPTION_LINE = /^[\s>*_#`-]*OPTION[\s*_`]*:[\s*_`]*(?:\[)?([A-Za-z0-9_.:-]+)(?:\])?[\s*_`.]*$/gim;
const NAME_LINE = /^[\s>*_#`-]*NAME[\s*_`]*:[\s*_`]*(.+?)[\s*_`]*$/im;
const PLAN_LABEL = /^[\s>*_#`-]*PLAN[\s*_`]*:[\s*_`]*/im;

/**
 * Reads a plan reply: the last `OPTION: <id>` line names the option (an id from the menu, or its
 * number in the menu), the plan is what follows it (after an optional `PLAN:` label) or, when
 * nothing follows, what precedes it. `allowed` lists the ids the prompt offered.
 */
export function parsePlanReply(
  raw: string,
  offered: MenuOption[],
  allowed: ReadonlySet<string>,
): ParseResult<PlanReply> {
  const text = stripThinking(raw);
  if (!text) return { ok: false, error: 'the model returned an empty reply' };
  const matches = [...text.matchAll(OPTION_LINE)];
  const last = matches.at(-1);
  if (!last || last.index === undefined) return { ok: false, error: 'the reply has no "OPTION: <id>" line' };
  const token = (last[1] ?? '').replace(/[.:]+$/, '');
  const byNumber = /^\d+$/.test(token) ? offered[Number(token) - 1]?.id : undefined;
  const optionId = byNumber ?? token;
  if (!allowed.has(optionId)) {
    return {
      ok: false,
      error: `the reply chose "${token}", which is not among the offered options (${[...allowed].join(', ')})`,
    };
  }
  const after = text.slice(last.index + last[0].length);
  const before = text.slice(0, last.index);
  const strip = (s: string): string => s.replace(PLAN_LABEL, '').replace(NAME_LINE, '').trim();
  const planText = strip(after) || strip(before);
  const name = optionId === INVENTED_OPTION_ID ? NAME_LINE.exec(text)?.[1]?.trim() : undefined;
  const parsed = PlanReplySchema.safeParse({ optionId, text: planText, ...(name ? { name } : {}) });
  if (!parsed.success)
    return { ok: false, error: `the plan is unusable: ${parsed.error.issues.map((i) => i.message).join('; ')}` };
  return { ok: true, value: parsed.data };
}

const FENCE = /^[ \t]*```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n([\s\S]*?)^[ \t]*```[ \t]*$/gm;

/**
 * The code of an implement reply: the LAST fenced block (models often show fragments first and the
 * whole file at the end). A reply without a closed block, or with an empty one, is refused.
 */
export function parseCodeReply(raw: string): ParseResult<{ code: string; language: string }> {
  const text = stripThinking(raw);
  if (!text) return { ok: false, error: 'the model returned an empty reply' };
  const blocks = [...text.matchAll(FENCE)];
  const last = blocks.at(-1);
  if (!last) return { ok: false, error: 'the reply has no fenced code block' };
  const code = (last[2] ?? '').trimEnd();
  if (!code.trim()) return { ok: false, error: 'the last fenced code block of the reply is empty' };
  return { ok: true, value: { code: `${code}\n`, language: (last[1] ?? '').toLowerCase() } };
}
