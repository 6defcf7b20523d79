"""Rollout collection: N tasks x K samples with batched generation (local threads or Ray actors),
and evaluation (TGC/SGC summaries) built on it."""

from looprl.rollout.collector import Collection, CollectionStats, RolloutError, collect, collect_rollouts
from looprl.rollout.spec import RolloutSpec
from looprl.utils.lazy import lazy_exports

__all__ = ["Collection", "CollectionStats", "RolloutError", "collect", "collect_rollouts", "RolloutSpec", "evaluate", "EvalResult"]

# evaluate pulls in the world's task metadata; import on first use
__getattr__, __dir__ = lazy_exports(__name__, {"evaluate": "looprl.rollout.evaluation", "EvalResult": "looprl.rollout.evaluation"})
