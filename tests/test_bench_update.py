"""benchmarks/bench_update.py's smoke path on the tiny model, looprl's side only (CI never installs
TRL): the step runs, its facts (threads, autocast, MFU against the peak measured in the run, load
average) are written, and no ratio appears without both sides; the ratio rule refuses a loaded machine."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_update.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_update", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("autocast", ["off", "bfloat16"])
def test_the_looprl_side_runs_on_the_tiny_model_without_trl(tmp_path, autocast):
    out = tmp_path / "bench_update.json"
    args = ["--model", "tiny", "--sides", "looprl", "--steps", "1", "--peak-seconds", "0.05", "--peak-size", "128", "--autocast", autocast]
    proc = subprocess.run([sys.executable, str(BENCH), *args, "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    side = report["looprl"]
    assert side["step_s"] > 0 and side["peak_mem_mib"] > 0 and side["torch_threads"] >= 1
    assert side["autocast"] == autocast and side["weights_dtype"] == "float32"
    dtype = "bf16" if autocast == "bfloat16" else "fp32"
    peak = report["peak_gflops"][dtype] * 1e9
    assert side["mfu"] == pytest.approx(report["useful_gflop_per_step"] * 1e9 / side["step_s"] / peak)
    assert len(report["load_avg_before"]) == 3 and "load_avg_1m_after" in report
    assert report["batch"] == {"trajectories": 8, "prompt_len": 64, "completion_len": 64}  # the batch
    assert "trl" not in report and "ratio_step_time_looprl_over_trl" not in report


def test_one_step_counts_forward_and_backward_with_the_head_at_completion_tokens():
    from looprl.utils.flops import model_shape, useful_flops

    bench = _bench()

    class Args:
        model, prompts, k, prompt_len, completion_len = "tiny", 2, 4, 64, 64

    rows = [(128, 64)] * 8
    want = useful_flops(model_shape(bench._model_path("tiny")), rows, rows, epochs=1)["training"]
    assert bench.step_flops(Args) == want > 0


def test_a_ratio_needs_both_sides_and_an_idle_machine():
    ratio_fields = _bench().ratio_fields
    both = {"looprl": {"step_s": 2.0, "peak_mem_mib": 100.0}, "trl": {"step_s": 4.0, "peak_mem_mib": 200.0}}
    assert ratio_fields(both, 0.5, 2, False) == {"ratio_step_time_looprl_over_trl": 0.5, "ratio_peak_mem_looprl_over_trl": 0.5}
    refused = ratio_fields(both, 1.6, 2, False)
    assert list(refused) == ["ratio_refused"] and "1.60" in refused["ratio_refused"] and "--allow-load" in refused["ratio_refused"]
    assert ratio_fields(both, 1.6, 2, True)["measured_under_load"] is True
    assert ratio_fields({"looprl": both["looprl"], "trl": {"error": "boom"}}, 0.5, 2, False) == {}


def test_unknown_sides_are_refused(tmp_path):
    cmd = [sys.executable, str(BENCH), "--sides", "looprl,trlx", "--out", str(tmp_path / "x.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "--sides takes looprl and/or trl" in proc.stderr
