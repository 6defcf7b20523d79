"""The deterministic tiny-model run that the checkpoint and signal fault tests interrupt and resume:
collection at concurrency 1, so a resumed run must end with the uninterrupted run's weights."""

from __future__ import annotations

from pathlib import Path

from looprl.config import TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "configs" / "tiny-cpu.yaml"
EXACT = (
    "trainer.iterations=3",
    "trainer.tasks_per_iteration=2",
    "trainer.rollouts_per_task=3",
    "rollout.concurrency=1",
    "trainer.minibatch_size=4",
    "trainer.micro_batch_size=2",
    "trainer.eval_every=0",
    "logging.tensorboard=false",
)


def exact_cfg(model_dir, run_dir, *extra: str) -> TrainConfig:
    return load_config(TrainConfig, RECIPE, [f"model.name_or_path={model_dir}", f"run_dir={run_dir}", *EXACT, *extra])


def adapter_of(trainer) -> list:
    return [p.detach().clone() for p in trainer.policy.trainable_parameters()]
