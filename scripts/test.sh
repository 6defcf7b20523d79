#!/usr/bin/env bash
# The README's second command: set up, then run the test suite (CPU only, tiny models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
