#!/usr/bin/env python3
"""KernelBench evaluation harness for schedule-kb.

Loads a KernelBench problem (``Model``, ``get_inputs``, ``get_init_inputs``) and a candidate
(``ModelNew``) from files, checks the candidate against the eager reference over seeded trials with
KernelBench's tolerances, times both with CUDA events (warm-up, then ``--iters`` runs, L2 flushed
before each run) and reports a GPU fingerprint. With ``--check`` (a suspiciously fast candidate's
second run) the timing is instead ``--check-runs`` runs on inputs drawn fresh for each one, each
output compared with the eager reference on the same inputs.

Protocol: whatever the candidate prints goes to stderr (file descriptor 1 is pointed at stderr
before any candidate code runs), and the harness writes exactly one line to the original stdout:

    SKB_RESULT {json}

Error kinds: ``problem`` (the problem itself failed before any candidate code ran), ``compile``
(import, syntax, Triton or extension build errors), ``runtime`` (exceptions, CUDA errors, missing
torch or GPU) and ``wrong_answer``. Timeouts are decided by whoever runs this script.

It depends only on the standard library until the problem is loaded, so a target without PyTorch
still gets a well-formed result that says what is missing.
"""

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback

PROTOCOL_VERSION = 1
RESULT_PREFIX = "SKB_RESULT "
TRACEBACK_LIMIT = 4000
FALLBACK_FLUSH_BYTES = 256 * 1024 * 1024


class HarnessError(Exception):
    """A classified failure: ends the run with this error kind and message."""

    def __init__(self, kind, phase, message, tb=None):
        super().__init__(message)
        self.kind = kind
        self.phase = phase
        self.message = message
        self.tb = tb


def trimmed_traceback():
    text = traceback.format_exc()
    return text if len(text) <= TRACEBACK_LIMIT else "..." + text[-TRACEBACK_LIMIT:]


def describe_exception(exc):
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 2000 else text[:2000] + "..."


def is_build_error(exc):
    """Triton compile errors and torch extension build failures are the candidate's compile errors."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        module = type(exc).__module__ or ""
        name = type(exc).__name__
        if module.startswith("triton") and ("Compil" in name or "Unsupported" in name):
            return True
        message = str(exc)
        if "Error building extension" in message:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a Python module from {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before execution so that dataclasses, pickling and Triton's source lookup work.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def query_driver_version():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=15, check=False,
        )
        line = out.stdout.strip().splitlines()[0].strip() if out.returncode == 0 and out.stdout.strip() else ""
        if line:
            return line
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # noqa: BLE001 - pynvml is optional; any failure means "unknown"
        return ""


def collect_fingerprint(torch, device):
    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    major, minor = torch.cuda.get_device_capability(index)
    fingerprint = {
        "kind": "gpu",
        "name": torch.cuda.get_device_name(index),
        "smCount": int(props.multi_processor_count),
        "computeCapability": f"{major}.{minor}",
        "driver": query_driver_version(),
        "cuda": str(torch.version.cuda or ""),
        "torch": str(torch.__version__),
    }
    try:
        import triton  # type: ignore[import-not-found]

        fingerprint["triton"] = str(triton.__version__)
    except Exception:  # noqa: BLE001 - Triton is optional on a target
        pass
    return fingerprint


def l2_flush_bytes(torch, device):
    props = torch.cuda.get_device_properties(device)
    l2 = int(getattr(props, "L2_cache_size", 0) or 0)
    # Twice the L2 so that no line of the previous run survives the flush.
    return 2 * l2 if l2 > 0 else FALLBACK_FLUSH_BYTES


def to_device(torch, value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(torch, v, device) for v in value)
    return value


def clone_inputs(torch, inputs):
    return [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]


def flatten_outputs(torch, output):
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, (list, tuple)):
        flat = []
        for item in output:
            flat.extend(flatten_outputs(torch, item))
        return flat
    raise TypeError(f"the model returned {type(output).__name__}; expected a tensor or a tuple of tensors")


def tolerance_for(torch, dtype):
    if dtype in (torch.float16, torch.bfloat16):
        return 1e-2
    return 1e-4


def norm_tolerance_for(torch, dtype):
    """Most relative L2 error, ||new - ref|| / ||ref||, an output may have besides passing allclose.

    allclose's absolute term lets an output whose values all sit below atol (a softmax over many
    columns, a norm of small values) be answered by zeros; zeros or any output that carries none of
    the reference's information have a relative error of about 1 or more, honest kernels far below
    these bounds.
    """
    return 5e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-2


def seeded(torch, seed):
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


PRECISION_FLAGS = (
    ("cuda.matmul", "allow_tf32"),
    ("cudnn", "allow_tf32"),
    ("cuda.matmul", "allow_fp16_reduced_precision_reduction"),
    ("cuda.matmul", "allow_bf16_reduced_precision_reduction"),
)


def _flag_owner(torch, path):
    owner = torch.backends
    for part in path.split("."):
        owner = getattr(owner, part)
    return owner


def snapshot_precision(torch):
    """The global math-precision settings as the problem left them."""
    flags = {}
    for path, name in PRECISION_FLAGS:
        try:
            flags[(path, name)] = getattr(_flag_owner(torch, path), name)
        except Exception:  # noqa: BLE001 - a flag this torch lacks is simply not guarded
            pass
    return torch.get_float32_matmul_precision(), flags


def restore_precision(torch, snapshot):
    """Undoes a candidate's global precision changes (TF32 and the like) before the reference runs,
    so that the reference stays the problem's own arithmetic."""
    precision, flags = snapshot
    try:
        torch.set_float32_matmul_precision(precision)
    except Exception:  # noqa: BLE001
        pass
    for (path, name), value in flags.items():
        try:
            setattr(_flag_owner(torch, path), name, value)
        except Exception:  # noqa: BLE001
            pass


def exact_reductions(torch):
    """Reference outputs are computed without reduced-precision reductions in fp16/bf16 matmuls.
    With them (torch's default), cuBLAS itself misses a float64 product by more than the 1e-2
    tolerance on some odd bf16 shapes (seen on an H200: 3% of elements at 1000x777x520), and a
    correct candidate would be judged wrong. Timing restores the problem's own settings."""
    for name in ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        try:
            setattr(torch.backends.cuda.matmul, name, False)
        except Exception:  # noqa: BLE001 - a flag this torch lacks
            pass


def make_inputs(torch, problem, seed, device):
    seeded(torch, seed)
    # Made on the GPU (factory calls default to it here): an 8 GB problem costs seconds, not the
    # minutes that CPU generation and a copy take.
    with torch.device(device):
        return [to_device(torch, x, device) for x in problem.get_inputs()]


def copy_matching_state(torch, reference, candidate):
    """Copies the reference's parameters and buffers into the candidate where names and shapes match."""
    ref_state = reference.state_dict()
    copied = 0
    with torch.no_grad():
        for name, tensor in candidate.state_dict().items():
            source = ref_state.get(name)
            if isinstance(source, torch.Tensor) and isinstance(tensor, torch.Tensor) and source.shape == tensor.shape:
                tensor.copy_(source.to(dtype=tensor.dtype, device=tensor.device))
                copied += 1
    return copied


# Elements per piece of an output compared at a time: the comparison's temporaries (differences,
# ratios, float copies of half outputs) stay at a few pieces' worth, so an output of 7 GB is checked
# beside its reference, the candidate's and the inputs without running the GPU out of memory.
COMPARE_CHUNK = 1 << 26


def pieces(tensor):
    """The tensor's elements in order, as 1-D slices of at most COMPARE_CHUNK (a copy only if it is not contiguous)."""
    flat = tensor.detach().reshape(-1)
    return [flat[i : i + COMPARE_CHUNK] for i in range(0, flat.numel(), COMPARE_CHUNK)]


def compare(torch, ref_out, new_out):
    """One trial's verdict: shapes, dtypes and allclose with KernelBench's tolerance per output."""
    refs = flatten_outputs(torch, ref_out)
    news = flatten_outputs(torch, new_out)
    trial = {"passed": True, "maxAbsDiff": 0.0, "maxRelDiff": 0.0, "maxErrRatio": 0.0, "mismatchFraction": 0.0, "problem": None}
    if len(refs) != len(news):
        trial.update(passed=False, problem=f"the candidate returned {len(news)} tensors; the reference returned {len(refs)}")
        return trial
    mismatched = 0
    total = 0
    for i, (r, n) in enumerate(zip(refs, news)):
        if tuple(r.shape) != tuple(n.shape):
            trial.update(passed=False, problem=f"output {i} has shape {list(n.shape)}; the reference has {list(r.shape)}")
            return trial
        if r.dtype != n.dtype:
            trial.update(passed=False, problem=f"output {i} has dtype {str(n.dtype).replace('torch.', '')}; the reference has {str(r.dtype).replace('torch.', '')}")
            return trial
        tol = tolerance_for(torch, r.dtype)
        output_close = True
        new_finite = True
        ref_finite = True
        ref_sq = 0.0
        err_sq = 0.0
        for r_piece, n_piece in zip(pieces(r), pieces(n)):
            rf = r_piece.float()
            nf = n_piece.float()
            new_finite = new_finite and bool(torch.isfinite(nf).all())
            ref_finite = ref_finite and bool(torch.isfinite(rf).all())
            close = torch.isclose(nf, rf, rtol=tol, atol=tol)
            output_close = output_close and bool(close.all())
            mismatched += int((~close).sum())
            total += close.numel()
            del close
            diff = torch.nan_to_num((nf - rf).abs(), nan=math.inf)
            trial["maxAbsDiff"] = max(trial["maxAbsDiff"], float(diff.max()))
            ref_abs = rf.abs()
            # Relative to |ref|, floored at the tolerance so that zeros in the reference do not explode it.
            trial["maxRelDiff"] = max(trial["maxRelDiff"], float((diff / ref_abs.clamp_min(tol)).max()))
            # Against the bound isclose applies (atol + rtol |ref|): 1 is at the tolerance, the schedule's evidence.
            trial["maxErrRatio"] = max(trial["maxErrRatio"], float((diff / (tol + tol * ref_abs)).max()))
            # |new - ref| gives the L2 error as well (where it is read, every element was close, so no NaN was made inf).
            err_sq += float(torch.linalg.vector_norm(diff)) ** 2
            ref_sq += float(torch.linalg.vector_norm(rf)) ** 2
            del diff, ref_abs
        if not new_finite and ref_finite:
            trial["problem"] = f"output {i} holds NaN or Inf where the reference is finite"
        if not output_close:
            trial["passed"] = False
        ref_norm = math.sqrt(ref_sq)
        if trial["passed"] and ref_norm > 0 and math.isfinite(ref_norm):
            rel_l2 = math.sqrt(err_sq) / ref_norm
            bound = norm_tolerance_for(torch, r.dtype)
            if not rel_l2 <= bound:
                trial.update(
                    passed=False,
                    problem=f"output {i} is within atol elementwise but its relative L2 error is {rel_l2:.3g} (at most {bound} allowed): "
                    "it does not carry the reference's values (an all-zeros or constant answer reads like this)",
                )
    trial["mismatchFraction"] = (mismatched / total) if total else 0.0
    return trial


def finite_or_none(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def summarize(samples):
    return {
        "mean": statistics.fmean(samples),
        "median": statistics.median(samples),
        "std": statistics.pstdev(samples) if len(samples) > 1 else 0.0,
        "min": min(samples),
        "max": max(samples),
        "samplesMs": samples,
    }


def time_model(torch, model, inputs, warmup, iters, flush_buffer, warmup_ms=0.0):
    """Times `iters` runs with CUDA events, each after an L2 flush, after untimed warm-up runs.

    Warm-up is at least `warmup` runs and at least `warmup_ms` of wall time: a GPU that sat idle
    (each candidate runs in a fresh process) starts at low clocks, and a short kernel timed right
    away reads tens of percent slow.
    """
    with torch.no_grad():
        started = time.perf_counter()
        done = 0
        while done < warmup or (time.perf_counter() - started) * 1000.0 < warmup_ms:
            flush_buffer.zero_()
            model(*inputs)
            done += 1
            if done % 8 == 0:
                torch.cuda.synchronize()
        torch.cuda.synchronize()
        samples = []
        for _ in range(iters):
            flush_buffer.zero_()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            model(*inputs)
            # Device-wide: work the model left running on other streams is part of its time. The
            # end event is recorded only once every stream is idle, so a kernel launched on a side
            # stream and returned before it finishes is timed as the whole of it.
            torch.cuda.synchronize()
            end.record()
            end.synchronize()
            samples.append(float(start.elapsed_time(end)))
    return summarize(samples)


def check_model(torch, problem, reference, model, args, device, flush_buffer, precision):
    """The check of a candidate whose first run was suspiciously fast: `args.check_runs` timed runs,
    each on inputs drawn fresh from a seed of its own (the candidate gets a copy), and each output
    compared with eager PyTorch on the same inputs once its timing is over. A result cached from an
    earlier call, by pointer or by content, is either recomputed (and timed as such) or wrong here;
    the times are the candidate's on inputs it has never seen. Both run under the trials' precision
    settings; one run's tensors are alive at a time, as in the trials."""

    def under_trial_precision():
        restore_precision(torch, precision)
        exact_reductions(torch)

    samples = []
    worst = 0.0
    with torch.no_grad():
        warm_inputs = make_inputs(torch, problem, args.seed, device)
        under_trial_precision()
        started = time.perf_counter()
        done = 0
        while done < args.warmup or (time.perf_counter() - started) * 1000.0 < args.warmup_ms:
            model(*clone_inputs(torch, warm_inputs))
            done += 1
            if done % 8 == 0:
                torch.cuda.synchronize()
        del warm_inputs
        for run in range(args.check_runs):
            inputs = make_inputs(torch, problem, args.seed + 7919 * (run + 1), device)
            given = clone_inputs(torch, inputs)
            under_trial_precision()
            flush_buffer.zero_()
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            out = model(*given)
            # Device-wide, as in time_model: side-stream work is part of the run.
            torch.cuda.synchronize()
            end.record()
            end.synchronize()
            samples.append(float(start.elapsed_time(end)))
            ref = reference(*inputs)
            torch.cuda.synchronize()
            trial = compare(torch, ref, out)
            if not trial["passed"]:
                reason = trial["problem"] or (
                    f"max abs diff {trial['maxAbsDiff']}, {trial['mismatchFraction'] * 100:.2f}% of elements outside the tolerance"
                )
                raise HarnessError(
                    "wrong_answer",
                    "check",
                    f"timed run {run + 1} of {args.check_runs} on fresh inputs differs from eager PyTorch: {reason} "
                    "(the trials passed: a candidate that reuses results between calls reads like this)",
                )
            worst = max(worst, trial["maxErrRatio"])
            del inputs, given, out, ref
    return summarize(samples), {"runs": args.check_runs, "maxErrRatio": finite_or_none(worst)}


def candidate_failure(exc, phase):
    kind = "compile" if is_build_error(exc) else "runtime"
    return HarnessError(kind, phase, describe_exception(exc), trimmed_traceback())


def evaluate(args, result):
    try:
        import torch  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - a broken install is reported the same way as a missing one
        raise HarnessError("runtime", "setup", f"PyTorch is not installed for {sys.executable} on this target ({describe_exception(exc)})")
    if not args.device.startswith("cuda") or not torch.cuda.is_available():
        raise HarnessError("runtime", "setup", "CUDA is not available on this target")
    # Inputs are drawn under torch.device as a context manager, which PyTorch 2.0 added.
    major = torch.__version__.split(".")[0]
    if not major.isdigit() or int(major) < 2:
        raise HarnessError("runtime", "setup", f"the target's PyTorch is {torch.__version__}; the harness needs PyTorch 2.0 or later")
    device = torch.device(args.device)
    if device.index is not None:
        torch.cuda.set_device(device)
    result["fingerprint"] = collect_fingerprint(torch, device)
    if args.fingerprint_only:
        return

    # Everything up to the first reference output runs before any candidate code, so a failure here
    # is the problem's own and never the candidate's.
    try:
        problem = load_module(args.problem, "skb_problem")
        for attr in ("Model", "get_inputs", "get_init_inputs"):
            if not hasattr(problem, attr):
                raise AttributeError(f"the problem file defines no {attr}")
        precision = snapshot_precision(torch)
        exact_reductions(torch)
        seeded(torch, args.seed)
        with torch.device(device):
            init_inputs = [to_device(torch, x, device) for x in problem.get_init_inputs()]
            seeded(torch, args.seed)
            reference = problem.Model(*init_inputs).to(device).eval()
        trial_seeds = [args.seed + 1000 * (t + 1) for t in range(args.trials)]
        first_inputs = make_inputs(torch, problem, trial_seeds[0], device)
        with torch.no_grad():
            first_ref = reference(*clone_inputs(torch, first_inputs))
        torch.cuda.synchronize()
        flatten_outputs(torch, first_ref)
    except HarnessError:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a problem file is a problem error too
        raise HarnessError("problem", "load_problem", describe_exception(exc), trimmed_traceback())

    try:
        candidate = load_module(args.candidate, "skb_candidate")
        if not hasattr(candidate, "ModelNew"):
            raise AttributeError("the candidate defines no ModelNew class")
    except BaseException as exc:  # noqa: BLE001 - import of untrusted code: everything is a compile error
        raise HarnessError("compile", "load_candidate", describe_exception(exc), trimmed_traceback())

    try:
        seeded(torch, args.seed)
        with torch.device(device):
            model_new = candidate.ModelNew(*init_inputs).to(device).eval()
        copy_matching_state(torch, reference, model_new)
    except BaseException as exc:  # noqa: BLE001
        raise candidate_failure(exc, "build_candidate")

    trials = []
    result["correctness"] = {
        "trials": args.trials,
        "passed": 0,
        "atol": None,
        "rtol": None,
        "dtype": None,
        "maxAbsDiff": 0.0,
        "maxRelDiff": 0.0,
        "maxErrRatio": 0.0,
        "mismatchFraction": 0.0,
        "details": trials,
    }
    correctness = result["correctness"]
    try:
        for index, seed in enumerate(trial_seeds):
            inputs = first_inputs if index == 0 else make_inputs(torch, problem, seed, device)
            with torch.no_grad():
                if index > 0:
                    restore_precision(torch, precision)
                    exact_reductions(torch)
                ref_out = first_ref if index == 0 else reference(*clone_inputs(torch, inputs))
                new_out = model_new(*clone_inputs(torch, inputs))
            torch.cuda.synchronize()
            ref_dtype = flatten_outputs(torch, ref_out)[0].dtype
            tol = tolerance_for(torch, ref_dtype)
            correctness.update(atol=tol, rtol=tol, dtype=str(ref_dtype).replace("torch.", ""))
            trial = compare(torch, ref_out, new_out)
            trial["seed"] = seed
            trials.append(trial)
            correctness["maxAbsDiff"] = max(correctness["maxAbsDiff"], trial["maxAbsDiff"])
            correctness["maxRelDiff"] = max(correctness["maxRelDiff"], trial["maxRelDiff"])
            correctness["maxErrRatio"] = max(correctness["maxErrRatio"], trial["maxErrRatio"])
            correctness["mismatchFraction"] = max(correctness["mismatchFraction"], trial["mismatchFraction"])
            if trial["passed"]:
                correctness["passed"] += 1
            # Only one trial's tensors are alive at a time: a problem of 7 GB inputs keeps 7 GB, not
            # the first trial's besides (the next inputs are made after these are gone).
            del ref_out, new_out, inputs
            first_inputs = first_ref = None
    except BaseException as exc:  # noqa: BLE001
        raise candidate_failure(exc, "correctness")
    for key in ("maxAbsDiff", "maxRelDiff", "maxErrRatio"):
        correctness[key] = finite_or_none(correctness[key])
    for trial in trials:
        for key in ("maxAbsDiff", "maxRelDiff", "maxErrRatio"):
            trial[key] = finite_or_none(trial[key])

    if correctness["passed"] != args.trials:
        failed = next(t for t in trials if not t["passed"])
        reason = failed["problem"] or (
            f"max abs diff {failed['maxAbsDiff']}, max rel diff {failed['maxRelDiff']}, "
            f"{failed['mismatchFraction'] * 100:.2f}% of elements outside atol=rtol={correctness['atol']}"
        )
        raise HarnessError("wrong_answer", "correctness", f"{correctness['passed']}/{args.trials} trials passed; seed {failed['seed']}: {reason}")

    try:
        flush_bytes = l2_flush_bytes(torch, device)
        flush_buffer = torch.empty(flush_bytes // 4, dtype=torch.int32, device=device)
        timing = {"warmup": args.warmup, "iters": args.iters, "l2FlushBytes": flush_bytes, "candidate": None, "reference": None}
        result["timing"] = timing
        if args.check:
            timing["iters"] = args.check_runs
            timing["candidate"], result["check"] = check_model(torch, problem, reference, model_new, args, device, flush_buffer, precision)
        else:
            timing_inputs = make_inputs(torch, problem, args.seed, device)
            restore_precision(torch, precision)
            timing["candidate"] = time_model(torch, model_new, timing_inputs, args.warmup, args.iters, flush_buffer, args.warmup_ms)
            del timing_inputs
    except HarnessError:
        raise
    except BaseException as exc:  # noqa: BLE001
        raise candidate_failure(exc, "check" if args.check else "timing")
    if not args.skip_reference_timing:
        try:
            # Fresh inputs: the candidate may have written into the ones it was timed on.
            reference_inputs = make_inputs(torch, problem, args.seed, device)
            restore_precision(torch, precision)
            timing["reference"] = time_model(torch, reference, reference_inputs, args.warmup, args.iters, flush_buffer, args.warmup_ms)
        except BaseException as exc:  # noqa: BLE001 - the candidate ran in this process first, so it may have broken the context
            raise candidate_failure(exc, "timing_reference")


def main():
    parser = argparse.ArgumentParser(description="Evaluate a KernelBench candidate against its problem.")
    parser.add_argument("--problem", help="file with Model, get_inputs, get_init_inputs")
    parser.add_argument("--candidate", help="file with ModelNew")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--warmup-ms", type=float, default=200.0, help="least wall time of warm-up runs before timing (GPU clocks ramp up)")
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--skip-reference-timing", action="store_true")
    parser.add_argument("--fingerprint-only", action="store_true", help="report only the GPU fingerprint")
    parser.add_argument("--check", action="store_true", help="time --check-runs runs on fresh inputs, each output compared with eager")
    parser.add_argument("--check-runs", type=int, default=20)
    args = parser.parse_args()
    if not args.fingerprint_only and (not args.problem or not args.candidate):
        parser.error("--problem and --candidate are required unless --fingerprint-only is given")
    if args.trials < 1 or args.iters < 1 or args.warmup < 0 or not 0 <= args.warmup_ms <= 60000 or not 1 <= args.check_runs <= 1000:
        parser.error("--trials and --iters must be at least 1, --warmup at least 0, --warmup-ms from 0 to 60000 and --check-runs from 1 to 1000")

    # The result goes to a private copy of stdout; fd 1 then points at stderr, so nothing the
    # candidate prints (from Python or from native code) can forge or garble the result line.
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    result_stream = os.fdopen(result_fd, "w", encoding="utf-8")

    result = {
        "version": PROTOCOL_VERSION,
        "ok": False,
        "errorKind": None,
        "phase": None,
        "message": None,
        "traceback": None,
        "fingerprint": None,
        "correctness": None,
        "timing": None,
        "check": None,
    }
    try:
        evaluate(args, result)
        result["ok"] = True
    except HarnessError as err:
        result.update(errorKind=err.kind, phase=err.phase, message=err.message, traceback=err.tb)
    except BaseException as exc:  # noqa: BLE001 - the harness must always report
        result.update(errorKind="runtime", phase="harness", message=describe_exception(exc), traceback=trimmed_traceback())
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        line = json.dumps(result, allow_nan=False, default=str)
    except ValueError as exc:
        line = json.dumps({**{k: None for k in result}, "version": PROTOCOL_VERSION, "ok": False, "errorKind": "runtime", "phase": "harness",
                           "message": f"the result could not be encoded as JSON ({exc})"})
    result_stream.write(RESULT_PREFIX + line + "\n")
    result_stream.flush()
    # Skips interpreter teardown: a candidate's atexit hooks or a wedged CUDA context must not
    # hang or rewrite the result after it is out.
    os._exit(0)


if __name__ == "__main__":
    main()
