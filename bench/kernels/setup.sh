#!/usr/bin/env bash
# Installs what bench/kernels needs beyond the project's own toolchain: Debian's OpenBLAS
# (libopenblas-dev), the reference the gemm rows are compared against. Idempotent. Prints the core
# type OpenBLAS picks on this CPU, since an OpenBLAS older than the CPU falls back to older kernels.
set -euo pipefail
# Reads the whole cache before matching: `grep -q` would stop reading early, and under pipefail the
# SIGPIPE that ldconfig then gets reads as "not installed".
has_openblas() { ldconfig -p | grep 'libopenblas\.so ' > /dev/null; }
if ! has_openblas; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "bench/kernels: installing libopenblas-dev from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libopenblas-dev
  has_openblas || { echo "bench/kernels: libopenblas.so is still missing after the install" >&2; exit 1; }
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '#include <stdio.h>\nextern char *openblas_get_config(void);\nextern char *openblas_get_corename(void);\nint main(void) { printf("bench/kernels: %%s, kernels for %%s\\n", openblas_get_config(), openblas_get_corename()); return 0; }\n' > "$dir/probe.c"
gcc -O2 -o "$dir/probe" "$dir/probe.c" -Wl,--no-as-needed -lopenblas
OPENBLAS_NUM_THREADS=1 "$dir/probe"
