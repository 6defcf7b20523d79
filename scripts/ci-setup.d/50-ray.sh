#!/usr/bin/env bash
# Ray for the Ray-mode rollout tests (tests/rollout/test_ray_collector.py): the [ray] extra, into the
# project's .venv, pinned by the same constraints as everything else. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
# the check reads package metadata instead of importing ray (seconds), since scripts/test.sh runs it every time
VERSION='import importlib.metadata as m, importlib.util as u; print(m.version("ray") if u.find_spec("ray") else "")'
if [ -n "$(.venv/bin/python -c "$VERSION")" ]; then
  echo "[ray] already installed: $(.venv/bin/python -c "$VERSION")"
  exit 0
fi
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e '.[ray]'
echo "[ray] installed $(.venv/bin/python -c "$VERSION")"
