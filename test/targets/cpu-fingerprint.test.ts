import { afterAll, describe, expect, it } from 'vitest';
import { CpuFingerprintSchema, targetFamily, targetKey } from '../../src/schedules/index.js';
import { parseCpuProbe, peakGflopsPerCore, probeCpu } from '../../src/targets/cpu-fingerprint.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';

const executor = createLocalExecutor();
afterAll(() => executor.close());

describe('CPU fingerprint', () => {
  it('describes this machine, and is the same on every run', async () => {
    const a = await probeCpu(executor);
    const b = await probeCpu(executor);
    expect(CpuFingerprintSchema.parse(a.fingerprint)).toEqual(a.fingerprint);
    expect(b.fingerprint).toEqual(a.fingerprint);
    expect(targetKey(b.fingerprint)).toBe(targetKey(a.fingerprint));
    expect(a.fingerprint.compiler).toMatch(/gcc|clang|cc/i);
    expect(a.fingerprint.cores).toBeGreaterThan(0);
    expect([...a.fingerprint.isa].sort()).toEqual(a.fingerprint.isa);
  });

  it('reads an Arm machine description', () => {
    const probe = parseCpuProbe(
      [
        '@arch aarch64',
        '@nproc 64',
        '@cc gcc (Ubuntu 13.2.0-23ubuntu4) 13.2.0',
        '@cache 1 Data 64K',
        '@cache 1 Instruction 64K',
        '@cache 2 Unified 1024K',
        '@cache 3 Unified 32768K',
        '@maxkhz 3000000',
        'processor\t: 0',
        'BogoMIPS\t: 2000.00',
        'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp sve sve2 bf16 i8mm',
        'CPU implementer\t: 0x41',
        'CPU part\t: 0xd4f',
      ].join('\n'),
    );
    expect(probe.fingerprint).toEqual({
      kind: 'cpu',
      arch: 'aarch64',
      model: 'implementer 0x41 part 0xd4f',
      isa: ['asimd', 'asimdhp', 'bf16', 'fphp', 'i8mm', 'sve', 'sve2'],
      caches: { l1d: 65536, l2: 1048576, l3: 33554432 },
      cores: 64,
      compiler: 'gcc (Ubuntu 13.2.0-23ubuntu4) 13.2.0',
    });
    expect(probe.clockGhz).toBe(3);
    expect(peakGflopsPerCore(probe.fingerprint, probe.clockGhz)).toBe(48);
  });

  it('keeps the family when only the compiler changes, and changes the key', () => {
    const base = parseCpuProbe(
      '@arch x86_64\n@nproc 8\n@cc gcc 12\nmodel name\t: Xeon X @ 2.00GHz\nflags\t: fpu sse2 avx avx2 fma avx512f\n',
    );
    const upgraded = { ...base.fingerprint, compiler: 'gcc 13' };
    expect(targetFamily(upgraded)).toBe(targetFamily(base.fingerprint));
    expect(targetKey(upgraded)).not.toBe(targetKey(base.fingerprint));
    expect(base.fingerprint.isa).toEqual(['avx', 'avx2', 'avx512f', 'fma', 'sse2']);
    expect(base.clockGhz).toBe(2);
    expect(peakGflopsPerCore(base.fingerprint, base.clockGhz)).toBe(128);
    expect(peakGflopsPerCore({ ...base.fingerprint, isa: ['avx2', 'fma'] }, 2)).toBe(64);
  });
});
