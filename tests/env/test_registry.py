"""The Env protocol declares evaluate(); the task lookup and the evaluation hooks are declared
capabilities of an env class. Each registered env answers for its own tasks with a selection of its
own (no switch on env names); a user's env without a lookup runs explicit task ids and asking it for
a split says so."""

import json

import pytest

from looprl.env.base import Env, EvalHooks, TaskLookup, TaskSelectionError, evaluation_hooks, find_task_lookup, register_env, task_lookup


def test_protocol_declares_evaluate_and_the_task_lookup():
    for name in ("reset", "step", "evaluate", "close"):
        assert name in Env.__dict__, name
    for name in ("splits", "task_selection", "task_ids", "check_task_ids"):
        assert isinstance(TaskLookup.__dict__[name], classmethod), name
    for name in ("prepare_evaluation", "finish_evaluation"):
        assert isinstance(EvalHooks.__dict__[name], classmethod), name


def test_each_builtin_env_registers_its_own_lookup():
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.env.appworld import AppWorldEnv
    from looprl.testing import DigitsEnv

    assert task_lookup("appsuite") is AppSuiteEnv and task_lookup("appworld") is AppWorldEnv and task_lookup("toy") is DigitsEnv
    with pytest.raises(ValueError, match="unknown env 'nope'"):
        task_lookup("nope")
    # only AppWorld does something of its own around an evaluation run
    assert evaluation_hooks("appworld") is AppWorldEnv and evaluation_hooks("appsuite") is None and evaluation_hooks("toy") is None


def test_appsuite_lookup():
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.world import load_tasks

    assert "heldout" in AppSuiteEnv.splits() and "train" in AppSuiteEnv.splits()
    assert AppSuiteEnv.task_ids("dev", AppSuiteEnv.task_selection()) == [t.id for t in load_tasks("dev")]
    selection = AppSuiteEnv.task_selection({}, {"instances": 1, "instance_start": 5})
    assert selection == AppSuiteEnv.Selection(instances=1, start=5)
    one = AppSuiteEnv.task_ids("train", selection)
    assert one and all(i.endswith("_5") for i in one)
    AppSuiteEnv.check_task_ids(one[:2])
    with pytest.raises(ValueError, match=r"'nope_1'.*<scenario>_<n>"):
        AppSuiteEnv.check_task_ids([one[0], "nope_1"])


def test_appsuite_selection_draws_fresh_blocks_and_names_what_it_does_not_take():
    from looprl.env.appsuite import AppSuiteEnv

    fields = {"instances": 2, "instance_start": 3, "fresh_instances": True, "scenarios": ["phone_create_alarm"]}
    assert [AppSuiteEnv.task_ids("train", AppSuiteEnv.task_selection({}, fields, epoch=e)) for e in (0, 2)] == [
        ["phone_create_alarm_3", "phone_create_alarm_4"],
        ["phone_create_alarm_7", "phone_create_alarm_8"],
    ]
    # without fresh_instances every pass gets the same pool
    assert AppSuiteEnv.task_selection({}, {"instances": 2}, epoch=3) == AppSuiteEnv.task_selection({}, {"instances": 2})
    with pytest.raises(TaskSelectionError, match=r"^n_tasks=4 does not apply to the built-in world .*it takes: difficulties, instances"):
        AppSuiteEnv.task_selection({}, {"n_tasks": 4})
    with pytest.raises(TaskSelectionError, match=r"^instances=0 must be an integer >= 1"):
        AppSuiteEnv.task_selection({}, {"instances": 0})
    with pytest.raises(TaskSelectionError, match=r"scenarios=\['nope'\] names no scenario of the built-in world"):
        AppSuiteEnv.task_selection({}, {"scenarios": ["nope"]})
    dev_scenario = load_dev_scenario()
    with pytest.raises(TaskSelectionError, match=rf"has \['{dev_scenario}'\], not scenarios of split 'train'; its scenarios are: .*phone_create_alarm"):
        AppSuiteEnv.task_ids("train", AppSuiteEnv.task_selection({}, {"scenarios": [dev_scenario]}))


def load_dev_scenario() -> str:
    from looprl.world import load_tasks

    return load_tasks("dev")[0].scenario


def test_appworld_lookup(tmp_path):
    from looprl.env.appworld import AppWorldEnv

    (tmp_path / "data" / "datasets").mkdir(parents=True)
    (tmp_path / "data" / "datasets" / "train.txt").write_text("aaa_1\nbbb_1\n")
    for tid, diff in (("aaa_1", 1), ("bbb_1", 3)):
        (tmp_path / "data" / "tasks" / tid / "ground_truth").mkdir(parents=True)
        (tmp_path / "data" / "tasks" / tid / "ground_truth" / "metadata.json").write_text(json.dumps({"difficulty": diff}))
    options = {"root": str(tmp_path)}
    assert AppWorldEnv.splits(options) == ["train"]
    assert AppWorldEnv.task_ids("train", AppWorldEnv.task_selection(options)) == ["aaa_1", "bbb_1"]
    assert AppWorldEnv.task_ids("train", AppWorldEnv.task_selection(options, {"difficulties": [1, 2]})) == ["aaa_1"]
    AppWorldEnv.check_task_ids(["anything_1"], options)  # AppWorld's reset names an unknown task
    with pytest.raises(ValueError, match="AppWorld split 'dev' not found"):
        AppWorldEnv.task_ids("dev", AppWorldEnv.task_selection(options))
    with pytest.raises(TaskSelectionError, match=r"^instances=3 does not apply to env 'appworld': AppWorld's tasks are the fixed lists"):
        AppWorldEnv.task_selection(options, {"difficulties": [1], "instances": 3})


def test_toy_lookup():
    from looprl.testing import DigitsEnv, StepsEnv

    for cls in (DigitsEnv, StepsEnv):
        assert cls.splits() is None  # no named splits: any split name gives n_tasks tasks
        assert cls.task_ids("whatever", cls.task_selection({"n_tasks": 2}, {"difficulties": [2]})) == ["toy_0", "toy_1"]
        assert len(cls.task_ids("dev", cls.task_selection())) == 8
        cls.check_task_ids(["toy_0", "toy_12"])
        with pytest.raises(ValueError, match="toy_<n>"):
            cls.check_task_ids(["toy_0", "todo_1"])
        with pytest.raises(TaskSelectionError, match=r"^fresh_instances=True does not apply to the toy env"):
            cls.task_selection({}, {"fresh_instances": True})


@pytest.fixture
def scratch_registry(monkeypatch):
    """Envs registered by a test are gone after it (other tests list the registered envs)."""
    from looprl.env import base

    task_lookup("appsuite")  # the built-in envs first, so that they stay registered
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_CLASSES", dict(base._CLASSES))


def test_a_users_env_gets_its_own_lookup_or_none(scratch_registry):
    from looprl.config import ConfigError
    from looprl.env.task_ids import task_ids
    from looprl.preflight import check_split, check_task_ids

    class Mine:
        @classmethod
        def splits(cls, options=None):
            return ["a"]

        @classmethod
        def task_selection(cls, options=None, fields=None, *, epoch=0):
            return (options or {}).get("n", 0)

        @classmethod
        def task_ids(cls, split, selection):
            return [f"mine_{split}_{selection}"]

        @classmethod
        def check_task_ids(cls, ids, options=None):
            return None

    register_env("test-mine-class", Mine, overwrite=True)  # a class factory answers for itself
    register_env("test-mine-fn", lambda **o: Mine(), overwrite=True, env_class=Mine)
    register_env("test-plain", lambda **o: object(), overwrite=True)  # no lookup
    assert task_lookup("test-mine-class") is Mine and task_lookup("test-mine-fn") is Mine
    assert task_ids("test-mine-fn", "a", {"n": 3}) == ["mine_a_3"]
    assert find_task_lookup("test-plain") is None and evaluation_hooks("test-plain") is None
    with pytest.raises(ValueError, match=r"env 'test-plain' was registered without a task lookup.*give its task ids explicitly \(tasks.task_ids to train"):
        task_ids("test-plain", "dev")
    with pytest.raises(ConfigError, match=r"split='dev': env 'test-plain' was registered without a task lookup"):
        check_split("test-plain", "dev", {}, field="split")
    check_task_ids("test-plain", ["anything_1"], field="tasks.task_ids")  # such an env checks its ids on reset


def test_a_half_written_lookup_is_named_at_registration(scratch_registry):
    class OldShape:  # the lookup before selections: no task_selection
        @classmethod
        def splits(cls, options=None):
            return ["a"]

        @classmethod
        def task_ids(cls, split, options=None, **query):
            return ["x_1"]

    with pytest.raises(ValueError, match=r"OldShape \(env .old.\) implements part of the task lookup \(splits, task_ids\) but not task_selection, check_"):
        register_env("old", OldShape)


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


def test_preflight_checks_the_training_pool_the_envs_selection_picks():
    from looprl.config import ConfigError, TrainConfig, load_config
    from looprl.preflight import check_tasks
    from looprl.world import load_tasks

    def tasks_of(*overrides):
        cfg = load_config(TrainConfig, overrides=list(overrides))
        return cfg.env.name, cfg.env.options, cfg.tasks

    check_tasks(*tasks_of("tasks.instances=2", "tasks.scenarios=[phone_create_alarm]"))
    dev_scenario = load_tasks("dev")[0].scenario  # a scenario of the world, not of the training split
    with pytest.raises(ConfigError, match=rf"^tasks.scenarios=\['{dev_scenario}'\] has .*not scenarios of split 'train'"):
        check_tasks(*tasks_of(f"tasks.scenarios=[{dev_scenario}]"))
    with pytest.raises(ConfigError, match=r"^tasks.train_split='train': split 'train' of env 'toy' has no tasks with difficulties \[1, 2\]"):
        check_tasks(*tasks_of("env.name=toy", "env.options.n_tasks=0"))
    check_tasks(*tasks_of("env.name=toy", "env.options.n_tasks=0", "tasks.task_ids=[toy_3]"))  # explicit ids: no pool to pick


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


def test_the_builtin_envs_and_their_tasks_need_no_looprl_testing():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from looprl.env import make_env\n"
        "from looprl.env.task_ids import task_ids\n"
        "make_env('toy').close()\n"
        "assert task_ids('toy', 'dev', {'n_tasks': 2}) == ['toy_0', 'toy_1']\n"
        "assert task_ids('appsuite', 'dev')\n"
        "print(sorted(m for m in sys.modules if m.startswith('looprl.testing')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
