"""The real AppWorld env, end to end, on a small task set we build ourselves at test time.

AppWorld's task data cannot be downloaded here and may not be committed, so a session fixture runs
looprl/env/appworld/fixture.py in the AppWorld venv to write a 5-task APPWORLD_ROOT into a temporary
folder; the env then drives real AppWorld servers over it: read the docs, log in, call APIs,
complete the task, and AppWorld's own evaluator scores it.

Without the AppWorld venv these tests skip, saying how to create it; with CI=true they fail instead.
The venv and fixture root are session fixtures in tests/env/conftest.py, shared with
test_appworld_training.py.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from looprl.env.appworld.install import appworld_venv_ready, default_venv_dir

VENV = default_venv_dir()
EMAIL, PASSWORD = "ada.quill@example.com", "notes-pass-42"


def _code(*lines: str) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


LOGIN = _code(
    "passwords = apis.supervisor.show_account_passwords()",
    "password = [p for p in passwords if p['account_name'] == 'simple_note'][0]['password']",
    "token = apis.simple_note.login(username=apis.supervisor.show_profile()['email'], password=password)['access_token']",
    "print('logged in')",
)


@pytest.fixture(scope="module")
def env(appworld_root, appworld_python):
    from looprl.env import make_env

    env = make_env("appworld", root=appworld_root, python=appworld_python)
    yield env
    env.close()
    from looprl.env.appworld import stop_idle_servers

    stop_idle_servers()  # free the warm servers' memory for the rest of the test session


def _task(root: Path, task_id: str) -> tuple[dict, dict]:
    task_dir = root / "data" / "tasks" / task_id
    return json.loads((task_dir / "specs.json").read_text()), json.loads((task_dir / "ground_truth" / "answer.json").read_text())


def test_question_answered_right_is_a_success(env, appworld_root):
    specs, answer = _task(appworld_root, "a1b2c3d_1")
    messages, info = env.reset("a1b2c3d_1")

    text = "\n".join(m["content"] for m in messages)
    assert specs["instruction"] in text
    for key in ("first_name", "last_name", "email", "phone_number"):
        assert specs["supervisor"][key] in text
    assert info["instruction"] == specs["instruction"] and info["supervisor"] == specs["supervisor"]
    assert info["difficulty"] == 1 and info["task_id"] == "a1b2c3d_1"
    assert info["split"] == "train" and info["scenario"] == "a1b2c3d"

    r = env.step(_code("print(apis.api_docs.show_api_descriptions(app_name='simple_note'))"))
    assert "search_notes" in r.observation and not r.terminated and r.reward == 0.0
    r = env.step(_code("print(apis.api_docs.show_api_doc(app_name='simple_note', api_name='login'))"))
    assert "password" in r.observation
    r = env.step(LOGIN)
    assert r.observation.strip() == "logged in", r.observation
    r = env.step(_code("notes = apis.simple_note.search_notes(access_token=token, page_limit=20)", "print(len(notes))"))
    assert r.observation.strip() == str(answer)
    r = env.step(_code("apis.supervisor.complete_task(answer=len(notes))"))

    assert r.terminated and not r.truncated
    assert r.reward == 1.0 and r.info["success"] is True
    assert r.info["num_tests"] == 2 and all(c["passed"] for c in r.info["checks"])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(_code("print(1)"))


def test_wrong_answer_fails_with_the_failing_check_named(env):
    env.reset("a1b2c3d_1")
    env.step(LOGIN)
    r = env.step(_code("apis.supervisor.complete_task(answer=2)"))
    assert r.terminated
    assert r.info["success"] is False and r.reward == pytest.approx(0.5)  # the answer test fails, "nothing changed" passes
    failed = [c for c in r.info["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["The answer given to complete_task is right."]
    assert "'2' == '3'" in failed[0]["detail"] and "FAIL" in r.info["check_report"]


def test_state_change_task_and_partial_credit(env, appworld_root):
    env.reset("a1b2c3d_2")
    r = env.step(_code("apis.supervisor.complete_task()"))  # doing nothing passes only "nothing else changed"
    assert r.terminated and r.reward == pytest.approx(1 / 3) and not r.info["success"]

    _, info = env.reset("a1b2c3d_2")
    assert info["difficulty"] == 2
    before = env.evaluate()  # scoring on demand, as a turn-limit wrapper does, ends nothing
    assert before["success"] is False and before["num_tests"] == 3
    # two blocks in one message run as one cell, so `token` from the first is there in the second
    r = env.step(LOGIN + "\nthen\n" + _code("print(apis.simple_note.create_note(access_token=token, title='Groceries', content='milk, eggs'))"))
    assert "Note created" in r.observation and not r.terminated
    r = env.step(_code("apis.supervisor.complete_task()"))
    assert r.terminated and r.reward == 1.0 and r.info["success"] is True


def test_message_without_code_runs_nothing_and_errors_come_back_as_text(env):
    env.reset("b7e8f9a_1")
    r = env.step("I will think about it first.")
    assert r.info["executed"] is False and "No ```python code block" in r.observation and not r.terminated
    r = env.step(_code("x = 1 / 0"))
    assert "ZeroDivisionError" in r.observation and not r.terminated
    r = env.step(_code("print(apis.supervisor.show_profile()['email'])", "apis.simple_note.search_notes(access_token='bad')"))
    assert "Execution failed" in r.observation and "401" in r.observation
    # the calls the cell made, named by app and API, the failing one last with its status
    assert [(c["app"], c["api"], c["status"], c["ok"]) for c in r.info["api_calls"]] == [
        ("supervisor", "show_profile", 200, True),
        ("simple_note", "search_notes", 401, False),
    ]
    assert r.info["api_calls"][1]["args"] == {"access_token": "bad"}
    r = env.step(_code("print(apis.simple_note.show_note(note_id=1, access_token='bad'))"))
    assert [(c["api"], c["status"]) for c in r.info["api_calls"]] == [("show_note", 401)]  # only this cell's calls


def test_concurrent_episodes_run_on_separate_servers(env, appworld_root, appworld_python):
    from looprl.env.appworld import AppWorldEnv

    other = AppWorldEnv(root=appworld_root, python=appworld_python)
    try:
        env.reset("a1b2c3d_2")
        other.reset("a1b2c3d_1")
        assert other._server.url != env._server.url
        env.step(LOGIN + _code("apis.simple_note.create_note(access_token=token, title='Groceries', content='milk, eggs')"))
        other.step(LOGIN)
        r = other.step(_code("print(len(apis.simple_note.search_notes(access_token=token, page_limit=20)))"))
        assert r.observation.strip() == "3"  # the note created in the other episode is not in this world
        assert env.step(_code("apis.supervisor.complete_task()")).info["success"]
        assert other.step(_code("apis.supervisor.complete_task(answer=3)")).info["success"]
    finally:
        other.close()


def test_a_closed_env_hands_its_server_to_the_next_with_a_fresh_world(appworld_root, appworld_python):
    from looprl.env.appworld import AppWorldEnv

    first = AppWorldEnv(root=appworld_root, python=appworld_python)
    first.reset("a1b2c3d_2")
    first.step(LOGIN + _code("apis.simple_note.create_note(access_token=token, title='Groceries', content='milk, eggs')"))
    url, process = first._server.url, first._server.process
    first.close()
    assert process.poll() is None  # kept warm in the idle pool

    second = AppWorldEnv(root=appworld_root, python=appworld_python)
    try:
        second.reset("a1b2c3d_1")
        assert second._server.url == url
        second.step(LOGIN)
        r = second.step(_code("print(len(apis.simple_note.search_notes(access_token=token, page_limit=20)))"))
        assert r.observation.strip() == "3"  # the note the first episode created is gone
    finally:
        second.close()
    from looprl.env.appworld import stop_idle_servers

    assert stop_idle_servers() >= 1 and process.wait(timeout=10) is not None  # the pool can be emptied on demand


def test_outputs_are_removed_unless_kept(env, appworld_root):
    _, info = env.reset("b7e8f9a_1")
    out_dir = appworld_root / "experiments" / "outputs" / info["experiment_name"]
    env.step(_code("print(1)"))
    assert out_dir.is_dir()
    _, info2 = env.reset("b7e8f9a_1")
    assert info2["experiment_name"] != info["experiment_name"]  # a fresh experiment per episode
    assert not out_dir.exists()

    env.keep_outputs = True
    try:
        kept_dir = appworld_root / "experiments" / "outputs" / info2["experiment_name"]
        env.step(_code("print(1)"))
        env.reset("b7e8f9a_1")
        assert (kept_dir / "tasks" / "b7e8f9a_1" / "logs" / "environment_io.md").is_file()
    finally:
        env.keep_outputs = False


def test_splits_and_difficulty_come_from_appworld_files(appworld_root):
    from looprl.env.appworld import load_task_ids

    assert load_task_ids(appworld_root, "train") == ["a1b2c3d_1", "a1b2c3d_2"]
    assert load_task_ids(appworld_root, "train", difficulty=2) == ["a1b2c3d_2"]
    assert load_task_ids(appworld_root, "train", difficulty=[1, 2]) == ["a1b2c3d_1", "a1b2c3d_2"]
    with pytest.raises(ValueError, match="difficulty must be 1, 2 or 3"):
        load_task_ids(appworld_root, "train", difficulty=4)
    assert load_task_ids(appworld_root, "test_normal") == ["b7e8f9a_1"]
    with pytest.raises(ValueError, match="available splits: dev, test_challenge, test_normal, train"):
        load_task_ids(appworld_root, "validation")


def test_unknown_task_and_missing_root_are_readable_errors(env, tmp_path):
    from looprl.env.appworld import AppWorldEnv

    with pytest.raises(ValueError, match="'zzz_1' not found"):
        env.reset("zzz_1")
    with pytest.raises(ValueError, match="no data/tasks"):
        AppWorldEnv(root=tmp_path)


def test_server_that_cannot_start_says_why_and_where_the_log_is(tmp_path):
    from looprl.env.appworld import AppWorldEnv, AppWorldServerError

    root = tmp_path / "root"
    (root / "data" / "tasks" / "t_1").mkdir(parents=True)
    (root / "data" / "tasks" / "t_1" / "specs.json").write_text("{}")
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'cannot import appworld: boom' >&2\nexit 7\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = AppWorldEnv(root=root, python=fake, log_dir=tmp_path / "logs")
    with pytest.raises(AppWorldServerError) as excinfo:
        env.reset("t_1")
    message = str(excinfo.value)
    assert "code 7" in message and "boom" in message and str(tmp_path / "logs") in message
    env.close()

    missing = AppWorldEnv(root=root, python=tmp_path / "nope" / "python")
    with pytest.raises(AppWorldServerError, match="setup-appworld"):
        missing.reset("t_1")


def test_a_server_that_dies_ends_the_episode_as_truncated(appworld_root, appworld_python):
    from looprl.env.appworld import AppWorldEnv

    env = AppWorldEnv(root=appworld_root, python=appworld_python, reuse_servers=False)
    try:
        env.reset("b7e8f9a_1")
        env._server.process.kill()
        env._server.process.wait()
        r = env.step(_code("print(1)"))
        assert r.truncated and not r.terminated and "stopped" in r.observation and "exit code" in r.observation
        _, info = env.reset("b7e8f9a_1")  # the next episode gets a fresh server
        assert info["task_id"] == "b7e8f9a_1"
        process = env._server.process
    finally:
        env.close()
    assert process.wait(timeout=10) is not None  # reuse_servers=False: stopped on close, not pooled


def test_check_env_passes(env):
    from looprl.env.checker import check_env

    summary = check_env(env, "a1b2c3d_1")
    assert summary["success"] is False  # the checker's final action gives up (status="fail")


def test_setup_command_reuses_a_ready_venv():
    from typer.testing import CliRunner

    from looprl.cli import app

    if not appworld_venv_ready(VENV):
        pytest.skip(f"no AppWorld venv at {VENV}")
    result = CliRunner().invoke(app, ["env", "setup-appworld", "--venv", str(VENV)])
    assert result.exit_code == 0, result.output
    assert "is ready" in result.output


def test_setup_command_rejects_a_root_without_data(tmp_path):
    from looprl.env.appworld.install import AppWorldSetupError, inspect_root

    with pytest.raises(AppWorldSetupError, match="missing data/tasks, data/base_dbs, data/datasets"):
        inspect_root(tmp_path)


def test_a_server_that_hangs_or_errors_mid_cell_ends_the_episode_and_is_not_reused(env, monkeypatch):
    # Runs last in the module: it stops the shared env's server.
    from looprl.env.appworld import AppWorldServerError

    env.reset("b7e8f9a_1")
    server = env._server
    real_call = server.call

    def hanging_execute(method, timeout_s, **payload):
        if method == "execute":
            raise AppWorldServerError(f"AppWorld /execute gave no answer within {timeout_s:.0f} s; log: {server.log_path}")
        return real_call(method, timeout_s, **payload)

    monkeypatch.setattr(server, "call", hanging_execute)
    r = env.step(_code("print(1)"))
    assert r.truncated and not r.terminated and "turn 1 of task b7e8f9a_1" in r.observation and "no answer" in r.observation
    assert not server.alive and env._server is None  # stopped, so no later episode gets it
    assert server.log_path.is_file()  # the log the message points to is kept
