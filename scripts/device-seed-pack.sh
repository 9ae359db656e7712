#!/usr/bin/env bash
# On a GPU machine with python3 (PyTorch, Triton) but no Node and no network, from the repository
# root, with .device/ made here by `scripts/pack-device-node.sh` and carried along: builds the GPU
# seed pack (`scripts/build-seed-kb.mjs --pack gpu`) for at most SECONDS, then copies its work
# directory (knowledge base and progress log) and the pack file to $OUT; a build the limit
# stopped mid-search exports the shapes it had finished. Carry .tmp/seed-kb-gpu
# (the work directory a previous call brought back) to go on where that call stopped.
# Usage: scripts/device-seed-pack.sh SECONDS [build-seed-kb options]
set -uo pipefail
cd "$(dirname "$0")/.."
limit="$1"
shift
out="${OUT:-/tmp/skb-device}"
mkdir -p "$out" .tmp/seed-kb-gpu
source scripts/device-env.sh || exit 1
# The script loads the service from dist/; the carried build holds it under build/src.
[ -e dist ] || ln -s /tmp/skb-node/app/build/src dist
timeout --signal=INT "$limit" node scripts/build-seed-kb.mjs --pack gpu --work .tmp/seed-kb-gpu \
  --out "$out/gpu-reference.jsonl" --python "$(command -v python3)" "$@" 2>&1 | tee "$out/seed-pack.log"
rc=${PIPESTATUS[0]}
# Stopped by the limit mid-search, the build wrote no export: write that of the shapes it finished.
if [ "$rc" != 0 ] && [ ! -s "$out/gpu-reference.jsonl" ]; then
  node scripts/build-seed-kb.mjs --pack gpu --work .tmp/seed-kb-gpu --out "$out/gpu-reference.jsonl" \
    --python "$(command -v python3)" "$@" --only 0 2>&1 | tee -a "$out/seed-pack.log"
fi
cp -r .tmp/seed-kb-gpu "$out/work"
echo "build-seed-kb exited $rc"
