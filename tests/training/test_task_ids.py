"""The trainer's task ids come from the env that will run them (built-in world, AppWorld, toy)."""

import json

import pytest

from looprl.config import TrainConfig, load_config
from looprl.training.trainer import resolve_task_ids


def _appworld_root(tmp_path):
    (tmp_path / "data" / "datasets").mkdir(parents=True)
    (tmp_path / "data" / "datasets" / "train.txt").write_text("aaa_1\nbbb_1\nccc_1\n")
    (tmp_path / "data" / "datasets" / "dev.txt").write_text("ddd_1\n")
    for tid, diff in (("aaa_1", 1), ("bbb_1", 3), ("ccc_1", 2), ("ddd_1", 3)):
        gt = tmp_path / "data" / "tasks" / tid / "ground_truth"
        gt.mkdir(parents=True)
        (gt / "metadata.json").write_text(json.dumps({"difficulty": diff}))
    return tmp_path


def test_appworld_ids_come_from_appworld_splits_filtered_by_difficulty(tmp_path):
    root = _appworld_root(tmp_path)
    cfg = load_config(TrainConfig, overrides=["env.name=appworld", f"env.options.root={root}"])
    assert resolve_task_ids(cfg, "train") == ["aaa_1", "ccc_1"]  # difficulty 3 dropped for training (paper: 1-2)
    assert resolve_task_ids(cfg, "dev") == ["ddd_1"]  # evaluation keeps every difficulty


def test_builtin_world_ids_filtered_by_difficulty():
    cfg = load_config(TrainConfig, overrides=["tasks.difficulties=[1]"])
    from looprl.world import get_task

    ids = resolve_task_ids(cfg, "train")
    assert ids and all(get_task(i).difficulty == 1 and get_task(i).split == "train" for i in ids)


def test_toy_split_size_and_empty_splits_are_named():
    import pytest

    from looprl.env import make_env
    from looprl.env.task_ids import task_ids

    assert task_ids("toy", "dev", {"n_tasks": 3}) == ["toy_0", "toy_1", "toy_2"]
    make_env("toy", n_tasks=3).close()  # the option sizes the split; the env itself accepts and ignores it
    with pytest.raises(ValueError, match=r"split 'dev' of env 'appsuite' has no tasks with difficulties \[9\]"):
        task_ids("appsuite", "dev", fields={"difficulties": [9]})
    # evaluation and training ask the same function: the dev split keeps every difficulty
    cfg = load_config(TrainConfig, overrides=["tasks.difficulties=[1]"])
    assert resolve_task_ids(cfg, "dev") == task_ids("appsuite", "dev")


def test_builtin_world_pool_takes_n_instances_and_fresh_passes_draw_new_ones():
    from looprl.training.sampler import TaskSampler

    cfg = load_config(TrainConfig, overrides=["tasks.instances=4", "tasks.instance_start=3", "tasks.fresh_instances=true", "tasks.difficulties=[1,2]"])
    pool = resolve_task_ids(cfg, "train")
    numbers = {int(i.rsplit("_", 1)[1]) for i in pool}
    assert numbers <= {3, 4, 5, 6} and len(numbers) == 4
    second = resolve_task_ids(cfg, "train", epoch=1)
    assert {int(i.rsplit("_", 1)[1]) for i in second} <= {7, 8, 9, 10} and not set(pool) & set(second)
    assert resolve_task_ids(cfg, "heldout")[0].endswith("_100001")

    sampler = TaskSampler(pool, seed=0, fresh=lambda e: resolve_task_ids(cfg, "train", epoch=e))
    drawn = sampler.sample(len(pool) + len(second))
    assert len(set(drawn)) == len(drawn) == len(pool) + len(second)  # two passes, no task twice
    # resumable: a sampler restored from the state draws what the first would have drawn next
    state = sampler.state()
    again = TaskSampler(pool, seed=0, fresh=lambda e: resolve_task_ids(cfg, "train", epoch=e))
    again.restore(state)
    assert again.sample(5) == sampler.sample(5)
    plain = TaskSampler(pool, seed=0)
    with pytest.raises(ValueError, match="fresh instances True"):
        plain.restore(state)


def test_instance_options_are_for_the_builtin_world_only():
    # the env's own word on the fields it does not take, naming the config field and its value
    with pytest.raises(Exception, match=r"tasks.fresh_instances=True does not apply to the toy env: its tasks are a fixed list"):
        load_config(TrainConfig, overrides=["env.name=toy", "tasks.fresh_instances=true"])
    with pytest.raises(Exception, match=r"tasks.instance_start=2 does not apply to env 'appworld'"):
        load_config(TrainConfig, overrides=["env.name=appworld", "tasks.instance_start=2"])
    with pytest.raises(Exception, match=r"tasks.scenarios=\['nope'\] names no scenario of the built-in world"):
        load_config(TrainConfig, overrides=["tasks.scenarios=[nope]"])
    with pytest.raises(Exception, match="cannot be combined with an explicit tasks.task_ids"):
        load_config(TrainConfig, overrides=["tasks.fresh_instances=true", "tasks.task_ids=[notes_count_tag_1]"])
