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
