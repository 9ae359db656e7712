#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are missing (as root; otherwise says what
# to install and fails). Shared by the service's and the tests' setup scripts.
set -euo pipefail
[ $# -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing $*; install them (apt-get install $*) or run as root" >&2
  exit 1
fi
echo "setup: installing $* from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
