"""Benchmark: the appsuite env and its sandboxed REPL (worker start-up, API round trip, episode steps/s).

Measures, for each isolation mode available here ("bwrap", "unshare"):

* startup_ms: from `Sandbox(...)` to the worker's `ready` report (fresh interpreter + lock-down);
* empty_cell_ms: a cell that does nothing (one pipe round trip to the worker and back);
* api_round_trip_us: per `apis.*` call inside one cell, over a host handler that returns at once;
* gt_steps_per_s: ground-truth solutions of `--tasks` tasks replayed through `step()` one statement
  per turn, sequentially, a fresh env per episode as the rollout collector does (includes reset,
  world setup, worker start and evaluation); `..._reused_env_prespawn`: one env reused, its next
  worker pre-spawned during each episode;
* concurrent_steps_per_s: the same episodes, `--concurrency` at once in threads.

Writes JSON (`--out`, default benchmarks/results/bench_env.json).

    python benchmarks/bench_env.py --tasks 32 --concurrency 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def _sandbox_numbers(isolation: str, repeat: int) -> dict:
    from looprl.env.sandbox import Sandbox

    def start_once():
        box = Sandbox(lambda *a: None, isolation=isolation)
        _ = box.protections  # reading it waits for `ready`
        box.close()

    box = Sandbox(lambda app, api, kwargs: 1, isolation=isolation)
    box.run("pass")
    calls = 2000
    start = time.perf_counter()
    box.run(f"for i in range({calls}):\n    apis.a.b(i=i)")
    per_call_us = (time.perf_counter() - start) / calls * 1e6
    numbers = {
        "startup_ms": _median_ms(start_once, repeat),
        "empty_cell_ms": _median_ms(lambda: box.run("pass"), repeat * 5),
        "api_round_trip_us": round(per_call_us, 2),
    }
    box.close()
    return numbers


def _episode(args) -> int:
    from looprl.env import make_env

    task_id, turns, isolation = args
    env = make_env("appsuite", isolation=isolation)
    steps = 0
    try:
        env.reset(task_id)
        for turn in turns:
            steps += 1
            if env.step(f"```python\n{turn}\n```").terminated:
                break
    finally:
        env.close()
    return steps


def _reused_env_seconds(isolation: str, tasks: list) -> float:
    """One env for all episodes, its next worker pre-spawned during each episode."""
    from looprl.env import make_env
    from looprl.env.cells import split_into_turns

    env = make_env("appsuite", isolation=isolation, prespawn=True)
    start = time.perf_counter()
    for task in tasks:
        env.reset(task.id)
        for turn in split_into_turns(task.solution):
            if env.step(f"```python\n{turn.code}\n```").terminated:
                break
    seconds = time.perf_counter() - start
    env.close()
    return seconds


def _episode_numbers(isolation: str, tasks: list, concurrency: int) -> dict:
    from looprl.env.cells import split_into_turns

    jobs = [(t.id, [turn.code for turn in split_into_turns(t.solution)], isolation) for t in tasks]
    start = time.perf_counter()
    steps = sum(_episode(job) for job in jobs)
    sequential = time.perf_counter() - start
    reused = _reused_env_seconds(isolation, tasks)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        steps_c = sum(pool.map(_episode, jobs))
    concurrent = time.perf_counter() - start
    return {
        "episodes": len(tasks),
        "steps": steps,
        "gt_steps_per_s": round(steps / sequential, 1),
        "gt_episode_ms": round(sequential / len(tasks) * 1000, 1),
        "gt_steps_per_s_reused_env_prespawn": round(steps / reused, 1),
        "concurrency": concurrency,
        "concurrent_steps_per_s": round(steps_c / concurrent, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=32, help="ground-truth episodes per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="episodes at once in the concurrent run")
    parser.add_argument("--repeat", type=int, default=10, help="repetitions for the start-up and cell timings")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_env.json"))
    args = parser.parse_args()

    from looprl.env.sandbox import bwrap_available, sandbox_protections
    from looprl.utils.io import atomic_write_json
    from looprl.world import SPLITS, load_tasks

    tasks = [t for split in SPLITS for t in load_tasks(split)][: args.tasks]
    modes = ["bwrap", "unshare"] if bwrap_available() else ["unshare"]
    results = {
        "benchmark": "bench_env",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "modes": {},
    }
    for mode in modes:
        numbers = {"protections": sandbox_protections(mode)}
        numbers.update(_sandbox_numbers(mode, args.repeat))
        numbers.update(_episode_numbers(mode, tasks, args.concurrency))
        results["modes"][mode] = numbers
        print(mode, json.dumps({k: v for k, v in numbers.items() if k != "protections"}))
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
