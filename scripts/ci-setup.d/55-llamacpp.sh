#!/usr/bin/env bash
# llama.cpp's server extension for the llama.cpp sampler tests (tests/backends/test_llamacpp.py): the
# [llamacpp] extra (xllamacpp, a prebuilt CPU wheel), into the project's .venv, pinned by the same
# constraints as everything else. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
# the check reads package metadata instead of importing the extension, since scripts/test.sh runs it every time
VERSION='import importlib.metadata as m, importlib.util as u; print(m.version("xllamacpp") if u.find_spec("xllamacpp") else "")'
if [ -n "$(.venv/bin/python -c "$VERSION")" ]; then
  echo "[llamacpp] already installed: $(.venv/bin/python -c "$VERSION")"
  exit 0
fi
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e '.[llamacpp]'
echo "[llamacpp] installed xllamacpp $(.venv/bin/python -c "$VERSION")"
