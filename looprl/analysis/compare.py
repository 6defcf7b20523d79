"""Side-by-side comparison of runs: every metric, and each run's ratio to the first.

The paper compares its RL agent with the base model as ratios ("about 6x fewer multi-cell turns");
`compare_runs([A, B, ...])` gives, for each metric, the value in every run and value/A for every
run after the first (``None`` where A's value is 0 or missing). Plain data, no printing: the CLI
renders it as a rich table or JSON.
"""

from __future__ import annotations

from typing import Any

from looprl.analysis.behaviour import BEHAVIOUR_METRICS
from looprl.analysis.metrics import summarize
from looprl.analysis.runs import Run

__all__ = ["compare_runs", "ratio"]


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return value / base


def compare_runs(runs: list[Run]) -> dict[str, Any]:
    """{"runs": [...], "metrics": [{"key", "label", "group", "better", "values", "ratios"}]}."""
    summaries = [summarize(r.trajectories) for r in runs]
    rows: list[dict[str, Any]] = []

    def add(key: str, label: str, group: str, better: str, values: list[float | None]) -> None:
        rows.append({"key": key, "label": label, "group": group, "better": better, "values": values, "ratios": [ratio(v, values[0]) for v in values[1:]]})

    add("tgc", "TGC (tasks fully solved)", "goal completion", "better", [s["tgc"] for s in summaries])
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
    }
