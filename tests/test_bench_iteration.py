"""benchmarks/bench_iteration.py at its smallest size on the tiny model: both pipelines run side by side,
the phases come from the trainer's time/* metrics, FLOPs follow the docstring's formula, and a ratio
is written only when the load average allowed it."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from looprl.utils.flops import machine_is_idle, useful_flops

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_iteration.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_iteration", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_useful_flops_follow_the_formula():
    shape = {"hidden": 4, "layers": 2, "heads": 2, "kv_heads": 1, "head_dim": 2, "intermediate": 8, "vocab": 10}
    f_lin = 2 * 2 * (4 * 2 * 2 + 2 * 4 * 1 * 2 + 2 * 2 * 4 + 3 * 4 * 8)  # 2 layers
    attn = lambda n: sum(2 * 4 * 2 * 2 * c for c in range(1, n + 1))  # noqa: E731 - L * 4 * h * d_h * c, summed over positions
    head = 2 * 4 * 10
    got = useful_flops(shape, [(3, 1), (5, 2)], [(5, 2)], epochs=2)
    assert got["sampling"] == 8 * f_lin + attn(3) + attn(5) + 3 * head
    assert got["old_logprob"] == 5 * f_lin + attn(5) + 2 * head
    assert got["training"] == 2 * (2 * 5 * f_lin + 3 * attn(5) + 2 * 2 * head)
    assert got["total"] == got["sampling"] + got["old_logprob"] + got["training"]


def test_a_machine_is_idle_at_half_its_cores_or_less():
    assert machine_is_idle(1.0, 2) and not machine_is_idle(1.01, 2)


@pytest.mark.timeout(900)
def test_bench_iteration_smoke(tiny_model_dir, tmp_path):
    bench = _bench()
    args = ["--model-path", str(tiny_model_dir), "--iterations", "1", "--tasks", "1", "--k", "2", "--peak-seconds", "0.05", "--peak-size", "64"]
    args += ["--set", "env.max_turns=1", "--set", "rollout.sampling.max_new_tokens=8", "--set", "rollout.concurrency=2", "--out", str(tmp_path)]
    assert bench.main(args) == 0
    result = json.loads((tmp_path / "bench_iteration.json").read_text())
    assert [p["max_staleness"] for p in result["pipelines"]] == [0, 1]
    for p in result["pipelines"]:
        assert p["rollouts"] == 2 and p["iterations"] == 1
        assert p["phases_s"]["collect"] > 0 and p["wall_s"] >= p["phases_s"]["collect"]
        # collection split into sampling and env work, from the trainer's time/generate_s and time/env_s
        assert 0 < p["phases_s"]["generate"] <= p["phases_s"]["collect"]
        assert p["phases_s"]["generate"] + p["phases_s"]["env"] == pytest.approx(p["phases_s"]["collect"])
        assert p["peak_rss_mib"] > 0 and p["cpu_s"] > 0
        assert 0 < p["utilization"]["fp32"] and p["useful_flops"]["sampling"] > 0
    assert result["machine"]["cpu"]["cores"] == os.cpu_count() and result["peak_gflops"]["fp32"] > 0
    loaded = result["load_average"]["loaded_at_start"]
    assert (result["ratio_rollouts_per_hour"] is None) == loaded  # refused under load, without --allow-load
    assert (result["ratio_refused"] is not None) == loaded
    table = (tmp_path / "bench_iteration.md").read_text()
    assert "max_staleness 1" in table and ("No ratio: load average" in table) == loaded
    assert "collection, a sampler call in flight s" in table and "collection, no sampler call running (env work) s" in table


def test_pipelines_name_a_sampler_each_and_bad_ones_are_refused(capsys):
    bench = _bench()
    assert bench._pipeline("openvino:1") == ("openvino", 1) and bench._pipeline("vllm:0") == ("vllm", 0)
    for bad in ("openvino", "tgi:0", "vllm:x"):
        with pytest.raises(SystemExit):
            bench.main(["--pipelines", bad])
        assert "expected SAMPLER:STALENESS" in capsys.readouterr().err


def test_waits_for_the_machine_to_be_idle_and_judges_load_by_the_start(monkeypatch):
    """The benchmark's own work makes the end-of-run load about the core count: other work is judged by
    the load before it starts, which it waits (boundedly) to fall to half the cores."""
    bench = _bench()
    loads = iter([(3.0, 2.0, 1.0), (1.5, 2.0, 1.0), (0.8, 1.9, 1.0), (0.1, 0.1, 0.1)])
    monkeypatch.setattr(bench.os, "getloadavg", lambda: next(loads))
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    assert bench.wait_for_idle(2, wait_s=60) == (0.8, 1.9, 1.0)  # 0.8 <= 2 / 2: stops waiting there
    monkeypatch.setattr(bench.os, "getloadavg", lambda: (4.0, 4.0, 4.0))
    assert bench.wait_for_idle(2, wait_s=0) == (4.0, 4.0, 4.0)  # no wait asked: the load as it is
