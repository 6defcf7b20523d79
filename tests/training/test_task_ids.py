"""The trainer's task ids come from the env that will run them (built-in world, AppWorld, toy)."""

import json

from looprl.config import load_config
from looprl.schema import TrainConfig
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
        task_ids("appsuite", "dev", difficulties=[9])
    # evaluation and training ask the same function: the dev split keeps every difficulty
    cfg = load_config(TrainConfig, overrides=["tasks.difficulties=[1]"])
    assert resolve_task_ids(cfg, "dev") == task_ids("appsuite", "dev")
