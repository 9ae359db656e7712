"""Warm worker of the KernelBench toolchain: imports PyTorch and Triton once, then runs each
candidate's harness in a process of its own, forked from it before CUDA is ever initialised here.

The service sends work through files in the spool directory (so the same protocol works on this
machine and over SSH): `jobs/<n>/` with the candidate's files, then `request-<n>.json`. The worker
answers on its own stdout, one `SKB-WORKER-RESULT <json>` line per job (after one
`SKB-WORKER-READY <json>`): a pipe only the worker holds, so no candidate can forge an answer, as
it could a file it can write to.

What keeps one candidate from touching the next:
- each runs in a forked child (its own CUDA context, its own copy of the worker's memory) in a
  process group of its own, killed when it passes its time limit;
- the worker is a child subreaper, so anything the candidate left running (double fork, setsid)
  is reparented to the worker and killed before the result is written;
- the spool (job files, requests) and, with --wipe-tmp, the sandbox's private /tmp and /dev/shm
  are emptied before the result is sent, so nothing a candidate leaves (files, a planted request)
  is there for the next one, whose files the service writes only after that answer;
- the worker is not dumpable, so a candidate cannot read or write its memory through /proc; one
  that kills the worker only loses its own result, and the service starts a new worker.
"""

import argparse
import ctypes
import importlib
import json
import os
import runpy
import shutil
import signal
import sys
import time

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
POLL_S = 0.005


def prctl(option, value):
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except OSError:
        return False


def answer(stream, kind, value):
    stream.write(f"SKB-WORKER-{kind} {json.dumps(value)}\n")
    stream.flush()


def read_capped(path, cap):
    """The file's text, at most `cap` bytes of it, and whether it was longer."""
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError:
        return "", False
    return data[:cap].decode("utf-8", "replace"), len(data) > cap


def children_of(pid):
    """Processes whose parent is `pid` (after the subreaper rule, every leftover of a candidate)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(name))
    return found


def reap_leftovers():
    """Kills and reaps every process left behind; returns how many there were."""
    me = os.getpid()
    killed = 0
    for _ in range(100):
        left = children_of(me)
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(POLL_S)
    return killed


def empty_directory(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        full = os.path.join(path, name)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.unlink(full)
        except OSError:
            pass


def run_child(request, answers_fd):
    """In the forked child: becomes the harness run the request describes; never returns."""
    try:
        # fork copies every descriptor: the answer pipe must not stay in candidate hands.
        os.close(answers_fd)
        os.setpgid(0, 0)
        os.chdir(request["cwd"])
        out = os.open(".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(".stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        sys.stdout = os.fdopen(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = os.fdopen(2, "w", encoding="utf-8", closefd=False)
        # Defaults are back for the candidate: the worker's own handlers are not its business.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.environ.update(request["env"])
        sys.argv = list(request["argv"])
        sys.path.insert(0, os.getcwd())
        runpy.run_path(request["argv"][0], run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a harness that cannot start is reported by its exit code
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_request(request, spool, wipe_tmp, answers_fd):
    started = time.monotonic()
    timeout_s = float(request["timeoutS"])
    cap = int(request["maxOutputBytes"])
    pid = os.fork()
    if pid == 0:
        run_child(request, answers_fd)
    status = None
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            break
        if time.monotonic() - started > timeout_s:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(POLL_S)
    wall_ms = (time.monotonic() - started) * 1000
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    leftovers = reap_leftovers()
    stdout, stdout_long = read_capped(os.path.join(request["cwd"], ".stdout"), cap)
    stderr, stderr_long = read_capped(os.path.join(request["cwd"], ".stderr"), cap)
    if wipe_tmp:
        empty_directory("/tmp")
        empty_directory("/dev/shm")
    empty_directory(spool)
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None
    limit = "time" if timed_out else ("output" if stdout_long or stderr_long else None)
    return {
        "exitCode": exit_code,
        "signal": sig,
        "stdout": stdout,
        "stderr": stderr,
        "limitExceeded": limit,
        "wallMs": wall_ms,
        "leftovers": leftovers,
        "workerPid": os.getpid(),
    }


def read_request(path):
    """The request at `path`, or None while it is missing or still being written."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            request = json.load(f)
    except (OSError, ValueError):
        return None
    keys = {"argv", "cwd", "env", "timeoutS", "maxOutputBytes"}
    if not isinstance(request, dict) or not keys <= request.keys():
        return None
    return request


def main():
    parser = argparse.ArgumentParser(description="Warm KernelBench worker (see the module docstring).")
    parser.add_argument("--spool", required=True)
    parser.add_argument("--preload", default="torch,triton", help="modules imported once, comma-separated")
    parser.add_argument("--idle-exit-s", type=float, default=600.0)
    parser.add_argument("--wipe-tmp", action="store_true", help="empty /tmp and /dev/shm after each job (private to a sandbox)")
    args = parser.parse_args()

    dumpable_off = prctl(PR_SET_DUMPABLE, 0)
    subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1)
    started = time.monotonic()
    preloaded = []
    failed = {}
    for name in filter(None, args.preload.split(",")):
        try:
            importlib.import_module(name)
            preloaded.append(name)
        except Exception as exc:  # noqa: BLE001 - the harness reports a missing PyTorch its own way
            failed[name] = f"{type(exc).__name__}: {exc}"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        print("importing the preloaded modules initialised CUDA; children could not use it", file=sys.stderr)
        sys.exit(3)
    # The answers go to a private copy of stdout; fd 1 then points at stderr, so nothing a module
    # prints here, nor anything a child inherits, can write an answer line.
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    os.set_inheritable(answers.fileno(), False)
    os.makedirs(args.spool, exist_ok=True)
    answer(
        answers,
        "READY",
        {
            "pid": os.getpid(),
            "preloaded": preloaded,
            "failed": failed,
            "importSeconds": time.monotonic() - started,
            "subreaper": subreaper,
            "dumpable": not dumpable_off,
        },
    )
    n = 1
    idle_since = time.monotonic()
    while True:
        request = read_request(os.path.join(args.spool, f"request-{n}.json"))
        if request is None:
            if time.monotonic() - idle_since > args.idle_exit_s:
                return
            time.sleep(POLL_S)
            continue
        result = run_request(request, args.spool, args.wipe_tmp, answers.fileno())
        answer(answers, "RESULT", {"job": n, **result})
        n += 1
        idle_since = time.monotonic()


if __name__ == "__main__":
    main()
