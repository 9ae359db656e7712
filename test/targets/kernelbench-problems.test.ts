import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseOperation } from '../../src/schedules/index.js';
import { kernelBenchProblemFor } from '../../src/targets/kernelbench/problems.js';

/** Compiles Python source with the real interpreter; returns its complaint, or '' when it compiles. */
function pythonCompileError(source: string): string {
  const r = spawnSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "problem.py", "exec")'], {
    input: source,
    encoding: 'utf8',
  });
  return r.status === 0 ? '' : r.stderr;
}

describe('KernelBench problems generated from operations', () => {
  it('writes a valid Python problem for a gemm with bias then relu', () => {
    const source = kernelBenchProblemFor(
      parseOperation({ kind: 'gemm', dims: { M: 64, N: 32, K: 16 }, dtype: 'bf16', epilogue: ['bias', 'relu'] }),
    );
    expect(pythonCompileError(source)).toBe('');
    expect(source).toContain(
      'torch.randn((64, 16), dtype=torch.bfloat16), torch.randn((16, 32), dtype=torch.bfloat16)',
    );
    expect(source).toContain('return [32]');
    expect(source.indexOf('self.bias\n')).toBeLessThan(source.indexOf('torch.relu(out)'));
  });

  it('writes a batched gemm without init inputs', () => {
    const source = kernelBenchProblemFor(parseOperation({ kind: 'batched_gemm', dims: { B: 4, M: 8, N: 8, K: 8 } }));
    expect(pythonCompileError(source)).toBe('');
    expect(source).toContain('torch.randn((4, 8, 8), dtype=torch.float32)');
    expect(source).toContain('return []');
  });

  it('refuses what it cannot generate, saying to pass the problem source', () => {
    const conv = parseOperation({ kind: 'conv2d', dims: { N: 1, C: 3, H: 8, W: 8, K: 4, R: 3, S: 3 } });
    expect(() => kernelBenchProblemFor(conv)).toThrow(/pass the problem source/);
    expect(() =>
      kernelBenchProblemFor(parseOperation({ kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, dtype: 'i8' })),
    ).toThrow(/f32, f16 and bf16/);
    expect(() =>
      kernelBenchProblemFor(parseOperation({ kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, epilogue: ['swizzle'] })),
    ).toThrow(/swizzle.*pass the problem source/);
    expect(() => kernelBenchProblemFor(parseOperation({ kind: 'gemm', dims: { M: 8, N: 8 } }))).toThrow(/dimension K/);
  });
});
