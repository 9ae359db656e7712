/**
 * The search API as a client uses it: startSearch over HTTP, progress over GraphQL-over-SSE, the
 * finished search with its tree, cancellation, and refusals of bad input. Real server, real
 * libSQL file, real gcc-compiled candidates on this machine, the default (template) planner.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gemmInput, startSearchServer, subscribeSse, type SearchTestServer } from './search-server.js';

const START = `mutation Start($task: TaskInput!, $config: SearchConfigInput) {
  startSearch(task: $task, config: $config) { id status budget config { planner budget beamWidth } task { target operation { kind shapeKey } } }
}`;

const SEARCH = `query One($id: ID!) {
  search(id: $id) {
    id status samplesUsed budget iteration baselineLatencyMs bestLatencyMs speedup bestCandidateId scheduleId error
    target { key family }
    candidates { id parentId iteration sample optionId optionLabel plan params code correct latencyMs errorKind output feedback admitted }
    bestLineage { id parentId optionId plan latencyMs }
    steps { optionId plan latencyBeforeMs latencyAfterMs }
  }
}`;

const PROGRESS = `subscription P($id: ID!) { searchProgress(id: $id) { searchId type status iteration iterations samplesUsed budget baselineLatencyMs bestLatencyMs speedup message } }`;

const gemm = gemmInput;

interface Candidate {
  id: string;
  parentId: string | null;
  sample: number;
  code: string;
  correct: boolean;
  latencyMs: number | null;
  errorKind: string | null;
  plan: string | null;
  optionId: string | null;
}

let server: SearchTestServer;

beforeAll(async () => {
  server = await startSearchServer();
});

afterAll(async () => {
  await server?.stop();
});

/** The search once it is over (neither queued nor running); gives up just before the 60 s test timeout would. */
function waitUntilOver(id: string): Promise<Record<string, unknown>> {
  return vi.waitFor(
    async () => {
      const reply = await server.gql(`query($id: ID!) { search(id: $id) { status samplesUsed budget } }`, { id });
      const search = reply.body.data!.search as Record<string, unknown>;
      expect(['queued', 'running'], 'the search is not over yet').not.toContain(search.status);
      return search;
    },
    { timeout: 55_000, interval: 200 },
  );
}

describe('startSearch -> searchProgress over SSE -> search(id)', () => {
  it('runs a small gemm search to the end within its budget and shows the tree and the best lineage', async () => {
    const started = await server.gql(START, {
      task: { operation: gemm(64), target: 'local' },
      config: { budget: 8, beamWidth: 2, plansPerCandidate: 2, implementationsPerPlan: 1, seed: 7 },
    });
    expect(started.body.errors).toBeUndefined();
    const record = started.body.data!.startSearch as {
      id: string;
      status: string;
      budget: number;
      config: { planner: string; budget: number };
      task: { target: string; operation: { kind: string } };
    };
    expect(['queued', 'running']).toContain(record.status);
    expect(record.config).toMatchObject({ planner: 'template', budget: 8 });
    expect(record.task).toMatchObject({ target: 'local', operation: { kind: 'gemm' } });

    const sse = await subscribeSse(server.url, PROGRESS, { id: record.id });
    expect(sse.status).toBe(200);
    expect(sse.contentType).toContain('text/event-stream');
    const events = sse.messages
      .filter((m) => m.event === 'next')
      .map((m) => (m.data as { data: { searchProgress: Record<string, unknown> } }).data.searchProgress);
    expect(events.length).toBeGreaterThan(0);
    expect(sse.messages.at(-1)!.event).toBe('complete');
    const last = events.at(-1)!;
    expect(last).toMatchObject({ searchId: record.id, type: 'finished', status: 'finished', budget: 8 });
    for (const e of events) expect(e.samplesUsed as number).toBeLessThanOrEqual(8);

    const detail = await server.gql(SEARCH, { id: record.id });
    expect(detail.body.errors).toBeUndefined();
    const search = detail.body.data!.search as {
      status: string;
      samplesUsed: number;
      budget: number;
      baselineLatencyMs: number;
      bestLatencyMs: number;
      speedup: number;
      bestCandidateId: string;
      target: { key: string } | null;
      candidates: Candidate[];
      bestLineage: Candidate[];
      steps: Array<{ optionId: string; plan: string; latencyBeforeMs: number; latencyAfterMs: number }> | null;
    };
    expect(search.status).toBe('finished');
    expect(search.samplesUsed).toBeGreaterThan(0);
    expect(search.samplesUsed).toBeLessThanOrEqual(8);
    expect(search.target?.key).toMatch(/^t-[0-9a-f]{16}$/);
    expect(search.baselineLatencyMs).toBeGreaterThan(0);
    expect(search.bestLatencyMs).toBeLessThanOrEqual(search.baselineLatencyMs);
    expect(search.speedup).toBeCloseTo(search.baselineLatencyMs / search.bestLatencyMs, 6);

    // The flat tree: one root (the baseline, sample 0), every other node's parent is in the tree.
    const ids = new Set(search.candidates.map((c) => c.id));
    const roots = search.candidates.filter((c) => c.parentId === null);
    expect(roots).toHaveLength(1);
    expect(roots[0]!.sample).toBe(0);
    for (const c of search.candidates) {
      if (c.parentId) expect(ids.has(c.parentId)).toBe(true);
      // A candidate either ran correctly with code and a latency, or says what went wrong.
      if (c.correct) {
        expect(c.code.length).toBeGreaterThan(0);
        expect(c.latencyMs).toBeGreaterThan(0);
      } else {
        expect(c.errorKind, JSON.stringify(c)).toBeTruthy();
      }
    }
    const samples = search.candidates.filter((c) => c.sample > 0);
    expect(samples.length).toBe(search.samplesUsed);
    // Every measured sample carries the plan it implements (a planner failure has none, and says so).
    for (const c of samples.filter((x) => x.correct)) expect(c.plan && c.optionId, JSON.stringify(c)).toBeTruthy();

    // The best lineage runs from the baseline to the best candidate along parent links.
    const lineage = search.bestLineage;
    expect(lineage[0]!.id).toBe(roots[0]!.id);
    expect(lineage.at(-1)!.id).toBe(search.bestCandidateId);
    expect(lineage.at(-1)!.latencyMs).toBe(search.bestLatencyMs);
    for (let i = 1; i < lineage.length; i++) expect(lineage[i]!.parentId).toBe(lineage[i - 1]!.id);
    // The accepted plan sequence recorded at the end is that lineage, step by step.
    expect(search.steps).toEqual(
      lineage.slice(1).map((c, i) => ({
        optionId: c.optionId,
        plan: c.plan,
        latencyBeforeMs: lineage[i]!.latencyMs,
        latencyAfterMs: c.latencyMs,
      })),
    );

    const listed = await server.gql(`{ searches(status: finished) { totalCount nodes { id status } } }`);
    expect(listed.body.data!.searches).toMatchObject({
      nodes: expect.arrayContaining([{ id: record.id, status: 'finished' }]),
    });
  });

  it('sends one final event for a search that is already over', async () => {
    const started = await server.gql(START, {
      task: { operation: gemm(32), target: 'local' },
      config: { budget: 2, beamWidth: 1, plansPerCandidate: 1, implementationsPerPlan: 1 },
    });
    const { id } = started.body.data!.startSearch as { id: string };
    await waitUntilOver(id);
    const sse = await subscribeSse(server.url, PROGRESS, { id });
    const next = sse.messages.filter((m) => m.event === 'next');
    expect(next).toHaveLength(1);
    expect((next[0]!.data as { data: { searchProgress: { type: string } } }).data.searchProgress.type).toBe('finished');
  });
});

describe('cancelSearch', () => {
  it('ends a running search as cancelled before it spends its budget', async () => {
    const started = await server.gql(START, {
      task: { operation: gemm(96), target: 'local' },
      config: { budget: 400, iterations: 50, beamWidth: 4, plansPerCandidate: 4, implementationsPerPlan: 2 },
    });
    expect(started.body.errors).toBeUndefined();
    const { id } = started.body.data!.startSearch as { id: string };
    // Cancel once the search is demonstrably running: after its first sample event.
    const controller = new AbortController();
    const firstSample = new Promise<void>((resolve) => {
      void subscribeSse(server.url, PROGRESS, { id }, (m) => {
        const type = (m.data as { data?: { searchProgress?: { type?: string } } } | null)?.data?.searchProgress?.type;
        if (type === 'sample' || type === 'iteration') resolve();
      }).finally(() => {
        resolve();
        controller.abort();
      });
    });
    await firstSample;
    const cancelled = await server.gql(`mutation($id: ID!) { cancelSearch(id: $id) { id status } }`, { id });
    expect(cancelled.body.errors).toBeUndefined();
    const over = await waitUntilOver(id);
    expect(over.status).toBe('cancelled');
    expect(over.samplesUsed as number).toBeLessThan(400);
  });

  it('refuses an unknown search id with NOT_FOUND', async () => {
    const reply = await server.gql(`mutation { cancelSearch(id: "no-such-search") { id } }`);
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('bad input starts nothing', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown target', { task: { operation: gemm(64), target: 'nowhere' } }, /Unknown target "nowhere".*local/],
    [
      'an invalid operation',
      { task: { operation: { kind: 'fft', dims: [{ name: 'N', size: 64 }] }, target: 'local' } },
      /Invalid operation: kind/,
    ],
    [
      'a zero budget',
      { task: { operation: gemm(64), target: 'local' }, config: { budget: 0 } },
      /Invalid search config: budget/,
    ],
    [
      'an unknown planner',
      { task: { operation: gemm(64), target: 'local' }, config: { planner: 'oracle' } },
      /Invalid search config: planner/,
    ],
    ['a negative size', { task: { operation: gemm(-4), target: 'local' } }, /Invalid operation: dims/],
    [
      'an operation without a kernel template',
      { task: { operation: { kind: 'custom:fft', dims: [{ name: 'N', size: 64 }] }, target: 'local' } },
      /no kernel template for custom:fft.*llm/,
    ],
    [
      'a task with neither an operation nor a problem file',
      { task: { target: 'local' } },
      /give an operation, or a problemSource/,
    ],
    [
      'a problem file to recognise on a target that reads none',
      { task: { target: 'local', problemSource: 'class Model: pass' } },
      /Target local \(a c toolchain\) does not read problem files: give the operation/,
    ],
    [
      'the llm planner without an endpoint',
      { task: { operation: gemm(64), target: 'local' }, config: { planner: 'llm' } },
      /SKB_OPENAI_BASE_URL/,
    ],
  ];

  it.each(cases)('refuses %s with BAD_INPUT', async (_name, variables, message) => {
    const before = await server.gql(`{ searches { totalCount } }`);
    const reply = await server.gql(START, variables);
    expect(reply.body.data).toBeNull();
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_INPUT');
    expect(reply.body.errors?.[0]?.message).toMatch(message);
    const after = await server.gql(`{ searches { totalCount } }`);
    expect((after.body.data!.searches as { totalCount: number }).totalCount).toBe(
      (before.body.data!.searches as { totalCount: number }).totalCount,
    );
  });

  it('refuses a subscription to an unknown search with NOT_FOUND', async () => {
    const sse = await subscribeSse(server.url, PROGRESS, { id: 'no-such-search' });
    const first = sse.messages.find((m) => m.event === 'next')!.data as {
      errors: Array<{ extensions: { code: string } }>;
    };
    expect(first.errors[0]!.extensions.code).toBe('NOT_FOUND');
  });
});

describe('write access', () => {
  it('refuses startSearch without the API token, even from loopback', async () => {
    const guarded = await startSearchServer({ apiToken: 'a-token-of-sixteen-chars' });
    try {
      const refused = await guarded.gql(START, { task: { operation: gemm(64), target: 'local' } }, { token: null });
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED');
      const listed = await guarded.gql(`{ searches { totalCount } }`);
      expect(listed.body.data!.searches).toEqual({ totalCount: 0 });
    } finally {
      await guarded.stop();
    }
  });
});
