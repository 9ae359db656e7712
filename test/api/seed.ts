/** The knowledge base the API suites query: two CPU targets of different families, a few operations. */
import { toSchedule, type ScheduleContent, type TargetRecord } from '../../src/schedules/index.js';
import type { KnowledgeBase } from '../../src/search/knowledge-base.js';
import { makeContent, makeContents, makeCpuTarget } from '../support/fixtures.js';

export interface Seeded {
  local: TargetRecord;
  other: TargetRecord;
  /** Five gemms on `local`, M = 64..320, one second apart. */
  gemms: ScheduleContent[];
  /** A second, slower schedule of the first gemm's shape (pruned export drops it). */
  slowerTwin: ScheduleContent;
  conv: ScheduleContent;
  /** A gemm on the other target (another hardware family). */
  foreign: ScheduleContent;
  ids: { gemms: string[]; slowerTwin: string; conv: string; foreign: string };
}

export const SECOND = Date.UTC(2026, 0, 1);

export async function seed(kb: KnowledgeBase): Promise<Seeded> {
  const local = makeCpuTarget('local');
  const other = makeCpuTarget('other', { model: 'Other CPU 100 @ 2.0GHz' });
  const gemms = makeContents(local, 5, SECOND);
  const slowerTwin = makeContent({
    target: local,
    dims: gemms[0]!.operation.dims,
    latencies: [10, 9],
    createdAt: new Date(SECOND + 10_000).toISOString(),
  });
  const conv = makeContent({
    target: local,
    kind: 'conv2d',
    latencies: [20, 12, 8, 5],
    createdAt: new Date(SECOND + 20_000).toISOString(),
  });
  const foreign = makeContent({
    target: other,
    dims: { M: 128, N: 256, K: 256 },
    createdAt: new Date(SECOND + 30_000).toISOString(),
  });
  const all = [...gemms, slowerTwin, conv, foreign];
  await kb.addSchedules(all, [local, other]);
  const ids = all.map((content) => toSchedule(content).id);
  return {
    local,
    other,
    gemms,
    slowerTwin,
    conv,
    foreign,
    ids: { gemms: ids.slice(0, 5), slowerTwin: ids[5]!, conv: ids[6]!, foreign: ids[7]! },
  };
}

/** GraphQL OperationInput for a gemm of these sizes. */
export function gemmInput(M: number, N: number, K: number) {
  return {
    kind: 'gemm',
    dims: [
      { name: 'M', size: M },
      { name: 'N', size: N },
      { name: 'K', size: K },
    ],
  };
}
