import { z } from 'zod';
import { OperationSchema } from './operation.js';

/** What to optimize: an operation on a named target, optionally from given code. */
export const TaskSchema = z
  .object({
    operation: OperationSchema,
    /** Target id from the targets file, e.g. "local". */
    target: z.string().min(1).max(64),
    /** Starting code; the planner's baseline (naive loop nest) when absent. */
    baselineCode: z.string().max(1_000_000).optional(),
    /** KernelBench problem source (Model, get_inputs, get_init_inputs) for kernelbench targets. */
    problemSource: z.string().max(1_000_000).optional(),
  })
  .strict();
export type Task = z.infer<typeof TaskSchema>;
export type TaskInput = z.input<typeof TaskSchema>;

/** Why a task without an operation is refused when it has no problem file to recognise one from. */
export const TASK_NEEDS_OPERATION =
  'Invalid task: give an operation, or a problemSource (a KernelBench problem file) for the target to recognise it from';
