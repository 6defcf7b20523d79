"""Side-by-side comparison of runs: every metric, and each run's ratio to the first.

The paper compares its RL agent with the base model as ratios ("about 6x fewer multi-cell turns");
`compare_runs([A, B, ...])` gives, for each metric, the value in every run and value/A for every
run after the first (``None`` where A's value is 0 or missing). Where a later run B evaluated tasks
that A evaluated too, ``paired`` holds B - A on those shared tasks for TGC (each task's share solved)
and mean reward, with a 95% bootstrap interval and how many tasks each run did better on
(looprl/analysis/stats.py): a difference counts only when its interval excludes 0. Plain data, no
printing: the CLI renders it as a rich table or JSON.
"""

from __future__ import annotations

from typing import Any

from looprl.analysis.behaviour import BEHAVIOUR_METRICS
from looprl.analysis.metrics import summarize
from looprl.analysis.runs import Run
from looprl.analysis.stats import paired_difference

__all__ = ["compare_runs", "paired_runs", "ratio"]


def ratio(value: Any, base: Any) -> float | None:
    """value / base; None where either is missing, zero or not a single number (an interval)."""
    if not isinstance(value, (int, float)) or not isinstance(base, (int, float)) or base == 0:
        return None
    return value / base


def compare_runs(runs: list[Run]) -> dict[str, Any]:
    """{"runs": [...], "metrics": [{"key", "label", "group", "better", "values", "ratios"}]}."""
    summaries = [summarize(r.trajectories) for r in runs]
    rows: list[dict[str, Any]] = []

    def add(key: str, label: str, group: str, better: str, values: list) -> None:
        ratios = [None if key.endswith("_ci95") else ratio(v, values[0]) for v in values[1:]]  # an interval has no ratio
        rows.append({"key": key, "label": label, "group": group, "better": better, "values": values, "ratios": ratios})

    add("tgc", "TGC (tasks fully solved)", "goal completion", "better", [s["tgc"] for s in summaries])
    add("tgc_ci95", "TGC 95% interval (bootstrap over tasks)", "goal completion", "neutral", [s["tgc_ci95"] for s in summaries])
    add("tgc_std", "TGC std over repeated runs", "goal completion", "neutral", [s["tgc_std"] for s in summaries])
    add("sgc", "SGC (scenarios fully solved)", "goal completion", "better", [s["sgc"] for s in summaries])
    add("sgc_std", "SGC std over repeated runs", "goal completion", "neutral", [s["sgc_std"] for s in summaries])
    for part, title in (("per_difficulty", "difficulty"), ("per_split", "split"), ("per_app", "app")):
        keys = sorted({k for s in summaries for k in s.get(part, {})})
        if len(keys) > 1 or part != "per_split":  # one split is the overall TGC again
            for k in keys:
                add(f"{part}/{k}/tgc", f"TGC, {title} {k}", "goal completion", "better", [s.get(part, {}).get(k, {}).get("tgc") for s in summaries])
    for key, (label, better) in BEHAVIOUR_METRICS.items():
        add(f"behaviour/{key}", label, "behaviour", better, [s["behaviour"].get(key) for s in summaries])
    add("n_tasks", "tasks evaluated", "counts", "neutral", [s["n_tasks"] for s in summaries])
    add("n_rollouts", "rollouts", "counts", "neutral", [s["n_rollouts"] for s in summaries])
    add("n_runs", "repeated runs (samples)", "counts", "neutral", [s["n_runs"] for s in summaries])
    return {
        "runs": [
            {"name": r.name, "path": str(r.path), "kind": r.kind, "model": r.model, "method": r.method, "split": r.split, "source": r.source} for r in runs
        ],
        "metrics": rows,
        "paired": [paired_runs(summaries[0], s) for s in summaries[1:]],
    }


def paired_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """B - A on the tasks both summaries evaluated (their ``per_task`` values): TGC (share of a task's
    rollouts solved) and mean reward, each `PairedDifference.to_dict()`; None when they share no task."""
    shared = set(a.get("per_task") or {}) & set(b.get("per_task") or {})
    if not shared:
        return None
    out: dict[str, Any] = {"n_shared": len(shared)}
    for metric, field in (("tgc", "success"), ("reward", "reward")):
        values = [{t: v[field] for t, v in s["per_task"].items()} for s in (a, b)]
        out[metric] = paired_difference(values[0], values[1]).to_dict()
    return out
