"""Shared fixtures. The tiny model is built once per test session (no hub downloads)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory):
    """The tiny model in a shape vLLM's CPU attention kernels accept (head_dim 32: hidden 128 / 4 heads)."""
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-vllm"), hidden_size=128, initializer_range=0.2)
