/**
 * `exportSchedules(format: TRITON_CONFIGS)` through the real HTTP service: the Triton configs of
 * the schedules an export selects, a typed NOT_FOUND when none is a Triton matmul schedule, and
 * JSON Lines unchanged as the default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toSchedule } from '../../src/schedules/index.js';
import { makeContent, makeCpuTarget, makeGpuTarget } from '../support/fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { tritonExamples } from '../support/triton-schedules.js';
import { gemmInput } from './seed.js';

const EXPORT = `query Export($filter: ScheduleFilter, $similarTo: SimilarInput, $format: ExportFormat) {
  exportSchedules(filter: $filter, similarTo: $similarTo, format: $format)
}`;

const gpu = makeGpuTarget('h100');
const cpu = makeCpuTarget('local');
const examples = tritonExamples(gpu);
const onCpu = makeContent({ target: cpu, dims: { M: 4096, N: 4096, K: 4096 } });

describe('exportSchedules(format: TRITON_CONFIGS)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
    await server.kb.addSchedules([...Object.values(examples), onCpu], [gpu, cpu]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('returns the Triton configs nearest an operation, in retrieval order', async () => {
    const similarTo = { operation: { ...gemmInput(4096, 4096, 4096), dtype: 'bf16' }, target: gpu.key, k: 10 };
    const reply = await server.gql(EXPORT, { similarTo, format: 'TRITON_CONFIGS' });
    expect(reply.body.errors).toBeUndefined();
    const text = (reply.body.data as { exportSchedules: string }).exportSchedules;
    const configs = text.split('\n').filter((l) => l.trim().startsWith('triton.Config('));
    expect(configs.map((l) => l.trim())).toEqual([
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 256, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=8, num_stages=4),",
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 128, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=4, num_stages=3),",
      "triton.Config({'BLOCK_M': 64, 'BLOCK_N': 64, 'BLOCK_K': 32, 'GROUP_M': 1}, num_warps=4, num_stages=2),",
    ]);
    expect(text).toContain(`# ${toSchedule(examples.big).id}: gemm M=4096 N=4096 K=4096 bf16, 1.25x`);
  });

  it('answers NOT_FOUND, saying why, when no selected schedule is a Triton matmul schedule', async () => {
    const reply = await server.gql(EXPORT, { filter: { target: cpu.key }, format: 'TRITON_CONFIGS' });
    expect(reply.body.data).toBeNull();
    expect(reply.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(reply.body.errors?.[0]?.message).toMatch(
      /None of the 1 matching schedule\(s\) is a Triton matmul schedule \(it was measured on a CPU target\)/,
    );
  });

  it('keeps JSON Lines as the default, and refuses a format the schema does not name', async () => {
    const byDefault = await server.gql(EXPORT, {});
    const asJsonl = await server.gql(EXPORT, { format: 'JSONL' });
    expect(asJsonl.body.errors).toBeUndefined();
    expect(asJsonl.body.data).toEqual(byDefault.body.data);
    const jsonl = (byDefault.body.data as { exportSchedules: string }).exportSchedules;
    expect(jsonl.split('\n').filter((l) => l.includes('"type":"schedule"'))).toHaveLength(6);
    const bad = await server.gql(EXPORT, { format: 'YAML' });
    expect(bad.body.errors?.[0]?.message).toMatch(/ExportFormat/);
  });
});
