"""Faults inside a training iteration on the tiny model: an env step that raises and one that hangs past
its timeout, inside K-groups. The iteration completes, its statistics exclude exactly those rollouts, the
metrics count them per reason, the rollout file keeps their finish reason, and nothing else is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from looprl.config import TrainConfig, load_config
from looprl.env.base import register_env
from looprl.testing import DigitsEnv, FaultPlan, FaultyEnv
from looprl.training.trainer import Trainer

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
PLAN = FaultPlan()


@pytest.fixture
def faulty_toy():
    """ "faulty-toy" registered for this test only (the registry is global: other tests list its names)."""
    import looprl.env.base as env_base

    register_env("faulty-toy", lambda n_tasks=None, **options: FaultyEnv(DigitsEnv(**options), PLAN), overwrite=True, env_class=DigitsEnv)
    yield
    env_base._REGISTRY.pop("faulty-toy", None)
    env_base._CLASSES.pop("faulty-toy", None)


def test_iteration_with_env_faults_completes_and_excludes_them(tiny_model_dir, tmp_path, faulty_toy):
    global PLAN
    # concurrency 1: one episode at a time, so steps 2 and 4 are the 2nd and 4th episodes of iteration 1
    PLAN.__init__(raise_on_steps={2}, hang_on_steps={4}, hang_s=30.0)
    cfg = load_config(
        TrainConfig,
        RECIPE,
        [
            f"model.name_or_path={tiny_model_dir}",
            f"run_dir={tmp_path}",
            "logging.tensorboard=false",
            "trainer.eval_every=0",
            "env.name=faulty-toy",
            "trainer.iterations=2",
            "trainer.tasks_per_iteration=2",
            "trainer.rollouts_per_task=3",
            "rollout.concurrency=1",
            "rollout.early_stop=false",
            "rollout.env_timeout_s=1.0",  # from the config to the collector: the default (600 s) would outwait the 30 s hang
        ],
    )
    trainer = Trainer(cfg, progress=False)
    assert trainer.rollout_spec.env_timeout_s == 1.0
    try:
        history = trainer.train()
    finally:
        PLAN.release()
    assert trainer.iteration == 2 and (tmp_path / "checkpoints" / "iter_000002").is_dir()
    first, second = history
    assert first["rollout/infra_failed"] == 2 and first["rollout/infra/env_error"] == 1 and first["rollout/infra/env_timeout"] == 1
    assert first["rollout/count"] == 4  # the statistics are over the 4 survivors
    assert second["rollout/infra_failed"] == 0 and second["rollout/count"] == 6
    rows = [json.loads(line) for line in (tmp_path / "rollouts" / "iter_000001.jsonl").read_text().splitlines()]
    assert len(rows) == 6  # every rollout written, with its finish reason
    assert [r["finish_reason"] for r in rows] == ["terminated", "env_error", "terminated", "env_timeout", "terminated", "terminated"]
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["rollout/infra/env_error"] == 1
