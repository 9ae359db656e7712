#!/usr/bin/env bash
# Runs the KernelBench harness on every fixture pair on a GPU machine that has python3 with torch
# (and Triton) but no Node, and prints a table. The per-run limit stands in for the executor's:
# a run that passes it is reported as 'timeout'.
# Usage: scripts/device-kernelbench.sh [limit-seconds]   (raw result lines go to $OUT or /tmp)
set -uo pipefail
cd "$(dirname "$0")/.."
limit="${1:-120}"
out="${OUT:-/tmp/skb-device}"
mkdir -p "$out"
harness=src/targets/kernelbench/harness.py
fx=test/fixtures/kernelbench
python3 - <<'PY'
import torch, sys
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, cuda available {torch.cuda.is_available()}")
PY
pairs=(
  "matmul_fp32 torch_ok"
  "matmul_fp32 wrong"
  "matmul_fp32 tf32_wrong"
  "matmul_fp32 raises"
  "matmul_fp32 syntax_error"
  "matmul_fp32 forges_result"
  "matmul_fp32 hangs"
  "matmul_fp32 side_stream"
  "softmax_wide torch_ok"
  "softmax_wide zeros"
  "matmul_bf16 triton_ok"
  "matmul_bf16 triton_compile_error"
  "linear_relu triton_fused_ok"
  "broken_problem matmul_fp32/torch_ok"
)
: > "$out/results.txt"
: > "$out/stderr.txt"
for pair in "${pairs[@]}"; do
  set -- $pair
  problem="$fx/problems/$1.py"
  case "$2" in */*) candidate="$fx/candidates/$2.py" ;; *) candidate="$fx/candidates/$1/$2.py" ;; esac
  name="$1/${2##*/}"
  start=$(date +%s.%N)
  timeout -k 5 "$limit" python3 "$harness" --problem "$problem" --candidate "$candidate" >"$out/stdout.tmp" 2>"$out/stderr.tmp"
  rc=$?
  wall=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  line=$(grep '^SKB_RESULT ' "$out/stdout.tmp" | tail -n 1)
  nlines=$(wc -l <"$out/stdout.tmp")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$wall" "$nlines" "${line:-NONE}" >>"$out/results.txt"
  { echo "=== $name (rc $rc)"; tail -c 1500 "$out/stderr.tmp"; echo; } >>"$out/stderr.txt"
done
rm -f "$out/stdout.tmp" "$out/stderr.tmp"
for i in 1 2; do
  timeout 60 python3 "$harness" --fingerprint-only | grep '^SKB_RESULT ' >"$out/fingerprint-$i.txt"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
fps = [json.loads(open(f"{out}/fingerprint-{i}.txt").read().split(" ", 1)[1])["fingerprint"] for i in (1, 2)]
print("fingerprint:", json.dumps(fps[0]))
print("fingerprint stable across two runs:", fps[0] == fps[1])
print(f"{'pair':36} {'rc':>3} {'wall_s':>6} {'out':>3} {'kind':14} {'correct':7} {'cand_med_ms':>11} {'eager_med_ms':>12} {'speedup':>7}  message")
for row in open(f"{out}/results.txt"):
    name, rc, wall, nlines, line = row.rstrip("\n").split("\t", 4)
    if line == "NONE":
        kind = "timeout" if rc in ("124", "137") else "no-result"
        print(f"{name:36} {rc:>3} {wall:>6} {nlines:>3} {kind:14}")
        continue
    r = json.loads(line.split(" ", 1)[1])
    t = r.get("timing") or {}
    c = (t.get("candidate") or {}).get("median")
    e = (t.get("reference") or {}).get("median")
    sp = f"{e / c:.2f}x" if c and e else "-"
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "-"
    msg = (r.get("message") or "")[:90]
    print(f"{name:36} {rc:>3} {wall:>6} {nlines:>3} {str(r['errorKind'] or 'ok'):14} {str(r['ok']):7} {fmt(c):>11} {fmt(e):>12} {sp:>7}  {msg}")
PY
