#!/usr/bin/env bash
# On a GPU machine with python3 (PyTorch, Triton) but no Node and no network, from the repository
# root, with .device/ made here by `scripts/pack-device-node.sh [--with-tests]` and carried along:
# unpacks Node once per carried pack (bubblewrap too when the machine lacks it), runs the GPU suites of problem
# recognition and the Triton template when SKB_DEVICE_TESTS=1 (a pack with vitest), then
# `skb kernelbench` over the problem files given, with a KernelBench target on this GPU. The
# database and the results live in $SKB_KB_STATE (default /tmp/skb-kb), so a call cut short by its
# time limit is resumed by the next call on the same machine; the results, the stored schedules
# (schedules.jsonl) and logs are copied to $OUT. A machine given back between calls loses that
# state: put the results.json and schedules.jsonl an earlier call brought back in a carried folder
# named by SKB_KB_RESUME, and a call that finds no state of its own starts from them.
# Usage: scripts/device-kernelbench-suite.sh BUDGET SECONDS FILE...
set -uo pipefail
cd "$(dirname "$0")/.."
budget="$1" limit="$2"
shift 2
out="${OUT:-/tmp/skb-device}"
state="${SKB_KB_STATE:-/tmp/skb-kb}"
mkdir -p "$out" "$state"
source scripts/device-env.sh || exit 1
python="$(command -v python3)"
if [ "${SKB_DEVICE_TESTS:-0}" = 1 ] && [ -d /tmp/skb-node/app/node_modules/vitest ]; then
  ln -sfn /tmp/skb-node/app/node_modules node_modules
  timeout "${SKB_DEVICE_TESTS_SECONDS:-300}" node node_modules/vitest/vitest.mjs run \
    ${SKB_DEVICE_TEST_FILES:-test/targets/kernelbench-recognition.test.ts test/targets/templates/triton-*.test.ts} 2>&1 | tee "$out/vitest-gpu.log"
fi
cat >"$state/targets.json" <<JSON
{ "targets": [ { "id": "gpu", "description": "The GPU of this machine; PyTorch eager calls cuBLAS.",
  "executor": { "kind": "local" }, "toolchain": { "kind": "kernelbench", "python": "$python" } } ] }
JSON
nvidia-smi --query-gpu=name,driver_version,utilization.gpu,memory.used --format=csv,noheader | tee "$out/gpu.txt"
export SKB_DB_URL="${SKB_DB_URL:-file:$state/kb.db}" SKB_DATA_DIR="$state/data" SKB_TARGETS_FILE="$state/targets.json"
skb() { node /tmp/skb-node/app/build/src/api/cli/main.js "$@"; }
resume="${SKB_KB_RESUME:-}"
if [ -n "$resume" ] && [ ! -e "$state/results.json" ] && [ -f "$resume/results.json" ]; then
  # The schedules first: a warm search of the resumed results is seeded from them.
  if [ -f "$resume/schedules.jsonl" ]; then skb import "$resume/schedules.jsonl" 2>&1 | tee -a "$out/kernelbench.log"; fi
  cp "$resume/results.json" "$state/results.json"
  echo "resumed from $resume" | tee -a "$out/kernelbench.log"
fi
started=$(date +%s)
timeout "$limit" node /tmp/skb-node/app/build/src/api/cli/main.js kernelbench "$@" --target gpu --budget "$budget" \
  --out "$state/results.json" 2>&1 | tee -a "$out/kernelbench.log"
cp "$state/results.json" "$out/" 2>/dev/null
# Kept out of the search's time limit, so a call cut short still brings its schedules back.
skb export --out "$out/schedules.jsonl" 2>&1 | tee -a "$out/kernelbench.log"
echo "searches took $(( $(date +%s) - started )) s" >> "$out/kernelbench.log"
exit 0
