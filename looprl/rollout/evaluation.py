"""Evaluation: roll out a policy on a set of tasks and summarize TGC/SGC, overall and per difficulty.

`evaluate()` is what `looprl eval` runs and what the trainer's periodic dev evaluation calls. It
uses the collector (no early stop: every requested rollout counts; each rollout carries the task
metadata the env reported in `reset`'s info: difficulty, scenario, apps, split), labels rollouts
whose env reported no split with the evaluated `split`, and, given `out_dir`,
writes the eval part of a run directory (docs/run-layout.md): rollouts.jsonl and summary.json, each
atomically. The summary is looprl.analysis.metrics.summarize() plus the collection's throughput.

TGC = share of tasks solved (with samples > 1: per sample index, then the mean over samples);
SGC = share of scenarios all of whose tasks were solved, likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from looprl.backends.base import ChatBackend, PolicyBackend
from looprl.env.base import Env
from looprl.rollout.collector import CollectionStats, collect
from looprl.rollout.spec import RolloutSpec
from looprl.trajectory import Trajectory

__all__ = ["EvalResult", "evaluate"]


@dataclass
class EvalResult:
    trajectories: list[Trajectory]
    summary: dict[str, Any]
    stats: CollectionStats


def evaluate(
    policy: PolicyBackend | ChatBackend,
    env_factory: Callable[[], Env],
    task_ids: Sequence[str],
    spec: RolloutSpec | None = None,
    *,
    samples: int = 1,
    split: str = "",
    out_dir: str | Path | None = None,
    progress: bool = True,
    **settings: Any,
) -> EvalResult:
    """Run `samples` rollouts of every task as `spec` says and return them with their summary (see
    module docstring). `settings` are RolloutSpec fields as keywords (`sampling=..., max_turns=...`),
    the older calling style; without a spec the turn limit defaults to the paper's 50 for evaluation."""
    from looprl.analysis.metrics import summarize
    from looprl.trajectory import write_jsonl
    from looprl.utils.io import atomic_write_json

    spec = RolloutSpec.resolve(spec, settings, max_turns=50)
    if not task_ids:
        raise ValueError("evaluate() needs at least one task id; got none (is the split empty, or --max-tasks 0?)")
    collection = collect(policy, env_factory, task_ids, spec, k=samples, early_stop=False, group_prefix="eval/", progress=progress)
    trajectories = collection.trajectories
    for t in trajectories:
        t.split = t.split or split
    summary = summarize(trajectories)
    summary["split"] = split
    summary["model"] = spec.model_name
    summary["rollout"] = collection.stats.to_dict()
    summary["reward_mean"] = sum(t.reward for t in trajectories) / len(trajectories) if trajectories else None
    if out_dir is not None:
        out = Path(out_dir)
        write_jsonl(out / "rollouts.jsonl", trajectories)
        atomic_write_json(out / "summary.json", summary)
    return EvalResult(trajectories, summary, collection.stats)
