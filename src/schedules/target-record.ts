import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.js';

export const CpuFingerprintSchema = z
  .object({
    kind: z.literal('cpu'),
    arch: z.string().min(1).max(32),
    model: z.string().min(1).max(128),
    /** ISA extensions that matter for code generation (avx2, fma, avx512f, neon, ...), sorted. */
    isa: z.array(z.string().min(1).max(32)).max(64),
    /** Cache sizes in bytes where known. */
    caches: z
      .object({
        l1d: z.number().int().positive().optional(),
        l2: z.number().int().positive().optional(),
        l3: z.number().int().positive().optional(),
      })
      .strict(),
    cores: z.number().int().positive(),
    compiler: z.string().min(1).max(128),
    /**
     * Cores one candidate may use, present only above 1: a single-threaded target keeps the
     * fingerprint (and key and family) it had before threads existed.
     */
    threads: z.number().int().min(2).max(4096).optional(),
  })
  .strict();

export const GpuFingerprintSchema = z
  .object({
    kind: z.literal('gpu'),
    name: z.string().min(1).max(128),
    smCount: z.number().int().positive(),
    computeCapability: z.string().regex(/^\d+\.\d+$/),
    driver: z.string().max(64),
    cuda: z.string().max(64),
    torch: z.string().max(64),
    triton: z.string().max(64).optional(),
  })
  .strict();

export const FingerprintSchema = z.discriminatedUnion('kind', [CpuFingerprintSchema, GpuFingerprintSchema]);
export type CpuFingerprint = z.infer<typeof CpuFingerprintSchema>;
export type GpuFingerprint = z.infer<typeof GpuFingerprintSchema>;
export type Fingerprint = z.infer<typeof FingerprintSchema>;

/**
 * The hardware family: what must match for a schedule measured there to be trusted here.
 * Compiler and driver versions and core counts are left out (they change with upgrades,
 * the hardware does not); CPU model and ISA, or GPU name and compute capability, are kept. The
 * threads a candidate may use are kept too, where above 1: a kernel timed on 8 cores is not
 * comparable with one timed on 1 (the transfer tier still offers it, re-fitted).
 */
export function targetFamily(fp: Fingerprint): string {
  const basis =
    fp.kind === 'cpu'
      ? { arch: fp.arch, model: fp.model, isa: [...fp.isa].sort(), ...(fp.threads ? { threads: fp.threads } : {}) }
      : { name: fp.name, cc: fp.computeCapability };
  return `${fp.kind}-${sha256Hex(canonicalJson(basis)).slice(0, 12)}`;
}

/** The toolchain versions a fingerprint records: what a schedule's evidence names and revalidation compares. */
export function toolchainVersionsOf(fingerprint: Fingerprint): Record<string, string> {
  if (fingerprint.kind === 'cpu') return { compiler: fingerprint.compiler };
  return {
    driver: fingerprint.driver,
    cuda: fingerprint.cuda,
    torch: fingerprint.torch,
    ...(fingerprint.triton ? { triton: fingerprint.triton } : {}),
  };
}

/** The key of one exact fingerprint (toolchain versions included): stable across runs on one machine. */
export function targetKey(fp: Fingerprint): string {
  return `t-${sha256Hex(canonicalJson(fp)).slice(0, 16)}`;
}

/** A target as the knowledge base stores it: never any credentials or connection details. */
export const TargetRecordSchema = z
  .object({
    key: z.string().regex(/^t-[0-9a-f]{16}$/),
    family: z.string().regex(/^(cpu|gpu)-[0-9a-f]{12}$/),
    /** The name used in the targets file when it was first seen, e.g. "local". */
    name: z.string().min(1).max(64),
    /** One short paragraph for prompts: what the hardware is and what matters on it. */
    description: z.string().max(2000),
    fingerprint: FingerprintSchema,
  })
  .strict();
export type TargetRecord = z.infer<typeof TargetRecordSchema>;

export function makeTargetRecord(name: string, description: string, fingerprint: Fingerprint): TargetRecord {
  return { key: targetKey(fingerprint), family: targetFamily(fingerprint), name, description, fingerprint };
}
