"""benchmarks/bench_sampler.py on the tiny model with the transformers engine only: the prompts are the
collector's own (later turns extend earlier ones), an engine that cannot run is reported and skipped,
the JSON has every metric, the trainer's logprobs agree with transformers sampling itself, and no
ratio is written without the vllm baseline. Nothing is installed (no openvino)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from looprl.utils.flops import useful_flops

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sampler.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sampler", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sampler"] = module  # its dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_recorded_calls_are_linked_into_episodes_by_their_growing_prompts():
    bench = _bench()
    calls = [
        ([1, 2, 3], 8, [4, 5]),  # episode A, turn 0
        ([1, 2, 3], 8, [6]),  # episode B (same task: the same first prompt), turn 0
        ([1, 2, 3, 6, 9, 9], 8, [7]),  # B, turn 1: B's prompt + reply + an observation
        ([1, 2, 3, 4, 5, 9], 4, [8]),  # A, turn 1, a smaller budget
        ([1, 2, 3, 4, 5, 9, 8, 9], 4, []),  # A, turn 2
    ]
    episodes = bench.link_episodes(calls)
    assert [[t["prompt"] for t in ep] for ep in episodes] == [[[1, 2, 3], [1, 2, 3, 4, 5, 9], [1, 2, 3, 4, 5, 9, 8, 9]], [[1, 2, 3], [1, 2, 3, 6, 9, 9]]]
    assert [t["max_new_tokens"] for t in episodes[0]] == [8, 4, 4]


def test_useful_flops_leave_out_the_prefix_a_cache_could_hold():
    bench = _bench()
    shape = {"hidden": 4, "layers": 2, "heads": 2, "kv_heads": 1, "head_dim": 2, "intermediate": 8, "vocab": 10}
    first, later = {"prompt": [1, 2, 3, 4, 5]}, {"prompt": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    episodes = [{"turns": [first, later]}, {"turns": [first]}, {"turns": [{"prompt": [1, 2, 7]}]}]
    # a later turn holds its previous prompt; the same task's second episode its whole first prompt; another task the shared system tokens
    assert bench.cached_prefixes(episodes) == {(0, 0): 0, (1, 0): 5, (2, 0): 2, (0, 1): 5}
    requests = [{"episode": 0, "turn": 0, "token_ids": [1, 1]}, {"episode": 0, "turn": 1, "token_ids": [1]}, {"episode": 1, "turn": 0, "token_ids": [1]}]
    forward = lambda n, s: useful_flops(shape, [(n, s)], [], 0)["sampling"]  # noqa: E731
    expected = forward(7, 2) + forward(10, 1) - forward(5, 0) + forward(6, 1) - forward(5, 0)
    assert bench.request_flops(shape, episodes, requests) == pytest.approx(expected)


def test_the_goal_needs_ratios_for_3x_and_half_the_peak_for_the_other():
    bench = _bench()
    rows = [{"engine": "vllm", "available": True, "utilization": {"judged": 0.1}}, {"engine": "x", "available": True, "utilization": {"judged": 0.6}}]
    assert bench.verdict(rows, None) == {"three_x_vllm": [], "half_compute_limit": ["x"], "reached": "50% of the compute limit"}
    assert bench.verdict(rows, {"vllm": 1.0, "x": 3.2})["three_x_vllm"] == ["x"]
    rows[1]["utilization"]["judged"] = 0.2
    assert bench.verdict(rows, {"vllm": 1.0, "x": 2.9})["reached"] is None


def test_llamacpp_runs_in_bf16_only_where_the_cpu_has_bf16_instructions():
    bench = _bench()
    assert "llamacpp-bf16" in bench.default_engines(["avx2", "avx512", "amx_bf16"])
    assert "llamacpp-f32" in bench.default_engines(["avx2"]) and "llamacpp-bf16" not in bench.default_engines(["avx2"])


@pytest.mark.timeout(900)
def test_bench_sampler_smoke(tiny_model_dir, tmp_path, monkeypatch):
    bench = _bench()
    # an engine whose module does not exist: reported as not available and skipped, not a failure
    monkeypatch.setitem(bench.ENGINES, "missing", bench.EngineSpec("looprl.backends.no_such_sampler", "fp32", "none", ()))
    args = ["--model-path", str(tiny_model_dir), "--engines", "transformers", "missing", "--tasks", "1", "--k", "2", "--concurrency", "2"]
    args += ["--set", "env.max_turns=2", "--set", "rollout.sampling.max_new_tokens=8", "--gap-requests", "0"]
    args += ["--peak-seconds", "0.05", "--peak-size", "64", "--out", str(tmp_path)]
    assert bench.main(args) == 0

    prompts = json.loads((tmp_path / "prompts.json").read_text())
    assert len(prompts["episodes"]) == 2 and prompts["sampling"]["temperature"] == 0.7  # the demo's
    for ep in prompts["episodes"]:
        turns = [t["prompt"] for t in ep["turns"]]
        assert 1 <= len(turns) <= 2 and all(later[: len(earlier)] == earlier for earlier, later in zip(turns, turns[1:]))

    result = json.loads((tmp_path / "bench_sampler.json").read_text())
    hf, missing = result["engines"]
    assert missing == {"engine": "missing", "available": False, "reason": "no module looprl.backends.no_such_sampler here"}
    assert hf["engine"] == "transformers" and hf["available"]
    n_requests = sum(len(ep["turns"]) for ep in prompts["episodes"])
    assert hf["requests"] == n_requests and hf["generated_tokens"] > 0 and hf["prompt_tokens"] > 0
    assert hf["generated_tokens_per_s"] == pytest.approx(hf["generated_tokens"] / hf["wall_s"])
    assert hf["startup_s"] > 0 and set(hf["ttft_s"]) == {"first_turn", "later_turn"} and hf["peak_rss_mib"] > 0
    assert hf["utilization"]["judged"] == hf["utilization"]["fp32"] > 0 and hf["prefix_caching"] is None
    gap = hf["logprob_gap"]  # transformers sampling against the trainer's own logprobs: the same model, the same temperature
    assert gap["requests"] == n_requests and gap["tokens"] == hf["generated_tokens"] and gap["policy_temperature"] == 0.7
    assert gap["max_abs"] < 1e-3 and gap["ratio_mean"] == pytest.approx(1.0, abs=1e-3)
    assert result["ratios_vs_vllm"] is None and result["ratios_refused"].startswith("no vllm row")
    assert set(result["goal"]) == {"three_x_vllm", "half_compute_limit", "reached"} and result["goal"]["three_x_vllm"] == []
    assert result["machine"]["cpu"]["cores"] > 0 and result["peak_gflops"]["fp32"] > 0
    table = (tmp_path / "bench_sampler.md").read_text()
    assert table.startswith("# bench_sampler\n\n`python benchmarks/bench_sampler.py --model-path")
    assert "| missing | not available: no module looprl.backends.no_such_sampler here |" in table
