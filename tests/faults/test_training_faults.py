"""Faults inside a training iteration on the tiny model: an env step that raises and one that hangs past
its timeout, inside K-groups, in the synchronous loop and while the next batch is sampled ahead
(rollout.max_staleness 1). The iteration completes, its statistics exclude exactly those rollouts, the
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

# fault, the test that injects it, what "survived" means: this module's rows in the fault report
FAULT_CASES = [
    ("env raises / hangs inside a K-group (training)", "test_iteration_with_env_faults_completes_and_excludes_them", "iteration completes without them"),
    ("env raises / hangs while the next batch is sampled ahead", "test_faults_while_the_next_batch_is_sampled_ahead_are_left_out", "left out"),
    ("the batch sampled ahead fails entirely", "test_a_batch_sampled_ahead_that_fails_entirely_stops_cleanly_and_resumes", "RolloutError, resumed"),
]


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
    cfg = _faulty_cfg(tiny_model_dir, tmp_path)
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


def _faulty_cfg(tiny_model_dir, run_dir, *extra: str) -> TrainConfig:
    # concurrency 1 and one step per episode: the plan's step n is the n-th episode of the run (iteration 1:
    # steps 1-6, iteration 2: steps 7-12); env_timeout_s from the config to the collector, since the
    # default (600 s) would outwait the 30 s hang
    settings = [
        f"model.name_or_path={tiny_model_dir}",
        f"run_dir={run_dir}",
        "logging.tensorboard=false",
        "trainer.eval_every=0",
        "env.name=faulty-toy",
        "trainer.iterations=2",
        "trainer.tasks_per_iteration=2",
        "trainer.rollouts_per_task=3",
        "rollout.concurrency=1",
        "rollout.early_stop=false",
        "rollout.env_timeout_s=1.0",
    ]
    return load_config(TrainConfig, RECIPE, [*settings, *extra])


def _overlapped_cfg(tiny_model_dir, run_dir):
    # max_staleness 1: iteration 2 is sampled in the sampler thread while iteration 1 updates
    return _faulty_cfg(tiny_model_dir, run_dir, "rollout.max_staleness=1")


def test_faults_while_the_next_batch_is_sampled_ahead_are_left_out(tiny_model_dir, tmp_path, faulty_toy):
    """With sampling overlapped (staleness 1), an env that raises and one that hangs while iteration 2 is
    collected in the background: iteration 2 completes without them, iteration 1 is untouched."""
    PLAN.__init__(raise_on_steps={8}, hang_on_steps={10}, hang_s=30.0)
    trainer = Trainer(_overlapped_cfg(tiny_model_dir, tmp_path), progress=False)
    try:
        first, second = trainer.train()
    finally:
        PLAN.release()
    assert PLAN.injected["raise"] == 1 and PLAN.injected["hang"] == 1
    assert first["rollout/infra_failed"] == 0 and first["rollout/count"] == 6
    assert second["rollout/infra_failed"] == 2 and second["rollout/infra/env_error"] == 1 and second["rollout/infra/env_timeout"] == 1
    assert second["rollout/count"] == 4
    rows = [json.loads(line) for line in (tmp_path / "rollouts" / "iter_000002.jsonl").read_text().splitlines()]
    assert [r["finish_reason"] for r in rows] == ["terminated", "env_error", "terminated", "env_timeout", "terminated", "terminated"]
    assert trainer.iteration == 2 and (tmp_path / "checkpoints" / "iter_000002").is_dir()


def test_a_batch_sampled_ahead_that_fails_entirely_stops_cleanly_and_resumes(tiny_model_dir, tmp_path, faulty_toy):
    """Every rollout of the batch sampled ahead fails: the trainer raises a RolloutError (what `looprl train`
    turns into one line and exit 1), as in the synchronous loop; the checkpoint of
    iteration 1 stands, and resuming samples iteration 2 again and finishes."""
    from looprl.rollout import RolloutError

    PLAN.__init__(raise_on_steps=set(range(7, 13)))
    trainer = Trainer(_overlapped_cfg(tiny_model_dir, tmp_path), progress=False)
    with pytest.raises(RolloutError) as info:
        trainer.train()
    assert "--resume" in str(info.value)  # what `looprl train` prints in its one line
    assert trainer.iteration == 1 and (tmp_path / "checkpoints" / "iter_000001").is_dir()
    PLAN.__init__()  # the env is back
    resumed = Trainer(_overlapped_cfg(tiny_model_dir, tmp_path), resume=True, progress=False)
    resumed.train()
    assert resumed.iteration == 2 and (tmp_path / "checkpoints" / "iter_000002").is_dir()
    rows = [json.loads(line) for line in (tmp_path / "rollouts" / "iter_000002.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["finish_reason"] == "terminated" for r in rows)
