"""Evaluation: roll out a policy on a set of tasks and summarize TGC/SGC, overall and per difficulty.

`evaluate()` is the one evaluation path: `looprl eval`, the trainer's periodic dev evaluation, the
demo and the benchmarks (through looprl.experiments) all call it. It uses the collector (no early
stop: every requested rollout counts; each rollout carries the task metadata the env reported in
`reset`'s info: difficulty, scenario, apps, split), labels rollouts whose env reported no split with
the evaluated `split`, and, given `out_dir`, writes the eval part of a run directory
(docs/run-layout.md): rollouts.jsonl and summary.json, each atomically. The summary is
looprl.analysis.metrics.summarize() plus the collection's throughput.

Several labelled sets of tasks (label -> `EvalSet`) are sampled in one pass (one collection, one
adapter load: the sampler's batch stays full where a pass per set would end on a batch of
stragglers) and each is summarized and written on its own, as if it had been evaluated alone; its
summary's `rollout.shared_with` names the sets it shared the pass with.

TGC = share of tasks solved (with samples > 1: per sample index, then the mean over samples);
SGC = share of scenarios all of whose tasks were solved, likewise.

An infra failure is not a task failure (looprl/rollout/faults.py): a rollout the infrastructure cut is
run again, up to `infra_retries` times; what still failed is left out of TGC/SGC (computed over the
rollouts actually attempted), counted in the summary (`infra_failed`, `infra` per reason) and written
to infra_failed.jsonl beside rollouts.jsonl. When nothing survives, evaluate() raises RolloutError.
A re-run episode is a new draw: with a seeded sampler in per-episode mode its seed follows its position
in the re-run, not the original one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from looprl.backends.base import ChatBackend, PolicyBackend
from looprl.env.base import Env
from looprl.rollout.collector import CollectionStats, collect
from looprl.rollout.faults import infra_counts, require_survivors, rerun_infra_failures, split_infra
from looprl.rollout.spec import RolloutSpec
from looprl.trajectory import Trajectory

__all__ = ["EvalResult", "EvalSet", "evaluate"]


@dataclass
class EvalResult:
    trajectories: list[Trajectory]
    summary: dict[str, Any]
    stats: CollectionStats
    infra_failed: list[Trajectory] = field(default_factory=list)  # still infra-failed after the retries; not in TGC
    sets: dict[str, "EvalResult"] = field(default_factory=dict)  # label -> its own result, for labelled sets


@dataclass(frozen=True)
class EvalSet:
    """One labelled set of an evaluation pass: its tasks, the split its trajectories and summary name,
    the run folder its rollouts.jsonl and summary.json go to (None: not written), and the summary's
    model name (None: the spec's)."""

    task_ids: Sequence[str]
    split: str = ""
    out_dir: str | Path | None = None
    model_name: str | None = None


def evaluate(
    policy: PolicyBackend | ChatBackend,
    env_factory: Callable[[], Env],
    task_ids: Sequence[str] | Mapping[str, EvalSet],
    spec: RolloutSpec | None = None,
    *,
    samples: int = 1,
    split: str = "",
    out_dir: str | Path | None = None,
    progress: bool = True,
    infra_retries: int = 2,
    **settings: Any,
) -> EvalResult:
    """Run `samples` rollouts of every task as `spec` says and return them with their summary (see
    module docstring). `task_ids` are the tasks (summarized under `split`, written to `out_dir`), or
    labelled sets of them sampled in one pass: then `result.sets` holds each set's own result, and
    `result` the whole pass's (its summary under `split`, written to `out_dir` when given).
    `settings` are RolloutSpec fields as keywords (`sampling=..., max_turns=...`), the older calling
    style; without a spec the turn limit defaults to the paper's 50 for evaluation."""
    spec = RolloutSpec.resolve(spec, settings, max_turns=50)
    sets = dict(task_ids) if isinstance(task_ids, Mapping) else {}
    task_ids = [task for s in sets.values() for task in s.task_ids] if sets else list(task_ids)
    if not task_ids:
        raise ValueError("evaluate() needs at least one task id; got none (is the split empty, or --max-tasks 0?)")
    if sets and len(set(task_ids)) < len(task_ids):
        twice = sorted(t for t, n in Counter(task_ids).items() if n > 1)
        raise ValueError(f"evaluate(): tasks {twice[:5]} are in more than one of the sets {sorted(sets)}; a task belongs to one set")
    collection = collect(policy, env_factory, task_ids, spec, k=samples, early_stop=False, group_prefix="eval/", progress=progress)

    def rerun(failed: list[Trajectory]) -> list[Trajectory]:
        ids = [t.task_id for t in failed]
        return collect(policy, env_factory, ids, spec, k=1, early_stop=False, group_prefix="eval/", progress=False).trajectories

    everything = rerun_infra_failures(collection.trajectories, rerun, infra_retries)
    require_survivors(everything, f"evaluation of {len(task_ids)} tasks")
    trajectories, infra_failed = split_infra(everything)
    for t in trajectories:
        t.split = t.split or split
    result = _result(trajectories, infra_failed, collection.stats, split, spec.model_name, out_dir)
    for label, part in sets.items():
        wanted = set(part.task_ids)
        mine = [t for t in trajectories if t.task_id in wanted]
        mine_failed = [t for t in infra_failed if t.task_id in wanted]
        for t in mine:
            t.split = t.split or part.split
        shared = {"shared_with": sorted(set(sets) - {label})} if len(sets) > 1 else {}
        model = spec.model_name if part.model_name is None else part.model_name
        result.sets[label] = _result(mine, mine_failed, collection.stats, part.split, model, part.out_dir, **shared)
    return result


def _result(
    trajectories: list[Trajectory], infra_failed: list[Trajectory], stats: CollectionStats, split: str, model: str, out_dir: str | Path | None, **rollout: Any
) -> EvalResult:
    """The summary of `trajectories` (looprl.analysis.metrics.summarize() plus the collection's
    throughput and `rollout`'s notes, and the rollouts that still failed for infrastructure reasons,
    counted apart), written with them to `out_dir` when given."""
    from looprl.analysis.metrics import summarize
    from looprl.trajectory import write_jsonl
    from looprl.utils.io import atomic_write_json

    summary = summarize(trajectories)
    summary["split"] = split
    summary["model"] = model
    summary["rollout"] = {**stats.to_dict(), **rollout}
    summary["reward_mean"] = sum(t.reward for t in trajectories) / len(trajectories) if trajectories else None
    summary["infra_failed"] = len(infra_failed)
    summary["infra"] = infra_counts(infra_failed)
    if out_dir is not None:
        out = Path(out_dir)
        write_jsonl(out / "rollouts.jsonl", trajectories)
        if infra_failed:
            write_jsonl(out / "infra_failed.jsonl", infra_failed)
        atomic_write_json(out / "summary.json", summary)
    return EvalResult(trajectories, summary, stats, infra_failed)
