/**
 * The KernelBench warm workers on real processes in the real sandbox, with no GPU: the worker
 * preloads `json` instead of PyTorch, and jobs are small Python scripts that behave as hostile
 * candidates would (crash, hang, leave processes and files behind, kill the worker, forge answers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/targets/executor.js';
import { createWarmWorkers, type WarmJob, type WarmWorkers } from '../../src/targets/kernelbench/warm-workers.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';

const job = (script: string, args: string[] = [], timeoutMs = 20_000): WarmJob => ({
  files: { 'job.py': script },
  argv: ['job.py', ...args],
  env: { JOB_DIR: '{job}' },
  timeoutMs,
  maxOutputBytes: 64 * 1024,
});

const REPORT = `
import json, os, sys
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "json_preloaded": "json" in sys.modules,
                  "cwd_is_job_dir": os.getcwd() == os.environ["JOB_DIR"], "argv": sys.argv[1:]}))
`;

describe('KernelBench warm workers (real processes, real sandbox, no GPU)', () => {
  let executor: Executor;
  let workers: WarmWorkers;
  beforeAll(() => {
    executor = createLocalExecutor();
    workers = createWarmWorkers({ python: 'python3', preload: ['json'] });
  });
  afterAll(async () => {
    await workers.close();
    await executor.close();
  });

  const report = async (args: string[] = []) => {
    const run = await workers.run(executor, job(REPORT, args));
    expect(run.exitCode).toBe(0);
    return { run, seen: JSON.parse(run.stdout) as Record<string, unknown> };
  };

  it('runs each job in a fresh process forked from one worker that imported its modules once', async () => {
    const first = await report(['a']);
    const second = await report(['b']);
    expect(first.seen).toMatchObject({ json_preloaded: true, cwd_is_job_dir: true, argv: ['a'] });
    expect(second.seen.argv).toEqual(['b']);
    expect(first.run.workerId).not.toBeNull();
    expect(second.run.workerId).toBe(first.run.workerId);
    expect(first.seen.ppid).toBe(first.run.workerPid);
    expect(second.seen.pid).not.toBe(first.seen.pid);
  });

  it('reports a crash and a hang as the candidate’s own, and the next job runs on the same worker', async () => {
    const before = (await report()).run.workerId;
    const crash = await workers.run(executor, job('import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n'));
    expect(crash.signal).toBe('SIGSEGV');
    const hang = await workers.run(
      executor,
      job('import time\nprint("started", flush=True)\ntime.sleep(600)\n', [], 1500),
    );
    expect(hang.limitExceeded).toBe('time');
    expect(hang.stdout).toBe('started\n');
    expect(hang.wallMs).toBeLessThan(20_000);
    expect((await report()).run.workerId).toBe(before);
  });

  it('kills what a job left running and empties its files, /tmp and the spool before the next job', async () => {
    const leave = `
import os, sys, time
open("/tmp/left-behind", "w").write("cached answer")
open(os.path.join(os.environ["JOB_DIR"], "..", "request-999.json"), "w").write("{}")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
time.sleep(0.2)
print(" ".join(n for n in os.listdir("/proc") if n.isdigit()))
`;
    const left = await workers.run(executor, job(leave));
    expect(left.exitCode).toBe(0);
    expect(left.leftovers).toBeGreaterThanOrEqual(1);
    const look = `
import os
print(os.path.exists("/tmp/left-behind"), sorted(os.listdir(os.path.join(os.environ["JOB_DIR"], ".."))))
print(" ".join(n for n in os.listdir("/proc") if n.isdigit()))
`;
    const next = await workers.run(executor, job(look));
    const [files, procs] = next.stdout.trim().split('\n');
    expect(files).toMatch(/^False \['job-\d+', 'request-\d+\.json'\]$/);
    // Only the sandbox's init, the worker and this job are left: the daemon of the last job is gone.
    expect(procs!.split(' ').length).toBeLessThan(left.stdout.trim().split(' ').length);
  });

  it('cannot be sent a forged answer: a job that prints answer lines everywhere gets its own result', async () => {
    const forge = `
import json, os
line = ("SKB-WORKER-RESULT " + json.dumps({"job": 1, "exitCode": 0, "signal": None, "stdout": "forged",
        "stderr": "", "limitExceeded": None, "wallMs": 1, "leftovers": 0, "workerPid": 1}) + "\\n").encode()
for fd in range(0, 64):
    try:
        os.write(fd, line)
    except OSError:
        pass
print("honest")
`;
    const run = await workers.run(executor, job(forge));
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('honest');
    expect(run.stdout).toContain('SKB-WORKER-RESULT');
    expect((await report()).seen.json_preloaded).toBe(true);
  });

  it('replaces a worker that a job killed, and that job reads as a killed run', async () => {
    const before = (await report()).run.workerId;
    const killer = await workers.run(
      executor,
      job('import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(5)\n'),
    );
    expect(killer.signal).toBe('SIGKILL');
    expect(killer.workerId).toBeNull();
    expect(killer.stderr).toMatch(/warm worker/);
    const after = await report();
    expect(after.run.workerId).not.toBeNull();
    expect(after.run.workerId).not.toBe(before);
  });

  it('stops the worker when the search is stopped, and starts a new one for the next job', async () => {
    const before = (await report()).run.workerId;
    const controller = new AbortController();
    const running = workers.run(executor, { ...job('import time\ntime.sleep(600)\n'), signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stopped by the test')), 300);
    await expect(running).rejects.toThrow(/stopped by the test/);
    const after = await report();
    expect(after.run.workerId).not.toBe(before);
  });
});
