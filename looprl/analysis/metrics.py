"""Task and scenario goal completion (TGC, SGC), overall and per difficulty, app and split.

Definitions (docs/metrics.md has them in full):

* TGC = solved tasks / evaluated tasks, a task being solved when its rollout succeeded (every check
  passed). SGC = scenarios whose evaluated tasks were *all* solved / evaluated scenarios.
* Rollouts with the same ``sample_index`` form one evaluation run; ``samples > 1`` in `looprl eval`
  means repeated runs. Each metric is computed per run, then reported as mean and sample standard
  deviation (ddof = 1; 0.0 for a single run) over the runs.
* Several rollouts of one task in the same run count fractionally for TGC (the share that
  succeeded) and the scenario is solved only if all of them succeeded.
* A trajectory without ``scenario`` is a scenario of its own (keyed by its task id).
* ``tgc_ci95`` is TGC's 95% interval, a percentile bootstrap over tasks (each task's share of
  successful rollouts; looprl/analysis/stats.py); ``sgc_ci95`` the same over scenarios and
  ``reward_ci95`` over tasks' mean rewards. ``per_task`` keeps each task's share solved and mean
  reward, so two runs on the same tasks can be compared pair by pair (`stats.paired_difference`).

All values are fractions in [0, 1]; displays multiply by 100. Pure functions: trajectories in,
numbers out, no I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable

from looprl.analysis.stats import bootstrap_ci
from looprl.trajectory import Trajectory

__all__ = ["tgc", "sgc", "goal_completion", "summarize", "mean_std", "per_task"]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0.0 when there is one value)."""
    if not values:
        return float("nan"), float("nan")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def _by_run(trajs: Iterable[Trajectory]) -> dict[int, list[Trajectory]]:
    runs: dict[int, list[Trajectory]] = defaultdict(list)
    for t in trajs:
        runs[int(t.sample_index)].append(t)
    return dict(sorted(runs.items()))


def _run_tgc(run: list[Trajectory]) -> float:
    per_task: dict[str, list[bool]] = defaultdict(list)
    for t in run:
        per_task[t.task_id].append(bool(t.success))
    return sum(sum(s) / len(s) for s in per_task.values()) / len(per_task)


def _scenario(t: Trajectory) -> str:
    return t.scenario or f"task:{t.task_id}"


def _solved_scenarios(run: list[Trajectory]) -> dict[str, bool]:
    per_scenario: dict[str, bool] = {}
    for t in run:
        key = _scenario(t)
        per_scenario[key] = per_scenario.get(key, True) and bool(t.success)
    return per_scenario


def _run_sgc(run: list[Trajectory]) -> float:
    per_scenario = _solved_scenarios(run)
    return sum(per_scenario.values()) / len(per_scenario)


def per_task(trajs: Iterable[Trajectory]) -> dict[str, dict[str, float]]:
    """Task id -> {"success": share of its rollouts that succeeded, "reward": their mean reward}, over every run."""
    rollouts: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajs:
        rollouts[t.task_id].append(t)
    out = {}
    for task, ts in sorted(rollouts.items()):
        out[task] = {"success": sum(bool(t.success) for t in ts) / len(ts), "reward": sum(t.reward for t in ts) / len(ts)}
    return out


def _scenario_solved(trajs: list[Trajectory]) -> list[float]:
    """Per scenario and run, 1.0 when every rollout of it succeeded: the values SGC averages."""
    return [float(v) for run in _by_run(trajs).values() for v in _solved_scenarios(run).values()]


def goal_completion(trajs: Iterable[Trajectory]) -> dict[str, Any]:
    """TGC and SGC with their spread over repeated runs, their 95% intervals over tasks and
    scenarios, and the counts they rest on."""
    trajs = list(trajs)
    if not trajs:
        return {
            "tgc": None,
            "tgc_std": None,
            "tgc_ci95": None,
            "sgc": None,
            "sgc_std": None,
            "sgc_ci95": None,
            "n_runs": 0,
            "n_tasks": 0,
            "n_scenarios": 0,
            "n_rollouts": 0,
        }
    runs = _by_run(trajs)
    tgcs = [_run_tgc(r) for r in runs.values()]
    sgcs = [_run_sgc(r) for r in runs.values()]
    tgc_mean, tgc_std = mean_std(tgcs)
    sgc_mean, sgc_std = mean_std(sgcs)
    tasks = per_task(trajs)
    return {
        "tgc": tgc_mean,
        "tgc_std": tgc_std,
        "tgc_ci95": bootstrap_ci([v["success"] for v in tasks.values()]).to_list(),
        "sgc": sgc_mean,
        "sgc_std": sgc_std,
        "sgc_ci95": bootstrap_ci(_scenario_solved(trajs)).to_list(),
        "n_runs": len(runs),
        "n_tasks": len({t.task_id for t in trajs}),
        "n_scenarios": len({_scenario(t) for t in trajs}),
        "n_rollouts": len(trajs),
        "per_run": [{"sample_index": k, "tgc": a, "sgc": b} for k, a, b in zip(runs, tgcs, sgcs)],
    }


def tgc(trajs: Iterable[Trajectory]) -> float:
    """Task goal completion in [0, 1]: mean over repeated runs of the share of tasks solved."""
    trajs = list(trajs)
    if not trajs:
        raise ValueError("tgc() needs at least one trajectory; got none")
    return goal_completion(trajs)["tgc"]


def sgc(trajs: Iterable[Trajectory]) -> float:
    """Scenario goal completion in [0, 1]: mean over repeated runs of the share of scenarios fully solved."""
    trajs = list(trajs)
    if not trajs:
        raise ValueError("sgc() needs at least one trajectory; got none")
    return goal_completion(trajs)["sgc"]


def _grouped(trajs: list[Trajectory], keys_of) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajs:
        for key in keys_of(t):
            groups[key].append(t)
    out = {}
    for key in sorted(groups):
        gc = goal_completion(groups[key])
        gc.pop("per_run")
        out[key] = gc
    return out


def summarize(trajs: Iterable[Trajectory]) -> dict[str, Any]:
    """The content of an eval run's summary.json: goal completion overall and per difficulty, app
    and split, plus the behaviour metrics (looprl/analysis/behaviour.py). JSON-serializable."""
    from looprl.analysis.behaviour import behaviour_metrics

    trajs = list(trajs)
    summary = goal_completion(trajs)
    tasks = per_task(trajs)
    summary["reward_ci95"] = bootstrap_ci([v["reward"] for v in tasks.values()]).to_list() if tasks else None
    summary["per_task"] = tasks
    summary["per_difficulty"] = _grouped(trajs, lambda t: [str(t.difficulty) if t.difficulty is not None else "unknown"])
    summary["per_app"] = _grouped(trajs, lambda t: list(dict.fromkeys(t.apps)) or ["unknown"])
    summary["per_split"] = _grouped(trajs, lambda t: [t.split or "unknown"])
    summary["models"] = sorted({t.model for t in trajs if t.model})
    summary["behaviour"] = behaviour_metrics(trajs)
    return summary
