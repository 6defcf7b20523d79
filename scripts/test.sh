#!/usr/bin/env bash
# The README's second command: set up, lint with ruff, then run the test suite (CPU only, tiny models).
#
# Everything the suite needs is installed first, so a fresh clone skips nothing: the project's .venv
# (setup.sh), then every step of scripts/ci-setup.d/ in order - the same steps, in the same order, that
# CI runs (.ci/run is this script). The system-package steps (bubblewrap, chromium) install with apt-get
# when run as root and otherwise say why they did nothing; the pip steps (the AppWorld venv, the vLLM
# venv, the [ray] extra) keep a stamp or check an import, so when all is in place this adds a few
# seconds. A step that fails (no network, say) is reported and the suite still runs; the tests that
# need what it adds then skip, naming the step (with CI=true they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint and format check first (a second or so): a style or pyflakes error, or a file `ruff format`
# would change, stops here with ruff's report, before the slow steps. The rules and the line-length
# limit are in pyproject.toml's [tool.ruff]; `.venv/bin/ruff format .` fixes the format.
echo "[test] ruff check . && ruff format --check ."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
for step in scripts/ci-setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "[test] $step"
  if ! bash "$step"; then
    echo "[test] $step failed (see above): the tests that need it will skip" >&2
  fi
done
exec .venv/bin/python -m pytest "$@"
