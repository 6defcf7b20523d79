"""The fault tests' shared reference: one uninterrupted run of exact_runs' setting per session."""

from __future__ import annotations

import pytest
from exact_runs import adapter_of, exact_cfg


@pytest.fixture(scope="session")
def uninterrupted(tiny_model_dir, tmp_path_factory):
    """The adapter of the exact run never interrupted: what every interrupted-and-resumed run must end with."""
    from looprl.training.trainer import Trainer

    trainer = Trainer(exact_cfg(tiny_model_dir, tmp_path_factory.mktemp("straight")), progress=False)
    trainer.train()
    return adapter_of(trainer)
