/**
 * The Triton matmul template for KernelBench targets. Everything but the last suite runs without a
 * GPU: generated sources are compiled by the real python3 (py_compile), knob values are read back
 * from the source, the resource rules and moves are checked over the whole space, and the template
 * planner and the planner factory drive the template as a search would. The last suite evaluates
 * generated candidates with the real KernelBench harness and needs python3 with torch, Triton and
 * CUDA; it is skipped elsewhere.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createPlannerFactory } from '../../../src/api/planners.js';
import {
  SearchConfigSchema,
  isSkbError,
  parseOperation,
  type Operation,
  type OperationInput,
} from '../../../src/schedules/index.js';
import { CPU_MENU } from '../../../src/search/menus/cpu-menu.js';
import { CUDA_MENU } from '../../../src/search/menus/cuda-menu.js';
import type { MenuOption } from '../../../src/search/menus/menu.js';
import type { CandidateView, ForcedStep, Planner, PlanningTask } from '../../../src/search/planner.js';
import { createRng, type Rng } from '../../../src/search/rng.js';
import { createTemplatePlanner } from '../../../src/search/template-planner.js';
import { createKernelBenchToolchain } from '../../../src/targets/kernelbench/kernelbench-toolchain.js';
import { TORCH_COMPILE_MODES } from '../../../src/targets/kernelbench/torch-compile-candidate.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { gpuTemplateFor } from '../../../src/targets/templates/index.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import {
  ACCUMULATORS_PER_THREAD,
  SHARED_MEMORY_BUDGET,
  TRITON_MATMUL_KNOBS,
  createTritonMatmulTemplate,
  sharedMemoryBudgetFor,
  tritonMatmulOptionsFor,
  tritonMatmulSpace,
  tritonPrograms,
} from '../../../src/targets/templates/triton-matmul-template.js';
import { numKnob } from '../../../src/targets/templates/knobs.js';
import { kernelBenchProblemFor } from '../../../src/targets/kernelbench/problems.js';
import { gpuPython, gpuSandbox, hasGpuTriton } from '../../support/gpu.js';
import { startsAndEachKnobMoved } from '../../support/knob-moves.js';
import { hasPython, pyCompile } from '../../support/py-compile.js';

const op = (input: OperationInput): Operation => parseOperation(input);
const gemm = createTritonMatmulTemplate('gemm');
const batched = createTritonMatmulTemplate('batched_gemm');

const OPS: Operation[] = [
  op({ kind: 'gemm', dims: { M: 4096, N: 11008, K: 4096 }, dtype: 'bf16' }),
  op({ kind: 'gemm', dims: { M: 1000, N: 77, K: 520 }, dtype: 'f32', epilogue: ['bias', 'relu'] }),
  op({ kind: 'gemm', dims: { M: 16, N: 24, K: 8 }, dtype: 'f16', epilogue: ['relu'] }),
  op({ kind: 'batched_gemm', dims: { B: 8, M: 512, N: 256, K: 1024 }, dtype: 'bf16', epilogue: ['bias'] }),
];
const templateOf = (o: Operation) => (o.kind === 'gemm' ? gemm : batched);

/** The constants the generated file starts with, read back as knobs. */
function constantsOf(source: string): Knobs {
  const read = (name: string): string | undefined => new RegExp(`^${name} = (.+)$`, 'm').exec(source)?.[1];
  const n = (name: string): number => Number(read(name));
  return {
    block_m: n('BLOCK_M'),
    block_n: n('BLOCK_N'),
    block_k: n('BLOCK_K'),
    group_m: n('GROUP_M'),
    num_warps: n('NUM_WARPS'),
    num_stages: n('NUM_STAGES'),
    precision: JSON.parse(read('PRECISION') ?? 'null') as string,
    align: n('ALIGN'),
  };
}

/** The default Triton start and every knob (compile_mode too) moved to each of its legal values from it. */
function everyKnobValue(o: Operation): Knobs[] {
  const t = templateOf(o);
  return startsAndEachKnobMoved(o, [t.legalize(o, { ...t.baseline(o), impl: 'triton' })], TRITON_MATMUL_KNOBS, [
    'impl',
  ]);
}

describe('Triton matmul template: generated sources', () => {
  it('the baseline is a plain torch.matmul ModelNew with the eager epilogue and no Triton', () => {
    const o = OPS[1]!;
    const src = gemm.generate(o, gemm.baseline(o));
    expect(gemm.baseline(o).impl).toBe('torch');
    expect(src).toContain('out = torch.matmul(A, B)');
    expect(src).toContain('out = out + self.bias');
    expect(src).toContain('out = torch.relu(out)');
    expect(src).toContain('def __init__(self, *args):');
    expect(src).not.toContain('triton');
  });

  it.skipIf(!hasPython)(
    'every knob value of every operation generates Python that compiles and carries the legalized value',
    async () => {
      const sources: string[] = [];
      for (const o of OPS) {
        const t = templateOf(o);
        sources.push(t.generate(o, t.baseline(o)));
        for (const knobs of everyKnobValue(o)) {
          const legal = t.legalize(o, knobs);
          expect(legal.impl).toBe('triton');
          const src = t.generate(o, knobs);
          const { impl: _impl, compile_mode: _mode, ...expected } = legal;
          expect(constantsOf(src)).toEqual(expected);
          expect(src).toMatch(/@triton\.jit\ndef skb_matmul_kernel/);
          expect(src).toContain(`return skb_matmul(A, B${o.epilogue.includes('bias') ? ', self.bias' : ''})`);
          sources.push(src);
        }
      }
      const compiled = await pyCompile(sources);
      expect(compiled.output).toBe('');
      expect(compiled.status).toBe(0);
    },
  );

  it.skipIf(!hasPython)('py_compile fails on a broken file, so the check above can fail', async () => {
    const o = OPS[0]!;
    const broken = gemm.generate(o, { impl: 'triton' }).replace('def skb_matmul(', 'def skb_matmul((');
    expect((await pyCompile([broken])).status).not.toBe(0);
  });

  it('f32 offers the ieee and 3xTF32 paths, f16 and bf16 the native tensor-core path; no plain TF32', () => {
    const precision = TRITON_MATMUL_KNOBS.find((k) => k.name === 'precision')!;
    expect(precision.values(OPS[1]!)).toEqual(['ieee', 'tf32x3']);
    expect(precision.values(OPS[0]!)).toEqual(['native']);
    expect(gemm.generate(OPS[1]!, { impl: 'triton', precision: 'tf32x3' })).toContain('PRECISION = "tf32x3"');
    expect(gemm.generate(OPS[1]!, { impl: 'triton', precision: 'tf32' })).toContain('PRECISION = "ieee"');
  });

  it('rejects operations it cannot generate with a sentence that says what to do', () => {
    const bad: OperationInput[] = [
      { kind: 'conv2d', dims: { N: 1, C: 3, H: 8, W: 8, K: 4, R: 3, S: 3 } },
      { kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, dtype: 'f64' },
      { kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, epilogue: ['swizzle'] },
      { kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, epilogue: ['mul'] },
      { kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, epilogue: ['relu'], attrs: { e1: '2' } },
      { kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, attrs: { swizzle: 1 } },
      { kind: 'gemm', dims: { M: 8, K: 8 } },
    ];
    for (const input of bad) {
      let caught: unknown;
      try {
        gemm.generate(op(input), { impl: 'triton' });
      } catch (err) {
        caught = err;
      }
      expect(isSkbError(caught) && caught.code === 'BAD_INPUT').toBe(true);
    }
    expect(() => gemm.generate(OPS[3]!, { impl: 'triton' })).toThrow(/generates gemm kernels, not batched_gemm/);
  });
});

describe('Triton matmul template: legalize and the space', () => {
  it('is idempotent, keeps impl "torch" only at the default Triton knobs, and any moved Triton knob asks for Triton', () => {
    for (const o of OPS) {
      const t = templateOf(o);
      const base = t.baseline(o);
      expect(t.legalize(o, base)).toEqual(base);
      expect(t.legalize(o, { impl: 'torch' })).toEqual(base);
      for (const knobs of everyKnobValue(o)) {
        const once = t.legalize(o, knobs);
        expect(t.legalize(o, once)).toEqual(once);
        const asTorch = t.legalize(o, { ...knobs, impl: 'torch' });
        const changed = TRITON_MATMUL_KNOBS.some((s) => s.name !== 'impl' && once[s.name] !== base[s.name]);
        expect(asTorch.impl).toBe(changed ? 'triton' : 'torch');
      }
    }
  });

  it('every configuration of the space fits the register and shared-memory rules and is legal', () => {
    for (const o of OPS) {
      const space = tritonMatmulSpace(o);
      expect(space.length).toBeGreaterThan(8);
      expect(new Set(space.map((k) => JSON.stringify(k))).size).toBe(space.length);
      const bytes = o.dtype === 'f32' ? 4 : 2;
      for (const k of space) {
        const [bm, bn, bk, w, s] = [k.block_m, k.block_n, k.block_k, k.num_warps, k.num_stages] as number[];
        expect((bm! * bn!) / (32 * w!)).toBeLessThanOrEqual(ACCUMULATORS_PER_THREAD);
        expect(s! * (bm! + bn!) * bk! * bytes).toBeLessThanOrEqual(SHARED_MEMORY_BUDGET);
        for (const spec of TRITON_MATMUL_KNOBS) expect(spec.values(o)).toContain(k[spec.name]);
        expect(templateOf(o).legalize(o, k)).toEqual(k);
      }
    }
  });

  it('shrinks what does not fit: more warps, then smaller blocks; fewer stages, then a shallower BLOCK_K', () => {
    const o = OPS[0]!;
    expect(gemm.legalize(o, { impl: 'triton', block_m: 256, block_n: 256, num_warps: 4 })).toMatchObject({
      block_m: 128,
      block_n: 256,
      num_warps: 8,
    });
    expect(
      gemm.legalize(o, { impl: 'triton', block_m: 128, block_n: 256, block_k: 128, num_warps: 8, num_stages: 4 }),
    ).toMatchObject({ block_k: 64, num_stages: 2 });
    const f32 = op({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 } });
    expect(
      gemm.legalize(f32, { impl: 'triton', block_m: 128, block_n: 128, block_k: 64, num_warps: 4, num_stages: 4 }),
    ).toMatchObject({ num_stages: 2, block_k: 64 });
  });

  it('offers small blocks only for small dimensions', () => {
    const bm = TRITON_MATMUL_KNOBS.find((k) => k.name === 'block_m')!;
    const bn = TRITON_MATMUL_KNOBS.find((k) => k.name === 'block_n')!;
    expect(bm.values(OPS[0]!)).toEqual([64, 128, 256]);
    expect(bn.values(op({ kind: 'gemm', dims: { M: 4096, N: 100, K: 64 } }))).toEqual([32, 64, 128]);
    expect(bm.values(OPS[2]!)).toEqual([32]);
  });

  it('moves: CUDA menu ids only, every Triton knob reachable, the dtype path through the tensor-core options', () => {
    const ids = new Set(CUDA_MENU.options.map((o) => o.id));
    const cpuIds = new Set(CPU_MENU.options.map((o) => o.id));
    const moved = new Set<string>();
    for (const [id, knobs] of Object.entries(gemm.moves)) {
      expect(ids.has(id)).toBe(true);
      expect(cpuIds.has(id)).toBe(false);
      for (const k of knobs ?? []) moved.add(k);
    }
    expect([...moved].sort()).toEqual(TRITON_MATMUL_KNOBS.map((k) => k.name).sort());
    expect(gemm.moves['cuda.tensor_cores']).toEqual(['precision']);
    expect(gemm.moves['cuda.l2_locality']).toEqual(['group_m']);
    expect(gemm.moves['cuda.double_buffer']).toEqual(['num_stages']);
    expect(gpuTemplateFor('conv2d')).toBeNull();
    expect(gpuTemplateFor('softmax')?.kind).toBe('softmax');
    expect(gpuTemplateFor('batched_gemm')?.kind).toBe('batched_gemm');
  });
});

describe('Triton matmul template in the template planner', () => {
  const planner = createTemplatePlanner({ templates: gpuTemplateFor });
  const task: PlanningTask = { operation: OPS[0]!, hardware: 'NVIDIA H200', contract: '' };
  const view = (knobs: Knobs): CandidateView => ({
    id: 'c',
    code: '',
    latencyMs: 1,
    feedback: [],
    lineage: [],
    params: { knobs },
  });
  /** The knobs of `sized`'s move of one option from the cuBLAS baseline of `op`, drawn with `seed`. */
  /** The planner's plan for the gemm task from `parent` on `menu` (CUDA options), as in an optimize iteration. */
  const proposeOn = (parent: Knobs, menu: MenuOption[], rng: Rng, tried?: (code: string) => boolean) =>
    planner.propose({
      task,
      parent: view(parent),
      iteration: 1,
      iterations: 4,
      phase: 'optimize',
      menu,
      invent: false,
      rules: [],
      rng,
      ...(tried ? { tried } : {}),
    });
  const moveFromBaseline = async (sized: Planner, op: Operation, optionId: string, seed: number): Promise<Knobs> => {
    const t: PlanningTask = { operation: op, hardware: 'NVIDIA H200', contract: '' };
    const out = await sized.propose({
      task: t,
      parent: view(sized.baseline(t).params!.knobs as Knobs),
      iteration: 1,
      iterations: 4,
      phase: 'optimize',
      menu: CUDA_MENU.options.filter((o) => o.id === optionId),
      invent: false,
      rules: [],
      rng: createRng(seed),
    });
    if (!out.ok) throw new Error(out.error);
    return (out.value.params as { knobs: Knobs }).knobs;
  };

  it('proposes CUDA menu moves from the cuBLAS baseline and implements them as Triton kernels', async () => {
    const base = planner.baseline(task);
    expect(base.code).toContain('torch.matmul(A, B)');
    const rng = createRng(3);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const out = await proposeOn(base.params!.knobs as Knobs, CUDA_MENU.options, rng.fork());
      if (!out.ok) throw new Error(out.error);
      seen.add(out.value.optionId);
      expect(gemm.moves[out.value.optionId]).toBeDefined();
      expect(out.value.optionLabel).not.toBe(out.value.optionId);
      const impl = await planner.implement({
        task,
        parent: view(base.params!.knobs as Knobs),
        plan: out.value,
        count: 2,
        rules: [],
        rng: rng.fork(),
      });
      if (!impl.ok) throw new Error(impl.error);
      const kernel = out.value.optionId === 'cuda.torch_compile' ? 'torch.compile(' : '@triton.jit';
      for (const im of impl.value) expect(im.code, out.value.optionId).toContain(kernel);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it('the implementation options go one way each: Triton from the library, the library from Triton', async () => {
    const base = planner.baseline(task).params!.knobs as Knobs;
    const tuned = gemm.legalize(OPS[0]!, { impl: 'triton', block_m: 128, block_n: 256, num_warps: 8 });
    const only = (id: string) => CUDA_MENU.options.filter((o) => o.id === id);
    const propose = (parent: Knobs, id: string) => proposeOn(parent, only(id), createRng(5));
    const back = await propose(tuned, 'cuda.cublas');
    expect(back).toMatchObject({ ok: true, value: { optionId: 'cuda.cublas' } });
    const built = back.ok
      ? await planner.implement({ task, parent: view(tuned), plan: back.value, count: 1, rules: [], rng: createRng(6) })
      : null;
    expect(built?.ok && built.value[0]!.code).toContain('out = torch.matmul(A, B)');
    expect(await propose(base, 'cuda.cublas')).toMatchObject({ ok: false });
    expect(await propose(tuned, 'cuda.triton')).toMatchObject({ ok: false });
    const into = await propose(base, 'cuda.triton');
    expect(into.ok && (into.value.params as { knobs: Knobs }).knobs.impl).toBe('triton');
  });

  it('measures torch.compile first from the baseline, once, and then explores', async () => {
    const base = planner.baseline(task).params!.knobs as Knobs;
    const measured = new Set<string>();
    const propose = (seed: number) => proposeOn(base, CUDA_MENU.options, createRng(seed), (code) => measured.has(code));
    for (const seed of [1, 2, 3]) {
      const first = await propose(seed);
      expect(first).toMatchObject({ ok: true, value: { optionId: 'cuda.torch_compile' } });
      expect(first.ok && (first.value.params as { knobs: Knobs }).knobs).toMatchObject({
        impl: 'compile',
        compile_mode: 'default',
      });
    }
    const first = await propose(1);
    const built = first.ok
      ? await planner.implement({ task, parent: view(base), plan: first.value, count: 2, rules: [], rng: createRng(2) })
      : null;
    if (!built?.ok) throw new Error('torch.compile move not implemented');
    // One sample measures the reference; the slot's other sample is left to another option's plan.
    expect(built.value).toHaveLength(1);
    measured.add(built.value[0]!.code);
    const later = await Promise.all([1, 2, 3, 4, 5].map(propose));
    expect(later.every((p) => p.ok && p.value.optionId !== 'cuda.torch_compile')).toBe(true);
  });

  it('offers only the options that can change the candidate in front of it', async () => {
    const base = planner.baseline(task).params!.knobs as Knobs;
    const tuned = gemm.legalize(OPS[0]!, { impl: 'triton', block_m: 128, block_n: 256, num_warps: 8 });
    const ids = (parent: Knobs) => planner.applicableOptions!(task, CUDA_MENU.options, view(parent)).map((o) => o.id);
    // From cuBLAS the switch into cuBLAS does nothing; from a Triton kernel the switch into Triton does nothing.
    expect(ids(base)).not.toContain('cuda.cublas');
    expect(ids(base)).toEqual(expect.arrayContaining(['cuda.triton', 'cuda.torch_compile']));
    expect(ids(tuned)).not.toContain('cuda.triton');
    expect(ids(tuned)).toEqual(expect.arrayContaining(['cuda.cublas', 'cuda.torch_compile']));
    // Without a parent, every option the template has a knob for.
    expect(planner.applicableOptions!(task, CUDA_MENU.options).map((o) => o.id)).toEqual(
      expect.arrayContaining(['cuda.cublas', 'cuda.triton']),
    );
  });

  it('enters Triton at a start sized for the shape and dtype path, not at the defaults', async () => {
    const h200 = createTritonMatmulTemplate('gemm', tritonMatmulOptionsFor({ computeCapability: '9.0', smCount: 132 }));
    const sized = createTemplatePlanner({ templates: (kind) => (kind === 'gemm' ? h200 : null) });
    const into = (op: Operation): Promise<Knobs> => moveFromBaseline(sized, op, 'cuda.triton', 1);
    const f32 = (M: number, N: number, K: number) => parseOperation({ kind: 'gemm', dims: { M, N, K }, dtype: 'f32' });
    const bf16 = (M: number, N: number, K: number) =>
      parseOperation({ kind: 'gemm', dims: { M, N, K }, dtype: 'bf16' });
    // f32 enters on 3xTF32 (tensor cores at about f32 accuracy) with a tile that keeps the
    // accumulator in registers (the defaults, 128x128 over 4 warps, spill); the f32 FMA path is
    // among the starts too, for problems whose tolerance 3xTF32 misses.
    const f32Op = f32(4096, 4096, 4096);
    const entry = await into(f32Op);
    expect(entry).toMatchObject({ impl: 'triton', precision: 'tf32x3' });
    expect((numKnob(entry, 'block_m') * numKnob(entry, 'block_n')) / (32 * numKnob(entry, 'num_warps'))).toBeLessThan(
      ACCUMULATORS_PER_THREAD,
    );
    expect(h200.composites!['cuda.shared_tile']!(f32Op).map((k) => k.precision)).toContain('ieee');
    // bf16: the large tiles at 4096^2; at 512^2 tiles small enough to give half the SMs work.
    expect(await into(bf16(4096, 4096, 4096))).toMatchObject({ block_m: 128, block_n: 256, num_warps: 8 });
    const small = bf16(512, 512, 512);
    expect(tritonPrograms(small, await into(small)) * 2).toBeGreaterThanOrEqual(132);
    // The starts are the composite moves of cuda.shared_tile: distinct, legal, Triton, same dtype path.
    const starts = h200.composites!['cuda.shared_tile']!(small);
    expect(starts.length).toBeGreaterThan(2);
    expect(new Set(starts.map((k) => JSON.stringify(k))).size).toBe(starts.length);
    for (const k of starts) {
      expect(h200.legalize(small, k)).toEqual(k);
      expect(k).toMatchObject({ impl: 'triton', precision: 'native' });
    }
  });

  it('moves a knob out of cuBLAS from the first start, not from the defaults', async () => {
    const h200 = createTritonMatmulTemplate('gemm', tritonMatmulOptionsFor({ computeCapability: '9.0', smCount: 132 }));
    const sized = createTemplatePlanner({ templates: (kind) => (kind === 'gemm' ? h200 : null) });
    const f32Op = parseOperation({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'f32' });
    const [start] = h200.composites!['cuda.shared_tile']!(f32Op);
    // On an H100 the single-knob moves of a cold search's first iteration measured the spilling
    // 128x128x64 four-warp f32 kernel with one knob changed, at 3 to 6 times cuBLAS's time.
    for (const [optionId, knob] of [
      ['cuda.l2_locality', 'group_m'],
      ['cuda.double_buffer', 'num_stages'],
    ] as const) {
      const knobs = await moveFromBaseline(sized, f32Op, optionId, 3);
      expect(knobs[knob]).not.toBe(start![knob]);
      expect({ ...knobs, [knob]: start![knob] }).toEqual(start);
    }
  });

  it('torch.compile is one more option: from a kernel it compiles in the default mode, then steps through the modes', async () => {
    const base = planner.baseline(task).params!.knobs as Knobs;
    const tuned = gemm.legalize(OPS[0]!, { impl: 'triton', block_m: 128, block_n: 256, num_warps: 8 });
    const modes: string[] = [];
    let parent = tuned;
    for (let i = 0; i <= TORCH_COMPILE_MODES.length; i++) {
      const out = await planner.propose({
        task,
        parent: view(parent),
        iteration: 1,
        iterations: 4,
        phase: 'optimize',
        menu: CUDA_MENU.options.filter((o) => o.id === 'cuda.torch_compile'),
        invent: false,
        rules: [],
        rng: createRng(7),
      });
      if (!out.ok) throw new Error(out.error);
      parent = (out.value.params as { knobs: Knobs }).knobs;
      expect(parent.impl).toBe('compile');
      modes.push(String(parent.compile_mode));
    }
    expect(modes).toEqual([...TORCH_COMPILE_MODES, 'default']);
    const src = gemm.generate(OPS[0]!, { ...base, impl: 'compile', compile_mode: 'max-autotune' });
    expect(src).toContain('class SkbEager(nn.Module)');
    expect(src).toContain('torch.compile(super().forward, mode="max-autotune")');
    expect(src).not.toContain('@triton.jit');
    // A Triton knob under torch.compile means nothing: it stays at the default, and outside
    // torch.compile the mode stays at its default.
    expect(gemm.legalize(OPS[0]!, { impl: 'compile', block_m: 16 })).toEqual({ ...base, impl: 'compile' });
    expect(gemm.legalize(OPS[0]!, { ...tuned, compile_mode: 'max-autotune' })).toEqual(tuned);
  });

  it('replays a seed from another shape, re-fitting its knobs (warm start)', async () => {
    const small = { ...task, operation: op({ kind: 'gemm', dims: { M: 512, N: 64, K: 512 }, dtype: 'bf16' }) };
    // The seed's steps as a schedule records them: the full knob set and what the step changed.
    const first = gemm.legalize(OPS[0]!, { impl: 'triton', block_m: 128, block_n: 128, block_k: 64, num_warps: 4 });
    const second = gemm.legalize(OPS[0]!, { ...first, num_warps: 8 });
    const steps: ForcedStep[] = [
      {
        scheduleId: 's',
        stepIndex: 0,
        optionId: 'cuda.shared_tile',
        plan: 'tile',
        params: { knobs: first, changed: { impl: 'triton', block_m: 128, block_n: 128, block_k: 64 } },
      },
      {
        scheduleId: 's',
        stepIndex: 1,
        optionId: 'cuda.occupancy',
        plan: 'warps',
        params: { knobs: second, changed: { num_warps: 8 } },
      },
    ];
    const out = await planner.replay!({
      task: small,
      parent: view(gemm.baseline(small.operation)),
      steps,
      rules: [],
      rng: createRng(1),
    });
    if (!out.ok) throw new Error(out.error);
    const knobs = (out.value[0]!.params as { knobs: Knobs }).knobs;
    expect(knobs).toMatchObject({ impl: 'triton', block_m: 128, block_n: 64, block_k: 64, num_warps: 8 });
    expect(out.value[0]!.code).toContain('BLOCK_N = 64');
  });

  it('re-fits a seed tuned on a large shape to a small one so that the launch still fills the SMs', async () => {
    const large = op({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'bf16' });
    const small = op({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 }, dtype: 'bf16' });
    const tuned = gemm.legalize(large, { impl: 'triton', block_m: 128, block_n: 256, block_k: 64, num_warps: 8 });
    const steps: ForcedStep[] = [
      {
        scheduleId: 's',
        stepIndex: 0,
        optionId: 'cuda.shared_tile',
        plan: 'tile',
        params: { knobs: tuned, changed: { impl: 'triton', block_m: 128, block_n: 256 } },
        source: large,
      },
    ];
    const replayOn = async (sms: number | undefined, shape: Operation): Promise<Knobs> => {
      const p = createTemplatePlanner({
        templates: (kind) => gpuTemplateFor(kind, sms === undefined ? {} : { multiprocessors: sms }),
      });
      const out = await p.replay!({
        task: { ...task, operation: shape },
        parent: view(gemm.baseline(shape)),
        steps,
        rules: [],
        rng: createRng(1),
      });
      if (!out.ok) throw new Error(out.error);
      return (out.value[0]!.params as { knobs: Knobs }).knobs;
    };
    // 128x256 tiles: 512 programs at 4096^2 but 8 at 512^2. With 132 SMs they are halved until the
    // launch has more than 66 programs: 64x32 or 32x64, 128 programs.
    const refitted = await replayOn(132, small);
    expect(tritonPrograms(small, refitted)).toBeGreaterThan(66);
    expect(tritonPrograms(small, refitted)).toBeLessThanOrEqual(132);
    expect((refitted.block_m as number) * (refitted.block_n as number)).toBe(64 * 32);
    // Without the SM count, and at the seed's own sizes, the seed's tiles stay.
    expect(await replayOn(undefined, small)).toMatchObject({ block_m: 128, block_n: 256 });
    expect(await replayOn(132, large)).toMatchObject({ block_m: 128, block_n: 256 });
    // A GPU of 16 SMs is filled by 16 programs: one halving (128x128) is enough there.
    expect(await replayOn(16, small)).toMatchObject({ block_m: 128, block_n: 128 });
    expect(() => createTritonMatmulTemplate('gemm', { multiprocessors: 0 })).toThrow(/multiprocessors/);
    // A seed of another kind (a similar-tier softmax schedule) keeps its tiles as they are.
    const softmax = op({ kind: 'softmax', dims: { M: 4096, N: 4096 } });
    expect(gemm.refit).toBeUndefined();
    expect(createTritonMatmulTemplate('gemm', { multiprocessors: 132 }).refit!(softmax, small, tuned)).toEqual(tuned);
  });

  it('does not spend a sample on a kernel the search has measured, while another move is new', async () => {
    const base = planner.baseline(task).params!.knobs as Knobs;
    const into = gemm.legalize(OPS[0]!, { ...base, impl: 'triton' });
    const parent = view(into);
    const measured = new Set<string>();
    const only = (ids: string[]) => CUDA_MENU.options.filter((o) => ids.includes(o.id));
    // num_stages has three values: from 3, the options offer 2 and 4, then nothing new.
    for (let i = 0; i < 2; i++) {
      const out = await planner.propose({
        task,
        parent,
        iteration: 2,
        iterations: 4,
        phase: 'optimize',
        menu: only(['cuda.double_buffer']),
        invent: false,
        rules: [],
        rng: createRng(7),
        tried: (code) => measured.has(code),
      });
      if (!out.ok) throw new Error(out.error);
      const built = await planner.implement({
        task,
        parent,
        plan: out.value,
        count: 1,
        rules: [],
        rng: createRng(8),
        tried: (code) => measured.has(code),
      });
      if (!built.ok) throw new Error(built.error);
      expect(measured.has(built.value[0]!.code)).toBe(false);
      measured.add(built.value[0]!.code);
    }
    expect([...measured].map((c) => constantsOf(c).num_stages).sort()).toEqual([2, 4]);
    // Every move of the option measured: it is still proposed (the sample is not wasted on a failure).
    const again = await planner.propose({
      task,
      parent,
      iteration: 2,
      iterations: 4,
      phase: 'optimize',
      menu: only(['cuda.double_buffer']),
      invent: false,
      rules: [],
      rng: createRng(7),
      tried: (code) => measured.has(code),
    });
    expect(again.ok).toBe(true);
    // With a second option on the menu, the new move of that option is taken instead, whichever
    // option a sample draws first (without the hint, some of these draws keep double_buffer).
    const menu = only(['cuda.double_buffer', 'cuda.l2_locality']);
    const draws = async (hint: boolean) =>
      Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8].map(async (seed) => {
          const out = await planner.propose({
            task,
            parent,
            iteration: 2,
            iterations: 4,
            phase: 'optimize',
            menu,
            invent: false,
            rules: [],
            rng: createRng(seed),
            ...(hint ? { tried: (code: string) => measured.has(code) } : {}),
          });
          return out.ok ? out.value.optionId : out.error;
        }),
      );
    expect(new Set(await draws(true))).toEqual(new Set(['cuda.l2_locality']));
    expect(await draws(false)).toContain('cuda.double_buffer');
  });

  it('the planner factory gives KernelBench targets the template planner for gemm and says what to do for other kinds', async () => {
    const factory = createPlannerFactory({
      config: { models: [], openaiBaseUrl: undefined, openaiApiKey: undefined },
      cpu: { byTarget: new Map(), local: { isa: [] } },
    });
    const planner2 = factory(SearchConfigSchema.parse({}), { id: 'h200', toolchain: createKernelBenchToolchain() });
    expect(planner2.baseline({ ...task, operation: OPS[3]! }).code).toContain('torch.matmul(A, B)');
    expect(() =>
      planner2.baseline({
        ...task,
        operation: op({ kind: 'conv2d', dims: { N: 1, C: 3, H: 8, W: 8, K: 4, R: 3, S: 3 } }),
      }),
    ).toThrow(/planner "llm"/);
  });
});

describe("Triton matmul template: transposed operands and the GPU's shared memory", () => {
  const layouts = ['nn', 'tn', 'nt', 'tt'] as const;
  const shapes = { gemm: { M: 300, N: 200, K: 130 }, batched_gemm: { B: 3, M: 200, N: 330, K: 96 } };

  it('problems and both implementations read transposed operands through views, for every layout', () => {
    for (const kind of ['gemm', 'batched_gemm'] as const) {
      for (const layout of layouts) {
        const o = op({ kind, dims: shapes[kind], dtype: 'bf16', layout, epilogue: ['bias'] });
        const a = layout[0] === 't' ? 'A.transpose(-2, -1)' : 'A';
        const b = layout[1] === 't' ? 'B.transpose(-2, -1)' : 'B';
        const problem = kernelBenchProblemFor(o);
        const batch = kind === 'batched_gemm' ? '3, ' : '';
        const { M, N, K } = shapes[kind];
        expect(problem).toContain(
          `torch.randn((${batch}${layout[0] === 't' ? `${K}, ${M}` : `${M}, ${K}`}), dtype=torch.bfloat16)`,
        );
        expect(problem).toContain(
          `torch.randn((${batch}${layout[1] === 't' ? `${N}, ${K}` : `${K}, ${N}`}), dtype=torch.bfloat16)`,
        );
        expect(problem).toContain(`out = torch.matmul(${a}, ${b})`);
        const t = templateOf(o);
        expect(t.generate(o, t.baseline(o))).toContain(`out = torch.matmul(${a}, ${b})`);
        const triton = t.generate(o, { impl: 'triton' });
        expect(triton).toContain(`return skb_matmul(${a}, ${b}, self.bias)`);
        expect(triton).not.toContain('.contiguous()');
      }
    }
  });

  it.skipIf(!hasPython)('the sources of every layout compile', async () => {
    const sources = layouts.flatMap((layout) => {
      const o = op({ kind: 'batched_gemm', dims: shapes.batched_gemm, dtype: 'f16', layout });
      return [
        kernelBenchProblemFor(o),
        batched.generate(o, batched.baseline(o)),
        batched.generate(o, { impl: 'triton' }),
      ];
    });
    const compiled = await pyCompile(sources);
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  it('refuses another layout, naming the accepted ones', () => {
    const o = op({ kind: 'gemm', dims: { M: 8, N: 8, K: 8 }, layout: 'row' });
    for (const f of [() => kernelBenchProblemFor(o), () => gemm.generate(o, { impl: 'triton' })]) {
      const error = (() => {
        try {
          f();
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(isSkbError(error) && error.code).toBe('BAD_INPUT');
      expect((error as Error).message).toMatch(/one of nn, tn, nt, tt/);
    }
  });

  it('sizes the operand tiles for the GPU: Hopper admits 128x256x64 with 4 stages in bf16, the default does not', () => {
    expect(sharedMemoryBudgetFor('9.0')).toBe(200 * 1024);
    expect(sharedMemoryBudgetFor('8.0')).toBe(160 * 1024);
    expect(sharedMemoryBudgetFor('8.9')).toBe(96 * 1024);
    expect(sharedMemoryBudgetFor('12.0')).toBe(96 * 1024);
    expect(sharedMemoryBudgetFor('7.5')).toBe(60 * 1024);
    expect(sharedMemoryBudgetFor('not a version')).toBe(96 * 1024);
    const big = op({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'bf16' });
    const wanted = {
      impl: 'triton',
      block_m: 128,
      block_n: 256,
      block_k: 64,
      group_m: 8,
      num_warps: 8,
      num_stages: 4,
      precision: 'native',
      align: 0,
      compile_mode: 'default',
    };
    const hopper = { sharedMemoryBytes: sharedMemoryBudgetFor('9.0') };
    expect(tritonMatmulSpace(big, hopper)).toContainEqual(wanted);
    expect(tritonMatmulSpace(big)).not.toContainEqual(wanted);
    expect(createTritonMatmulTemplate('gemm', hopper).legalize(big, wanted)).toEqual(wanted);
    expect(gemm.legalize(big, wanted).num_stages).toBeLessThan(4);
    for (const k of tritonMatmulSpace(big, { sharedMemoryBytes: sharedMemoryBudgetFor('8.9') })) {
      expect(
        (k.num_stages as number) * ((k.block_m as number) + (k.block_n as number)) * (k.block_k as number) * 2,
      ).toBeLessThanOrEqual(96 * 1024);
    }
  });

  it('offers 32-wide blocks for dimensions up to 1024 only', () => {
    const blockM = TRITON_MATMUL_KNOBS.find((k) => k.name === 'block_m')!;
    expect(blockM.values(op({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 } }))).toEqual([32, 64, 128, 256]);
    expect(blockM.values(op({ kind: 'gemm', dims: { M: 4096, N: 512, K: 512 } }))).toEqual([64, 128, 256]);
    expect(blockM.values(op({ kind: 'gemm', dims: { M: 100, N: 512, K: 512 } }))).toEqual([32, 64, 128]);
  });

  it('the planner factory sizes tiles by the compute capability of the target it plans for', async () => {
    const factory = createPlannerFactory({
      config: { models: [], openaiBaseUrl: undefined, openaiApiKey: undefined },
      cpu: { byTarget: new Map(), local: { isa: [] } },
      gpu: { byTarget: new Map([['h200', { computeCapability: '9.0', smCount: 132 }]]) },
    });
    const big = op({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'bf16' });
    const forced: ForcedStep = {
      optionId: 'cuda.double_buffer',
      plan: 'four stages',
      scheduleId: 'sch_x',
      stepIndex: 0,
      params: {
        knobs: {
          impl: 'triton',
          block_m: 128,
          block_n: 256,
          block_k: 64,
          group_m: 8,
          num_warps: 8,
          num_stages: 4,
          precision: 'native',
        },
      },
    };
    const stagesOn = async (targetId: string): Promise<number> => {
      const planner = factory(SearchConfigSchema.parse({}), { id: targetId, toolchain: createKernelBenchToolchain() });
      const t: PlanningTask = { operation: big, hardware: 'NVIDIA H200', contract: '' };
      const parentKnobs = {
        impl: 'triton',
        block_m: 128,
        block_n: 256,
        block_k: 64,
        group_m: 8,
        num_warps: 8,
        num_stages: 3,
        precision: 'native',
      };
      const parent: CandidateView = {
        id: 'p',
        code: gemm.generate(big, parentKnobs),
        latencyMs: 1,
        feedback: [],
        lineage: [],
        params: { knobs: parentKnobs },
      };
      const planned = await planner.propose({
        task: t,
        parent,
        iteration: 2,
        iterations: 4,
        phase: 'optimize',
        menu: CUDA_MENU.options,
        invent: false,
        forced,
        rules: [],
        rng: createRng(3),
      });
      if (!planned.ok) throw new Error(planned.error);
      const built = await planner.implement({
        task: t,
        parent,
        plan: planned.value,
        count: 1,
        rules: [],
        rng: createRng(4),
      });
      if (!built.ok) throw new Error(built.error);
      return constantsOf(built.value[0]!.code).num_stages as number;
    };
    expect(await stagesOn('h200')).toBe(4);
    expect(await stagesOn('unknown-gpu')).toBeLessThan(4);
  });
});

describe.skipIf(!hasGpuTriton)('Triton matmul template on a GPU (real KernelBench harness)', () => {
  const executor = createLocalExecutor({ sandbox: gpuSandbox });
  const toolchain = createKernelBenchToolchain({ python: gpuPython });
  afterAll(() => executor.close());

  it('the baseline and Triton configurations of both dtype paths are correct, remainders included', async () => {
    const cases: Array<[Operation, Knobs[]]> = [
      [
        op({ kind: 'gemm', dims: { M: 300, N: 200, K: 130 }, dtype: 'f32', epilogue: ['relu'] }),
        [
          { impl: 'torch' },
          { impl: 'triton', precision: 'ieee' },
          { impl: 'triton', block_m: 128, num_warps: 8 },
          // K = 130 f32 rows are off the 16-byte boundary: A is copied into padded rows first.
          { impl: 'triton', precision: 'tf32x3', align: 1 },
        ],
      ],
      [
        op({ kind: 'batched_gemm', dims: { B: 3, M: 200, N: 330, K: 96 }, dtype: 'f16' }),
        [
          { impl: 'triton', block_n: 128, num_stages: 4 },
          { impl: 'triton', align: 1 },
        ],
      ],
      // Transposed operands, read in place through their strides (or, aligned, copied row-major).
      [
        op({ kind: 'gemm', dims: { M: 300, N: 200, K: 130 }, dtype: 'bf16', layout: 'tn', epilogue: ['bias', 'relu'] }),
        [{ impl: 'torch' }, { impl: 'triton' }, { impl: 'triton', align: 1 }],
      ],
      [
        op({ kind: 'batched_gemm', dims: { B: 3, M: 200, N: 330, K: 96 }, dtype: 'f32', layout: 'tt' }),
        [
          { impl: 'triton', precision: 'ieee' },
          { impl: 'triton', block_m: 32, precision: 'tf32x3' },
        ],
      ],
      [
        op({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 }, dtype: 'bf16', layout: 'nt' }),
        [{ impl: 'triton', block_m: 32, block_n: 32 }],
      ],
      // Epilogue chains of every step kind, fused into the store: an nn.Linear (weight form) in f32,
      // and two inputs in bf16, where each step's value is rounded as eager stores it.
      [
        op({
          kind: 'gemm',
          dims: { M: 300, N: 200, K: 130 },
          dtype: 'f32',
          layout: 'nt',
          epilogue: ['bias', 'mul', 'leaky_relu', 'gelu', 'silu', 'sub', 'hardtanh', 'tanh'],
          attrs: { weight: 'fc.weight', e1: 'fc.bias', e2: '1.5', e3: '0.1', e6: '0.25', e7: '-0.5,0.5' },
        }),
        [{ impl: 'torch' }, { impl: 'triton', precision: 'ieee' }, { impl: 'triton', precision: 'tf32x3' }],
      ],
      [
        op({
          kind: 'gemm',
          dims: { M: 257, N: 130, K: 96 },
          dtype: 'bf16',
          epilogue: ['add', 'relu', 'div', 'mish', 'sigmoid', 'gelu_tanh', 'clamp', 'hardswish'],
          attrs: { e1: '0.3', e3: '2.0', e7: ',0.6' },
        }),
        [{ impl: 'torch' }, { impl: 'triton' }, { impl: 'triton', block_m: 32, block_n: 32 }],
      ],
    ];
    for (const [o, knobSets] of cases) {
      const t = templateOf(o);
      const results = await toolchain.evaluate({
        operation: o,
        candidates: knobSets.map((k) => t.generate(o, { ...t.baseline(o), ...k })),
        executor,
        timing: { warmup: 1, runs: 5 },
      });
      for (const r of results) expect(r, r.output).toMatchObject({ correct: true, errorKind: null });
    }
  }, 600_000);
});
