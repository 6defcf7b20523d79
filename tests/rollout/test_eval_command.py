"""`looprl eval` end to end on the tiny model (toy env), and `evaluate()`'s summary on scripted rollouts."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from looprl.backends.base import SamplingParams
from looprl.cli import app
from looprl.rollout import evaluate
from looprl.testing import ScriptedPolicy, StepsEnv
from looprl.trajectory import read_jsonl

runner = CliRunner()


def test_evaluate_summary_and_files(tmp_path):
    meta = {"toy_1": {"scenario": "s1", "difficulty": 1}, "toy_2": {"scenario": "s1", "difficulty": 2}, "toy_40": {"scenario": "s2", "difficulty": 2}}

    class NoMetaEnv(StepsEnv):  # reports no difficulty/scenario, so evaluate() must fill them in
        def reset(self, task_id, *, seed=None):
            messages, info = super().reset(task_id, seed=seed)
            return messages, {k: v for k, v in info.items() if k not in ("difficulty", "scenario")}

    result = evaluate(
        ScriptedPolicy(),
        NoMetaEnv,
        list(meta),
        samples=2,
        sampling=SamplingParams(max_new_tokens=200),
        max_turns=5,
        out_dir=tmp_path,
        progress=False,
        split="dev",
        model_name="scripted",
        task_meta=lambda t: meta[t],
    )
    s = result.summary
    # toy_40 needs 41 turns and is cut at 5: 2 of 3 tasks solved, scenario s1 solved, s2 not
    assert s["tgc"] == pytest.approx(2 / 3) and s["sgc"] == pytest.approx(1 / 2) and s["n_rollouts"] == 6
    assert s["per_difficulty"]["1"]["tgc"] == 1.0 and s["per_difficulty"]["2"]["tgc"] == pytest.approx(0.5)
    assert s["rollout"]["finished"] == 6 and s["split"] == "dev"
    written = list(read_jsonl(tmp_path / "rollouts.jsonl"))
    assert [(t.task_id, t.sample_index, t.scenario, t.split, t.model) for t in written] == [
        (t, k, meta[t]["scenario"], "dev", "scripted") for t in meta for k in range(2)
    ]
    assert json.loads((tmp_path / "summary.json").read_text())["tgc"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least one task id"):
        evaluate(ScriptedPolicy(), StepsEnv, [], sampling=SamplingParams())


def test_eval_command_on_tiny_model(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    args = [
        "eval",
        "--model",
        str(tiny_model_dir),
        "--out",
        str(out),
        "--samples",
        "2",
        "--max-tasks",
        "3",
        "--no-progress",
        "--set",
        "env.name=toy",
        "--set",
        "rollout.scaffold=env",
        "--set",
        "rollout.sampling.max_new_tokens=6",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["kind"] == "eval" and run["model"] == str(tiny_model_dir) and run["env"] == "toy"
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["samples"] == 2 and cfg["max_tasks"] == 3 and cfg["rollout"]["sampling"]["temperature"] == 0.0
    trajs = list(read_jsonl(out / "rollouts.jsonl"))
    assert len(trajs) == 6 and {t.task_id for t in trajs} == {"toy_0", "toy_1", "toy_2"}
    for t in trajs:
        t.validate()
        assert 1 <= sum(t.trainable) <= 6 and t.stats["turns"] == 1
    # greedy: both samples of a task are the same tokens
    assert trajs[0].token_ids == trajs[1].token_ids
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_rollouts"] == 6 and 0.0 <= summary["tgc"] <= 1.0 and "per_difficulty" in summary


def test_eval_command_rejects_bad_values(tmp_path):
    result = runner.invoke(app, ["eval", "--out", str(tmp_path), "--samples", "0"])
    assert result.exit_code == 2 and "samples" in result.output
    result = runner.invoke(app, ["eval", "--out", str(tmp_path), "--set", "rollout.scaffold=missing.yaml", "--set", "env.name=toy", "--model", "x"])
    assert result.exit_code == 1


def test_evaluate_labelled_sets_in_one_pass_each_summarized_and_written_alone(tmp_path):
    from looprl.rollout.evaluation import EvalSet

    def run(task_ids, **kw):
        return evaluate(ScriptedPolicy(), StepsEnv, task_ids, samples=1, sampling=SamplingParams(max_new_tokens=200), max_turns=5, progress=False, **kw)

    sets = {
        "a": EvalSet(["toy_1", "toy_40"], split="heldout", out_dir=tmp_path / "a", model_name="m, a"),
        "b": EvalSet(["toy_2"], split="dev", out_dir=tmp_path / "b"),
    }
    result = run(sets, model_name="m")
    assert result.stats.requested == 3 and [t.task_id for t in result.trajectories] == ["toy_1", "toy_40", "toy_2"]  # one collection
    for label, alone in (("a", run(["toy_1", "toy_40"], split="heldout", model_name="m")), ("b", run(["toy_2"], split="dev", model_name="m"))):
        part = result.sets[label]
        written = json.loads((tmp_path / label / "summary.json").read_text())
        assert written == part.summary and [t.task_id for t in read_jsonl(tmp_path / label / "rollouts.jsonl")] == list(sets[label].task_ids)
        drop = ("rollout", "model")  # the collection's throughput differs; everything measured is the same as evaluating the set alone
        assert {k: v for k, v in part.summary.items() if k not in drop} == {k: v for k, v in alone.summary.items() if k not in drop}
        assert part.summary["rollout"]["shared_with"] == sorted({"a", "b"} - {label})
    assert result.sets["a"].summary["tgc"] == 0.5 and result.sets["b"].summary["split"] == "dev"
    assert (result.sets["a"].summary["model"], result.sets["b"].summary["model"]) == ("m, a", "m")  # a set's own name, or the spec's
    assert "shared_with" not in run(["toy_2"]).summary["rollout"]
    with pytest.raises(ValueError, match="more than one of the sets"):
        run({"a": EvalSet(["toy_1"]), "b": EvalSet(["toy_1", "toy_2"])})
