"""benchmarks/bench_generalization.py end to end in smoke size (tiny model, one instance count, 2 seeds,
one LOOP iteration), then resumed: every stage is skipped and the same numbers come back."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_generalization.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_generalization", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generalization_benchmark_smoke_and_resume(tiny_model_dir, tmp_path, capsys):
    bench = _load()
    argv = [
        "--out",
        str(tmp_path / "gen"),
        "--model",
        str(tiny_model_dir),
        "--instances",
        "2",
        "--seeds",
        "0",
        "1",
        "--sft-chats",
        "4",
        "--sft-batch",
        "4",
        "--heldout-tasks",
        "2",
        "--loop-iterations",
        "1",
        "--loop-tasks",
        "1",
        "--k",
        "2",
        "--sampler",
        "transformers",
        "--dynamic-sampling",
        "--set",
        "train.env.max_turns=1",
        "--set",
        "train.env.eval_max_turns=1",
        "--set",
        "train.rollout.sampling.max_new_tokens=8",
    ]
    result = bench.run(bench.parse_args(argv))
    out = tmp_path / "gen"
    for name in ("generalization.json", "generalization.md", "generalization.png", "state.json"):
        assert (out / name).is_file(), name
    assert len(result["runs"]) == 2 and set(result["by_instances"]) == {"2"}
    for r in result["runs"]:
        assert r["loop_gain_tgc"] == r["after"]["tgc"] - r["warmup"]["tgc"]
        assert r["warmup"]["tasks"] == r["after"]["tasks"] == 2
    gain = result["by_instances"]["2"]["loop_gain_tgc"]
    assert gain["n"] == 2 and gain["mean"] == sum(r["loop_gain_tgc"] for r in result["runs"]) / 2  # over both seeds
    # each seed warms up on its own instances, for --sft-chats presentations
    sft = {s: [json.loads(line)["task_id"] for line in open(out / "runs" / f"n2_s{s}" / "sft" / "fixed_data.jsonl")] for s in (0, 1)}
    numbers = {s: {int(t.rsplit("_", 1)[1]) for t in ids} for s, ids in sft.items()}
    blocks = bench.instance_blocks([0, 1], [2])
    assert numbers[0] == {1, 2} and numbers[1] == {3, 4} and blocks == {0: (1, 5), 1: (3, 5 + bench.LOOP_BLOCK)}
    loop_ids = [json.loads(line)["task_id"] for line in open(out / "runs" / "n2_s0" / "loop" / "rollouts" / "iter_000001.jsonl")]
    assert all(5 <= int(t.rsplit("_", 1)[1]) < 5 + bench.LOOP_BLOCK for t in loop_ids)  # after every warm-up's instances
    heldout = [json.loads(line)["task_id"] for line in open(out / "runs" / "eval_before" / "rollouts.jsonl")]
    assert heldout == result["setting"]["heldout_ids"] and all(int(t.rsplit("_", 1)[1]) >= 100_001 for t in heldout)
    table = (out / "generalization.md").read_text()
    assert "| 2 |" in table
    # every TGC with its 95% interval, LOOP's step as a paired difference on the same tasks (over seeds, and per run)
    assert "TGC after warm-up [95% CI]" in table and "LOOP's own gain, paired (TGC pts) [95% CI]" in table
    v = result["by_instances"]["2"]
    for key in ("warmup_tgc_ci95", "after_tgc_ci95"):
        low, high = v[key]
        assert 0.0 <= low <= high <= 100.0, (key, v[key])
    paired = v["loop_gain_paired"]
    assert paired["n_shared"] == 2 and paired["diff"] == gain["mean"] and f"{paired['diff']:+.1f} [" in table
    for r in result["runs"]:
        assert r["loop_gain_paired"]["diff"] == r["loop_gain_tgc"] and r["after"]["tgc_ci95"] is not None
    # the dynamic-sampling arm: from the same warm-up, stopped once it spent the paper's setting's rollouts
    assert result["setting"]["dynamic_sampling"]["rollout_budget"] == 2 and "dynamic - paper's, paired [95% CI]" in table
    for s in (0, 1):
        rows = [json.loads(line) for line in open(out / "runs" / f"n2_s{s}" / "loop_ds" / "metrics.jsonl")]
        spent = [row["dynamic/rollouts_spent"] for row in rows]
        assert sum(spent[:-1]) < 2 <= sum(spent) and result["runs"][s]["dynamic"]["rollouts_spent"] == sum(spent)
    assert v["dynamic"]["vs_paper_setting"]["n_shared"] == 2

    again = bench.run(bench.parse_args(argv))  # resumed: nothing is redone
    assert [r["after"] for r in again["runs"]] == [r["after"] for r in result["runs"]]
    assert "[generalization]" not in capsys.readouterr().out.split("| instances per scenario")[-1]
