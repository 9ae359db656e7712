/**
 * The Triton matvec template for KernelBench targets. Everything but the last suite runs without a
 * GPU: generated sources are compiled by the real python3 (py_compile), knob values are read back
 * from the source, and the resource rules are checked for every knob value. The last suite runs the
 * reference problem and generated candidates in PyTorch on a CUDA device with Triton and compares
 * them; it is skipped elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSkbError, parseOperation, type Operation, type OperationInput } from '../../../src/schedules/index.js';
import { CUDA_MENU } from '../../../src/search/menus/cuda-menu.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import {
  MATVEC_ELEMENTS_PER_THREAD,
  MATVEC_TILE_ELEMENTS,
  TRITON_MATVEC_KNOBS,
  createTritonMatvecTemplate,
  matvecProblem,
} from '../../../src/targets/templates/triton-matvec-template.js';
import { SHARED_MEMORY_BUDGET } from '../../../src/targets/templates/triton-matmul-template.js';
import { gpuPython, hasGpuTriton } from '../../support/gpu.js';
import { startsAndEachKnobMoved } from '../../support/knob-moves.js';
import { hasPython, pyCompile } from '../../support/py-compile.js';

const op = (input: OperationInput): Operation => parseOperation(input);
const matvec = createTritonMatvecTemplate();

const OPS: Operation[] = [
  op({ kind: 'matvec', dims: { M: 1, K: 1 }, dtype: 'f32' }),
  op({ kind: 'matvec', dims: { M: 1, K: 100000 }, dtype: 'bf16' }),
  op({ kind: 'matvec', dims: { M: 2048, K: 1048576 }, dtype: 'f32' }),
  op({ kind: 'matvec', dims: { M: 1000, K: 3000 }, dtype: 'f16', layout: 'row' }),
];

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skb-triton-matvec-'));
  dirs.push(dir);
  return dir;
}

/** The constants the generated file starts with, read back as knobs. */
function constantsOf(source: string): Knobs {
  const n = (name: string): number => Number(new RegExp(`^${name} = (.+)$`, 'm').exec(source)?.[1]);
  return {
    block_m: n('BLOCK_M'),
    block_k: n('BLOCK_K'),
    split_k: n('SPLIT_K'),
    num_warps: n('NUM_WARPS'),
    num_stages: n('NUM_STAGES'),
  };
}

/** The default Triton start and every knob moved to each of its legal values from it. */
function everyKnobValue(o: Operation): Knobs[] {
  return startsAndEachKnobMoved(
    o,
    [matvec.legalize(o, { ...matvec.baseline(o), impl: 'triton' })],
    TRITON_MATVEC_KNOBS,
  );
}

describe('Triton matvec template: generated sources', () => {
  it('the baseline is a plain torch.matmul ModelNew with no Triton', () => {
    for (const o of OPS) {
      const base = matvec.baseline(o);
      expect(base.impl).toBe('torch');
      const src = matvec.generate(o, base);
      expect(src).toContain('return torch.matmul(A, B)');
      expect(src).toContain('class ModelNew(nn.Module):');
      expect(src).toContain('def __init__(self, *args):');
      expect(src).not.toContain('triton');
    }
  });

  it('impl compile is the PyTorch lines under torch.compile in the chosen mode', () => {
    const o = OPS[2]!;
    const src = matvec.generate(o, { impl: 'compile', compile_mode: 'max-autotune', block_m: 32 });
    expect(src).toContain('class SkbEager(nn.Module):');
    expect(src).toContain('class ModelNew(SkbEager):');
    expect(src).toContain('torch.compile(super().forward, mode="max-autotune")');
    expect(src).toContain('return torch.matmul(A, B)');
    expect(src).not.toContain('triton');
    expect(matvec.legalize(o, { impl: 'compile', block_m: 32 })).toEqual({
      ...matvec.baseline(o),
      impl: 'compile',
      compile_mode: 'default',
    });
  });

  it.skipIf(!hasPython)(
    'every knob value of every operation generates Python that compiles and carries the legalized value',
    async () => {
      const sources: string[] = [];
      for (const o of OPS) {
        sources.push(matvec.generate(o, matvec.baseline(o)));
        sources.push(matvec.generate(o, { impl: 'compile' }));
        sources.push(matvecProblem(o));
        for (const knobs of everyKnobValue(o)) {
          const legal = matvec.legalize(o, knobs);
          expect(legal.impl).toBe('triton');
          const src = matvec.generate(o, knobs);
          const { impl: _impl, compile_mode: _mode, ...expected } = legal;
          expect(constantsOf(src)).toEqual(expected);
          expect(src).toMatch(/@triton\.jit\ndef skb_matvec_kernel/);
          expect(src).toContain('        return skb_matvec(A, B)');
          sources.push(src);
        }
      }
      const compiled = await pyCompile(sources);
      expect(compiled.output).toBe('');
      expect(compiled.status).toBe(0);
    },
  );

  it.skipIf(!hasPython)('py_compile fails on a broken file, so the check above can fail', async () => {
    const broken = matvec.generate(OPS[2]!, { impl: 'triton' }).replace('def skb_matvec(', 'def skb_matvec((');
    expect((await pyCompile([broken])).status).not.toBe(0);
  });

  it('the reference problem is KernelBench level 1 problem 4 in form', () => {
    const src = matvecProblem(OPS[2]!);
    expect(src).toContain('class Model(nn.Module):');
    expect(src).toContain('return torch.matmul(A, B)');
    expect(src).toContain(
      'return [torch.randn(2048, 1048576, dtype=torch.float32), torch.randn(1048576, 1, dtype=torch.float32)]',
    );
    expect(src).toContain('def get_init_inputs():\n    return []');
    expect(matvecProblem(OPS[1]!)).toContain('dtype=torch.bfloat16');
  });

  it('rejects operations it cannot generate with a sentence that says what to fix', () => {
    const bad: OperationInput[] = [
      { kind: 'gemm', dims: { M: 8, N: 8, K: 8 } },
      { kind: 'matvec', dims: { M: 8, K: 8 }, dtype: 'f64' },
      { kind: 'matvec', dims: { M: 8, K: 8 }, dtype: 'i8' },
      { kind: 'matvec', dims: { M: 8 } },
      { kind: 'matvec', dims: { K: 8 } },
      { kind: 'matvec', dims: { M: 8, K: 8, N: 2 } },
      { kind: 'matvec', dims: { M: 8, K: 8 }, layout: 't' },
      { kind: 'matvec', dims: { M: 8, K: 8 }, epilogue: ['relu'] },
      { kind: 'matvec', dims: { M: 8, K: 8 }, attrs: { weight: 'w' } },
    ];
    for (const input of bad) {
      for (const run of [
        () => matvec.generate(op(input), { impl: 'triton' }),
        () => matvec.baseline(op(input)),
        () => matvecProblem(op(input)),
      ]) {
        let caught: unknown;
        try {
          run();
        } catch (err) {
          caught = err;
        }
        expect(isSkbError(caught) && caught.code === 'BAD_INPUT').toBe(true);
        expect((caught as Error).message).toMatch(/^[A-Z].+/);
      }
    }
    expect(() => matvec.generate(op(bad[0]!), {})).toThrow(/generates matvec kernels, not gemm/);
    expect(() => createTritonMatvecTemplate({ sharedMemoryBytes: 10 })).toThrow(/sharedMemoryBytes/);
    expect(() => createTritonMatvecTemplate({ multiprocessors: 0 })).toThrow(/multiprocessors/);
  });
});

describe('Triton matvec template: legalize', () => {
  it('is idempotent, keeps impl "torch" only at the default Triton knobs, and any moved Triton knob asks for Triton', () => {
    for (const o of OPS) {
      const base = matvec.baseline(o);
      expect(matvec.legalize(o, base)).toEqual(base);
      expect(matvec.legalize(o, { impl: 'torch' })).toEqual(base);
      for (const knobs of everyKnobValue(o)) {
        const once = matvec.legalize(o, knobs);
        expect(matvec.legalize(o, once)).toEqual(once);
        const asTorch = matvec.legalize(o, { ...knobs, impl: 'torch' });
        const changed = TRITON_MATVEC_KNOBS.some((s) => s.name !== 'impl' && once[s.name] !== base[s.name]);
        expect(asTorch.impl).toBe(changed ? 'triton' : 'torch');
      }
    }
  });

  it('every legalized knob set is legal and fits the register, shared-memory and split-K rules', () => {
    for (const o of OPS) {
      const K = o.dims.K!;
      const bytes = o.dtype === 'f32' ? 4 : 2;
      for (const knobs of everyKnobValue(o)) {
        const k = matvec.legalize(o, knobs);
        const [bm, bk, s, w, st] = [k.block_m, k.block_k, k.split_k, k.num_warps, k.num_stages] as number[];
        expect(bm! * bk!).toBeLessThanOrEqual(MATVEC_TILE_ELEMENTS);
        expect((bm! * bk!) / (32 * w!)).toBeLessThanOrEqual(MATVEC_ELEMENTS_PER_THREAD);
        if (st! > 1) expect(st! * bm! * bk! * bytes).toBeLessThanOrEqual(SHARED_MEMORY_BUDGET);
        if (s! > 1) expect(K / s!).toBeGreaterThanOrEqual(bk!);
        for (const spec of TRITON_MATVEC_KNOBS) expect(spec.values(o)).toContain(k[spec.name]);
      }
    }
  });

  it('offers blocks up to the sizes and split-K only where K has room for it; defaults fill the SMs', () => {
    const values = (name: string, o: Operation) => TRITON_MATVEC_KNOBS.find((s) => s.name === name)!.values(o);
    expect(values('block_m', OPS[0]!)).toEqual([1]);
    expect(values('block_k', OPS[0]!)).toEqual([128]);
    expect(values('split_k', OPS[0]!)).toEqual([1]);
    expect(values('block_m', OPS[3]!)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(values('block_k', OPS[3]!)).toEqual([128, 256, 512, 1024, 2048, 4096]);
    expect(values('split_k', OPS[3]!)).toEqual([1, 2, 4, 8, 16]);
    // M = 2048 in rows of 8 is 256 programs: no split. M = 1 splits as far as K allows.
    expect(matvec.baseline(OPS[2]!)).toMatchObject({ block_m: 8, block_k: 1024, split_k: 1 });
    expect(matvec.baseline(OPS[1]!)).toMatchObject({ block_m: 1, split_k: 64 });
    expect(createTritonMatvecTemplate({ multiprocessors: 1 }).baseline(OPS[1]!)).toMatchObject({ split_k: 1 });
    // A split finer than one BLOCK_K chunk per part is capped; too large a tile shrinks BLOCK_K first.
    expect(matvec.legalize(OPS[3]!, { impl: 'triton', block_k: 1024, split_k: 16 })).toMatchObject({ split_k: 2 });
    expect(matvec.legalize(OPS[2]!, { impl: 'triton', block_m: 64, block_k: 8192 })).toMatchObject({
      block_m: 64,
      block_k: 256,
    });
    expect(matvec.legalize(OPS[2]!, { impl: 'triton', block_m: 1, block_k: 128, num_warps: 16 })).toMatchObject({
      num_warps: 4,
    });
  });

  it('moves: CUDA menu ids only, every knob reachable; the library and compile moves are fixed', () => {
    const ids = new Set(CUDA_MENU.options.map((o) => o.id));
    const moved = new Set<string>();
    for (const [id, knobs] of Object.entries(matvec.moves)) {
      expect(ids.has(id)).toBe(true);
      for (const k of knobs ?? []) moved.add(k);
    }
    expect([...moved].sort()).toEqual(TRITON_MATVEC_KNOBS.map((k) => k.name).sort());
    expect(matvec.moves['cuda.split_k']).toEqual(['split_k']);
    const o = OPS[3]!;
    const fixed = matvec.fixedMoves!;
    expect(fixed['cuda.cublas']!(o, { impl: 'triton', block_m: 2 })).toEqual(matvec.baseline(o));
    expect(fixed['cuda.triton']!(o, matvec.baseline(o))).toEqual({ impl: 'triton' });
    expect(fixed['cuda.torch_compile']!(o, matvec.baseline(o))).toMatchObject({ impl: 'compile' });
  });
});

describe.skipIf(!hasGpuTriton)('Triton matvec template on a GPU (reference vs candidate in PyTorch)', () => {
  /**
   * Loads the reference problem and the candidate from files, runs both on the same CUDA inputs
   * (the problem's, and x as a vector of K, and A non-contiguous) and prints one JSON line.
   */
  const script = (problem: string, candidate: string, tol: number): string => `
import importlib.util, json, torch

def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

ref = load(${JSON.stringify(problem)}, "skb_ref")
cand = load(${JSON.stringify(candidate)}, "skb_cand")
torch.manual_seed(0)
A, B = [t.cuda() for t in ref.get_inputs()]
model = ref.Model(*ref.get_init_inputs()).cuda()
new = cand.ModelNew(*ref.get_init_inputs()).cuda()
wide = torch.randn(A.shape[0], 2 * A.shape[1], device="cuda", dtype=A.dtype)
cases = [(A, B), (A, B[:, 0]), (wide[:, ::2], B)]
report = []
with torch.no_grad():
    for a, b in cases:
        want = model(a, b)
        got = new(a, b)
        ok = (got.shape == want.shape and got.dtype == want.dtype
              and torch.allclose(got.float(), want.float(), atol=${tol}, rtol=${tol}))
        report.append({"ok": bool(ok), "shape": list(got.shape), "err": float((got.float() - want.float()).abs().max())})
print(json.dumps(report))
`;

  it('the baseline and Triton configurations, split-K and remainders included, match torch.matmul', async () => {
    const cases: Array<[Operation, Knobs[]]> = [
      [
        op({ kind: 'matvec', dims: { M: 1000, K: 3000 }, dtype: 'f32' }),
        [
          { impl: 'torch' },
          { impl: 'triton' },
          { impl: 'triton', block_m: 16, block_k: 256, split_k: 8, num_warps: 8, num_stages: 3 },
          { impl: 'triton', block_m: 1, block_k: 128, split_k: 1, num_stages: 1 },
        ],
      ],
      [
        op({ kind: 'matvec', dims: { M: 1, K: 100003 }, dtype: 'bf16' }),
        [{ impl: 'triton' }, { impl: 'triton', block_k: 4096, split_k: 16, num_warps: 16 }],
      ],
      [
        op({ kind: 'matvec', dims: { M: 37, K: 5000 }, dtype: 'f16' }),
        [
          { impl: 'triton', block_m: 64, block_k: 128, split_k: 32 },
          { impl: 'triton', block_m: 4, block_k: 2048, split_k: 2, num_warps: 2 },
        ],
      ],
      [op({ kind: 'matvec', dims: { M: 3, K: 1 }, dtype: 'f32' }), [{ impl: 'triton' }]],
    ];
    const dir = await tempDir();
    let n = 0;
    for (const [o, knobSets] of cases) {
      const problem = join(dir, `problem_${n}.py`);
      await writeFile(problem, matvecProblem(o));
      // fp32 sums of 100k products differ from cuBLAS's order in the last bits; f16 / bf16 outputs by rounding.
      const tol = o.dtype === 'f32' ? 1e-3 : 5e-2;
      for (const knobs of knobSets) {
        const candidate = join(dir, `candidate_${n++}.py`);
        await writeFile(candidate, matvec.generate(o, knobs));
        const ran = spawnSync(gpuPython, ['-c', script(problem, candidate, tol)], { encoding: 'utf8' });
        expect(ran.stderr, JSON.stringify(knobs)).not.toMatch(/Traceback/);
        expect(ran.status).toBe(0);
        const report = JSON.parse(ran.stdout.trim().split('\n').pop()!) as { ok: boolean; shape: number[] }[];
        expect(report.map((r) => r.ok)).toEqual([true, true, true]);
        expect(report.map((r) => r.shape)).toEqual([[o.dims.M, 1], [o.dims.M], [o.dims.M, 1]]);
      }
    }
  }, 600_000);
});
