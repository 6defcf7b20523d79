"""looprl/analysis/roi.py and `looprl roi`: the formulas on a case worked by hand, the interval, the
inputs' validation, and the command end to end on run folders written by the real evaluation code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from looprl.analysis.roi import RoiError, RoiInputs, apply_hand_entries, break_even_tgc, estimate, measure_run, outcome, wilson_interval
from looprl.analysis.runs import load_run
from looprl.cli import app
from looprl.config import ConfigError, load_config

runner = CliRunner()

HAND = dict(
    tasks_per_month=1000,
    minutes_per_task=15,
    minutes_checking=2,
    hourly_cost=60,
    price_per_million_tokens=2,
    serving_price_per_hour=10,
    train_price_per_hour=3,
)


def test_outcome_on_a_case_worked_by_hand():
    inputs = RoiInputs(**HAND)
    o = outcome(inputs, tgc=0.5, tokens=5000, seconds=36, train_hours=10)
    # minutes saved a month = N (p m - c) = 1000 * (0.5 * 15 - 2) = 5,500; a year: 12 * 5,500 / 60 = 1,100 hours
    assert o.hours_per_year == pytest.approx(1100)
    assert o.labour_savings_per_year == pytest.approx(1100 * 60)  # 66,000
    # serving a task: 5,000 tokens / 1e6 * 2 = 0.01, plus 36 s / 3600 * 10 = 0.1: 0.11; a year: 12,000 tasks * 0.11 = 1,320
    assert o.serving_cost_per_year == pytest.approx(1320)
    assert o.net_savings_per_year == pytest.approx(66000 - 1320)  # 64,680
    assert o.training_cost == pytest.approx(30)  # 10 h * 3
    assert o.payback_months == pytest.approx(30 / (64680 / 12))  # 30 / 5,390 = 0.00557 months
    # break-even: (c + 60 * 0.11 / h) / m = (2 + 0.11) / 15 = 0.140667; net savings are 0 there
    p_star = break_even_tgc(inputs, 5000, 36)
    assert p_star == pytest.approx(2.11 / 15)
    assert outcome(inputs, p_star, 5000, 36, 10).net_savings_per_year == pytest.approx(0, abs=1e-9)


def test_failures_cost_checking_time_and_payback_edges():
    inputs = RoiInputs(**HAND)
    # p = 0: every result checked (2 min) and every task done by hand anyway: -12 * 1000 * 2 / 60 = -400 hours a year
    zero = outcome(inputs, 0.0, 5000, 36, 10)
    assert zero.hours_per_year == pytest.approx(-400) and zero.payback_months is None  # net < 0: never pays back
    assert outcome(inputs, 0.9, 5000, 36, 0).payback_months == 0  # nothing trained: nothing to pay back
    unknown = outcome(inputs, 0.9, 5000, 36, None)
    assert unknown.training_cost is None and unknown.payback_months is None
    # checking longer than the task itself: unreachable break-even (> 1)
    assert break_even_tgc(RoiInputs(minutes_per_task=5, minutes_checking=6, price_per_million_tokens=0), None, None) == pytest.approx(1.2)
    with pytest.raises(RoiError, match="tokens_per_episode"):
        outcome(inputs, 0.5, None, 36, 0)
    with pytest.raises(RoiError, match="seconds_per_episode"):
        outcome(inputs, 0.5, 5000, None, 0)


def test_wilson_interval_by_hand():
    # 9 of 24: z = 1.96, z²/n = 3.8415 / 24 = 0.16006; centre = (0.375 + 0.08003) / 1.16006 = 0.39225;
    # half = 1.96 / 1.16006 * sqrt(0.375 * 0.625 / 24 + 3.8415 / 2304) = 1.68953 * 0.106925 = 0.18065
    low, high = wilson_interval(9 / 24, 24)
    assert low == pytest.approx(0.39225 - 0.18065, abs=2e-4) and high == pytest.approx(0.39225 + 0.18065, abs=2e-4)
    # 0 of 24: low 0, high = (z²/n) / (1 + z²/n) = 0.16006 / 1.16006 = 0.13798
    assert wilson_interval(0.0, 24) == pytest.approx((0.0, 0.13798), abs=1e-4)
    assert wilson_interval(1.0, 24)[1] == 1.0
    with pytest.raises(ValueError, match="n >= 1"):
        wilson_interval(0.5, 0)


def test_estimate_spans_the_interval():
    from looprl.analysis.roi import Measured

    m = Measured(name="x", tgc=9 / 24, n_tasks=24, tokens_per_episode=5000, turns_per_episode=4, seconds_per_episode=36, train_hours=10)
    est = estimate(RoiInputs(**HAND), m)
    low, high = wilson_interval(9 / 24, 24)
    assert est["low"].tgc == low and est["point"].tgc == 9 / 24 and est["high"].tgc == high
    assert est["low"].net_savings_per_year < est["point"].net_savings_per_year < est["high"].net_savings_per_year
    assert est["break_even_tgc"] == pytest.approx(2.11 / 15)


@pytest.mark.parametrize(
    "override, field, said",
    [
        ("tgc=1.5", "tgc", "less than or equal to 1"),
        ("train_hours=-1", "train_hours", "greater than or equal to 0"),
        ("minutes_checking=-3", "minutes_checking", "greater than or equal to 0"),
        ("hourly_cost=0", "hourly_cost", "greater than 0"),
        ("tasks_per_mnth=3", "tasks_per_mnth", "Did you mean 'tasks_per_month'"),
    ],
)
def test_inputs_are_validated_with_the_field_the_value_and_what_is_allowed(override, field, said):
    with pytest.raises(ConfigError) as info:
        load_config(RoiInputs, None, [override])
    assert f"{field}:" in str(info.value) and said in str(info.value)
    result = runner.invoke(app, ["roi", "--set", "tgc=0.5", "--set", "n_eval_tasks=10", "--set", override])
    assert result.exit_code == 2 and field in result.output and said in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- run folders, as the real code writes them


def _eval_run(out: Path, *, adapter: str | None = None) -> Path:
    """An eval run written by looprl's own evaluation (looprl.rollout.evaluate + looprl.build.write_run_files),
    on the toy env with a scripted policy: toy_1 and toy_2 solved, toy_40 (41 turns) cut at 5 turns."""
    from looprl.backends.base import SamplingParams
    from looprl.build import write_run_files
    from looprl.config import EvalConfig
    from looprl.rollout import evaluate
    from looprl.testing import ScriptedPolicy, StepsEnv

    cfg = EvalConfig()
    cfg.model.adapter_path = adapter
    write_run_files(out, cfg, kind="eval", split="dev")
    sampling = SamplingParams(max_new_tokens=200)
    evaluate(ScriptedPolicy(), StepsEnv, ["toy_1", "toy_2", "toy_40"], sampling=sampling, max_turns=5, out_dir=out, progress=False, split="dev")
    return out


def _train_run(path: Path, seconds: list[float], *, start_adapter: str | None = None) -> Path:
    """A training run's files as looprl train writes them: run.json, config.yaml, metrics.jsonl rows."""
    path.mkdir(parents=True)
    hardware = {"cpu": {"model": "Test CPU", "cores": 2, "flags": ["avx2"]}, "gpus": ["NVIDIA H100"]}
    info = {"kind": "train", "name": path.name, "model": "m", "adapter": start_adapter, "method": "loop", "hardware": hardware}
    (path / "run.json").write_text(json.dumps(info))
    (path / "config.yaml").write_text(yaml.safe_dump({"model": {"name_or_path": "m", "adapter_path": start_adapter}}))
    rows = [{"iteration": i + 1, "time/iteration_s": s, "rollout/count": 16.0} for i, s in enumerate(seconds)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "checkpoints" / f"iter_{len(seconds):06d}" / "adapter").mkdir(parents=True)
    return path


def test_measure_run_reads_the_eval_and_the_adapters_training_lineage(tmp_path):
    sft = _train_run(tmp_path / "sft", [1800.0, 1800.0])
    loop = _train_run(tmp_path / "loop", [3600.0, 1800.0, 1800.0], start_adapter=str(sft / "checkpoints" / "iter_000002" / "adapter"))
    before = _eval_run(tmp_path / "eval_before")
    after = _eval_run(tmp_path / "eval_after", adapter=str(loop / "checkpoints" / "iter_000003" / "adapter"))
    summary = json.loads((after / "summary.json").read_text())

    m = measure_run(load_run(after))
    assert m.tgc == pytest.approx(2 / 3) and m.n_tasks == 3
    assert m.tokens_per_episode == summary["behaviour"]["tokens_per_episode"] and m.tokens_per_episode > 0
    assert m.seconds_per_episode == pytest.approx(summary["rollout"]["wall_s"] / summary["rollout"]["finished"])
    assert m.train_hours == pytest.approx(2 + 1)  # loop: 3,600 + 1,800 + 1,800 s = 2 h; sft: 3,600 s = 1 h
    assert m.rollouts == 5 * 16
    assert str(after / "summary.json") in m.sources["tgc"]
    assert "loop/metrics.jsonl" in m.sources["train_hours"] and "sft/metrics.jsonl" in m.sources["train_hours"]
    assert "loop: 1 x NVIDIA H100; Test CPU (2 cores, avx2)" in m.sources["hardware"] and "sft: " in m.sources["hardware"]
    assert measure_run(load_run(before)).train_hours == 0.0
    assert json.loads((before / "run.json").read_text())["hardware"]["cpu"]["cores"] >= 1  # write_run_files records it
    # moved: the adapter's recorded path is gone, its training run sits beside the eval run under the same name
    moved = _eval_run(tmp_path / "eval_moved", adapter="/elsewhere/loop/checkpoints/iter_000003/adapter")
    assert measure_run(load_run(moved)).train_hours == pytest.approx(3)
    lost = _eval_run(tmp_path / "eval_lost", adapter="/elsewhere/other/checkpoints/iter_000003/adapter")
    m_lost = measure_run(load_run(lost))
    assert m_lost.train_hours is None and "--set train_hours" in m_lost.sources["train_hours"]
    # a hand-entered figure replaces the run's and says so
    m_hand = apply_hand_entries(measure_run(load_run(lost)), RoiInputs(train_hours=4))
    assert m_hand.train_hours == 4 and m_hand.sources["train_hours"].startswith("entered by hand")


def test_roi_command_end_to_end_on_run_folders(tmp_path):
    loop = _train_run(tmp_path / "loop", [3600.0, 3600.0])
    before = _eval_run(tmp_path / "eval_before")
    after = _eval_run(tmp_path / "eval_after", adapter=str(loop / "checkpoints" / "iter_000002" / "adapter"))
    sets = ["--set", "tasks_per_month=2000", "--set", "minutes_per_task=20", "--set", "train_price_per_hour=30", "--set", "serving_price_per_hour=0"]
    res = runner.invoke(app, ["roi", str(before), str(after), *sets, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["inputs"]["tasks_per_month"] == 2000 and [r["measured"]["name"] for r in out["runs"]] == ["eval_before", "eval_after"]
    trained = out["runs"][1]
    tokens = trained["measured"]["tokens_per_episode"]
    # by hand: 12 * 2000 * (2/3 * 20 - 2) / 60 hours = 4,533.3; labour at 50/h; serving 24,000 tasks * tokens / 1e6 * 1.0
    assert trained["point"]["hours_per_year"] == pytest.approx(12 * 2000 * (2 / 3 * 20 - 2) / 60)
    net = 12 * 2000 * (2 / 3 * 20 - 2) / 60 * 50 - 24000 * tokens / 1e6
    assert trained["point"]["net_savings_per_year"] == pytest.approx(net)
    assert trained["point"]["training_cost"] == pytest.approx(2 * 30) and trained["point"]["payback_months"] == pytest.approx(60 / (net / 12))
    assert out["runs"][0]["point"]["training_cost"] == 0
    low, high = wilson_interval(2 / 3, 3)
    assert trained["low"]["tgc"] == pytest.approx(low) and trained["high"]["tgc"] == pytest.approx(high)

    table = runner.invoke(app, ["roi", str(before), str(after), *sets])
    assert table.exit_code == 0, table.output
    for label in ("hours reclaimed / year", "net savings / year", "serving cost / year", "training cost (one time)", "payback", "break-even TGC"):
        assert label in table.output
    assert "66.7% [20.8% to 93.9%] of 3" in table.output  # Wilson, 2 of 3
    assert f"{12 * 2000 * (2 / 3 * 20 - 2) / 60:,.0f}" in table.output
    assert "eval_after/summary.json" in table.output and "loop/metrics.jsonl" in table.output


def test_roi_command_by_hand_and_its_errors(tmp_path):
    hand = ["--set", "tgc=0.713", "--set", "n_eval_tasks=168", "--set", "price_per_million_tokens=0", "--set", "label=paper"]
    res = runner.invoke(app, ["roi", *hand, "--json"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.output)["runs"][0]
    assert run["measured"]["name"] == "paper" and run["point"]["training_cost"] is None  # no training hours given: unknown, not 0
    assert run["low"]["tgc"] == pytest.approx(wilson_interval(0.713, 168)[0])

    for args, said in [
        ([], "give a run folder"),
        (["--set", "tgc=0.5"], "n_eval_tasks"),
        ([str(tmp_path / "missing")], "does not exist"),
        ([str(tmp_path)], "is it a run directory"),
    ]:
        result = runner.invoke(app, ["roi", *args])
        assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output, result.output
    # a run without token counts cannot be priced per token: say which run and what to set
    (tmp_path / "chat").mkdir()
    from looprl.trajectory import Trajectory, write_jsonl

    write_jsonl(tmp_path / "chat" / "rollouts.jsonl", [Trajectory(task_id="t1", messages=[{"role": "user", "content": "x"}], success=True)])
    result = runner.invoke(app, ["roi", str(tmp_path / "chat")])
    assert result.exit_code == 2 and "chat: tokens per episode were not measured" in result.output and "price_per_million_tokens=0" in result.output
    ok = runner.invoke(app, ["roi", str(tmp_path / "chat"), "--set", "price_per_million_tokens=0"])
    assert ok.exit_code == 0 and "100.0%" in ok.output


def test_roi_command_on_a_real_tiny_model_eval(tiny_model_dir, tmp_path):
    """`looprl eval` of the tiny model (toy env, 2 tasks), then `looprl roi` on its folder."""
    out = tmp_path / "eval-tiny"
    args = ["eval", "--model", str(tiny_model_dir), "--out", str(out), "--max-tasks", "2", "--no-progress"]
    args += ["--set", "env.name=toy", "--set", "rollout.scaffold=env", "--set", "rollout.sampling.max_new_tokens=6"]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, ["roi", str(out), "--json", "--set", "serving_price_per_hour=4"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.output)["runs"][0]
    summary = json.loads((out / "summary.json").read_text())
    assert run["measured"]["tgc"] == summary["tgc"] and run["measured"]["n_tasks"] == 2
    per_task = summary["behaviour"]["tokens_per_episode"] / 1e6 * 1.0 + summary["rollout"]["wall_s"] / summary["rollout"]["finished"] / 3600 * 4
    assert run["point"]["serving_cost_per_year"] == pytest.approx(12 * 1000 * per_task)
    assert run["point"]["training_cost"] == 0.0


def test_cpu_info_reads_model_and_the_flags_that_decide_dtype():
    from looprl.utils.hardware import cpu_info, hardware_line

    text = "processor : 0\nmodel name : Intel Xeon 8480\nflags : fpu avx2 avx512f amx_bf16 amx_tile sse\n"
    info = cpu_info(text)
    assert info["model"] == "Intel Xeon 8480" and info["flags"] == ["avx2", "avx512", "amx_bf16", "amx_tile"]
    line = hardware_line({"cpu": {**info, "cores": 2}, "gpus": ["NVIDIA H100", "NVIDIA H100"]})
    assert line == "2 x NVIDIA H100; Intel Xeon 8480 (2 cores, avx2, avx512, amx_bf16, amx_tile)"
    assert hardware_line(None) == "not recorded"
