"""GPU matmul bench for the Triton matmul template (src/targets/templates/triton-matmul-template.ts).

Runs on a machine with a CUDA GPU, PyTorch and Triton (no Node needed):
    python3 bench/gpu/run.py --out results/ [--compile-budget 150] [--only square-4096]
It reads bench/gpu/space.json and bench/gpu/kernels/, which `node bench/gpu/emit-space.mjs`
writes from the template itself, so the sweep covers exactly the template's configuration space
with the kernel the template generates.

For every case (shape x dtype) it measures:
  * cuBLAS: torch.matmul (plus the eager epilogue), the KernelBench reference;
  * the exhaustive sweep: every legal configuration, compiled in parallel worker processes first,
    each checked against torch within KernelBench's tolerance (1e-2 for bf16, 1e-4 for f32) and
    timed with triton.testing.do_bench (median; short runs), then the top 3 and cuBLAS re-timed
    with longer runs;
  * torch.compile(mode="max-autotune") while the --compile-budget seconds last (skipped after);
  * the BENCH'S OWN greedy knob walk over the sweep's table (not the service's beam search): from
    the template's cold start (its default Triton knobs) and warm from the best configuration of the
    nearest other shape of the same dtype; evaluations until within 2% of the exhaustive best, and
    the best found within fixed budgets of 5, 10 and 20 evaluations.
Writes results.json and results.md under --out and prints the table.
"""
import argparse
import concurrent.futures as cf
import importlib.util
import json
import math
import multiprocessing as mp
import os
import re
import sys
import time
from itertools import zip_longest

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_DTYPE_NAMES = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}
# The harness's tolerances (src/targets/kernelbench/harness.py, tolerance_for): what the service accepts.
TOLERANCE = {"bf16": 1e-2, "f16": 1e-2, "f32": 1e-4}
BUDGETS = (5, 10, 20)


_KERNEL_MODULES = {}


def load_kernel_module(path):
    """The generated kernel file of a case (one per epilogue chain: the chain is compiled into the kernel)."""
    if path not in _KERNEL_MODULES:
        name = "skb_kernel_" + re.sub(r"\W", "_", path)
        spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _KERNEL_MODULES[path] = module
    return _KERNEL_MODULES[path]


def run_kernel(module, a, b, bias, cfg):
    """The template's launcher: the epilogue's vectors (here only a bias) follow the two operands."""
    vectors = [] if bias is None else [bias]
    return module.skb_matmul(a, b, *vectors, **launch_args(cfg))


def harness_fingerprint(torch):
    """The GPU fingerprint exactly as the service's harness reports it (src/targets/kernelbench/harness.py)."""
    path = os.path.join(HERE, "..", "..", "src", "targets", "kernelbench", "harness.py")
    spec = importlib.util.spec_from_file_location("skb_harness", path)
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    return harness.collect_fingerprint(torch, torch.device("cuda"))


def config_key(cfg):
    return json.dumps(cfg, sort_keys=True)


def launch_args(cfg):
    # Configurations recorded before the align knob read their operands in place.
    return dict(block_m=cfg["block_m"], block_n=cfg["block_n"], block_k=cfg["block_k"], group_m=cfg["group_m"],
                num_warps=cfg["num_warps"], num_stages=cfg["num_stages"], precision=cfg["precision"],
                align=bool(cfg.get("align", 0)))


def compile_worker(jobs):
    """Compiles configurations by launching them on a small problem (fills Triton's disk cache).
    The small problem keeps the case's dims modulo 16 and its operand layout, so its strides and
    sizes fall in the same Triton specialisation (divisibility by 16, unit strides) as the case's."""
    import torch

    failures = {}
    for kernel, dtype, has_bias, batched, layout, residues, cfg in jobs:
        module = load_kernel_module(kernel)
        dt = getattr(torch, TORCH_DTYPE_NAMES[dtype])
        small = {"B": 2, **{k: 256 + r for k, r in residues.items()}}
        case = {"op": {"kind": "batched_gemm" if batched else "gemm", "dims": small, "dtype": dtype, "layout": layout,
                       "epilogue": ["bias"] if has_bias else []}, "inputs": "normal"}
        a, b, bias = make_problem(torch, case, seed=0)
        try:
            run_kernel(module, a, b, bias, cfg)
            torch.cuda.synchronize()
        except Exception as exc:  # noqa: BLE001 - a configuration that does not compile is a result
            failures[config_key([kernel, dtype, has_bias, batched, layout, residues, cfg])] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return failures


def precompile(cases, workers):
    jobs = {}
    for case in cases:
        op = case["op"]
        residues = {k: op["dims"][k] % 16 for k in ("M", "N", "K")}
        flags = (case["kernel"], op["dtype"], "bias" in op["epilogue"], op["kind"] == "batched_gemm", op.get("layout", "nn"), residues)
        for cfg in case["configs"]:
            jobs[config_key([*flags, cfg])] = (*flags, cfg)
    items = list(jobs.values())
    chunks = [items[i::workers] for i in range(workers)]
    started = time.perf_counter()
    failures = {}
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        for result in pool.map(compile_worker, chunks):
            failures.update(result)
    return len(items), failures, time.perf_counter() - started


def make_problem(torch, case, seed):
    """The case's operands on the GPU: normal or uniform draws (KernelBench's torch.rand), each
    operand stored transposed where the layout says so ('tn': A, 'nt': B, 'tt': both) and passed
    as the transposed view, as the template's ModelNew passes it."""
    op = case["op"]
    d = op["dims"]
    dt = getattr(torch, TORCH_DTYPE_NAMES[op["dtype"]])
    g = torch.Generator(device="cuda").manual_seed(seed)
    draw = torch.rand if case.get("inputs") == "uniform" else torch.randn
    layout = op.get("layout", "nn")
    batch = (d["B"],) if op["kind"] == "batched_gemm" else ()

    def operand(rows, cols, transposed):
        stored = draw((*batch, cols, rows) if transposed else (*batch, rows, cols), device="cuda", dtype=dt, generator=g)
        return stored.transpose(-2, -1) if transposed else stored

    a = operand(d["M"], d["K"], layout[0] == "t")
    b = operand(d["K"], d["N"], layout[1] == "t")
    bias = draw(d["N"], device="cuda", dtype=dt, generator=g) if "bias" in op["epilogue"] else None
    return a, b, bias


def eager(torch, a, b, bias, relu):
    out = torch.matmul(a, b)
    if bias is not None:
        out = out + bias
    if relu:
        out = torch.relu(out)
    return out


def flops(op):
    d = op["dims"]
    return 2.0 * d.get("B", 1) * d["M"] * d["N"] * d["K"]


def check(torch, out, ref, tol):
    if out.shape != ref.shape or out.dtype != ref.dtype:
        return False
    o = out.float()
    r = ref.float()
    return bool(torch.isfinite(o).all()) and bool(torch.isclose(o, r, rtol=tol, atol=tol).all())


def greedy_walk(case, table, start):
    """The bench's own policy: evaluate every single-knob neighbour of the current configuration
    (the next smaller and larger legal value of one knob, kept only when the result is in the legal
    space), move to the best if it improves, stop when none does. Returns the evaluation order."""
    legal = case["legal"]
    order = []
    seen = set()

    def evaluate(cfg):
        key = config_key(cfg)
        if key in seen:
            return None
        seen.add(key)
        order.append(table.get(key, math.inf))
        return table.get(key, math.inf)

    current = start
    current_time = evaluate(current)
    while True:
        best_cfg, best_time = None, current_time
        for name, values in legal.items():
            if len(values) < 2 or current[name] not in values:
                continue
            i = values.index(current[name])
            for j in (i - 1, i + 1):
                if 0 <= j < len(values):
                    cand = {**current, name: values[j]}
                    if config_key(cand) not in table:
                        continue
                    t = evaluate(cand)
                    if t is not None and t < best_time:
                        best_cfg, best_time = cand, t
        if best_cfg is None:
            return order
        current, current_time = best_cfg, best_time


def walk_summary(order, best):
    running = math.inf
    reached = None
    for i, t in enumerate(order):
        running = min(running, t)
        if reached is None and running <= best * 1.02:
            reached = i + 1
    at_budget = {}
    for n in BUDGETS:
        b = min(order[:n]) if order else math.inf
        at_budget[str(n)] = round(best / b, 4) if math.isfinite(b) else 0.0
    return {"evals": len(order), "evalsToWithin2pct": reached, "finalVsBest": round(best / min(order), 4) if order and math.isfinite(min(order)) else 0.0,
            "bestVsExhaustiveAtBudget": at_budget}


def nearest_snap(case, cfg):
    """The legal configuration of `case` nearest to cfg (log2 distance per numeric knob)."""
    def dist(c):
        total = 0.0
        for k, v in cfg.items():
            w = c.get(k)
            if isinstance(v, (int, float)) and isinstance(w, (int, float)):
                total += abs(math.log2(w / v))
            elif v != w:
                total += 1.0
        return total
    return min(case["configs"], key=dist)


def shape_distance(a, b):
    da, db = a["op"]["dims"], b["op"]["dims"]
    total = sum(abs(math.log2(da[k] / db[k])) for k in ("M", "N", "K"))
    total += abs(math.log2(da.get("B", 1) / db.get("B", 1)))
    total += 0.5 * (a["op"]["epilogue"] != b["op"]["epilogue"])
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT", "bench/out/gpu"))
    parser.add_argument("--only", default="", help="comma-separated case label prefixes")
    parser.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 4))
    parser.add_argument("--compile-budget", type=float, default=150.0, help="seconds for torch.compile max-autotune over all cases")
    parser.add_argument("--sweep-rep", type=float, default=8.0, help="do_bench rep (ms) per configuration in the sweep")
    parser.add_argument("--deadline", type=float, default=400.0, help="seconds after which no further case is swept (the rest are reported as skipped)")
    parser.add_argument("--final-rep", type=float, default=60.0, help="do_bench rep (ms) for the re-timed finalists and cuBLAS")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    import torch
    import triton
    from triton.testing import do_bench

    space = json.load(open(os.path.join(HERE, "space.json")))
    cases = space["cases"]
    if args.only:
        prefixes = args.only.split(",")
        cases = [c for c in cases if any(c["label"].startswith(p) for p in prefixes)]
    device = torch.cuda.get_device_name(0)
    print(f"device: {device}; torch {torch.__version__}; triton {triton.__version__}; {len(cases)} cases", flush=True)

    n_compiled, compile_failures, compile_s = precompile(cases, args.workers)
    print(f"precompiled {n_compiled} kernels in {compile_s:.1f}s with {args.workers} processes ({len(compile_failures)} failed)", flush=True)

    results = []
    tables = {}
    t0 = time.perf_counter()
    skipped = []
    for case in cases:
        if time.perf_counter() - t0 + compile_s > args.deadline:
            skipped.append(case["label"])
            continue
        op = case["op"]
        module = load_kernel_module(case["kernel"])
        relu = "relu" in op["epilogue"]
        tol = TOLERANCE[op["dtype"]]
        a, b, bias = make_problem(torch, case, seed=1)
        ref = eager(torch, a, b, bias, relu)
        started = time.perf_counter()
        table = {}
        failed = 0
        for cfg in case["configs"]:
            key = config_key(cfg)
            try:
                out = run_kernel(module, a, b, bias, cfg)
                torch.cuda.synchronize()
                if not check(torch, out, ref, tol):
                    failed += 1
                    continue
                table[key] = do_bench(lambda: run_kernel(module, a, b, bias, cfg), warmup=2, rep=args.sweep_rep, return_mode="median")
            except Exception:  # noqa: BLE001 - counted as a failed configuration
                failed += 1
        sweep_s = time.perf_counter() - started
        tables[case["label"]] = table
        ranked = sorted(table.items(), key=lambda kv: kv[1])
        # Re-time the top 3 and cuBLAS with longer runs, alternating, best median of two rounds.
        finalists = [json.loads(k) for k, _ in ranked[:3]]
        cublas_ms = math.inf
        final = {}
        for _ in range(2):
            cublas_ms = min(cublas_ms, do_bench(lambda: eager(torch, a, b, bias, relu), warmup=10, rep=args.final_rep, return_mode="median"))
            for cfg in finalists:
                t = do_bench(lambda: run_kernel(module, a, b, bias, cfg), warmup=10, rep=args.final_rep, return_mode="median")
                final[config_key(cfg)] = min(final.get(config_key(cfg), math.inf), t)
        best_key = min(final, key=final.get) if final else None
        # A fresh input draw for the winner: the kernel must compute the function, not fit one input.
        winner_ok = None
        if best_key:
            a2, b2, bias2 = make_problem(torch, case, seed=2)
            winner_ok = check(torch, run_kernel(module, a2, b2, bias2, json.loads(best_key)), eager(torch, a2, b2, bias2, relu), tol)
            del a2, b2, bias2
        results.append({
            "label": case["label"], "op": op, "configs": len(case["configs"]), "failed": failed,
            "sweepSeconds": round(sweep_s, 1), "cublasMs": cublas_ms,
            "bestConfig": json.loads(best_key) if best_key else None, "bestMs": final.get(best_key) if best_key else None,
            "bestSweepMs": ranked[0][1] if ranked else None, "winnerCorrectOnFreshInputs": winner_ok,
            "tflopsCublas": flops(op) / cublas_ms / 1e9,
        })
        r = results[-1]
        print(f"{case['label']}: {len(table)}/{len(case['configs'])} ok, sweep {sweep_s:.1f}s, cuBLAS {cublas_ms:.4f} ms, best {r['bestMs']} ms {r['bestConfig']}", flush=True)
        del a, b, bias, ref
        torch.cuda.empty_cache()

    # The bench's own greedy walk, cold and warm, over the sweep tables.
    cases = [c for c in cases if c["label"] not in skipped]
    by_label = {c["label"]: c for c in cases}
    for r in results:
        case = by_label[r["label"]]
        table = tables[r["label"]]
        if not table:
            continue
        best = min(table.values())
        cold = greedy_walk(case, table, case["cold"])
        others = [c for c in cases if c["label"] != case["label"] and c["op"]["dtype"] == case["op"]["dtype"] and tables.get(c["label"])]
        r["cold"] = walk_summary(cold, best)
        if others:
            near = min(others, key=lambda c: shape_distance(c, case))
            near_best = json.loads(min(tables[near["label"]], key=tables[near["label"]].get))
            start = nearest_snap(case, near_best)
            r["warm"] = {**walk_summary(greedy_walk(case, table, start), best), "from": near["label"]}

    # Written now and again at the end: a run cut short by its time limit keeps the sweep.
    save(args.out, device, compile_failures, compile_s, results, tables, torch)

    # torch.compile max-autotune, while the budget lasts.
    spent = 0.0
    # Alternate the dtypes, so that a budget too small for all cases still covers both.
    by_dtype = [[r for r in results if r["op"]["dtype"] == d] for d in ("bf16", "f32", "f16")]
    interleaved = [r for group in zip_longest(*by_dtype) for r in group if r is not None]
    for r in interleaved:
        case = by_label[r["label"]]
        if spent >= args.compile_budget:
            r["compileMs"] = None
            r["compileNote"] = f"skipped: the {args.compile_budget:.0f}s budget was spent"
            continue
        op = case["op"]
        relu = "relu" in op["epilogue"]
        a, b, bias = make_problem(torch, case, seed=1)
        torch._dynamo.reset()
        fn = torch.compile(lambda x, y, z: eager(torch, x, y, z, relu), mode="max-autotune")
        started = time.perf_counter()
        try:
            out = fn(a, b, bias)
            torch.cuda.synchronize()
            took = time.perf_counter() - started
            ok = check(torch, out, eager(torch, a, b, bias, relu), TOLERANCE[op["dtype"]])
            r["compileMs"] = do_bench(lambda: fn(a, b, bias), warmup=10, rep=args.final_rep, return_mode="median") if ok else None
            r["compileSeconds"] = round(took, 1)
            r["compileNote"] = "" if ok else "incorrect"
        except Exception as exc:  # noqa: BLE001
            took = time.perf_counter() - started
            r["compileMs"] = None
            r["compileNote"] = f"failed: {type(exc).__name__}"
        spent += took
        del a, b, bias
        torch.cuda.empty_cache()

    lines = [
        f"Device: {device}; torch {torch.__version__}; triton {triton.__version__}. Times are medians (ms) of triton.testing.do_bench.",
        f"Precompile of {n_compiled} kernels: {compile_s:.1f}s on {args.workers} processes ({len(compile_failures)} failed to compile).",
        "",
        "| case | configs (ok) | cuBLAS ms | best template ms | vs cuBLAS | best config (BMxBNxBK g w s prec) | sweep s | max-autotune ms (compile s) | cold evals to 2% | warm evals to 2% (from) | cold/warm @10 evals |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ratios = []
    for r in results:
        c = r["bestConfig"]
        vs = r["cublasMs"] / r["bestMs"] if r["bestMs"] else 0.0
        if r["bestMs"]:
            ratios.append(vs)
        cfg = f"{c['block_m']}x{c['block_n']}x{c['block_k']} g{c['group_m']} w{c['num_warps']} s{c['num_stages']} {c['precision']}{' aligned' if c.get('align') else ''}" if c else "-"
        comp = f"{r['compileMs']:.4f} ({r.get('compileSeconds')})" if r.get("compileMs") else (r.get("compileNote") or "-")
        cold = r.get("cold", {})
        warm = r.get("warm", {})
        lines.append(
            f"| {r['label']} | {r['configs']} ({r['configs'] - r['failed']}) | {r['cublasMs']:.4f} | {r['bestMs'] or 0:.4f} | {vs:.3f}x | {cfg} | {r['sweepSeconds']} | {comp} "
            f"| {cold.get('evalsToWithin2pct')} of {cold.get('evals')} | {warm.get('evalsToWithin2pct')} of {warm.get('evals')} ({warm.get('from', '-')}) "
            f"| {cold.get('bestVsExhaustiveAtBudget', {}).get('10', 0):.3f} / {warm.get('bestVsExhaustiveAtBudget', {}).get('10', 0):.3f} |"
        )
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        lines += ["", f"Best template kernel vs cuBLAS: geomean {geo:.3f}x, min {min(ratios):.3f}x over {len(ratios)} cases."]
    if skipped:
        lines += ["", f"Not swept (past the --deadline of {args.deadline:.0f}s): {', '.join(skipped)}."]
    text = "\n".join(lines)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text + "\n")
    save(args.out, device, compile_failures, compile_s, results, tables, torch)
    print(text, flush=True)


def save(out, device, compile_failures, compile_s, results, tables, torch):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"device": device, "compileFailures": compile_failures, "precompileSeconds": compile_s, "results": results}, f, indent=1, default=str)
    # Every configuration's sweep time, for replaying searches offline (bench/gpu/replay-search.mjs).
    with open(os.path.join(out, "tables.json"), "w") as f:
        json.dump({"device": device, "fingerprint": harness_fingerprint(torch), "tables": tables}, f)


if __name__ == "__main__":
    sys.exit(main())
