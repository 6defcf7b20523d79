#!/usr/bin/env bash
# Install Debian's bubblewrap so the sandboxed REPL (looprl/env/sandbox/host.py) gets its mount, pid and
# network namespaces in CI. Without it the sandbox still works, with fewer protections (it says which).
# Idempotent; does nothing when bwrap is already there, and only warns where it cannot install.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  echo "[bubblewrap] already installed: $(bwrap --version)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[bubblewrap] not installed and not root: skipping (the sandbox falls back to fewer protections)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[bubblewrap] no apt-get on this system: install bubblewrap with your package manager" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap
echo "[bubblewrap] installed: $(bwrap --version)"
# A quick probe: does it create the namespaces the sandbox uses here (some container runtimes forbid it)?
if bwrap --unshare-ipc --unshare-pid --unshare-net --unshare-uts --die-with-parent --ro-bind /usr /usr \
     --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --proc /proc --dev /dev /usr/bin/true; then
  echo "[bubblewrap] namespaces work"
else
  echo "[bubblewrap] installed but cannot create namespaces here; the sandbox will use isolation='unshare'" >&2
fi
