/**
 * Runs a template's candidates beside a reference module on the GPU, outside the harness, for
 * inputs of several shapes and dtypes: what a template's run-time shape handling (any rank, any
 * remainder) is checked with. Sources are written to files and imported, since Triton reads a
 * kernel's source from its file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuPython } from './gpu.js';

export interface GpuComparison {
  /** Source defining `Model` (no init arguments). */
  reference: string;
  candidates: { name: string; source: string }[];
  shapes: number[][];
  /** Inputs are randn times this. */
  inputScale?: number;
  /** allclose tolerance (rtol = atol) for f32 and for f16 / bf16; int64 outputs must be equal. */
  tolerance: { f32: number; half: number };
  /**
   * Modules with parameters: for each dtype the reference and the candidates are cast to it, and
   * each candidate is given the reference's parameters (as the harness copies them).
   */
  copyParameters?: boolean;
}

/** The exit status, then one line per mismatch and `FAILED n`. */
export function compareOnGpu(c: GpuComparison): string {
  const dir = mkdtempSync(join(tmpdir(), 'skb-gpu-compare-'));
  try {
    const files = [{ name: 'reference', source: c.reference }, ...c.candidates].map(({ name, source }) => {
      const path = join(dir, `${name}.py`);
      writeFileSync(path, source);
      return [name, path];
    });
    const script = `
import copy, importlib.util, sys, torch
def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
files = ${JSON.stringify(files)}
ref = load(*files[0]).Model().cuda()
cands = [(name, load(name, path).ModelNew().cuda()) for name, path in files[1:]]
failed = 0
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    ref_d, cands_d = ref, cands
    if ${c.copyParameters ? 'True' : 'False'}:
        ref_d = copy.deepcopy(ref).to(dtype)
        cands_d = [(name, copy.deepcopy(m).to(dtype)) for name, m in cands]
        for _, m in cands_d:
            m.load_state_dict(ref_d.state_dict())
    for shape in ${JSON.stringify(c.shapes)}:
        torch.manual_seed(0)
        x = (${c.inputScale ?? 1} * torch.randn(*shape, device="cuda")).to(dtype)
        want = ref_d(x)
        for name, m in cands_d:
            got = m(x)
            if want.dtype == torch.int64:
                ok = got.dtype == torch.int64 and torch.equal(got, want)
            else:
                tol = ${c.tolerance.f32} if dtype == torch.float32 else ${c.tolerance.half}
                ok = got.dtype == want.dtype and got.shape == want.shape and torch.allclose(got.float(), want.float(), rtol=tol, atol=tol)
            if not ok:
                failed += 1
                print("MISMATCH", name, dtype, shape, tuple(got.shape), tuple(want.shape))
print("FAILED", failed)
sys.exit(1 if failed else 0)
`;
    const ran = spawnSync(gpuPython, ['-c', script], { encoding: 'utf8', timeout: 600_000 });
    return `${ran.status}\n${ran.stdout}${ran.stderr}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
