#!/usr/bin/env bash
# Installs what the test suites need beyond npm packages: the service's own needs (a C compiler,
# bubblewrap), an OpenSSH server (the SSH executor's contract tests start a real sshd on
# loopback) and Debian's Chromium (the console's tests drive it headless through playwright-core;
# nothing downloads a browser of its own), and Debian's CPU PyTorch (the KernelBench harness's
# check of suspect candidates runs on it, test/targets/kernelbench-check.test.ts). Idempotent.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup-service-deps.sh"
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
bash "$here/install-debian-packages.sh" ${need[@]+"${need[@]}"}
