#!/usr/bin/env bash
# On a GPU machine with python3 (PyTorch, Triton) but no Node and no network, from the repository
# root, with .device/ made here by `scripts/pack-device-node.sh [--with-tests]` and carried along:
# unpacks Node once per carried pack (bubblewrap too when the machine lacks it), runs the GPU suites of problem
# recognition and the Triton template when SKB_DEVICE_TESTS=1 (a pack with vitest), then
# `skb kernelbench` over the problem files given, with a KernelBench target on this GPU. The
# database and the results live in $SKB_KB_STATE (default /tmp/skb-kb), so a call cut short by its
# time limit is resumed by the next call on the same machine; the results and logs are copied to $OUT.
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
SKB_DATA_DIR="$state/data" SKB_TARGETS_FILE="$state/targets.json" timeout "$limit" \
  node /tmp/skb-node/app/build/src/api/cli/main.js kernelbench "$@" --target gpu --budget "$budget" \
  --out "$state/results.json" 2>&1 | tee -a "$out/kernelbench.log"
cp "$state/results.json" "$out/" 2>/dev/null
exit 0
