/**
 * Autocomp's two prompts, plus the replay prompt of warm start. Plan: the current code with its
 * latency and feedback, the hardware, the menu after dropout, the rules and "phase i of T"; the
 * model picks exactly one option and writes a plan for this code. Implement: the parent code, the
 * plan and the rules; the model answers with the whole new code in a fenced block.
 */
import type { Operation } from '../../schedules/index.js';
import { INVENTED_OPTION_ID, type MenuOption } from '../menus/menu.js';
import type { CandidateView, ForcedStep, PlanningTask } from '../planner.js';

/** A chat prompt: a system message and a user message. */
export interface Prompt {
  system: string;
  user: string;
}

/** Language of candidate code per toolchain: the fence tag and how prompts name it. */
export interface CodeLanguage {
  fence: 'c' | 'python';
  name: string;
}

export const LANGUAGES: Record<'c' | 'kernelbench', CodeLanguage> = {
  c: { fence: 'c', name: 'C' },
  kernelbench: { fence: 'python', name: 'Python (PyTorch with inline CUDA or Triton kernels)' },
};

function describeOperation(op: Operation): string {
  const dims = Object.entries(op.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const epilogue = op.epilogue.length ? `, epilogue ${op.epilogue.join(' then ')}` : '';
  const attrs = Object.keys(op.attrs).length
    ? `, ${Object.entries(op.attrs)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')}`
    : '';
  return `${op.kind} (${dims}), dtype ${op.dtype}${op.layout ? `, layout ${op.layout}` : ''}${epilogue}${attrs}`;
}

/** Latencies in prompts: enough digits to tell small kernels apart. */
export function formatMs(ms: number): string {
  return `${ms.toPrecision(4)} ms`;
}

function rulesBlock(rules: string[]): string {
  return rules.length ? rules.map((r) => `- ${r}`).join('\n') : '- (none beyond the contract)';
}

function codeBlock(lang: CodeLanguage, code: string): string {
  return `\`\`\`${lang.fence}\n${code.trimEnd()}\n\`\`\``;
}

function lineageBlock(parent: CandidateView): string {
  if (!parent.lineage.length) return 'None yet: this is the starting code.';
  return parent.lineage.map((s, i) => `${i + 1}. [${s.optionId}] ${oneLine(s.plan, 300)}`).join('\n');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

function taskSection(task: PlanningTask, lang: CodeLanguage): string {
  return [
    `## Task\nOptimize a ${lang.name} implementation of ${describeOperation(task.operation)}.`,
    `## Hardware\n${task.hardware}`,
    `## Contract\n${task.contract}`,
  ].join('\n\n');
}

function currentSection(parent: CandidateView, lang: CodeLanguage): string {
  const feedback = parent.feedback.length
    ? parent.feedback.map((f) => `- ${f}`).join('\n')
    : '- (no feedback beyond the latency)';
  return [
    '## Current code',
    `Measured latency: ${formatMs(parent.latencyMs)}`,
    `Performance feedback:\n${feedback}`,
    `Optimizations applied so far:\n${lineageBlock(parent)}`,
    codeBlock(lang, parent.code),
  ].join('\n\n');
}

function menuLines(menu: MenuOption[]): string {
  return menu.map((o, i) => `${i + 1}. \`${o.id}\`: ${o.label}. ${o.description}`).join('\n');
}

export interface PlanPromptInput {
  task: PlanningTask;
  parent: CandidateView;
  iteration: number;
  iterations: number;
  phase: 'translate' | 'optimize';
  menu: MenuOption[];
  invent: boolean;
  forced?: { step: ForcedStep; option: MenuOption };
  rules: string[];
  language: CodeLanguage;
}

const SYSTEM_PLAN =
  'You are an expert performance engineer who optimizes tensor kernels. You plan one optimization at a time; ' +
  'another step implements your plan, and the result is measured on the real hardware.';

/** The plan prompt (phase one). */
export function planPrompt(input: PlanPromptInput): Prompt {
  const { iteration, iterations, phase } = input;
  const goal =
    phase === 'translate'
      ? 'The current code is (mostly) framework code. In this phase we move work into custom kernels, one step at a time; a first custom version may be slower than the framework.'
      : 'Make the code faster while keeping it correct.';
  let menuSection: string;
  let instruction: string;
  if (input.forced) {
    const { step, option } = input.forced;
    menuSection = [
      '## Required optimization',
      `This step must apply option \`${option.id}\`: ${option.label}. ${option.description}`,
      `Hint: the same step of an earlier successful search on a similar problem was planned as:\n> ${step.plan.trim().split('\n').join('\n> ')}`,
      'Adapt the hint to the current code and sizes; do not copy it blindly.',
    ].join('\n\n');
    instruction = `Choose option \`${option.id}\` (required for this step) and write a concrete plan for applying it to the current code.`;
  } else if (input.invent) {
    menuSection = [
      '## Known optimizations (do NOT choose these)',
      menuLines(input.menu),
      `Invent one optimization that is NOT on this list and suits this code and hardware. Use option id \`${INVENTED_OPTION_ID}\` and give it a short name on a line \`NAME: <short name>\`.`,
    ].join('\n\n');
    instruction = `Invent exactly one new optimization not on the list and write a concrete plan for it (OPTION: ${INVENTED_OPTION_ID}).`;
  } else {
    menuSection = ['## Optimization menu', menuLines(input.menu)].join('\n\n');
    instruction =
      'Choose exactly one option from the menu, the one most likely to reduce the latency of this code now, and write a concrete plan for applying it to this code.';
  }
  const user = [
    taskSection(input.task, input.language),
    currentSection(input.parent, input.language),
    `## Phase\nThis is phase ${iteration} of ${iterations}. ${goal}`,
    menuSection,
    `## Rules\n${rulesBlock(input.rules)}`,
    [
      '## Instructions',
      instruction,
      'Do not write the full code. Name the loops, arrays, sizes and parameters involved; say what changes and why it is faster here.',
      'Answer in exactly this format:',
      'OPTION: <option id>',
      ...(input.invent && !input.forced ? ['NAME: <short name>'] : []),
      'PLAN:',
      '<the plan, a few sentences or a short list>',
    ].join('\n'),
  ].join('\n\n');
  return { system: SYSTEM_PLAN, user };
}

const SYSTEM_IMPLEMENT =
  'You are an expert performance engineer who writes correct, fast kernel code. You apply the plan you are given ' +
  'to the code you are given and return the complete new source file.';

function answerFormat(lang: CodeLanguage): string {
  return `Return the complete new source file in one fenced code block (\`\`\`${lang.fence} ... \`\`\`) at the end of your answer. Only the last fenced block is used.`;
}

export interface ImplementPromptInput {
  task: PlanningTask;
  parent: CandidateView;
  optionLabel: string;
  optionId: string;
  plan: string;
  rules: string[];
  language: CodeLanguage;
}

/** The implement prompt (phase two). */
export function implementPrompt(input: ImplementPromptInput): Prompt {
  const user = [
    taskSection(input.task, input.language),
    currentSection(input.parent, input.language),
    `## Plan to apply: ${input.optionLabel} (\`${input.optionId}\`)\n${input.plan.trim()}`,
    `## Rules\n${rulesBlock(input.rules)}`,
    `## Answer\nApply the plan to the current code. Keep everything else the same unless the plan needs it. ${answerFormat(input.language)}`,
  ].join('\n\n');
  return { system: SYSTEM_IMPLEMENT, user };
}

export interface ReplayPromptInput {
  task: PlanningTask;
  parent: CandidateView;
  steps: Array<{ step: ForcedStep; label: string }>;
  rules: string[];
  language: CodeLanguage;
}

/** Warm start: one implement prompt that applies a seed schedule's ordered steps to the baseline. */
export function replayPrompt(input: ReplayPromptInput): Prompt {
  const steps = input.steps
    .map(({ step, label }, i) => `### Step ${i + 1}: ${label} (\`${step.optionId}\`)\n${step.plan.trim()}`)
    .join('\n\n');
  const user = [
    taskSection(input.task, input.language),
    currentSection(input.parent, input.language),
    `## Steps to apply, in order\nThese steps made a similar problem fast. Apply all of them to the current code, in this order, adapting sizes and parameters to this problem.\n\n${steps}`,
    `## Rules\n${rulesBlock(input.rules)}`,
    `## Answer\n${answerFormat(input.language)}`,
  ].join('\n\n');
  return { system: SYSTEM_IMPLEMENT, user };
}
