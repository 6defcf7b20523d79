"""Load without leaks: 64 concurrent built-in-world episodes (a world and a sandbox worker each), for
several iterations; descriptors, child processes and threads are back to their starting counts after
every iteration (benchmarks/bench_load.py, which also reports peak memory)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_load.py"
    spec = importlib.util.spec_from_file_location("bench_load", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_64_concurrent_episodes_leave_nothing_behind():
    report = _bench().run_load(episodes=64, iterations=3)
    before = report["before"]
    for row in report["per_iteration"]:
        assert row["rollouts"] == 64 and row["infra_failed"] == 0
        assert (row["open_fds"], row["children"], row["threads"]) == (before["open_fds"], before["children"], before["threads"]), row
    assert report["peak_child_rss_mb"] > 0 and report["peak_rss_mb"] > 0
