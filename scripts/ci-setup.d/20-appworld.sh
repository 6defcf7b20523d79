#!/usr/bin/env bash
# CI step: the AppWorld virtual environment (.venvs/appworld) that tests/env/test_appworld.py drives.
# AppWorld pins pydantic<2, so it cannot live in .venv. Idempotent: `looprl env setup-appworld` keeps
# a stamp file in the venv and does nothing when it is already built for the pinned appworld version.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m looprl.cli env setup-appworld --venv .venvs/appworld
