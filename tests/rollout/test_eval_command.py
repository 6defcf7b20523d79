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

    class MetaEnv(StepsEnv):  # reports its own difficulty/scenario in reset's info, and no split
        def reset(self, task_id, *, seed=None):
            messages, info = super().reset(task_id, seed=seed)
            return messages, {**info, **meta[task_id]}

    result = evaluate(
        ScriptedPolicy(),
        MetaEnv,
        list(meta),
        samples=2,
        sampling=SamplingParams(max_new_tokens=200),
        max_turns=5,
        out_dir=tmp_path,
        progress=False,
        split="dev",
        model_name="scripted",
    )
    s = result.summary
    # toy_40 needs 41 turns and is cut at 5: 2 of 3 tasks solved, scenario s1 solved, s2 not
    assert s["tgc"] == pytest.approx(2 / 3) and s["sgc"] == pytest.approx(1 / 2) and s["n_rollouts"] == 6
    assert s["per_difficulty"]["1"]["tgc"] == 1.0 and s["per_difficulty"]["2"]["tgc"] == pytest.approx(0.5)
    assert s["rollout"]["finished"] == 6 and s["split"] == "dev"
    written = list(read_jsonl(tmp_path / "rollouts.jsonl"))
    assert [(t.task_id, t.sample_index, t.scenario, t.difficulty, t.split, t.model) for t in written] == [
        (t, k, meta[t]["scenario"], meta[t]["difficulty"], "dev", "scripted") for t in meta for k in range(2)
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


def test_eval_runs_the_envs_own_hooks_and_takes_explicit_ids(tmp_path, monkeypatch):
    """An env class's EvalHooks wrap the rollouts of `looprl eval` (no switch on the env's name); an env
    without a task lookup is evaluated on explicit task_ids, and asking it for a split says what to do."""
    from looprl.commands import eval as eval_command
    from looprl.config import EvalConfig, load_config
    from looprl.env import base
    from looprl.env.base import register_env

    base.registered_envs()  # the built-in envs register on first import: into the real registry, not the copy
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_CLASSES", dict(base._CLASSES))
    calls = []

    class Hooked(StepsEnv):  # StepsEnv's task lookup (option n_tasks), and hooks of its own
        def __init__(self, marker=None, n_tasks=None, **options):
            super().__init__(**options)
            self.marker = marker

        @classmethod
        def prepare_evaluation(cls, options, *, concurrency):
            calls.append(("prepare", dict(options), concurrency))
            return {**options, "marker": "prepared"}

        @classmethod
        def finish_evaluation(cls, options, trajectories, out_dir, *, split, task_ids):
            calls.append(("finish", dict(options), len(trajectories), out_dir.name, split, list(task_ids)))
            (out_dir / "hooked.txt").write_text("done")
            return ["hooked: wrote hooked.txt"]

    register_env("test-hooked", Hooked)
    register_env("test-plain", lambda **options: StepsEnv(**options))  # a factory with no class: no task lookup
    monkeypatch.setattr(eval_command, "build_sampling_backend", lambda cfg: ScriptedPolicy())
    settings = ["rollout.scaffold=env", "rollout.concurrency=3", "env.eval_max_turns=5", "rollout.sampling.max_new_tokens=200", "split=dev"]
    cfg = load_config(EvalConfig, None, ["env.name=test-hooked", "env.options.n_tasks=3", *settings])
    summary = eval_command.run_eval(cfg, tmp_path / "run", progress=False)
    assert summary["n_rollouts"] == 3 and (tmp_path / "run" / "hooked.txt").read_text() == "done"
    assert calls == [
        ("prepare", {"n_tasks": 3}, 3),
        ("finish", {"n_tasks": 3, "marker": "prepared"}, 3, "run", "dev", ["toy_0", "toy_1", "toy_2"]),
    ]

    cfg = load_config(EvalConfig, None, ["env.name=test-plain", "task_ids=[toy_1,toy_2]", *settings])
    summary = eval_command.run_eval(cfg, tmp_path / "plain", progress=False)
    assert summary["n_rollouts"] == 2 and summary["split"] == "dev"
    result = runner.invoke(app, ["eval", "--out", str(tmp_path / "x"), "--model", "openai:m", "--set", "env.name=test-plain"])
    assert result.exit_code == 2 and "registered without a task lookup" in result.output and "tasks.task_ids" in result.output


def test_eval_selects_tasks_as_training_does(tmp_path, monkeypatch):
    """`looprl eval --split heldout --set tasks.instances=16` evaluates 16 held-out instances of every
    training scenario (the selection fields are TasksConfig's own, shared through TaskSelection)."""
    import looprl.experiments
    from looprl.commands import eval as eval_command
    from looprl.config import EvalConfig, TasksConfig, TaskSelection
    from looprl.world.tasks import HELDOUT_START, split_scenarios

    assert issubclass(TasksConfig, TaskSelection) and EvalConfig.model_fields["tasks"].annotation is TaskSelection

    class Selected(Exception):
        pass

    def fake_evaluate(cfg, sets, **kwargs):  # stop before any rollout: what matters is which tasks were picked
        raise Selected({label: list(s.task_ids) for label, s in sets.items()})

    monkeypatch.setattr(looprl.experiments, "evaluate_config", fake_evaluate)
    monkeypatch.setattr(eval_command, "build_sampling_backend", lambda cfg: ScriptedPolicy())

    def selected(*args):
        result = runner.invoke(app, ["eval", "--out", str(tmp_path / "x"), "--model", "openai:m", "--no-progress", *args])
        assert isinstance(result.exception, Selected), result.output
        return result.exception.args[0]

    ids = selected("--split", "heldout", "--set", "tasks.instances=16")["heldout"]
    train = split_scenarios("train")
    assert len(ids) == 16 * len(train) == len(set(ids))
    assert all(sum(i.startswith(f"{name}_") for i in ids) == 16 for name in train)
    assert f"{train[0]}_{HELDOUT_START + 15}" in ids
    some = selected("--split", "heldout", "--set", "tasks.instances=2", "--set", "tasks.instance_start=3", "--set", f"tasks.scenarios=[{train[0]}]")
    assert some == {"heldout": [f"{train[0]}_{HELDOUT_START + 2}", f"{train[0]}_{HELDOUT_START + 3}"]}
    assert selected("--split", "dev", "--set", "task_ids=[notes_count_tag_5]") == {"dev": ["notes_count_tag_5"]}
    bad = runner.invoke(app, ["eval", "--out", str(tmp_path / "y"), "--model", "openai:m", "--set", "tasks.fresh_instances=true"])
    assert bad.exit_code == 2 and "fresh_instances" in bad.output  # a training-only field is refused
