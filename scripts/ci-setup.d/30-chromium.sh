#!/usr/bin/env bash
# Headless Chromium for the report test (tests/analysis/test_analysis_chromium.py renders the page of
# `looprl report` and checks the DOM after its JavaScript ran). Installs Debian's `chromium` when it is
# missing and we are root; otherwise says why it did nothing (with CI=true that test then fails loudly).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "[chromium] already installed: $(chromium --version 2>/dev/null || echo unknown version)"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "[chromium] not installed and not running as root: install the Debian package 'chromium' yourself"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[chromium] not installed and apt-get is unavailable: install Chromium with your system's package manager"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
echo "[chromium] installed: $(chromium --version 2>/dev/null || echo unknown version)"
