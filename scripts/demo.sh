#!/usr/bin/env bash
# The README's first command: set up, then run the CPU demo (train a small agent, print what it learned).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/looprl demo "$@"
