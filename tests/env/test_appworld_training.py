"""Real AppWorld as a training and evaluation target, on the self-made AppWorld root of conftest.py.

What the issue asked to see, each against the real `appworld` engine:

* the ground truth of SFT-GT comes from the task's own solution (train/dev), a clear error on test tasks;
* every rollout carries the task's apps (required_apps.json), difficulty and its exact split;
* the AppWorld prompt (its worked example uses AppWorld's own APIs) is the one used for env "appworld";
* `sft-gt`, `rft` and `loop` train on it with the tiny model;
* `looprl eval` writes an AppWorld experiment folder that AppWorld's own evaluation scores to the same
  TGC/SGC as looprl's summary;
* the servers never outnumber the bound the collector's concurrency sets.

Fixture tasks: a1b2c3d_1/_2 (train), c4d5e6f_1/_2 (dev), b7e8f9a_1 (test_normal); looprl/env/appworld/fixture.py.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

from looprl.config import EvalConfig, TrainConfig, load_config

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "appworld-cpu-smoke.yaml"


@pytest.fixture(scope="module")
def long_tiny_model(tmp_path_factory):
    # the AppWorld prompt is ~3.6K tokens of the tiny tokenizer: give the tiny model room for it
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-8k"), max_position_embeddings=8192)


@pytest.fixture(autouse=True, scope="module")
def _free_servers():
    yield
    from looprl.env.appworld import stop_idle_servers

    stop_idle_servers()


def _train_cfg(model, root, python, run_dir, *overrides: str) -> TrainConfig:
    return load_config(
        TrainConfig,
        SMOKE,
        [
            f"model.name_or_path={model}",
            f"run_dir={run_dir}",
            f"env.options.root={root}",
            f"env.options.python={python}",
            "logging.tensorboard=false",
            *overrides,
        ],
    )


def test_ground_truth_is_the_tasks_own_solution_and_test_tasks_have_none(appworld_root):
    from looprl.env.appworld import ground_truth_solution
    from looprl.env.cells import split_into_turns

    code = ground_truth_solution(appworld_root, "c4d5e6f_1")
    assert "def solution" not in code and not code.startswith(" ")  # the function's body, dedented
    turns = split_into_turns(code)
    assert turns[0].thought == "the SimpleNote password is kept by the supervisor app"
    assert turns[-1].code.startswith("apis.supervisor.complete_task(answer=content)")
    with pytest.raises(ValueError, match=r"'b7e8f9a_1' \(split test_normal\) has no ground-truth solution.*train or dev"):
        ground_truth_solution(appworld_root, "b7e8f9a_1")


def test_apps_difficulty_and_exact_split_without_a_server(appworld_root, appworld_python):
    from looprl.env.appworld import AppWorldEnv, task_apps, task_splits

    assert task_apps(appworld_root, "a1b2c3d_2") == ["simple_note"]
    assert task_apps(appworld_root, "b7e8f9a_1") == []  # test tasks ship no required_apps.json
    datasets = appworld_root / "data" / "datasets"
    extra = datasets / "aaa_subset.txt"  # sorts before every canonical split file
    extra.write_text("a1b2c3d_1\nzz_only_here_1\n")
    try:
        env = AppWorldEnv(root=appworld_root, python=appworld_python)
        assert task_splits(appworld_root)["a1b2c3d_1"] == ["train", "aaa_subset"]
        assert env._split_of("a1b2c3d_1") == {"split": "train", "splits": ["train", "aaa_subset"]}
        assert env._split_of("zz_only_here_1")["split"] == "aaa_subset"
        extra.write_text("a1b2c3d_1\n")
        (datasets / "aaa_subset.txt").rename(datasets / "bad.txt")
        (datasets / "dev.txt").write_text((datasets / "dev.txt").read_text() + "a1b2c3d_1\n")
        with pytest.raises(ValueError, match="listed in several splits \\(train, dev\\)"):
            AppWorldEnv(root=appworld_root, python=appworld_python)._split_of("a1b2c3d_1")
    finally:
        (datasets / "dev.txt").write_text("c4d5e6f_1\nc4d5e6f_2\n")
        for name in ("aaa_subset.txt", "bad.txt"):
            (datasets / name).unlink(missing_ok=True)


def test_the_appworld_prompt_is_chosen_for_the_appworld_env():
    from looprl.agent import scaffold_for

    info = {
        "instruction": "Count my notes.",
        "date": "2023-05-18T12:00:00",
        "supervisor": {"first_name": "A", "last_name": "B", "email": "a@b.c", "phone_number": "1"},
    }
    text = "\n".join(m["content"] for m in scaffold_for("default", env="appworld").initial_messages([], info))
    assert "apis.spotify.show_playlist_library" in text and "apis.supervisor.show_account_passwords()" in text
    assert "apis.notes." not in text  # the built-in world's example app
    assert "apis.notes." in "\n".join(m["content"] for m in scaffold_for("default", env="appsuite").initial_messages([], info))
    assert scaffold_for("terse", env="appworld") is not None  # an explicit choice is kept


def test_sft_gt_trains_on_the_tasks_own_solutions(long_tiny_model, appworld_root, appworld_python, tmp_path):
    from looprl.env.appworld import ground_truth_solution
    from looprl.training.trainer import Trainer
    from looprl.trajectory import read_jsonl

    cfg = _train_cfg(long_tiny_model, appworld_root, appworld_python, tmp_path, "trainer.method=sft-gt", "trainer.iterations=1")
    history = Trainer(cfg, progress=False).train()
    assert math.isfinite(history[0]["loss/policy"]) and history[0]["train/optimizer_steps"] >= 1
    chats = {t.task_id: t for t in read_jsonl(tmp_path / "fixed_data.jsonl")}
    assert sorted(chats) == ["a1b2c3d_1", "a1b2c3d_2"]
    chat = chats["a1b2c3d_2"]
    said = "\n".join(m["content"] for m in chat.messages if m["role"] == "assistant")
    assert 'apis.simple_note.create_note(access_token=token, title="Groceries", content="milk, eggs")' in said
    assert "apis.spotify.login" in said  # the AppWorld prompt's worked example opens the chat
    assert chat.split == "train" and chat.difficulty == 2
    assert ground_truth_solution(appworld_root, "a1b2c3d_2").splitlines()[-1] in said

    test_cfg = _train_cfg(long_tiny_model, appworld_root, appworld_python, tmp_path / "t", "trainer.method=sft-gt", "tasks.train_split=test_normal")
    with pytest.raises(ValueError, match="b7e8f9a_1.*has no ground-truth solution"):
        Trainer(test_cfg, progress=False).train()


@pytest.mark.parametrize("method", ["loop", "rft"])
def test_rl_methods_train_on_appworld_with_apps_and_difficulty_in_every_rollout(method, long_tiny_model, appworld_root, appworld_python, tmp_path):
    from looprl.env.appworld import adapter as appworld
    from looprl.training.trainer import Trainer
    from looprl.trajectory import read_jsonl

    peak = [0]
    stop = threading.Event()

    def watch():  # the bound holds while episodes start and end concurrently
        while not stop.is_set():
            peak[0] = max(peak[0], appworld.live_servers())
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        # RFT collects over 3 temperatures: K=1 keeps it to 6 episodes
        cfg = _train_cfg(
            long_tiny_model, appworld_root, appworld_python, tmp_path, f"trainer.method={method}", *(["trainer.rollouts_per_task=1"] if method == "rft" else [])
        )
        history = Trainer(cfg, progress=False).train()
    finally:
        stop.set()
        watcher.join()
    assert [h["iteration"] for h in history] == [1]
    assert all(math.isfinite(h.get("loss/policy", 0.0)) for h in history)
    assert 1 <= peak[0] <= cfg.env.options["max_servers"] == cfg.rollout.concurrency
    rollouts = list(read_jsonl(tmp_path / "rollouts" / "iter_000001.jsonl")) if method == "loop" else list(read_jsonl(tmp_path / "fixed_data.jsonl"))
    assert len(rollouts) == cfg.trainer.rollouts_per_task * 2 * (1 if method == "loop" else 3)
    for r in rollouts:
        assert r.apps == ["simple_note"] and r.split == "train" and r.difficulty == {"a1b2c3d_1": 1, "a1b2c3d_2": 2}[r.task_id]
        assert "apis.spotify.show_playlist_library" in "\n".join(m["content"] for m in r.messages)  # the AppWorld prompt
        # an episode cut by the turn limit is still scored by AppWorld's tests (the paper's training reward)
        assert r.checks and 0.0 < r.reward < 1.0


def _scripted_chat():
    """Solves c4d5e6f_1 with its ground truth in one message, answers c4d5e6f_2 wrongly."""
    from looprl.env.appworld.fixture import TASKS
    from looprl.testing import ScriptedChat

    solution = TASKS["c4d5e6f_1"]["solution"]
    body = "\n".join(line[4:] for line in solution.splitlines()[1:])

    def script(prompt: str) -> str:
        if "titled Books" in prompt:
            return "I will read the note.\n```python\n" + body + "\n```"
        return "```python\napis.supervisor.complete_task(answer='Somewhere')\n```"

    return ScriptedChat(script)


def test_eval_writes_an_appworld_experiment_that_appworlds_evaluation_scores_the_same(appworld_root, appworld_python, tmp_path, monkeypatch):
    from looprl.commands import eval as eval_command
    from looprl.env.appworld.export import engine_evaluate

    outputs = appworld_root / "experiments" / "outputs"

    def episode_dirs() -> set:  # the shared fixture root also holds other tests' episodes
        return {p for p in outputs.glob("looprl-*") if p.name != "looprl-server-logs"}

    already = episode_dirs()
    monkeypatch.setattr(eval_command, "build_sampling_backend", lambda cfg: _scripted_chat())
    cfg = load_config(
        EvalConfig,
        None,
        [
            "env.name=appworld",
            f"env.options.root={appworld_root}",
            f"env.options.python={appworld_python}",
            "split=dev",
            "samples=2",
            "env.eval_max_turns=3",
            "rollout.concurrency=2",
        ],
    )
    out = tmp_path / "My-Eval"
    summary = eval_command.run_eval(cfg, out, progress=False)
    assert summary["tgc"] == pytest.approx(0.5) and summary["sgc"] == 0.0  # one of the scenario's two tasks solved
    assert set(summary["per_app"]) == {"simple_note"} and set(summary["per_difficulty"]) == {"1", "2"}  # never "unknown"
    assert summary["per_split"]["dev"]["n_tasks"] == 2

    shadow = out / "appworld"
    exported = json.loads((shadow / "experiments.json").read_text())
    assert exported["experiments"] == ["my-eval_dev", "my-eval-sample1_dev"] and exported["dataset"] == "dev"
    assert exported["missing"] == []
    assert (shadow / "data" / "tasks").resolve() == (appworld_root / "data" / "tasks").resolve()
    assert episode_dirs() - already == set()  # this eval's episode outputs were moved out of the data root
    for name in exported["experiments"]:
        assert (shadow / "experiments" / "outputs" / name / "tasks" / "c4d5e6f_1" / "dbs" / "simple_note.jsonl").is_file()
    engine = engine_evaluate(shadow, exported["experiments"][0], "dev", python=appworld_python)["aggregate"]
    assert engine["task_goal_completion"] == pytest.approx(100 * summary["tgc"])
    assert engine["scenario_goal_completion"] == pytest.approx(100 * summary["sgc"])
    assert (shadow / "experiments" / "outputs" / "my-eval_dev" / "evaluations" / "dev.json").is_file()
