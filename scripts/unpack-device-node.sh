#!/usr/bin/env bash
# Unpacks what scripts/pack-device-node.sh made into DIR (default /tmp/skb-node): DIR/node and
# DIR/app (build/ and node_modules/). Uses python3's lzma, so it needs no xz on the machine.
# Prints the glibc the machine has and checks that Node and the native addons load.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/skb-node}"
mkdir -p "$dir/app"
python3 - "$dir" <<'PY'
import lzma, os, sys, tarfile
d = sys.argv[1]
with lzma.open(".device/node.xz") as src, open(f"{d}/node", "wb") as dst:
    dst.write(src.read())
os.chmod(f"{d}/node", 0o755)
with tarfile.open(".device/app.tar.xz", "r:xz") as tar:
    tar.extractall(f"{d}/app", filter="tar")
PY
ldd --version | sed -n 1p
"$dir/node" --version
(cd "$dir/app" && "$dir/node" -e "require('hnswlib-node'); require('@libsql/client'); console.log('native addons load')")
