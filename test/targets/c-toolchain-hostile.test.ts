/**
 * Hostile and broken candidates: each is classified, none hangs or harms the test process, and the
 * candidate after it in the same evaluation still gets a correct measurement.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOperation } from '../../src/schedules/index.js';
import { naiveBaseline } from '../../src/targets/c/baselines.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import type { CandidateResult } from '../../src/targets/toolchain.js';

const operation = parseOperation({ kind: 'gemm', dims: { M: 8, N: 8, K: 8 } });
const SIGNATURE = 'void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C)';
const good = naiveBaseline(operation);
// Workspaces of this file live under their own root, so "no process left behind" looks only at
// this file's candidates, whatever else the machine runs.
const root = mkdtempSync(join(tmpdir(), 'skb-hostile-'));
const executor = createLocalExecutor({ root });
const toolchain = createCToolchain({
  runLimits: { wallMs: 3_000, memoryBytes: 512 * 1024 ** 2, maxOutputBytes: 64 * 1024 },
});
const SECRET = 'sk-hostile-test-secret-0123456789';

beforeAll(() => {
  process.env.SKB_API_TOKEN = SECRET;
  process.env.OPENAI_API_KEY = SECRET;
});
afterAll(async () => {
  delete process.env.SKB_API_TOKEN;
  delete process.env.OPENAI_API_KEY;
  await executor.close();
  rmSync(root, { recursive: true, force: true });
});

/** Processes whose working directory is inside this file's workspaces. */
function processesUnderRoot(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(root)) found.push(pid);
    } catch {
      // The process ended meanwhile, or is not ours to inspect.
    }
  }
  return found;
}

/** Evaluates the hostile candidate followed by a good one; checks the good one is unharmed. */
async function evaluateBeside(hostile: string): Promise<CandidateResult> {
  const [bad, after] = await toolchain.evaluate({
    operation,
    candidates: [hostile, good],
    executor,
    timing: { warmup: 1, runs: 3 },
  });
  expect(after!.errorKind, after!.output).toBeNull();
  expect(after!.correct).toBe(true);
  return bad!;
}

describe('hostile candidates', () => {
  it('classifies code that does not compile', async () => {
    const r = await evaluateBeside(`${SIGNATURE} { this is not C; }`);
    expect(r.errorKind).toBe('compile');
    expect(r.output).toMatch(/error/);
    expect(r.feedback[0]).toMatch(/^does not compile: .*error/);
  });

  it('classifies a candidate without the entry point as a compile error', async () => {
    const r = await evaluateBeside('void not_the_kernel(void) {}');
    expect(r.errorKind).toBe('compile');
    expect(r.feedback[0]).toMatch(/undefined reference to .kernel/);
  });

  it('classifies a segfault', async () => {
    const r = await evaluateBeside(`${SIGNATURE} { *(volatile int *)0 = 1; }`);
    expect(r.errorKind).toBe('runtime');
    expect(r.feedback[0]).toMatch(/SIGSEGV/);
  });

  it('classifies an endless loop as a timeout', async () => {
    const r = await evaluateBeside(`${SIGNATURE} { for (;;) { __asm__ volatile(""); } }`);
    expect(r.errorKind).toBe('timeout');
  });

  it('stops a candidate that prints without end', async () => {
    const r = await evaluateBeside(
      `#include <stdio.h>\n${SIGNATURE} { for (;;) fputs("gigabytes of output gigabytes of output\\n", stdout); }`,
    );
    expect(r.errorKind).toBe('limit_exceeded');
    expect(r.feedback[0]).toMatch(/output/);
    expect(r.output.length).toBeLessThan(8 * 1024);
  });

  it('stops a fork bomb', async () => {
    const r = await evaluateBeside(`#include <unistd.h>\n${SIGNATURE} { for (;;) fork(); }`);
    expect(r.errorKind).toBe('limit_exceeded');
    expect(r.feedback[0]).toMatch(/processes/);
  });

  it('stops a fork bomb that bypasses the fork wrapper', async () => {
    const r = await evaluateBeside(
      `#include <unistd.h>\n#include <sys/syscall.h>\n${SIGNATURE} { for (;;) syscall(SYS_fork); }`,
    );
    expect(['limit_exceeded', 'timeout']).toContain(r.errorKind);
  });

  it('stops a candidate that allocates without end', async () => {
    const r = await evaluateBeside(
      `#include <stdlib.h>\n#include <string.h>\n${SIGNATURE} { for (;;) { char *p = malloc(1 << 24); memset(p, 1, 1 << 24); } }`,
    );
    expect(r.errorKind).toBe('limit_exceeded');
    expect(r.feedback[0]).toMatch(/memory/);
  });

  it('keeps the service secrets from a candidate that reads the environment', async () => {
    const snoop = `#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
extern char **environ;
static void dump(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  int c; while ((c = fgetc(f)) != EOF) putchar(c == 0 ? '\\n' : c);
  fclose(f);
}
${SIGNATURE} {
  static int done = 0;
  if (!done) {
    done = 1;
    for (char **e = environ; *e; e++) printf("ENV %s\\n", *e);
    const char *t = getenv("SKB_API_TOKEN"); printf("TOKEN %s\\n", t ? t : "(none)");
    DIR *d = opendir("/proc");
    struct dirent *de;
    char path[300];
    while (d && (de = readdir(d))) { snprintf(path, sizeof path, "/proc/%s/environ", de->d_name); dump(path); }
    if (d) closedir(d);
    fflush(stdout);
  }
  for (int m = 0; m < M; m++) for (int n = 0; n < N; n++) {
    float s = 0; for (int k = 0; k < K; k++) s += A[m * K + k] * B[k * N + n];
    C[m * N + n] = s;
  }
}
`;
    const r = await evaluateBeside(snoop);
    expect(r.correct).toBe(true);
    expect(r.output).toContain('ENV PATH=');
    expect(r.output).toContain('TOKEN (none)');
    expect(r.output).not.toContain(SECRET);
  });

  it('classifies wrong answers', async () => {
    const r = await evaluateBeside(`${SIGNATURE} { for (int i = 0; i < M * N; i++) C[i] = 1.0f; }`);
    expect(r.errorKind).toBe('wrong_answer');
    expect(r.correct).toBe(false);
  });

  it('classifies NaN output and early exit', async () => {
    const nan = await evaluateBeside(`#include <math.h>\n${SIGNATURE} { for (int i = 0; i < M * N; i++) C[i] = NAN; }`);
    expect(nan.errorKind).toBe('wrong_answer');
    expect(nan.feedback[0]).toMatch(/not numbers|NaN/);
    const exits = await evaluateBeside(`#include <stdlib.h>\n${SIGNATURE} { exit(0); }`);
    expect(exits.errorKind).toBe('runtime');
  });

  it('classifies a candidate that is right only on its first call', async () => {
    const r = await evaluateBeside(
      good.replace(
        '{\n',
        '{\n  static int calls = 0;\n  if (calls++ > 0) { for (int i = 0; i < M * N; i++) C[i] = 0; return; }\n',
      ),
    );
    expect(r.errorKind).toBe('wrong_answer');
  });

  it('leaves no candidate processes behind', () => {
    expect(processesUnderRoot()).toEqual([]);
  });
});
