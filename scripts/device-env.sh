# Sourced by the device scripts, from the repository root, on a GPU machine with python3 but no
# Node: unpacks the carried Node and service into /tmp/skb-node once per machine (a warm machine
# keeps it between calls), installs the carried bubblewrap where the machine lacks it (candidates
# run in it), and puts Node on the PATH.
[ -x /tmp/skb-node/node ] || bash scripts/unpack-device-node.sh /tmp/skb-node || return 1
if ! command -v bwrap >/dev/null 2>&1 && [ -x .device/bwrap ]; then
  install -m 0755 .device/bwrap /usr/local/bin/bwrap && echo "installed the carried bwrap: $(bwrap --version)"
fi
export PATH="/tmp/skb-node:$PATH" PYTHONUNBUFFERED=1
