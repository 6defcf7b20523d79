"""The Env protocol declares evaluate() and the task lookup; each registered env answers for its own
tasks (no switch on env names), and a user's env falls back to the built-in world's splits."""

import json

import pytest

from looprl.env.base import BuiltinWorldTasks, Env, register_env, task_lookup


def test_protocol_declares_evaluate_and_the_task_lookup():
    for name in ("reset", "step", "evaluate", "close", "splits", "task_ids", "check_task_ids"):
        assert name in Env.__dict__, name
    for name in ("splits", "task_ids", "check_task_ids"):
        assert isinstance(Env.__dict__[name], classmethod), name


def test_each_builtin_env_registers_its_own_lookup():
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.env.appworld import AppWorldEnv
    from looprl.testing import DigitsEnv

    assert task_lookup("appsuite") is AppSuiteEnv and task_lookup("appworld") is AppWorldEnv and task_lookup("toy") is DigitsEnv
    with pytest.raises(ValueError, match="unknown env 'nope'"):
        task_lookup("nope")


def test_appsuite_lookup():
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.world import load_tasks

    assert "heldout" in AppSuiteEnv.splits() and "train" in AppSuiteEnv.splits()
    assert AppSuiteEnv.task_ids("dev") == [t.id for t in load_tasks("dev")]
    one = AppSuiteEnv.task_ids("train", instances=1, start=5)
    assert one and all(i.endswith("_5") for i in one)
    AppSuiteEnv.check_task_ids(one[:2])
    with pytest.raises(ValueError, match=r"'nope_1'.*<scenario>_<n>"):
        AppSuiteEnv.check_task_ids([one[0], "nope_1"])


def test_appworld_lookup(tmp_path):
    from looprl.env.appworld import AppWorldEnv

    (tmp_path / "data" / "datasets").mkdir(parents=True)
    (tmp_path / "data" / "datasets" / "train.txt").write_text("aaa_1\nbbb_1\n")
    for tid, diff in (("aaa_1", 1), ("bbb_1", 3)):
        (tmp_path / "data" / "tasks" / tid / "ground_truth").mkdir(parents=True)
        (tmp_path / "data" / "tasks" / tid / "ground_truth" / "metadata.json").write_text(json.dumps({"difficulty": diff}))
    options = {"root": str(tmp_path)}
    assert AppWorldEnv.splits(options) == ["train"]
    assert AppWorldEnv.task_ids("train", options) == ["aaa_1", "bbb_1"]
    assert AppWorldEnv.task_ids("train", options, difficulties=[1, 2]) == ["aaa_1"]
    AppWorldEnv.check_task_ids(["anything_1"], options)  # AppWorld's reset names an unknown task
    with pytest.raises(ValueError, match="AppWorld split 'dev' not found"):
        AppWorldEnv.task_ids("dev", options)


def test_toy_lookup():
    from looprl.testing import DigitsEnv, StepsEnv

    for cls in (DigitsEnv, StepsEnv):
        assert cls.splits() is None  # no named splits: any split name gives n_tasks tasks
        assert cls.task_ids("whatever", {"n_tasks": 2}) == ["toy_0", "toy_1"]
        assert len(cls.task_ids("dev")) == 8
        cls.check_task_ids(["toy_0", "toy_12"])
        with pytest.raises(ValueError, match="toy_<n>"):
            cls.check_task_ids(["toy_0", "todo_1"])


@pytest.fixture
def scratch_registry(monkeypatch):
    """Envs registered by a test are gone after it (other tests list the registered envs)."""
    from looprl.env import base

    task_lookup("appsuite")  # the built-in envs first, so that they stay registered
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_TASKS", dict(base._TASKS))


def test_a_users_env_gets_its_own_lookup_or_the_builtin_worlds(scratch_registry):
    from looprl.env.task_ids import task_ids

    class Mine:
        @classmethod
        def splits(cls, options=None):
            return ["a"]

        @classmethod
        def task_ids(cls, split, options=None, **query):
            return [f"mine_{split}_{(options or {}).get('n', 0)}"]

        @classmethod
        def check_task_ids(cls, ids, options=None):
            return None

    register_env("test-mine-class", Mine, overwrite=True)  # a class factory answers for itself
    register_env("test-mine-fn", lambda **o: Mine(), overwrite=True, env_class=Mine)
    register_env("test-plain", lambda **o: object(), overwrite=True)  # no lookup: the built-in world's
    assert task_lookup("test-mine-class") is Mine and task_lookup("test-mine-fn") is Mine
    assert task_ids("test-mine-fn", "a", {"n": 3}) == ["mine_a_3"]
    assert task_lookup("test-plain") is BuiltinWorldTasks
    assert task_ids("test-plain", "dev") == task_ids("appsuite", "dev")
    BuiltinWorldTasks.check_task_ids(["not_a_task_1"])  # such an env checks its ids on reset


def test_preflight_asks_the_env():
    from looprl.config import ConfigError
    from looprl.preflight import check_split, check_task_ids

    check_split("toy", "anything", {}, field="split")
    with pytest.raises(ConfigError, match=r"split='devv' is not a split of env 'appsuite'; splits: .*test_normal"):
        check_split("appsuite", "devv", {}, field="split")
    with pytest.raises(ConfigError, match="root"):
        check_split("appworld", "train", {"root": "/no/such/appworld/root"}, field="tasks.train_split")
    check_task_ids("toy", ["toy_3"], field="tasks.task_ids")
    with pytest.raises(ConfigError, match="tasks.task_ids: .*'todo_1'"):
        check_task_ids("toy", ["todo_1"], field="tasks.task_ids")


def test_wrappers_forward_evaluate_and_check_env_requires_it():
    from looprl.env.checker import EnvCheckError, check_env
    from looprl.env.wrappers import TurnLimit, Wrapper
    from looprl.testing import StepsEnv

    assert "evaluate" in Wrapper.__dict__
    env = TurnLimit(StepsEnv(), 5)
    env.reset("toy_2")
    env.step("go")
    assert env.evaluate() == StepsEnv.evaluate(env.unwrapped)

    class NoEvaluate(StepsEnv):
        evaluate = None

    with pytest.raises(EnvCheckError, match=r"no evaluate\(\) method"):
        check_env(NoEvaluate(), "toy_1")


def test_check_env_takes_its_default_task_from_the_envs_own_lookup():
    from looprl.env import make_env
    from looprl.env.checker import _default_task_id
    from looprl.env.wrappers import TurnLimit
    from looprl.testing import DigitsEnv
    from looprl.world import load_tasks

    env = TurnLimit(make_env("appsuite"), 5)
    try:
        assert _default_task_id(env) == load_tasks("dev")[0].id  # through the wrapper, the dev split
    finally:
        env.close()
    assert _default_task_id(DigitsEnv()) == "toy_0"  # no named splits: any name gives its tasks

    class Bare:  # an env that leaves its tasks to its users
        def reset(self, task_id, *, seed=None): ...

    with pytest.raises(ValueError, match="check_env needs a task_id for a Bare"):
        _default_task_id(Bare())
