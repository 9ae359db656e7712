import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureFmaPeak } from '../../src/targets/c/fma-peak.js';
import { peakGflopsPerCore, probeCpu } from '../../src/targets/cpu-fingerprint.js';
import type { Executor } from '../../src/targets/executor.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';

describe('the measured FMA peak (gcc, this CPU, in the sandbox)', () => {
  let executor: Executor;
  beforeAll(() => {
    executor = createLocalExecutor();
  });
  afterAll(() => executor.close());

  it('is measured on this machine, within a few times the clock-derived estimate', async () => {
    const cpu = await probeCpu(executor, 'gcc');
    const measured = await measureFmaPeak(executor, 'gcc', cpu.fingerprint);
    expect(measured).not.toBeNull();
    const estimate = peakGflopsPerCore(cpu.fingerprint, cpu.clockGhz);
    // Turbo clocks lift it above the nominal figure; a loop that failed to vectorise would sit far below.
    expect(measured!).toBeGreaterThan(estimate / 4);
    expect(measured!).toBeLessThan(estimate * 4);
  });

  it('is null when the compiler is missing, so feedback falls back to the estimate', async () => {
    const cpu = await probeCpu(executor, 'gcc');
    expect(await measureFmaPeak(executor, 'gcc-that-does-not-exist', cpu.fingerprint)).toBeNull();
  });
});
