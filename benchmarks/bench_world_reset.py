"""Benchmark: how fast the built-in world builds and resets.

Measures, in one process:

* ``base_build_s``: generating the whole base world from scratch (`build_base`, every app's seed),
  median over `--builds` runs;
* per task, the time to make a fresh task world (`World.for_task`: deserialize the cached base
  snapshot, insert the task record, run the task's setup, snapshot the initial state), `--repeats`
  times per task over every task of every split (or `--split`); reported as median, p90 and max ms;
* ``evaluate_ms``: the state-diff evaluation of an untouched task world (median over tasks), which
  every episode pays once at the end.

Task generation (`load_tasks`) is done once before timing. Writes JSON to `--out`
(default benchmarks/results/world_reset.json).

    python benchmarks/bench_world_reset.py
    python benchmarks/bench_world_reset.py --split dev --repeats 3 --out /tmp/reset.json
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(split: str | None, repeats: int, builds: int) -> dict:
    from looprl.world.state import World, base_bytes, build_base
    from looprl.world.tasks import load_tasks

    build_times = []
    for _ in range(builds):
        t0 = time.perf_counter()
        build_base().close()
        build_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    tasks = load_tasks(split)
    task_generation_s = time.perf_counter() - t0
    base_size = len(base_bytes())

    reset_ms: list[float] = []
    evaluate_ms: list[float] = []
    for task in tasks:
        for _ in range(repeats):
            t0 = time.perf_counter()
            world = World.for_task(task)
            reset_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        world.evaluate()
        evaluate_ms.append((time.perf_counter() - t0) * 1000)
        world.db.close()
    return {
        "benchmark": "world_reset",
        "split": split or "all",
        "tasks": len(tasks),
        "repeats_per_task": repeats,
        "base_build_s": round(statistics.median(build_times), 4),
        "base_build_runs": builds,
        "base_snapshot_mib": round(base_size / 2**20, 3),
        "task_generation_s": round(task_generation_s, 4),
        "reset_ms_median": round(statistics.median(reset_ms), 3),
        "reset_ms_p90": round(_percentile(reset_ms, 0.9), 3),
        "reset_ms_max": round(max(reset_ms), 3),
        "evaluate_ms_median": round(statistics.median(evaluate_ms), 3),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default=None, help="only this split's tasks (default: every split)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh worlds made per task (default 5)")
    parser.add_argument("--builds", type=int, default=3, help="from-scratch base builds timed (default 3)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "world_reset.json", help="where to write the JSON result")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.builds < 1:
        parser.error(f"--repeats and --builds must be >= 1, got {args.repeats} and {args.builds}")

    from looprl.utils.io import atomic_write_json

    result = run(args.split, args.repeats, args.builds)
    atomic_write_json(args.out, result)
    print(
        f"wrote {args.out}: {result['tasks']} tasks, reset median {result['reset_ms_median']} ms, p90 {result['reset_ms_p90']} ms, "
        f"base build {result['base_build_s']} s"
    )
    return result


if __name__ == "__main__":
    main()
