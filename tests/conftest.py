"""Shared fixtures. The tiny model is built once per test session (no hub downloads)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
