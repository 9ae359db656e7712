#!/usr/bin/env bash
# Installs what the service needs to build and run candidates on this machine (the default
# "local" target): a C compiler, and bubblewrap, the sandbox every candidate runs in
# (src/targets/sandbox.ts). Idempotent.
set -euo pipefail
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
bash "$(dirname "$0")/install-debian-packages.sh" ${need[@]+"${need[@]}"}
