"""`looprl demo` end to end on the tiny model (the real demo uses SmolLM2 and ~25 minutes)."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from typer.testing import CliRunner

from looprl.backends.vllm import vllm_ready
from looprl.cli import app


def test_demo_runs_every_stage_then_resumes_without_redoing_work(tiny_model_dir, tmp_path):
    run_dir = tmp_path / "demo"
    args = ["demo", "--run-dir", str(run_dir),
            "--set", f"train.model.name_or_path={tiny_model_dir}", "--set", "dev_tasks=1", "--set", "train_tasks=1",
            "--set", "sft_epochs=1", "--set", "sampler=transformers", "--set", "train.trainer.iterations=1",
            "--set", "train.trainer.tasks_per_iteration=1", "--set", "train.trainer.rollouts_per_task=2",
            "--set", "train.env.max_turns=1", "--set", "train.env.eval_max_turns=1",
            "--set", "train.rollout.sampling.max_new_tokens=8"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    state = json.loads((run_dir / "demo_state.json").read_text())["done"]
    assert set(state) == {"model", "before", "sft", "warmup", "loop", "after", "report"}
    for part in ("eval_before/rollouts.jsonl", "eval_after/summary.json", "eval_before_train/rollouts.jsonl",
                 "eval_after_train/summary.json", "eval_warmup/summary.json", "eval_warmup_train/summary.json",
                 "loop/metrics.jsonl", "sft/metrics.jsonl", "report.html"):
        assert (run_dir / part).is_file(), part
    result = json.loads((run_dir / "before_after.json").read_text())
    assert {"reward_mean", "metrics", "loop", "training_tasks"} <= set(result) and result["loop"]["iterations"] == 1
    assert {"reward_mean", "metrics"} <= set(result["training_tasks"])
    # the warm-up's adapter was evaluated on its own: three columns, before / after SFT-GT / after LOOP
    assert set(result["reward_mean"]) == set(result["training_tasks"]["reward_mean"]) == {"before", "warmup", "after"}
    assert [r["path"] for r in result["runs"]] == [str(run_dir / f"eval_{w}") for w in ("before", "warmup", "after")]
    assert all(len(m["values"]) == 3 for m in result["metrics"])
    adapter = {w: json.loads((run_dir / f"eval_{w}" / "run.json").read_text())["adapter"] for w in ("before", "warmup", "after")}
    assert adapter["before"] is None and adapter["warmup"].startswith(str(run_dir / "sft"))
    assert adapter["after"].startswith(str(run_dir / "loop"))
    method = {w: json.loads((run_dir / f"eval_{w}" / "run.json").read_text())["method"] for w in ("before", "warmup", "after")}
    assert method == {"before": None, "warmup": "sft-gt", "after": "loop"}  # what the report's leaderboard shows
    # the warm-up trained on every training task of difficulty 1 and 2 (sft_difficulties), LOOP on difficulty 1
    from looprl.world import load_tasks

    sft_chats = sum(1 for _ in open(run_dir / "sft" / "fixed_data.jsonl"))
    assert sft_chats == len(load_tasks("train", difficulties=[1, 2]))
    # LOOP samples at the demo's temperature and trains that policy; the warm-up fits its chats at temperature 1
    loop_cfg, sft_cfg = (yaml.safe_load((run_dir / part / "config.yaml").read_text()) for part in ("loop", "sft"))
    assert loop_cfg["rollout"]["sampling"]["temperature"] == 0.7 and sft_cfg["trainer"]["method"] == "sft-gt"
    from looprl.schema import TrainConfig
    from looprl.training.trainer import policy_temperature

    assert policy_temperature(TrainConfig(**loop_cfg)) == 0.7 and policy_temperature(TrainConfig(**sft_cfg)) == 1.0
    train_split = [json.loads(line)["split"] for line in open(run_dir / "eval_before_train" / "rollouts.jsonl")]
    assert train_split == ["train"]
    assert "before vs after training" in first.output and "LOOP: 1 iterations" in first.output
    flat = " ".join(first.output.split())
    assert "training tasks (seen in training)" in flat and "dev subset (held out)" in flat
    assert "warm-up = after SFT-GT, before LOOP" in flat

    second = runner.invoke(app, args)  # everything done: nothing is redone, the table is printed again
    assert second.exit_code == 0, second.output
    assert "already done" in second.output and "before vs after training" in second.output
    assert json.loads((run_dir / "demo_state.json").read_text())["done"]["loop"] == state["loop"]

    other = runner.invoke(app, args[:-2] + ["--set", "train.rollout.sampling.max_new_tokens=9"])
    assert other.exit_code == 2 and "another configuration" in other.output


@pytest.mark.slow
@pytest.mark.skipif(not vllm_ready() and not os.environ.get("CI"), reason="no vLLM environment; `looprl models setup-vllm` (CI builds it)")
def test_demo_samples_every_stage_from_one_vllm_server(vllm_model_dir, tmp_path):
    model = vllm_model_dir
    run_dir = tmp_path / "demo"
    args = ["demo", "--run-dir", str(run_dir), "--set", f"train.model.name_or_path={model}", "--set", "dev_tasks=1",
            "--set", "train_tasks=0", "--set", "sampler=vllm", "--set", "sft_epochs=0", "--set", "train.trainer.iterations=1",
            "--set", "train.trainer.tasks_per_iteration=1", "--set", "train.trainer.rollouts_per_task=2",
            "--set", "train.env.max_turns=1", "--set", "train.env.eval_max_turns=1",
            "--set", "train.rollout.sampling.max_new_tokens=8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rollouts sampled with: vllm" in result.output
    log = (run_dir / "vllm_server.log").read_text()
    assert log.count("POST /v1/completions") >= 4  # before, LOOP's 2 rollouts, after: all from the demo's server
    # the trained adapter was merged into the server's weights (train.rollout.adapter_sync=merged), once
    # after LOOP's update and once for the after-evaluation; never loaded as a LoRA
    assert log.count("POST /collective_rpc HTTP") >= 2 and "POST /v1/load_lora_adapter HTTP" not in log
    assert json.loads((run_dir / "before_after.json").read_text())["loop"]["rollouts"] == 2
