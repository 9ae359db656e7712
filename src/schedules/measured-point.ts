/**
 * Measured points: one kernel of an operation as its planner parameters (a template's knobs) and
 * its latency. They are what a cost model learns from; schedules hold them (their measurements,
 * or, for schedules stored before those existed, their steps and regressed negatives), and a
 * running search adds its own.
 */
import { z } from 'zod';
import type { Operation } from './operation.js';
import { MeasurementSchema, NegativeStepSchema, StepSchema, type ScheduleContent } from './schedule.js';

export interface MeasuredPoint {
  operation: Operation;
  params: Record<string, unknown>;
  latencyMs: number;
}

/**
 * The knob set a template planner wrote in a point's, step's or candidate's params
 * (`params.knobs`), or null for one another planner made.
 */
export function knobsOf(holder: { params?: Record<string, unknown> | null }): Record<string, unknown> | null {
  const knobs = holder.params?.knobs;
  return knobs !== null && typeof knobs === 'object' && !Array.isArray(knobs)
    ? (knobs as Record<string, unknown>)
    : null;
}

/** The parts of a schedule's content that hold measured points (what the store reads of it). */
export const ScheduleMeasurementsSchema = z.object({
  steps: z.array(z.looseObject(StepSchema.pick({ params: true, latencyAfterMs: true }).shape)),
  negatives: z.array(z.looseObject(NegativeStepSchema.pick({ params: true, latencyMs: true, outcome: true }).shape)),
  measurements: z.array(MeasurementSchema).optional(),
});
export type ScheduleMeasurements = z.infer<typeof ScheduleMeasurementsSchema>;

/**
 * The points of one schedule: its measurements when it has them (every correct candidate of its
 * search, steps and negatives included), else its steps' results and its regressed negatives.
 */
export function measuredPointsOf(
  operation: Operation,
  content: ScheduleMeasurements | Pick<ScheduleContent, 'steps' | 'negatives' | 'measurements'>,
): MeasuredPoint[] {
  if (content.measurements?.length) {
    return content.measurements.map((m) => ({ operation, params: m.params, latencyMs: m.latencyMs }));
  }
  const points: MeasuredPoint[] = [];
  for (const step of content.steps) {
    if (step.params) points.push({ operation, params: step.params, latencyMs: step.latencyAfterMs });
  }
  for (const negative of content.negatives) {
    if (negative.params && negative.outcome === 'regressed' && negative.latencyMs !== undefined)
      points.push({ operation, params: negative.params, latencyMs: negative.latencyMs });
  }
  return points;
}
