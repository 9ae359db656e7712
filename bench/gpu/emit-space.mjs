// Writes what bench/gpu/run.py needs from the TypeScript side, so the device (which has no Node)
// sweeps exactly the space the Triton matmul template spans, with the kernel it generates:
//   npm run build && node bench/gpu/emit-space.mjs [--dist dist] [--cc 9.0]
// --cc is the compute capability of the GPU the sweep runs on: the template sizes its shared-memory
// tiles for it (sharedMemoryBudgetFor), exactly as the service does for a target with that GPU.
// Outputs, beside this file:
//   space.json   the bench cases: operation (with its layout), input distribution, legal values of
//                every knob, the template's cold start
//                (its default Triton knobs) and every distinct legal configuration (tritonMatmulSpace)
//   kernels/     the generated ModelNew source of one configuration per epilogue chain (the chain is
//                compiled into the kernel's store); a file's kernel and skb_matmul launcher are the same
//                for every knob set (knobs are launch arguments), so run.py imports each file once
//   harness/     small problems with generated candidates (odd sizes, epilogues, batched, both dtype
//                paths of f32, the cuBLAS baseline) for src/targets/kernelbench/harness.py on the GPU
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { dist: { type: 'string', default: 'dist' }, cc: { type: 'string', default: '9.0' } },
});
const root = new URL('../../', import.meta.url);
const dist = new URL(`${values.dist.replace(/\/$/, '')}/`, root);
const template = await import(new URL('targets/templates/triton-matmul-template.js', dist).href);
const { kernelBenchProblemFor } = await import(new URL('targets/kernelbench/problems.js', dist).href);
const here = new URL('./', import.meta.url);
const options = { sharedMemoryBytes: template.sharedMemoryBudgetFor(values.cc) };

const SHAPES = [
  { label: 'square-4096', kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 } },
  { label: 'llm-4096x11008x4096', kind: 'gemm', dims: { M: 4096, N: 11008, K: 4096 } },
  { label: 'tall-skinny-16384x128x4096', kind: 'gemm', dims: { M: 16384, N: 128, K: 4096 } },
  { label: 'small-512', kind: 'gemm', dims: { M: 512, N: 512, K: 512 } },
  { label: 'batched-16x1024', kind: 'batched_gemm', dims: { B: 16, M: 1024, N: 1024, K: 1024 } },
  { label: 'square-2048-bias-relu', kind: 'gemm', dims: { M: 2048, N: 2048, K: 2048 }, epilogue: ['bias', 'relu'] },
  // KernelBench level-1 matmul problems 1, 8, 16 and 18 as they ship: inputs from torch.rand
  // (uniform in [0, 1), so outputs are large and positive, unlike the normal draws above; the f32
  // 3xTF32 path passes 1e-4 on them at every K), with their operand layouts read as strided views.
  { label: 'kb1-square-4096', kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, inputs: 'uniform' },
  { label: 'kb8-8205x5921x2949', kind: 'gemm', dims: { M: 8205, N: 5921, K: 2949 }, inputs: 'uniform' },
  {
    label: 'kb16-tn-2048x4096x8192',
    kind: 'gemm',
    dims: { M: 2048, N: 4096, K: 8192 },
    layout: 'tn',
    inputs: 'uniform',
  },
  {
    label: 'kb18-tt-2048x4096x8192',
    kind: 'gemm',
    dims: { M: 2048, N: 4096, K: 8192 },
    layout: 'tt',
    inputs: 'uniform',
  },
];
const DTYPES = ['bf16', 'f32'];

const op = (s, dtype) => ({
  kind: s.kind,
  dims: s.dims,
  dtype,
  ...(s.layout ? { layout: s.layout } : {}),
  epilogue: s.epilogue ?? [],
  attrs: {},
});
// One kernel file per chain and dtype (bf16 rounds between steps): named by both, `plain` for no chain.
const kernelFile = (o) => `kernels/${o.epilogue.length ? o.epilogue.join('-') : 'plain'}-${o.dtype}.py`;
const kernels = new Map();
const cases = [];
for (const dtype of DTYPES) {
  for (const s of SHAPES) {
    const o = op(s, dtype);
    const gen = template.createTritonMatmulTemplate(s.kind, options);
    const legal = Object.fromEntries(gen.knobs.filter((k) => k.name !== 'impl').map((k) => [k.name, k.values(o)]));
    const { impl: _impl, ...cold } = gen.legalize(o, { ...gen.baseline(o), impl: 'triton' });
    const configs = template.tritonMatmulSpace(o, options).map(({ impl: _i, ...k }) => k);
    const kernel = kernelFile(o);
    if (!kernels.has(kernel)) kernels.set(kernel, gen.generate(o, { ...cold, impl: 'triton' }));
    const inputs = s.inputs ?? 'normal';
    cases.push({ label: `${s.label}-${dtype}`, shape: s.label, op: o, inputs, kernel, legal, cold, configs });
  }
}
await writeFile(
  new URL('space.json', here),
  `${JSON.stringify({ computeCapability: values.cc, sharedMemoryBytes: options.sharedMemoryBytes, knobs: Object.keys(cases[0].legal), cases })}\n`,
);
await mkdir(new URL('kernels/', here), { recursive: true });
for (const [file, source] of kernels) await writeFile(new URL(file, here), source);

// Harness checks: odd sizes exercise every mask and the wrapped loads.
const CHECKS = [
  {
    name: 'gemm-bf16-bias-relu',
    op: { kind: 'gemm', dims: { M: 1000, N: 777, K: 520 }, dtype: 'bf16', epilogue: ['bias', 'relu'], attrs: {} },
    knobs: { impl: 'triton', block_m: 128, block_n: 64, block_k: 64, num_warps: 8, num_stages: 3 },
  },
  {
    name: 'gemm-f32-ieee',
    op: { kind: 'gemm', dims: { M: 300, N: 200, K: 130 }, dtype: 'f32', epilogue: [], attrs: {} },
    knobs: { impl: 'triton', precision: 'ieee' },
  },
  {
    name: 'gemm-f32-tf32x3-bias',
    op: { kind: 'gemm', dims: { M: 513, N: 1025, K: 257 }, dtype: 'f32', epilogue: ['bias'], attrs: {} },
    knobs: { impl: 'triton', precision: 'tf32x3', block_m: 128, block_n: 128, group_m: 1 },
  },
  {
    name: 'batched-f16',
    op: { kind: 'batched_gemm', dims: { B: 3, M: 200, N: 330, K: 96 }, dtype: 'f16', epilogue: [], attrs: {} },
    knobs: { impl: 'triton', block_m: 64, block_n: 128, num_stages: 4 },
  },
  {
    name: 'batched-bf16-baseline',
    op: { kind: 'batched_gemm', dims: { B: 4, M: 256, N: 256, K: 256 }, dtype: 'bf16', epilogue: [], attrs: {} },
    knobs: null,
  },
  {
    name: 'gemm-bf16-tn-bias',
    op: { kind: 'gemm', dims: { M: 1000, N: 777, K: 520 }, dtype: 'bf16', layout: 'tn', epilogue: ['bias'], attrs: {} },
    knobs: { impl: 'triton', block_m: 128, block_n: 256, block_k: 64, num_warps: 8, num_stages: 4 },
  },
  {
    name: 'batched-f32-tt',
    op: {
      kind: 'batched_gemm',
      dims: { B: 3, M: 200, N: 330, K: 96 },
      dtype: 'f32',
      layout: 'tt',
      epilogue: [],
      attrs: {},
    },
    knobs: { impl: 'triton', block_m: 32, precision: 'ieee' },
  },
];
await mkdir(new URL('harness/', here), { recursive: true });
for (const c of CHECKS) {
  const gen = template.createTritonMatmulTemplate(c.op.kind, options);
  const knobs = c.knobs ? { ...gen.baseline(c.op), ...c.knobs } : gen.baseline(c.op);
  await writeFile(new URL(`harness/${c.name}.problem.py`, here), kernelBenchProblemFor(c.op));
  await writeFile(new URL(`harness/${c.name}.candidate.py`, here), gen.generate(c.op, knobs));
}
console.log(
  `bench/gpu: ${cases.length} cases, ${cases.reduce((n, c) => n + c.configs.length, 0)} configurations; ${CHECKS.length} harness checks`,
);
