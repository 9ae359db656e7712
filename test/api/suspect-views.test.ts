/**
 * How a search holding a suspect candidate is shown: the search never counts one (it is above the
 * suspicion threshold and its check did not confirm it), so the console's search page (as the
 * server renders it; the page in a browser is in console.test.ts) marks it and leaves it out of
 * the best-so-far chart, and `skb search`'s summary counts it apart from the failed samples.
 */
import { describe, expect, it } from 'vitest';
import { searchSummary } from '../../src/api/cli/search-report.js';
import { SearchPage } from '../../src/api/console/search-pages.js';
import { SearchConfigSchema, newSearchRecord, parseOperation } from '../../src/schedules/index.js';
import { sampleCandidate } from '../support/fixtures.js';

const SUSPECT = 'speedup 27.5x over eager PyTorch is above the 10x suspicion threshold: not admitted unchecked';

const search = {
  ...newSearchRecord({
    id: 's1',
    task: { operation: parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } }), target: 'gpu' },
    config: SearchConfigSchema.parse({ budget: 3 }),
    createdAt: new Date(0).toISOString(),
  }),
  status: 'finished' as const,
  samplesUsed: 3,
  baselineLatencyMs: 8.25,
  bestLatencyMs: 6.5,
};
const candidates = [
  sampleCandidate('s1', 0, 8.25),
  sampleCandidate('s1', 1, 0.3, { suspect: SUSPECT, admitted: false }),
  sampleCandidate('s1', 2, 6.5),
  sampleCandidate('s1', 3, 0, { correct: false, latencyMs: null, errorKind: 'compile', admitted: false }),
];

describe('a search with a suspect sample', () => {
  it('the console marks it, with its reason, and keeps it out of the best-so-far chart', async () => {
    const html = String(await SearchPage({ detail: { search, candidates } }));
    expect(html).toContain(`<span class="error" title="${SUSPECT}"> suspect</span>`);
    const chart = html.slice(html.indexOf('aria-label="best latency against samples"'));
    const labels = [...chart.slice(0, chart.indexOf('</svg>')).matchAll(/>([\d.]+) ms</g)].map((m) => m[1]);
    expect(labels).toEqual(['8.25', '6.50']);
  });

  it("skb search's summary counts it apart from the failed samples", () => {
    expect(searchSummary({ search, candidates })).toMatch(
      /^samples +3\/3 \(1 failed, 1 suspect: above the suspicion threshold, not confirmed by their check\)$/m,
    );
  });
});
