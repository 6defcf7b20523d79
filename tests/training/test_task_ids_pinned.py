"""The task ids every split and training selection gives, pinned: the env's task selection may change
shape, never which tasks a config trains and evaluates on. Each list is pinned by its length, first
and last id and a hash of the whole list (taken before the selection moved into the envs)."""

import hashlib

import pytest

from looprl.config import TrainConfig, load_config
from looprl.training.trainer import resolve_task_ids


def _digest(ids):
    return len(ids), ids[0], ids[-1], hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    "overrides, split, pinned",
    [
        ([], "dev", (27, "email_label_sender_1", "todo_count_open_by_priority_3", "c3ddfba2d1aa26cd")),
        ([], "test_normal", (24, "multi_bill_email_to_todo_1", "shopping_return_by_review_3", "c865468eb4d74fc6")),
        ([], "test_challenge", (27, "expenses_add_shared_1", "multi_utility_bill_split_3", "c9804b5b0af18e24")),
        ([], "heldout", (72, "email_count_from_sender_100001", "todo_count_open_in_list_100003", "e8b8491d9a23c935")),
        (["tasks.difficulties=[1,2,3]"], "train", (72, "email_count_from_sender_1", "todo_count_open_in_list_3", "9a73a8a3fbc71992")),
        (["tasks.difficulties=[1]"], "train", (42, "email_count_from_sender_1", "todo_count_open_in_list_3", "3820bf28753f7323")),
        (["tasks.instances=2", "tasks.instance_start=3"], "train", (48, "email_count_from_sender_3", "todo_count_open_in_list_4", "42a17190868fe4eb")),
        (
            ["tasks.instances=4", "tasks.difficulties=[1,2,3]", "tasks.scenarios=[email_count_from_sender,phone_create_alarm]"],
            "train",
            (8, "email_count_from_sender_1", "phone_create_alarm_4", "db31343125b0eabf"),
        ),
        # a selection for training leaves the other splits as they are
        (
            ["tasks.instances=2", "tasks.scenarios=[phone_create_alarm]"],
            "dev",
            (27, "email_label_sender_1", "todo_count_open_by_priority_3", "c3ddfba2d1aa26cd"),
        ),
    ],
)
def test_builtin_world_task_ids_are_pinned(overrides, split, pinned):
    cfg = load_config(TrainConfig, overrides=overrides)
    assert _digest(resolve_task_ids(cfg, split)) == pinned


def test_fresh_instance_blocks_are_pinned():
    scenarios = ["email_count_from_sender", "phone_create_alarm", "shopping_cheapest_rated"]
    cfg = load_config(
        TrainConfig, overrides=["tasks.instances=2", "tasks.instance_start=3", "tasks.fresh_instances=true", f"tasks.scenarios=[{','.join(scenarios)}]"]
    )
    for epoch, numbers in ((0, (3, 4)), (1, (5, 6)), (2, (7, 8))):
        assert resolve_task_ids(cfg, "train", epoch=epoch) == [f"{s}_{n}" for s in scenarios for n in numbers]


def test_toy_task_ids_are_pinned():
    assert resolve_task_ids(load_config(TrainConfig, overrides=["env.name=toy"]), "train") == [f"toy_{i}" for i in range(8)]
    assert resolve_task_ids(load_config(TrainConfig, overrides=["env.name=toy", "env.options.n_tasks=3"]), "dev") == ["toy_0", "toy_1", "toy_2"]
