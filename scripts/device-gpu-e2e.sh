#!/usr/bin/env bash
# On a GPU machine with python3 (PyTorch, Triton) but no Node and no network, from the repository
# root, with .device/ made here by `scripts/pack-device-node.sh --with-tests` and carried along:
# unpacks Node (and bubblewrap when the machine lacks it), runs bench/gpu/search-e2e (the service driven over GraphQL: an LLM-planner search
# against the scripted model, then template searches cold and warm), then the GPU test suites.
# Usage: scripts/device-gpu-e2e.sh [e2e-deadline-seconds] [vitest-limit-seconds]   (logs to $OUT)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/skb-device}"
mkdir -p "$out"
source scripts/device-env.sh || exit 1
node /tmp/skb-node/app/build/bench/gpu/search-e2e.js --out "$out" --python "$(command -v python3)" --deadline "${1:-360}" 2>&1 | tee "$out/e2e.log"
if [ -d /tmp/skb-node/app/node_modules/vitest ]; then
  ln -sfn /tmp/skb-node/app/node_modules node_modules
  timeout "${2:-200}" node node_modules/vitest/vitest.mjs run test/targets/kernelbench.test.ts test/targets/templates/triton-matmul-template.test.ts test/search/triton-configs.test.ts 2>&1 | tee "$out/vitest-gpu.log"
else
  echo "no vitest in the carried packages (pack with --with-tests to run the GPU suites)"
fi
