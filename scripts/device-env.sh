# Sourced by the device scripts, from the repository root, on a GPU machine with python3 but no
# Node: unpacks the carried Node and service into /tmp/skb-node, installs the carried bubblewrap
# where the machine lacks it (candidates run in it), and puts Node on the PATH. A warm machine
# keeps /tmp/skb-node between calls, so it is unpacked again only when the carried pack differs
# from the one unpacked there (a stale build must not run the new scripts).
stamp="$(cksum < .device/app.tar.xz) $(cksum < .device/node.xz)" || return 1
if [ ! -x /tmp/skb-node/node ] || [ "$(cat /tmp/skb-node/pack.stamp 2>/dev/null)" != "$stamp" ]; then
  rm -rf /tmp/skb-node
  bash scripts/unpack-device-node.sh /tmp/skb-node || return 1
  echo "$stamp" > /tmp/skb-node/pack.stamp
fi
if ! command -v bwrap >/dev/null 2>&1 && [ -x .device/bwrap ]; then
  install -m 0755 .device/bwrap /usr/local/bin/bwrap && echo "installed the carried bwrap: $(bwrap --version)"
fi
export PATH="/tmp/skb-node:$PATH" PYTHONUNBUFFERED=1
