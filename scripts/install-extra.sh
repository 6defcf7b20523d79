#!/usr/bin/env bash
# Usage: scripts/install-extra.sh EXTRA DISTRIBUTION
# Install the project's optional extra EXTRA (pyproject.toml) into .venv, pinned by constraints/cpu.txt,
# unless DISTRIBUTION (the package it brings) is already there. Idempotent; the check reads package
# metadata instead of importing it (seconds), since scripts/test.sh runs the ci-setup.d steps every time.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="$1" dist="$2"
module="${dist//-/_}"
VERSION="import importlib.metadata as m, importlib.util as u; print(m.version('$dist') if u.find_spec('$module') else '')"
if [ -n "$(.venv/bin/python -c "$VERSION")" ]; then
  echo "[$extra] already installed: $dist $(.venv/bin/python -c "$VERSION")"
  exit 0
fi
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ".[$extra]"
echo "[$extra] installed $dist $(.venv/bin/python -c "$VERSION")"
