/**
 * The Triton matmul template's `align` knob: operands whose rows do not start on 16-byte
 * boundaries (K = 2949 f32, say) are copied into padded rows before the kernel, so Triton can read
 * them with vector loads. Offered only where some operand is misaligned; its launcher helpers run
 * here on CPU PyTorch (skipped without it). The kernels with it on are in the GPU suite of
 * triton-matmul-template.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseOperation, type OperationInput } from '../../../src/schedules/index.js';
import {
  TRITON_MATMUL_MOVES,
  createTritonMatmulTemplate,
} from '../../../src/targets/templates/triton-matmul-template.js';
import { DEBIAN_PYTHON, hasCpuTorch } from '../../support/cpu-torch.js';

const gemm = createTritonMatmulTemplate('gemm');
const op = (input: Partial<OperationInput>) =>
  parseOperation({ kind: 'gemm', dims: { M: 8205, N: 5921, K: 2949 }, dtype: 'f32', ...input });
const alignValues = (input: Partial<OperationInput>) => gemm.knobs.find((k) => k.name === 'align')!.values(op(input));

describe('the align knob of the Triton matmul template', () => {
  it('is offered where a stored operand has rows off the 16-byte boundary, and only there', () => {
    // KernelBench 8: K = 2949 and N = 5921 rows.
    expect(alignValues({})).toEqual([0, 1]);
    expect(alignValues({ dims: { M: 4096, N: 4096, K: 4096 } })).toEqual([0]);
    // bf16 rows of 2 bytes an element: 8 elements make the boundary, 4 do not.
    expect(alignValues({ dims: { M: 64, N: 64, K: 72 }, dtype: 'bf16' })).toEqual([0]);
    expect(alignValues({ dims: { M: 64, N: 64, K: 68 }, dtype: 'bf16' })).toEqual([0, 1]);
    // A stored transposed has rows of M elements.
    expect(alignValues({ dims: { M: 2049, N: 64, K: 64 }, layout: 'tn' })).toEqual([0, 1]);
    expect(alignValues({ dims: { M: 2049, N: 64, K: 64 } })).toEqual([0]);
    expect(TRITON_MATMUL_MOVES['cuda.layout_change']).toEqual(['align']);
  });

  it('writes the choice into the launch and says so in the header; an aligned shape never copies', () => {
    const on = gemm.generate(op({}), { impl: 'triton', align: 1 });
    expect(on).toMatch(/^ALIGN = 1$/m);
    expect(on).toContain('misaligned operands copied to aligned rows');
    expect(on).toContain('a3 = skb_aligned(a3) if skb_misaligned(a3) else a3');
    const aligned = op({ dims: { M: 4096, N: 4096, K: 4096 } });
    expect(gemm.legalize(aligned, { impl: 'triton', align: 1 }).align).toBe(0);
    expect(gemm.generate(aligned, { impl: 'triton', align: 1 })).toMatch(/^ALIGN = 0$/m);
  });

  it.skipIf(!hasCpuTorch)(
    'the launcher hands the kernel aligned copies with align on, and the operands themselves without',
    () => {
      const source = gemm.generate(op({}), { impl: 'triton', align: 0 });
      // The launcher as generated, with its constants, over a stand-in kernel that keeps what it was given.
      const constants = source.match(/^[A-Z_]+ = .+$/gm)!;
      const start = source.indexOf('def skb_misaligned(');
      const end = source.indexOf('return c3 if batched else c3[0]') + 'return c3 if batched else c3[0]'.length;
      const script = `import types, torch
triton = types.SimpleNamespace(cdiv=lambda a, b: (a + b - 1) // b)
given = []
class StandInKernel:
    def __getitem__(self, grid):
        return lambda a, b, c, *rest, **meta: given.append((a, b))
skb_matmul_kernel = StandInKernel()
${constants.join('\n')}
${source.slice(start, end)}
A, B = torch.rand(5, 7), torch.rand(7, 6)
for align in (ALIGN, 1):
    given.clear()
    skb_matmul(A, B, align=align)
    a, b = given[0]
    print(align, a.stride(1), b.stride(1), torch.equal(a[0], A), torch.equal(b[0], B))
A8 = torch.rand(4, 8)
given.clear()
skb_matmul(A8, torch.rand(8, 6), align=1)
print(given[0][0].data_ptr() == A8.data_ptr(), given[0][1].stride(1))
`;
      const ran = spawnSync(DEBIAN_PYTHON, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
      expect(ran.stderr).toBe('');
      expect(ran.stdout.trim().split('\n')).toEqual([
        // Off: rows of 7 and 6 f32 read in place. On: padded to 8, the same values.
        '0 7 6 True True',
        '1 8 8 True True',
        // An operand already on the boundary is passed as it is; only the other is copied.
        'True 8',
      ]);
    },
  );

  it.skipIf(!hasCpuTorch)('copies exactly the misaligned operands, into padded rows holding the same values', () => {
    const source = gemm.generate(op({}), { impl: 'triton', align: 1 });
    // The two helpers as the launcher has them, without the module's Triton imports.
    const helpers = ['skb_misaligned', 'skb_aligned'].map((name) => {
      const m = new RegExp(`^def ${name}\\(t\\):\\n(?:(?: {4}.*)?\\n)+`, 'm').exec(source);
      expect(m, name).not.toBeNull();
      return m![0];
    });
    const script = `import torch
${helpers.join('\n')}
def case(name, t):
    copy = skb_aligned(t) if skb_misaligned(t) else t
    rows = copy.stride(-2) if copy.stride(-1) == 1 else None
    print(name, skb_misaligned(t), torch.equal(copy, t), copy.shape == t.shape, rows, skb_misaligned(copy))
case("f32_7_cols", torch.rand(5, 7))
case("f32_8_cols", torch.rand(4, 8))
case("f32_transposed_view", torch.rand(5, 7).t())
case("f32_batched", torch.rand(2, 3, 5))
case("bf16_12_cols", torch.rand(3, 12).to(torch.bfloat16))
case("f32_strided", torch.rand(4, 16)[:, ::2])
`;
    const ran = spawnSync(DEBIAN_PYTHON, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(ran.stderr).toBe('');
    expect(ran.stdout.trim().split('\n')).toEqual([
      'f32_7_cols True True True 8 False',
      'f32_8_cols False True True 8 False',
      'f32_transposed_view True True True 8 False',
      'f32_batched True True True 8 False',
      'bf16_12_cols True True True 16 False',
      'f32_strided True True True 8 False',
    ]);
  });
});
