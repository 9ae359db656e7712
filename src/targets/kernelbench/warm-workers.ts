/**
 * Warm KernelBench workers: one long-lived gpu-worker.py per executor that has imported PyTorch
 * and Triton once and forks a fresh process for each candidate (see gpu-worker.py for what keeps
 * candidates apart). A candidate then costs its own CUDA start and compile, not a Python start
 * and a PyTorch import. A worker that dies (killed by a candidate, out of memory, idle too long)
 * is replaced by the next job; a job in flight when it died reads as a killed run.
 */
import { z } from 'zod';
import { SkbError, messageOf } from '../../schedules/index.js';
import type { ExecLimits, ExecResult, Executor, Workspace } from '../executor.js';
import { kernelBenchScriptSource } from './python-sources.js';

export interface WarmWorkerOptions {
  /** Python interpreter with PyTorch (and Triton) on the target. */
  python: string;
  /** Environment of the worker (CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH, ...); each job adds its own. */
  env?: Record<string, string>;
  /** Modules imported once by the worker; default torch and triton. */
  preload?: readonly string[];
  /** The worker exits after this long without a job (the next job starts a new one); default 600 s. */
  idleExitS?: number;
  /** Limits of the worker's process (each candidate inherits them). */
  limits?: Partial<ExecLimits>;
}

export interface WarmJob {
  /** Files of the job, by name; they sit in the job's own directory. */
  files: Record<string, string>;
  /** The Python script (one of `files`) and its arguments, run as `__main__` in the job directory. */
  argv: string[];
  /** Environment the job adds; `{job}` in a value becomes the job directory's absolute path. */
  env?: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}

/** A job's run, read like a command's (`ExecResult`), plus which worker ran it. */
export interface WarmRun extends ExecResult {
  /** Which worker ran it: 1 for the first this `WarmWorkers` started, 2 for its replacement, ...; null when it died. */
  workerId: number | null;
  /** The worker's pid, as the job sees it (inside the sandbox's PID namespace). */
  workerPid: number | null;
  /** Processes the candidate left running, killed before the next job. */
  leftovers: number;
}

export interface WarmWorkers {
  /** Runs one job in a process forked from `executor`'s warm worker (started on first use). */
  run(executor: Executor, job: WarmJob): Promise<WarmRun>;
  /** Stops every worker. */
  close(): Promise<void>;
}

const READY_PREFIX = 'SKB-WORKER-READY ';
const RESULT_PREFIX = 'SKB-WORKER-RESULT ';
/** A worker lives at most this long; the next job after that starts a new one. */
const WORKER_LIFETIME_MS = 6 * 3600_000;
/** How long a worker may take to import PyTorch and Triton. */
const READY_WITHIN_MS = 180_000;
/** The worker enforces a job's time limit itself; past this much more, the service kills the worker. */
const JOB_GRACE_MS = 30_000;

const ReadySchema = z.object({
  pid: z.number().int().positive(),
  preloaded: z.array(z.string()),
  failed: z.record(z.string(), z.string()),
  importSeconds: z.number(),
  subreaper: z.boolean(),
  dumpable: z.boolean(),
});
type Ready = z.infer<typeof ReadySchema>;

const ResultSchema = z.object({
  job: z.number().int().positive(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  limitExceeded: z.enum(['time', 'output']).nullable(),
  wallMs: z.number().nonnegative(),
  leftovers: z.number().int().nonnegative(),
  workerPid: z.number().int().positive(),
});
type Result = z.infer<typeof ResultSchema>;

/** One running worker and the jobs it owes an answer. */
class Worker {
  private readonly stop = new AbortController();
  private readonly waiting = new Map<number, (result: Result | Error) => void>();
  private pendingText = '';
  private nextJob = 1;
  private exitReason: string | null = null;
  readonly ready: Promise<Ready>;
  private readyAnswer!: { resolve: (r: Ready) => void; reject: (e: Error) => void };

  private constructor(
    readonly id: number,
    readonly ws: Workspace,
    options: WarmWorkerOptions,
    wipeTmp: boolean,
  ) {
    this.ready = new Promise<Ready>((resolve, reject) => {
      this.readyAnswer = { resolve, reject };
    });
    this.ready.catch(() => undefined);
    const argv = [options.python, 'gpu-worker.py', '--spool', 'spool'];
    argv.push('--preload', (options.preload ?? ['torch', 'triton']).join(','));
    argv.push('--idle-exit-s', String(options.idleExitS ?? 600));
    if (wipeTmp) argv.push('--wipe-tmp');
    ws.exec({
      argv,
      limits: { ...options.limits, wallMs: WORKER_LIFETIME_MS },
      env: { PYTHONDONTWRITEBYTECODE: '1', ...options.env },
      signal: this.stop.signal,
      onStdout: (chunk) => this.onOutput(chunk.toString('utf8')),
    }).then(
      (ran) =>
        this.died(
          `the warm worker exited (${ran.signal ?? `exit code ${ran.exitCode}`}${ran.limitExceeded ? `, ${ran.limitExceeded} limit` : ''})${ran.stderr.trim() ? `: ${ran.stderr.trim().slice(-2000)}` : ''}`,
        ),
      (error: unknown) => this.died(`the warm worker was stopped (${messageOf(error)})`),
    );
  }

  static async start(id: number, executor: Executor, options: WarmWorkerOptions): Promise<Worker> {
    const ws = await executor.createWorkspace();
    try {
      await ws.writeFile('gpu-worker.py', await kernelBenchScriptSource('gpu-worker.py'));
      // A sandboxed worker's /tmp and /dev/shm are its own, so it may empty them between candidates.
      const wipeTmp = (await executor.protections()).tool !== null;
      const worker = new Worker(id, ws, options, wipeTmp);
      const timer = setTimeout(() => worker.kill('it did not start within 180 s'), READY_WITHIN_MS);
      try {
        await worker.ready;
      } finally {
        clearTimeout(timer);
      }
      return worker;
    } catch (error) {
      await ws.dispose().catch(() => undefined);
      throw error;
    }
  }

  get alive(): boolean {
    return this.exitReason === null;
  }

  /** Sends one job and waits for its answer; a worker death or the grace deadline ends the wait. */
  async run(job: WarmJob): Promise<WarmRun> {
    const n = this.nextJob++;
    const dir = `spool/job-${n}`;
    // The worker emptied the spool after the previous job, so these are the only files it holds.
    for (const [name, content] of Object.entries(job.files)) await this.ws.writeFile(`${dir}/${name}`, content);
    const jobPath = `${this.ws.path}/${dir}`;
    const env = Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, v.replaceAll('{job}', jobPath)]));
    const answer = new Promise<Result | Error>((resolve) => this.waiting.set(n, resolve));
    if (!this.alive) this.settle(n, new Error(this.exitReason ?? 'the warm worker is gone'));
    await this.ws.writeFile(
      `spool/request-${n}.json`,
      JSON.stringify({
        argv: job.argv,
        cwd: dir,
        env,
        timeoutS: job.timeoutMs / 1000,
        maxOutputBytes: job.maxOutputBytes,
      }),
    );
    const overdue = setTimeout(
      () => this.kill(`job ${n} ran ${JOB_GRACE_MS / 1000} s past its time limit`),
      job.timeoutMs + JOB_GRACE_MS,
    );
    const onAbort = (): void => this.kill('the search was stopped');
    job.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await answer;
      job.signal?.throwIfAborted();
      if (result instanceof Error) {
        // The candidate's own process went with the worker (or took it down): a killed run.
        return {
          exitCode: null,
          signal: 'SIGKILL',
          stdout: '',
          stderr: `${result.message}\n`,
          limitExceeded: null,
          wallMs: 0,
          workerId: null,
          workerPid: null,
          leftovers: 0,
        };
      }
      const { job: _job, ...run } = result;
      return { ...run, workerId: this.id };
    } finally {
      clearTimeout(overdue);
      job.signal?.removeEventListener('abort', onAbort);
    }
  }

  kill(reason: string): void {
    this.died(reason);
    this.stop.abort(new Error(reason));
  }

  async dispose(): Promise<void> {
    this.kill('the service stopped its warm workers');
    await this.ws.dispose().catch(() => undefined);
  }

  private onOutput(text: string): void {
    this.pendingText += text;
    for (let end = this.pendingText.indexOf('\n'); end >= 0; end = this.pendingText.indexOf('\n')) {
      const line = this.pendingText.slice(0, end);
      this.pendingText = this.pendingText.slice(end + 1);
      if (line.startsWith(READY_PREFIX)) {
        const ready = ReadySchema.safeParse(parseJson(line.slice(READY_PREFIX.length)));
        if (ready.success) this.readyAnswer.resolve(ready.data);
        else this.kill('its ready line does not read back');
      } else if (line.startsWith(RESULT_PREFIX)) {
        const result = ResultSchema.safeParse(parseJson(line.slice(RESULT_PREFIX.length)));
        if (result.success) this.settle(result.data.job, result.data);
        else this.kill('a result line does not read back');
      }
    }
    // Only the worker writes here and its lines are short; anything longer is not ours to keep.
    if (this.pendingText.length > 16 * 1024 * 1024) this.kill('it printed a line past 16 MiB');
  }

  private settle(n: number, answer: Result | Error): void {
    const resolve = this.waiting.get(n);
    this.waiting.delete(n);
    resolve?.(answer);
  }

  private died(reason: string): void {
    if (this.exitReason !== null) return;
    this.exitReason = reason;
    this.readyAnswer.reject(new SkbError('TARGET', `The KernelBench warm worker did not start: ${reason}`));
    for (const n of [...this.waiting.keys()]) this.settle(n, new Error(reason));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function createWarmWorkers(options: WarmWorkerOptions): WarmWorkers {
  const workers = new Map<Executor, Promise<Worker>>();
  // One job per executor at a time: a worker runs its jobs in order, and GPU timings must not overlap.
  const queues = new Map<Executor, Promise<unknown>>();
  let started = 0;

  async function workerFor(executor: Executor): Promise<Worker> {
    const current = workers.get(executor);
    if (current) {
      const worker = await current.catch(() => null);
      if (worker?.alive) return worker;
      if (worker) await worker.dispose();
    }
    const starting = Worker.start(++started, executor, options);
    workers.set(executor, starting);
    starting.catch(() => workers.delete(executor));
    return starting;
  }

  return {
    run(executor, job) {
      const previous = queues.get(executor) ?? Promise.resolve();
      const next = previous.catch(() => undefined).then(async () => (await workerFor(executor)).run(job));
      queues.set(executor, next);
      return next;
    },
    async close() {
      const all = [...workers.values()];
      workers.clear();
      await Promise.all(all.map(async (w) => (await w.catch(() => null))?.dispose()));
    },
  };
}
