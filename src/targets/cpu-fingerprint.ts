/**
 * The CPU fingerprint of the machine behind an executor, read through that executor (so it works
 * over SSH too): /proc/cpuinfo, sysfs cache sizes, `nproc` and the compiler's version line.
 * Only facts that do not change between runs go into the fingerprint; the clock, which does, is
 * reported beside it for the peak estimate.
 */
import { SkbError, CpuFingerprintSchema, parseOrThrow, type CpuFingerprint } from '../schedules/index.js';
import type { Executor } from './executor.js';

/** ISA extensions that matter for generated kernels; everything else in the flags line is noise. */
const RELEVANT_ISA = new Set([
  'sse2',
  'sse3',
  'ssse3',
  'sse4_1',
  'sse4_2',
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512cd',
  'avx512bw',
  'avx512dq',
  'avx512vl',
  'avx512ifma',
  'avx512vbmi',
  'avx512_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'avx_vnni',
  'amx_tile',
  'amx_bf16',
  'amx_int8',
  'neon',
  'asimd',
  'asimdhp',
  'asimddp',
  'fphp',
  'sve',
  'sve2',
  'bf16',
  'i8mm',
  'sme',
]);

const SCRIPT = [
  'echo "@arch $(uname -m)"',
  'echo "@nproc $(nproc)"',
  'echo "@cc $("$SKB_CC" --version 2>&1 | head -n 1)"',
  'for d in /sys/devices/system/cpu/cpu0/cache/index*; do [ -d "$d" ] && echo "@cache $(cat $d/level) $(cat $d/type) $(cat $d/size)"; done',
  'f=/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq; [ -r $f ] && echo "@maxkhz $(cat $f)"',
  'cat /proc/cpuinfo',
].join('; ');

export interface CpuProbe {
  fingerprint: CpuFingerprint;
  /** Best known clock in GHz (cpufreq maximum, else the fastest "cpu MHz", else the model name); null if unknown. */
  clockGhz: number | null;
}

/** How many cores a target lets one candidate use: a number, or "all" of them. */
export type ThreadsSetting = number | 'all';

/**
 * The fingerprint of a target whose candidates may use `setting` cores: `threads` is recorded only
 * above 1, so a single-threaded target keeps its key and family. More threads than the machine has
 * cores is a CONFIG error: oversubscribed timings would mislead every later search.
 */
export function withThreads(fp: CpuFingerprint, setting: ThreadsSetting | undefined, where: string): CpuFingerprint {
  const threads = setting === 'all' ? fp.cores : (setting ?? 1);
  if (threads > fp.cores) {
    throw new SkbError(
      'CONFIG',
      `The target on ${where} asks for threads: ${threads}, but its CPU has ${fp.cores} core${fp.cores === 1 ? '' : 's'}: use a number up to ${fp.cores}, or "all"`,
    );
  }
  const { threads: _old, ...single } = fp;
  return threads > 1 ? { ...single, threads } : single;
}

/** Runs the probe script in a fresh workspace of `executor` and parses its output. */
export async function probeCpu(executor: Executor, cc = 'gcc'): Promise<CpuProbe> {
  const ws = await executor.createWorkspace();
  try {
    const r = await ws.exec({ argv: ['sh', '-c', SCRIPT], env: { SKB_CC: cc }, limits: { wallMs: 20_000 } });
    if (r.exitCode !== 0 && !r.stdout.includes('@arch')) {
      throw new SkbError(
        'TARGET',
        `Could not read the CPU description on ${executor.describe}: ${r.stderr.slice(0, 500) || `exit ${r.exitCode}`}`,
      );
    }
    return parseCpuProbe(r.stdout);
  } finally {
    await ws.dispose();
  }
}

function sizeBytes(text: string): number | undefined {
  const m = /^(\d+)\s*([KMG]?)/i.exec(text.trim());
  if (!m) return undefined;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** Parses the probe's output; exported for tests of other machines' cpuinfo. */
export function parseCpuProbe(output: string): CpuProbe {
  const lines = output.split('\n');
  const tagged = (tag: string): string[] =>
    lines.filter((l) => l.startsWith(`@${tag} `)).map((l) => l.slice(tag.length + 2).trim());
  const field = (name: string): string | undefined => {
    const re = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'i');
    for (const l of lines) {
      const m = re.exec(l);
      if (m && m[1]!.trim()) return m[1]!.trim();
    }
    return undefined;
  };
  const arch = tagged('arch')[0] || 'unknown';
  const flags = (field('flags') ?? field('Features') ?? '').split(/\s+/).filter((f) => RELEVANT_ISA.has(f));
  const model =
    field('model name') ??
    field('Model') ??
    (field('CPU implementer')
      ? `implementer ${field('CPU implementer')} part ${field('CPU part') ?? '?'}`
      : undefined) ??
    field('Hardware') ??
    'unknown CPU';
  const caches: CpuFingerprint['caches'] = {};
  for (const c of tagged('cache')) {
    const [level, type, size] = c.split(/\s+/);
    const bytes = size ? sizeBytes(size) : undefined;
    if (!bytes) continue;
    if (level === '1' && type === 'Data') caches.l1d = bytes;
    else if (level === '2' && type !== 'Instruction') caches.l2 = bytes;
    else if (level === '3' && type !== 'Instruction') caches.l3 = bytes;
  }
  const cores = Number.parseInt(tagged('nproc')[0] ?? '', 10);
  const compiler = (tagged('cc')[0] ?? '').slice(0, 128) || 'unknown compiler';
  const candidate = {
    kind: 'cpu' as const,
    arch: arch.slice(0, 32),
    model: model.replace(/\s+/g, ' ').slice(0, 128),
    isa: [...new Set(flags)].sort(),
    caches,
    cores: Number.isInteger(cores) && cores > 0 ? cores : 1,
    compiler,
  };
  const fingerprint = parseOrThrow(
    CpuFingerprintSchema,
    candidate,
    'The CPU description could not be understood',
    'TARGET',
  );

  let clockGhz: number | null = null;
  const maxKhz = Number(tagged('maxkhz')[0]);
  if (Number.isFinite(maxKhz) && maxKhz > 0) clockGhz = maxKhz / 1e6;
  else {
    const mhz = lines
      .map((l) => /^cpu MHz\s*:\s*([\d.]+)/.exec(l)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    if (mhz.length) clockGhz = Math.max(...mhz) / 1000;
    else {
      const fromName = /@\s*([\d.]+)\s*GHz/i.exec(model);
      if (fromName) clockGhz = Number(fromName[1]);
    }
  }
  return { fingerprint, clockGhz };
}

/**
 * Estimated single-core f32 peak in GFLOP/s: SIMD lanes x 2 (an FMA is two flops) x 2 FMA units x
 * clock. Two FMA pipes is what recent x86 and Arm server cores have; cores that split AVX-512 into
 * two 256-bit halves (AMD Zen 4) reach half of the avx512f figure, so this is an upper bound used
 * only to tell the planner how far a kernel is from the roof. Without a known clock 3 GHz is assumed.
 */
export function peakGflopsPerCore(fp: CpuFingerprint, clockGhz: number | null): number {
  const isa = new Set(fp.isa);
  let flopsPerCycle: number;
  if (isa.has('avx512f')) flopsPerCycle = 16 * 2 * 2;
  else if (isa.has('avx2') && isa.has('fma')) flopsPerCycle = 8 * 2 * 2;
  else if (isa.has('avx')) flopsPerCycle = 8 * 2;
  else if (isa.has('sve') || isa.has('asimd') || isa.has('neon')) flopsPerCycle = 4 * 2 * 2;
  else flopsPerCycle = 4 * 2;
  return flopsPerCycle * (clockGhz ?? 3);
}
