#!/usr/bin/env bash
# The README's second command: set up, lint with ruff, then run the test suite (CPU only, tiny models).
#
# Everything pip can install is installed first, so a fresh clone skips no test for want of it: the
# project's .venv (setup.sh), then the pip-only steps of scripts/ci-setup.d/ (the AppWorld venv, the
# vLLM venv, the [ray] extra). Each step keeps a stamp or checks an import, so when all is in place
# this adds a few seconds. A step that fails (no network, say) is reported and the suite still runs;
# its tests then skip, naming the command that adds what is missing. What needs system packages
# (bubblewrap, chromium: scripts/ci-setup.d/10-bubblewrap.sh, 30-chromium.sh, as root) is left to
# those steps, which .ci/run runs; the tests that need it skip and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint and format check first (a second or so): a style or pyflakes error, or a file `ruff format`
# would change, stops here with ruff's report, before the slow steps. The rules and the line-length
# limit are in pyproject.toml's [tool.ruff]; `.venv/bin/ruff format .` fixes the format.
echo "[test] ruff check . && ruff format --check ."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
PIP_STEPS=(20-appworld 40-vllm 50-ray)
for step in "${PIP_STEPS[@]}"; do
  if ! bash "scripts/ci-setup.d/$step.sh"; then
    echo "[test] scripts/ci-setup.d/$step.sh failed (see above): the tests that need it will skip" >&2
  fi
done
exec .venv/bin/python -m pytest "$@"
