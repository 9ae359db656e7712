#!/usr/bin/env bash
# Installs what the test suites need beyond npm packages: the service's own needs (a C compiler,
# bubblewrap), an OpenSSH server (the SSH executor's contract tests start a real sshd on
# loopback) and Debian's Chromium (the console's tests drive it headless through playwright-core;
# nothing downloads a browser of its own). Idempotent.
set -euo pipefail
here="$(dirname "$0")"
bash "$here/setup-service-deps.sh"
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
bash "$here/install-debian-packages.sh" ${need[@]+"${need[@]}"}
