#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv.
# Idempotent: re-installs only when pyproject.toml or the constraints changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=${LOOPRL_VENV:-.venv}
STAMP="$VENV/.looprl-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ constraints/cpu.txt -nt "$STAMP" ]; then
  echo "[setup] installing looprl and its dependencies (CPU build of torch)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c constraints/cpu.txt torch==2.13.0
  "$VENV/bin/python" -m pip install -q -c constraints/cpu.txt -e '.[dev]'
  touch "$STAMP"
else
  echo "[setup] $VENV is up to date"
fi
