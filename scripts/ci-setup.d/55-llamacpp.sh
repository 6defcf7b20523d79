#!/usr/bin/env bash
# llama.cpp's server extension for the llama.cpp sampler tests (tests/backends/test_llamacpp.py): the
# [llamacpp] extra (xllamacpp, a prebuilt CPU wheel), into the project's .venv. Idempotent.
set -euo pipefail
exec bash "$(dirname "$0")/../install-extra.sh" llamacpp xllamacpp
