"""Benchmark: load without leaks. Runs `--episodes` concurrent episodes (all alive at once) on the
built-in world, `--iterations` times, with a scripted policy (no model: the host's own machinery is what
is measured: a world and a sandbox worker per episode, the collector's threads), and records, before the
first and after every iteration: open file descriptors (/proc/self/fd), live child processes, threads,
resident memory; and the peak resident memory of the host and of its largest child.

Bounded means: after each iteration the descriptors, children and threads are back to where they
started, so the count cannot grow with the number of iterations. Writes JSON to `--out` (default
benchmarks/results/bench_load.json); tests/faults/test_load.py runs it at 64 episodes.

    python benchmarks/bench_load.py
    python benchmarks/bench_load.py --episodes 128 --iterations 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path


def _complete_at_once(prompt: str) -> str:
    return "Done.\n```python\napis.supervisor.complete_task()\n```"


def snapshot() -> dict:
    import psutil

    me = psutil.Process()
    return {
        "open_fds": len(os.listdir("/proc/self/fd")),
        "children": len(me.children(recursive=True)),
        "threads": threading.active_count(),
        "rss_mb": round(me.memory_info().rss / 2**20, 1),
    }


def run_load(episodes: int = 64, iterations: int = 3) -> dict:
    from looprl.backends.base import SamplingParams
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.rollout import collect
    from looprl.testing import ScriptedPolicy
    from looprl.world import load_tasks

    tasks = [t.id for t in load_tasks("train")]
    ids = [tasks[i % len(tasks)] for i in range(episodes)]
    sampling = SamplingParams(max_new_tokens=200)
    policy = ScriptedPolicy(_complete_at_once)
    collect(policy, AppSuiteEnv, ids[:1], k=1, sampling=sampling, progress=False)  # warm-up: caches, the isolation probe
    before = snapshot()
    rows = []
    for i in range(iterations):
        t0 = time.perf_counter()
        result = collect(policy, AppSuiteEnv, ids, k=1, sampling=sampling, concurrency=episodes, progress=False)
        rows.append({"iteration": i + 1, "wall_s": round(time.perf_counter() - t0, 2), "rollouts": len(result.trajectories),
                     "infra_failed": sum(t.infra_failed for t in result.trajectories), **snapshot()})  # fmt: skip
    after = rows[-1]
    return {
        "episodes": episodes,
        "concurrency": episodes,
        "iterations": iterations,
        "before": before,
        "per_iteration": rows,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_child_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "leaked": {k: after[k] - before[k] for k in ("open_fds", "children", "threads")},
        "python": sys.version.split()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_load.json"))
    args = ap.parse_args()
    report = run_load(args.episodes, args.iterations)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
