#!/usr/bin/env bash
# openvino-genai for the OpenVINO sampler's tests (tests/backends/test_openvino.py): the [openvino] extra
# into the project's .venv, and the environment that exports models to OpenVINO IR (.venvs/openvino:
# optimum-intel, pinned to the CPU torch). Idempotent: both are skipped when already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-extra.sh openvino openvino-genai
.venv/bin/python -c "from looprl.backends.openvino import setup_openvino_venv; print('[openvino] export environment:', setup_openvino_venv())"
