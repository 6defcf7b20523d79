"""The appsuite env over the built-in world: contract, opening messages, rewards, ground truths."""

from __future__ import annotations

import pytest

from looprl.env import check_env, make_env
from looprl.env.appsuite import NO_CODE_OBSERVATION, EpisodeOver
from looprl.env.cells import split_into_turns
from looprl.env.wrappers import wrap_env
from looprl.world import SPLITS, get_task, load_tasks

ALL_TASKS = [task.id for split in SPLITS for task in load_tasks(split)]
DEV_TASK = load_tasks("dev")[0].id


def code(source: str, thought: str = "") -> str:
    return f"{thought}\n```python\n{source}\n```"


@pytest.fixture
def env():
    env = make_env("appsuite")
    yield env
    env.close()


def test_check_env_passes_for_appsuite(env):
    summary = check_env(env, DEV_TASK)
    assert summary["final_reward"] < 1.0 and summary["success"] is False  # completing with no work fails


def test_check_env_passes_for_the_wrapped_env():
    check_env(wrap_env(make_env("appsuite"), max_turns=40, max_observation_tokens=3000), DEV_TASK)


def test_reset_gives_the_task_supervisor_and_date(env):
    task = get_task(DEV_TASK)
    messages, info = env.reset(DEV_TASK)
    text = messages[0]["content"]
    sup = info["supervisor"]
    assert task.instruction in text and sup["email"] in text and sup["phone_number"] in text
    assert f"{sup['first_name']} {sup['last_name']}" in text and info["date"][:10] in text
    assert info["task_id"] == DEV_TASK and info["split"] == "dev" and info["apps"] == list(task.apps)
    assert info["sandbox"]["fresh_interpreter"] is True


def test_message_without_code_gets_a_clear_observation(env):
    env.reset(DEV_TASK)
    result = env.step("I am not sure what to do.")
    assert result.observation == NO_CODE_OBSERVATION
    assert not result.terminated and result.info["api_calls"] == [] and result.info["error"] is False


def test_all_code_blocks_of_a_message_run_as_one_cell(env):
    env.reset(DEV_TASK)
    result = env.step(code("a = 2") + "\nthen\n" + code("print(a * 21)"))
    assert result.observation == "42" and result.info["code"] == "a = 2\n\nprint(a * 21)"


def test_api_calls_are_in_step_info(env):
    env.reset(DEV_TASK)
    result = env.step(code("apis.api_docs.show_api_doc(app_name='supervisor', api_name='complete_task')\napis.nope.x()"))
    calls = result.info["api_calls"]
    assert [(c["app"], c["api"], c["ok"]) for c in calls] == [("api_docs", "show_api_doc", True), ("nope", "x", False)]
    assert calls[0]["status"] == 200 and calls[1]["status"] >= 400 and result.info["error"] is True
    assert set(calls[0]) == {"app", "api", "args", "status", "ok"}  # small records for rollouts
    doc, error = result.info["api_results"]
    assert "complete_task" in str(doc) and "message" in error  # results ride alongside, for whoever records episodes


def test_terminates_on_complete_task_with_the_check_report(env):
    env.reset(DEV_TASK)
    result = env.step(code("apis.supervisor.complete_task(status='success')"))
    assert result.terminated and not result.truncated
    assert result.info["reward"] == result.reward and 0.0 <= result.reward < 1.0
    assert result.info["success"] is False and result.info["checks"]
    with pytest.raises(EpisodeOver):
        env.step(code("print(1)"))


def test_truncation_still_gets_the_fraction_of_checks_passed(env):
    task = next(t for t in load_tasks("dev") if len(split_into_turns(t.solution)) >= 3)
    turns = split_into_turns(task.solution)
    limited = wrap_env(env, max_turns=2)
    limited.reset(task.id)
    first = limited.step(code(turns[0].code))
    assert not first.truncated and first.reward == 0.0
    last = limited.step(code("pass"))
    assert last.truncated and not last.terminated and last.info["truncated_by"] == "turn_limit"
    assert last.reward == env.evaluate()["reward"] == last.info["reward"]
    assert last.info["success"] is False and last.info["checks"]


def test_tampering_with_the_apis_stub_cannot_complete_the_task(env):
    env.reset(DEV_TASK)
    fake_app = "type('FakeApp', (), {'__getattr__': lambda s, api: (lambda **kw: print('fake ok'))})()"
    tampered = env.step(code(f"type(apis).__getattr__ = lambda self, app: {fake_app}\napis.supervisor.complete_task(status='success')"))
    assert tampered.observation == "fake ok" and not tampered.terminated and tampered.info["api_calls"] == []
    assert env.world.completed is False


@pytest.mark.parametrize(
    "options, message",
    [
        ({"turns": 3}, "unknown appsuite env option(s) ['turns']; options are: isolation, sandbox, prespawn"),
        ({"isolation": "docker"}, "isolation must be one of auto, bwrap, unshare, none; got 'docker'"),
        ({"sandbox": {"memory": 5}}, "unknown sandbox limit(s) ['memory']"),
    ],
)
def test_bad_env_options_are_named(options, message):
    with pytest.raises(ValueError) as err:
        make_env("appsuite", **options)
    assert message in str(err.value)


def test_unknown_task_is_an_error_naming_it(env):
    with pytest.raises(Exception, match="no_such_task"):
        env.reset("no_such_task")


@pytest.mark.parametrize("task_id", ALL_TASKS)
def test_ground_truth_through_step_gets_full_reward(env, task_id):
    """Every built-in task's solution, one top-level statement per turn, solves the task."""
    env.reset(task_id)
    result = None
    for turn in split_into_turns(get_task(task_id).solution):
        result = env.step(code(turn.code, turn.thought))
        assert not result.info["error"], f"turn {result.info['turn']} failed:\n{result.observation}"
        if result.terminated:
            break
    assert result is not None and result.terminated, "the solution never called complete_task"
    failed = [c for c in result.info["checks"] if not c["passed"]]
    assert result.reward == 1.0 and result.info["success"], failed


def test_each_episode_gets_a_fresh_worker_also_when_prespawned():
    import os

    env = make_env("appsuite", prespawn=True)
    try:
        env.reset(DEV_TASK)
        env.step(code("secret = 'from episode one'"))
        first_pid = env._sandbox.pid
        env.reset(DEV_TASK)
        second_pid, spare_pid = env._sandbox.pid, env._spare.pid
        assert len({first_pid, second_pid, spare_pid}) == 3
        assert "NameError" in env.step(code("secret")).observation
        assert not os.path.exists(f"/proc/{first_pid}")  # the first episode's worker is gone
    finally:
        env.close()
    assert not os.path.exists(f"/proc/{second_pid}") and not os.path.exists(f"/proc/{spare_pid}")
