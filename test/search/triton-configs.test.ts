/**
 * Triton autotune configs from stored schedules (src/search/triton-configs.ts): the order, the
 * dedupe, what is skipped, hostile stored values, and that the printed list is Python: parsed by
 * the real python3 (skipped without one), and on a GPU evaluated to real triton.Config objects
 * that autotune the template's own kernel (skipped without torch, CUDA and Triton).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ScheduleContentSchema,
  isSkbError,
  parseOperation,
  toSchedule,
  type Schedule,
  type ScheduleContent,
  type TargetRecord,
} from '../../src/schedules/index.js';
import { formatTritonConfigs, tritonConfigOf, type TritonConfigSource } from '../../src/search/triton-configs.js';
import { kernelTemplateFor, tritonMatmulOptionsFor } from '../../src/targets/index.js';
import { makeContent, makeCpuTarget, makeGpuTarget } from '../support/fixtures.js';
import { gpuPython, hasGpuTriton } from '../support/gpu.js';
import { hasPython } from '../support/py-compile.js';
import { tritonExamples } from '../support/triton-schedules.js';

const gpu = makeGpuTarget('h100');
const cpu = makeCpuTarget('local');

const { big, mid, midTwin, batched, backToCublas } = tritonExamples(gpu);
const onCpu = makeContent({ target: cpu, dims: { M: 512, N: 512, K: 512 } });
const convOnGpu = makeContent({ target: gpu, kind: 'conv2d', optionIds: ['cuda.shared_tile', 'cuda.block_size'] });

const targets = new Map([gpu, cpu].map((t) => [t.key, t]));
const source = (content: ScheduleContent, retrieval?: TritonConfigSource['retrieval']): TritonConfigSource => {
  const schedule = toSchedule(content);
  return { schedule, target: targets.get(schedule.targetKey), ...(retrieval ? { retrieval } : {}) };
};
const idOf = (content: ScheduleContent): string => toSchedule(content).id;

/** The config lines of a printed list, in order. */
const configLines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('triton.Config('));

/** A copy of `content` whose last step's knob changes (and full knob set) are overridden. */
function withLastStep(content: ScheduleContent, knobs: Record<string, unknown>): Schedule {
  const steps = content.steps.map((step, i) => {
    if (i < content.steps.length - 1) return step;
    const params = step.params as { knobs: Record<string, unknown>; changed: Record<string, unknown> };
    return { ...step, params: { knobs: { ...params.knobs, ...knobs }, changed: { ...params.changed, ...knobs } } };
  });
  return toSchedule(ScheduleContentSchema.parse({ ...content, steps }));
}

describe('Triton configs: the config of one schedule', () => {
  it("reads the final knobs from the steps and names them as the template's kernel does", () => {
    expect(tritonConfigOf(toSchedule(big), gpu)).toEqual({
      ok: true,
      config: {
        meta: { BLOCK_M: 128, BLOCK_N: 256, BLOCK_K: 64, GROUP_M: 8 },
        numWarps: 8,
        numStages: 4,
        precision: 'native',
        aligned: false,
      },
    });
    expect(tritonConfigOf(toSchedule(batched), gpu)).toMatchObject({
      ok: true,
      config: {
        meta: { BLOCK_M: 64, BLOCK_N: 64, BLOCK_K: 32, GROUP_M: 1 },
        numStages: 2,
        precision: 'tf32x3',
        aligned: false,
      },
    });
  });

  it('names exactly the constexpr meta-parameters the template kernel declares', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 256, N: 256, K: 256 }, dtype: 'bf16' });
    if (gpu.fingerprint.kind !== 'gpu') throw new Error('the test target is a GPU');
    const template = kernelTemplateFor('kernelbench', 'gemm', tritonMatmulOptionsFor(gpu.fingerprint))!;
    const code = template.generate(op, { ...template.baseline(op), impl: 'triton' });
    const result = tritonConfigOf(toSchedule(big), gpu);
    if (!result.ok) throw new Error(result.reason);
    for (const name of Object.keys(result.config.meta)) expect(code).toContain(`${name}: tl.constexpr`);
    expect(code).toContain('num_warps=num_warps, num_stages=num_stages');
  });

  it('skips what is not a Triton matmul schedule, saying why', () => {
    const reason = (content: ScheduleContent, target?: TargetRecord) => {
      const r = tritonConfigOf(toSchedule(content), target);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(onCpu, cpu)).toBe('it was measured on a CPU target');
    expect(reason(convOnGpu, gpu)).toBe('conv2d has no Triton matmul template');
    expect(reason(backToCublas, gpu)).toBe('its best kernel is torch.matmul (cuBLAS), not Triton');
    expect(reason(big, undefined)).toBe('its target is not in the knowledge base');
    const llmWritten = ScheduleContentSchema.parse({
      ...mid,
      finalCode: 'import triton\n# a kernel the template did not write\n',
    });
    expect(reason(llmWritten, gpu)).toBe("its final code is not the Triton template's kernel");
  });

  it('rejects hostile stored knob values instead of printing them', () => {
    const hostile: Array<[Record<string, unknown>, RegExp]> = [
      [{ block_m: 100 }, /block_m is not a whole number from 1 to 4096 and a power of two/],
      [{ block_k: -64 }, /block_k is not/],
      [{ num_stages: 2.5 }, /num_stages is not a whole number/],
      [{ num_warps: '8' }, /num_warps is not/],
      [{ group_m: 1e9 }, /group_m is not a whole number from 1 to 4096$/],
      [{ block_n: "64}, num_warps=__import__('os').system('id'))#" }, /block_n is not/],
      [{ precision: "native'); import os #" }, /precision is not one of native/],
      [{ impl: 'triton; rm -rf /' }, /torch.matmul/],
    ];
    for (const [knobs, why] of hostile) {
      const r = tritonConfigOf(withLastStep(big, knobs), gpu);
      expect(r.ok, JSON.stringify(knobs)).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(why);
    }
  });

  it('ignores stored names that are not knobs of the template, and refuses steps the final code contradicts', () => {
    const odd = withLastStep(big, { "BLOCK_M': 1}), __import__('os').system('id')#": 1, evil: 'x' });
    const r = tritonConfigOf(odd, gpu);
    expect(r).toMatchObject({ ok: true, config: { meta: { BLOCK_M: 128, BLOCK_N: 256 } } });
    const contradicted = ScheduleContentSchema.parse({
      ...big,
      finalCode: big.finalCode.replace(/^NUM_STAGES = 4$/m, 'NUM_STAGES = 3'),
    });
    expect(tritonConfigOf(toSchedule(contradicted), gpu)).toEqual({
      ok: false,
      reason: 'its steps and its final code disagree on NUM_STAGES',
    });
  });
});

describe('Triton configs: the list', () => {
  it('without retrieval: by measured speedup, the same config once, other schedules listed as skipped', () => {
    const out = formatTritonConfigs([big, onCpu, midTwin, convOnGpu, mid, backToCublas].map((c) => source(c)));
    expect(configLines(out.text)).toEqual([
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 128, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=4, num_stages=3),",
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 256, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=8, num_stages=4),",
    ]);
    // mid (2x) is the config's best source; its twin (1.25x) is counted, not printed again.
    expect(out.text).toContain(
      `# ${idOf(mid)}: gemm M=2048 N=2048 K=2048 bf16, 2.00x over its baseline on h100, native products, same config in 1 more schedule(s)`,
    );
    expect(out.text).toContain(`# ${idOf(big)}: gemm M=4096 N=4096 K=4096 bf16, 1.25x over its baseline on h100`);
    expect(out.text).not.toContain(idOf(midTwin));
    expect(out.skipped.map((s) => s.scheduleId).sort()).toEqual(
      [idOf(onCpu), idOf(convOnGpu), idOf(backToCublas)].sort(),
    );
    expect(out.text).toMatch(/best first \(measured speedup, highest first\)/);
  });

  it('with retrieval: in retrieval order, each comment saying its tier', () => {
    const out = formatTritonConfigs([
      source(mid, { tier: 'structure', score: 2.4 }),
      source(big, { tier: 'exact', score: 3.5 }),
      source(midTwin, { tier: 'structure', score: 2.9 }),
      source(batched, { tier: 'similar', score: 1.2 }),
    ]);
    expect(configLines(out.text)).toEqual([
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 256, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=8, num_stages=4),",
      "triton.Config({'BLOCK_M': 128, 'BLOCK_N': 128, 'BLOCK_K': 64, 'GROUP_M': 8}, num_warps=4, num_stages=3),",
      "triton.Config({'BLOCK_M': 64, 'BLOCK_N': 64, 'BLOCK_K': 32, 'GROUP_M': 1}, num_warps=4, num_stages=2),",
    ]);
    expect(out.text).toContain(`# ${idOf(midTwin)}: gemm M=1024 N=1024 K=1024 bf16, 1.25x`);
    expect(out.text).toContain('structure match, same config in 1 more schedule(s)');
    expect(out.text).toContain(
      `# ${idOf(batched)}: batched_gemm B=8 M=512 N=256 K=1024 f32 +bias, 1.67x over its baseline on h100, tf32x3 products, similar match`,
    );
    expect(out.text).toMatch(/best first \(retrieval order: exact shape, then same structure/);
  });

  it('fails with NOT_FOUND, saying why, when no schedule is a Triton matmul schedule', () => {
    const attempt = (sources: TritonConfigSource[]) => {
      try {
        formatTritonConfigs(sources);
      } catch (error) {
        return error;
      }
      throw new Error('formatTritonConfigs did not fail');
    };
    const none = attempt([source(onCpu), source(convOnGpu)]);
    expect(isSkbError(none) && none.code).toBe('NOT_FOUND');
    expect((none as Error).message).toMatch(
      /None of the 2 matching schedule\(s\) is a Triton matmul schedule \(it was measured on a CPU target; conv2d has no Triton matmul template\)/,
    );
    expect((attempt([]) as Error).message).toMatch(/No schedule matches the export/);
  });
});

/** Every text the suites below feed Python: the lists above, and one whose stored names try to break out. */
function printedLists(): string[] {
  const hostileName = { ...gpu, name: "h100\n]\nimport os\nos.system('id')\n[" };
  const hostile = toSchedule(big);
  return [
    formatTritonConfigs([big, mid, midTwin, batched, onCpu].map((c) => source(c))).text,
    formatTritonConfigs([
      { schedule: hostile, target: hostileName, retrieval: { tier: 'exact', score: 3 } },
      { schedule: withLastStep(mid, { block_m: "1}), __import__('os')" }), target: gpu },
    ]).text,
  ];
}

/**
 * Checks in Python that the text is one list expression of triton.Config(...) calls whose
 * arguments are literals only (a dict of str -> int, and int keywords), and prints them as JSON.
 */
const LITERAL_CHECK = `
import ast, json, sys
tree = ast.parse(sys.stdin.read(), mode="eval")
assert isinstance(tree.body, ast.List), "not a list"
out = []
for call in tree.body.elts:
    assert isinstance(call, ast.Call), "not a call"
    assert ast.unparse(call.func) == "triton.Config", ast.unparse(call.func)
    assert len(call.args) == 1 and isinstance(call.args[0], ast.Dict), "not one dict"
    meta = ast.literal_eval(call.args[0])
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert all(type(v) is int and v > 0 for v in [*meta.values(), *kw.values()]), "not positive ints"
    out.append({"meta": meta, **kw})
print(json.dumps(out))
`;

describe.skipIf(!hasPython)('Triton configs: the printed list is Python', () => {
  it('parses with ast.parse', () => {
    for (const text of printedLists()) {
      const ran = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(sys.stdin.read())'], {
        input: text,
        encoding: 'utf8',
      });
      expect(ran.stderr).toBe('');
      expect(ran.status).toBe(0);
    }
  });

  it('is one list of triton.Config calls with literal arguments only, hostile stored names included', () => {
    const [plain, hostile] = printedLists();
    const read = (text: string) => {
      const ran = spawnSync('python3', ['-c', LITERAL_CHECK], { input: text, encoding: 'utf8' });
      expect(ran.stderr).toBe('');
      return JSON.parse(ran.stdout) as unknown[];
    };
    expect(read(plain!)).toEqual([
      { meta: { BLOCK_M: 128, BLOCK_N: 128, BLOCK_K: 64, GROUP_M: 8 }, num_warps: 4, num_stages: 3 },
      { meta: { BLOCK_M: 64, BLOCK_N: 64, BLOCK_K: 32, GROUP_M: 1 }, num_warps: 4, num_stages: 2 },
      { meta: { BLOCK_M: 128, BLOCK_N: 256, BLOCK_K: 64, GROUP_M: 8 }, num_warps: 8, num_stages: 4 },
    ]);
    expect(read(hostile!)).toEqual([
      { meta: { BLOCK_M: 128, BLOCK_N: 256, BLOCK_K: 64, GROUP_M: 8 }, num_warps: 8, num_stages: 4 },
    ]);
    expect(hostile).not.toMatch(/^import os/m);
  });
});

/**
 * On a GPU: the list becomes real triton.Config objects, and those autotune the template's own
 * kernel (the generated source, imported as a module) to the same result as torch.matmul.
 */
const AUTOTUNE = `
import importlib.util, json, sys
import torch, triton
text = open(sys.argv[1]).read()
configs = eval(compile(text, "configs", "eval"), {"triton": triton})
assert all(isinstance(c, triton.Config) for c in configs)
spec = importlib.util.spec_from_file_location("skb_kernel", sys.argv[2])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
tuned = triton.autotune(configs=configs, key=["M", "N", "K"])(mod.skb_matmul_kernel)
M = N = K = 512
a = torch.randn(1, M, K, device="cuda", dtype=torch.bfloat16)
b = torch.randn(1, K, N, device="cuda", dtype=torch.bfloat16)
c = torch.empty(1, M, N, device="cuda", dtype=torch.bfloat16)
grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]), 1)
tuned[grid](a, b, c, c, M, N, K, *a.stride(), *b.stride(), *c.stride(), HAS_BIAS=False, RELU=False, PRECISION="native")
torch.testing.assert_close(c, a @ b, rtol=2e-2, atol=2e-1)
print(json.dumps([{"kwargs": dict(x.kwargs), "num_warps": x.num_warps, "num_stages": x.num_stages} for x in configs]))
`;

describe.skipIf(!hasGpuTriton)('Triton configs on a GPU: real triton.Config objects', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("evaluates to triton.Configs with the schedules' kwargs, warps and stages, which autotune the template kernel", () => {
    const dir = mkdtempSync(join(tmpdir(), 'skb-triton-configs-'));
    dirs.push(dir);
    const text = formatTritonConfigs([big, mid, batched].map((c) => source(c))).text;
    const op = parseOperation({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 }, dtype: 'bf16' });
    const template = kernelTemplateFor('kernelbench', 'gemm', {})!;
    writeFileSync(join(dir, 'configs.py'), text);
    writeFileSync(join(dir, 'kernel.py'), template.generate(op, { ...template.baseline(op), impl: 'triton' }));
    const ran = spawnSync(gpuPython, ['-c', AUTOTUNE, join(dir, 'configs.py'), join(dir, 'kernel.py')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(ran.status, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual([
      { kwargs: { BLOCK_M: 128, BLOCK_N: 128, BLOCK_K: 64, GROUP_M: 8 }, num_warps: 4, num_stages: 3 },
      { kwargs: { BLOCK_M: 64, BLOCK_N: 64, BLOCK_K: 32, GROUP_M: 1 }, num_warps: 4, num_stages: 2 },
      { kwargs: { BLOCK_M: 128, BLOCK_N: 256, BLOCK_K: 64, GROUP_M: 8 }, num_warps: 8, num_stages: 4 },
    ]);
  }, 320_000);
});
