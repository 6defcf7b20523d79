"""Every task of the built-in world (both engineers' scenarios, so this grows as tasks land):
its ground truth passes all its checks and completes the task, doing nothing fails at least one
check, question ground truths do not carry their answer, and the splits keep their promises."""

from __future__ import annotations

from collections import defaultdict

import pytest

from looprl.world.runner import solve
from looprl.world.state import World
from looprl.world.tasks import SPLITS, load_tasks, scenarios

TASKS = load_tasks()


@pytest.mark.parametrize("task", TASKS, ids=[t.id for t in TASKS])
def test_ground_truth_passes_and_doing_nothing_fails(task):
    world, output, ran = solve(task)
    assert ran, f"{task.id}: the ground truth raised:\n{output}"
    report = world.evaluate()
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.passed]
    assert not failed, f"{task.id}: the ground truth fails {failed}"
    assert world.completed, f"{task.id}: the ground truth never calls complete_task"
    empty = World.for_task(task).evaluate()
    assert not empty.success, f"{task.id}: doing nothing passes every check"
    assert empty.reward < 1.0


@pytest.mark.parametrize("task", [t for t in TASKS if t.is_question], ids=[t.id for t in TASKS if t.is_question])
def test_question_ground_truth_does_not_hard_code_its_answer(task):
    # Short integers (counts) would match page sizes and the like; every other answer must be read
    # through the APIs, so its literal must not appear in the solution.
    answer = task.answer
    text = task.solution.lower()
    if isinstance(answer, str):
        assert answer.lower() not in text, f"{task.id}: the ground truth contains its answer {answer!r}"
    elif isinstance(answer, float) and not answer.is_integer():
        assert f"{answer}" not in text, f"{task.id}: the ground truth contains its answer {answer!r}"
    elif isinstance(answer, list):
        for item in answer:
            if isinstance(item, str):
                assert item.lower() not in text, f"{task.id}: the ground truth contains part of its answer {item!r}"


def test_world_is_big_enough():
    assert len(scenarios()) >= 40, f"only {len(scenarios())} scenarios"
    assert len(TASKS) >= 120, f"only {len(TASKS)} tasks"


def test_each_scenario_yields_three_numbered_tasks_in_one_split():
    by_scenario = defaultdict(list)
    for t in TASKS:
        by_scenario[t.scenario].append(t)
    for name, tasks in by_scenario.items():
        assert sorted(t.id for t in tasks) == [f"{name}_{n}" for n in (1, 2, 3)]
        assert {t.split for t in tasks} == {scenarios()[name].split}, f"{name} spans splits"
        assert all(t.difficulty in (1, 2, 3) and t.instruction.strip() for t in tasks)
    assert len({t.id for t in TASKS}) == len(TASKS)


def test_splits_are_disjoint_and_test_challenge_needs_unseen_apps():
    split_of = {}
    for t in TASKS:
        assert split_of.setdefault(t.scenario, t.split) == t.split, f"scenario {t.scenario} is in two splits"
    for split in SPLITS:
        assert any(t.split == split for t in TASKS), f"split {split} is empty"
    train_apps = {a for t in TASKS if t.split == "train" for a in t.apps}
    # The two apps held out for test_challenge.
    assert not {"expenses", "files"} & train_apps, f"train uses held-out apps: {train_apps & {'expenses', 'files'}}"
    for t in TASKS:
        if t.split == "test_challenge":
            assert set(t.apps) - train_apps, f"{t.id} uses only apps seen in train: {t.apps}"


def test_train_and_dev_have_easy_tasks_and_train_avoids_difficulty_three():
    for split in ("train", "dev"):
        easy = {t.scenario for t in TASKS if t.split == split and t.difficulty == 1}
        assert len(easy) >= 2, f"{split} has {len(easy)} difficulty-1 scenarios"
    train = [t for t in TASKS if t.split == "train"]
    assert sum(t.difficulty <= 2 for t in train) / len(train) >= 0.9


def test_ground_truths_log_in_through_the_supervisor_not_with_known_passwords():
    world = World.base()
    passwords = [r["password"] for r in world.db.execute("SELECT password FROM accounts WHERE user_id = 1")]
    for t in TASKS:
        assert not any(p in t.solution for p in passwords), f"{t.id}: the ground truth hard-codes a password"
        if ".login(" in t.solution:
            assert "show_account_passwords" in t.solution, f"{t.id}: logs in without reading the supervisor's passwords"
        assert "apis.supervisor.complete_task" in t.solution, f"{t.id}: never completes the task"
