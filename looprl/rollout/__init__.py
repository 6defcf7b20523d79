"""Rollout collection: N tasks x K samples with batched generation (local threads or Ray actors),
and evaluation (TGC/SGC summaries) built on it."""

from looprl.rollout.collector import Collection, CollectionStats, RolloutError, collect, collect_rollouts
from looprl.rollout.spec import RolloutSpec

__all__ = ["Collection", "CollectionStats", "RolloutError", "collect", "collect_rollouts", "RolloutSpec", "evaluate", "EvalResult"]


def __getattr__(name):  # evaluate pulls in the world's task metadata; import on first use
    if name in ("evaluate", "EvalResult"):
        from looprl.rollout import evaluation

        return getattr(evaluation, name)
    raise AttributeError(name)
