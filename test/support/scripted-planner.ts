/**
 * A scripted stand-in for a model at the Planner boundary: its replies are C sources written for
 * the tests, chosen by menu option. It picks among the scripted options on the plan sample's menu
 * with the request's seeded generator, so a search with the same seed gets the same replies.
 * Every call is logged for assertions.
 */
import { INVENTED_OPTION_ID } from '../../src/search/menus/menu.js';
import type {
  Implementation,
  ImplementRequest,
  Plan,
  Planner,
  PlannerOutcome,
  ProposeRequest,
} from '../../src/search/planner.js';

/** What the script answers for one menu option. */
export interface ScriptedReply {
  optionId: string;
  label: string;
  plan: string;
  /** Implementations, cycled when more are asked for. */
  codes: string[];
}

export interface ScriptedPlannerOptions {
  baseline: string;
  replies: ScriptedReply[];
  /** Makes the n-th propose call (1-based) fail, as a model reply that cannot be parsed would. */
  failPropose?: (call: number) => string | undefined;
  /** Makes the n-th propose call return a plan for an option that was not offered. */
  offMenu?: (call: number) => boolean;
  /** Makes the n-th implement call fail. */
  failImplement?: (call: number) => string | undefined;
}

export interface ScriptedPlanner extends Planner {
  /** Each propose request: parent, menu ids offered, whether invention was asked. */
  readonly proposals: Array<{
    parentId: string;
    iteration: number;
    menu: string[];
    invent: boolean;
    forced: string | null;
  }>;
  readonly implementCalls: number;
}

const ok = <T>(value: T): PlannerOutcome<T> => ({ ok: true, value, usage: [] });
const fail = <T>(error: string): PlannerOutcome<T> => ({ ok: false, error, usage: [] });

export function createScriptedPlanner(options: ScriptedPlannerOptions): ScriptedPlanner {
  const proposals: ScriptedPlanner['proposals'] = [];
  let proposeCalls = 0;
  let implementCalls = 0;
  return {
    id: 'scripted',
    models: ['scripted'],
    proposals,
    get implementCalls() {
      return implementCalls;
    },
    baseline: () => ({ code: options.baseline }),

    async propose(request: ProposeRequest): Promise<PlannerOutcome<Plan>> {
      const call = ++proposeCalls;
      proposals.push({
        parentId: request.parent.id,
        iteration: request.iteration,
        menu: request.menu.map((o) => o.id),
        invent: request.invent,
        forced: request.forced?.optionId ?? null,
      });
      const failure = options.failPropose?.(call);
      if (failure) return fail(failure);
      if (options.offMenu?.(call))
        return ok({ optionId: 'cpu.not_on_any_menu', optionLabel: 'Nothing', text: 'Do something unlisted.' });
      const wanted = request.forced
        ? [request.forced.optionId]
        : request.invent
          ? [INVENTED_OPTION_ID]
          : request.menu.map((o) => o.id);
      const choices = options.replies.filter((r) => wanted.includes(r.optionId));
      if (choices.length === 0) return fail(`no scripted reply for any of ${wanted.join(', ')}`);
      const reply = choices[request.rng.int(choices.length)]!;
      return ok({ optionId: reply.optionId, optionLabel: reply.label, text: reply.plan, model: 'scripted' });
    },

    async implement(request: ImplementRequest): Promise<PlannerOutcome<Implementation[]>> {
      const call = ++implementCalls;
      const failure = options.failImplement?.(call);
      if (failure) return fail(failure);
      const reply = options.replies.find((r) => r.optionId === request.plan.optionId && r.plan === request.plan.text);
      if (!reply) return fail(`no scripted code for plan "${request.plan.text}"`);
      return ok(
        Array.from({ length: request.count }, (_, i) => ({
          code: reply.codes[i % reply.codes.length]!,
          model: 'scripted',
        })),
      );
    },
  };
}

const SIGNATURE = 'void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C)';

/** GEMM sources for the scripts (no epilogue). */
export const GEMM = {
  naive: `${SIGNATURE} {
  (void)bias;
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s += A[m * K + k] * B[k * N + n];
      C[m * N + n] = s;
    }
}
`,
  ikj: `${SIGNATURE} {
  (void)bias;
  for (int m = 0; m < M; m++) {
    for (int n = 0; n < N; n++) C[m * N + n] = 0.0f;
    for (int k = 0; k < K; k++) {
      float a = A[m * K + k];
      for (int n = 0; n < N; n++) C[m * N + n] += a * B[k * N + n];
    }
  }
}
`,
  restrictUnrolled: `void kernel(int M, int N, int K, const float *restrict A, const float *restrict B, const float *restrict bias, float *restrict C) {
  (void)bias;
  for (int m = 0; m < M; m++) {
    float *restrict c = C + m * N;
    for (int n = 0; n < N; n++) c[n] = 0.0f;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
      float a0 = A[m * K + k], a1 = A[m * K + k + 1], a2 = A[m * K + k + 2], a3 = A[m * K + k + 3];
      const float *b0 = B + k * N, *b1 = b0 + N, *b2 = b1 + N, *b3 = b2 + N;
      for (int n = 0; n < N; n++) c[n] += a0 * b0[n] + a1 * b1[n] + a2 * b2[n] + a3 * b3[n];
    }
    for (; k < K; k++) {
      float a = A[m * K + k];
      for (int n = 0; n < N; n++) c[n] += a * B[k * N + n];
    }
  }
}
`,
  wrong: `${SIGNATURE} {
  (void)bias;
  for (int i = 0; i < M * N; i++) C[i] = 1.0f;
  (void)A; (void)B; (void)K;
}
`,
  noCompile: `${SIGNATURE} { this is not C }
`,
  forever: `${SIGNATURE} {
  (void)M; (void)N; (void)K; (void)A; (void)B; (void)bias; (void)C;
  volatile unsigned long spin = 0;
  for (;;) spin++;
}
`,
};

/** A script for GEMM: loop reordering, then hints + unrolling, plus an invented variant. */
export const GEMM_REPLIES: ScriptedReply[] = [
  {
    optionId: 'cpu.loop_reorder',
    label: 'Loop reordering',
    plan: 'Reorder to i-k-j so the inner loop walks B and C rows.',
    codes: [GEMM.ikj],
  },
  {
    optionId: 'cpu.compiler_hints',
    label: 'Compiler hints',
    plan: 'Add restrict and unroll the reduction by 4.',
    codes: [GEMM.restrictUnrolled, GEMM.ikj],
  },
  {
    optionId: 'cpu.unroll',
    label: 'Loop unrolling',
    plan: 'Unroll k by 4 over an i-k-j nest.',
    codes: [GEMM.restrictUnrolled],
  },
  {
    optionId: 'cpu.simplify',
    label: 'Simplify the kernel',
    plan: 'Write ones: cheaper (and wrong).',
    codes: [GEMM.wrong],
  },
  {
    optionId: 'cpu.vectorize',
    label: 'Vectorization',
    plan: 'Use vector extensions (does not compile).',
    codes: [GEMM.noCompile],
  },
  {
    optionId: INVENTED_OPTION_ID,
    label: 'Invented',
    plan: 'Invented: reorder loops and zero C first.',
    codes: [GEMM.ikj],
  },
];
