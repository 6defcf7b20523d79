#!/usr/bin/env bash
# Ray for the Ray-mode rollout tests (tests/rollout/test_ray_collector.py): the [ray] extra, into the
# project's .venv, pinned by the same constraints as everything else. Idempotent.
set -euo pipefail
exec bash "$(dirname "$0")/../install-extra.sh" ray ray
