"""Resumable multi-stage experiments on the built-in world: the pieces benchmarks/bench_generalization.py
and benchmarks/reproduce.py share.

An experiment is a list of stages (a warm-up, a training run, a greedy evaluation, ...), each a
looprl run directory that itself resumes from its last checkpoint. `Marks` records in one state file
which stages are done (written atomically after each), and `Stages` runs a stage only when it is not
marked, recording its wall seconds, so a killed experiment continues where it stopped and a rerun
of a finished one redoes nothing. The training and evaluation stages themselves are the demo's
(looprl.demo: `sft_config`, `loop_config`, `eval_config`, `train_stage`, `latest_adapter`), sampled
by one local vLLM server (`looprl.demo.rollout_server`) or by transformers in this process.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["Marks", "Stages", "tgc_and_reward", "eval_numbers", "evaluate_run", "mean_sd", "task_sequence"]


class Marks:
    """Which stages are done (a JSON file, written atomically after each): stage key -> what was recorded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}

    def done(self, key: str) -> bool:
        return key in self.data

    def mark(self, key: str, **info: Any) -> None:
        from looprl.utils.io import atomic_write_json

        self.data[key] = info
        atomic_write_json(self.path, self.data)

    def seconds(self, key: str) -> float:
        return float(self.data.get(key, {}).get("seconds", 0.0))


class Stages:
    """Run stages once: `stages(key, fn, *args)` calls fn(*args) unless `key` is marked done, then
    marks it with its wall seconds and prints `[tag] key: N s`."""

    def __init__(self, marks: Marks, tag: str) -> None:
        self.marks, self.tag = marks, tag

    def __call__(self, key: str, fn: Callable[..., Any], *args: Any) -> None:
        if self.marks.done(key):
            return
        t0 = time.perf_counter()
        fn(*args)
        self.marks.mark(key, seconds=round(time.perf_counter() - t0, 1))
        print(f"[{self.tag}] {key}: {self.marks.seconds(key):.0f} s", flush=True)

    def pending(self, keys: list[str]) -> bool:
        return any(not self.marks.done(k) for k in keys)


def tgc_and_reward(eval_dir: Path) -> dict[str, float]:
    """TGC (in %), mean reward and task count of an eval run directory, from its rollouts."""
    from looprl.analysis import load_run

    trajectories = load_run(eval_dir).trajectories
    n = max(len(trajectories), 1)
    return {"tgc": 100.0 * sum(bool(t.success) for t in trajectories) / n, "reward": sum(t.reward for t in trajectories) / n, "tasks": len(trajectories)}


def eval_numbers(eval_dir: Path) -> dict[str, Any]:
    """TGC and SGC (in %), mean reward and counts of an eval run directory, as its summary.json
    (looprl.rollout.evaluate) records them, with that file's path."""
    path = Path(eval_dir) / "summary.json"
    s = json.loads(path.read_text())
    return {
        "tgc": 100.0 * s["tgc"],
        "sgc": 100.0 * s["sgc"],
        "reward": s.get("reward_mean"),
        "tasks": s["n_tasks"],
        "scenarios": s["n_scenarios"],
        "source": str(path),
    }


def evaluate_run(
    cfg, model_path: str, trained: Path | None, method: str | None, backend: str, url: str | None, split: str, task_ids: list[str], where: Path, label: str
) -> None:
    """Greedy evaluation of the newest adapter of the run `trained` (None: the base model) on exactly
    `task_ids`, written as an eval run directory `where` (cfg: a DemoConfig)."""
    from looprl.demo import eval_config, latest_adapter, run_evaluation

    adapter = latest_adapter(trained) if trained is not None else None
    run_evaluation(eval_config(cfg, model_path, adapter, backend, url, split=split), task_ids, where, label, method)


def mean_sd(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), count, min and max."""
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
        "min": min(values),
        "max": max(values),
    }


def task_sequence(cfg, n: int) -> list[str]:
    """The first `n` training tasks a run of `cfg` (a TrainConfig) draws, in order: the trainer's own
    sampler (looprl.training.sampler), so runs of other methods can be given exactly these tasks."""
    from looprl.training.sampler import TaskSampler
    from looprl.training.trainer import resolve_task_ids

    split = cfg.tasks.train_split
    fresh = (lambda epoch: resolve_task_ids(cfg, split, epoch=epoch)) if cfg.tasks.fresh_instances else None
    return TaskSampler(resolve_task_ids(cfg, split), cfg.seed, fresh=fresh).sample(n)
