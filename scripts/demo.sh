#!/usr/bin/env bash
# The README's first command: set up, then run the CPU demo (train a small agent, print what it learned).
# The demo samples its rollouts with vLLM's CPU build when it can be installed (several times faster
# than transformers on a CPU); when it cannot (another OS or CPU), it says so and uses transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! .venv/bin/looprl models setup-vllm; then
  echo "[demo] vLLM could not be installed here; the demo will sample with transformers (slower)" >&2
fi
exec .venv/bin/looprl demo "$@"
