#!/usr/bin/env bash
# Ray for the Ray-mode rollout tests (tests/rollout/test_ray_collector.py): the [ray] extra, into the
# project's .venv, pinned by the same constraints as everything else. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
if .venv/bin/python -c "import ray" >/dev/null 2>&1; then
  echo "[ray] already installed: $(.venv/bin/python -c 'import ray; print(ray.__version__)')"
  exit 0
fi
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e '.[ray]'
echo "[ray] installed $(.venv/bin/python -c 'import ray; print(ray.__version__)')"
