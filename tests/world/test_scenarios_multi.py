"""The multi-app scenarios (multi_a.py, multi_b.py): they draw a task in every base world whatever
their RNG, and their checks catch a near miss on the parameters they draw."""

from __future__ import annotations

import re

import pytest

from looprl.world import World
from looprl.world.runner import run_code
from looprl.world.tasks import MIN_PHRASINGS, N_WORLDS, BaseView, Task, TaskSpec, instance, scenarios

MULTI = sorted(name for name in scenarios() if name.startswith("multi_"))


def test_the_multi_scenarios_are_all_here():
    assert len(MULTI) == 10


@pytest.mark.parametrize("name", MULTI)
def test_generator_never_raises_in_any_world(name):
    generate = scenarios()[name].generate
    for world in range(N_WORLDS):
        for attempt in range(12):
            view = BaseView(name, 1, world=world, attempt=attempt)
            spec = generate(view)
            assert isinstance(spec, TaskSpec) and spec.instruction and spec.solution
            assert view.phrasings >= MIN_PHRASINGS


def _report(task, code: str) -> dict[str, bool]:
    world = World.for_task(task)
    _, ok = run_code(world, code)
    assert ok
    return {c.name: c.passed for c in world.evaluate().checks}


def _first(scenario: str, wanted) -> Task:
    return next(t for t in (instance(scenario, n) for n in range(1, 40)) if wanted(t))


def test_a_gift_task_due_on_the_wrong_day_fails():
    task = _first("multi_birthday_gift_tasks", lambda t: "timedelta(days=1)" not in t.solution)
    report = _report(task, re.sub(r"timedelta\(days=\d+\)", "timedelta(days=1)", task.solution))
    assert not next(v for k, v in report.items() if k.startswith("a gift task for every birthday")) and report["no other tasks were added"]


def test_a_forward_without_the_note_fails_the_note_check_only():
    task = _first("multi_forward_bill_to_roommates", lambda t: ", body=" in t.solution)
    report = _report(task, re.sub(r", body=(['\"]).*?\1\)", ")", task.solution))
    assert not report["it carries my note"] and report["it goes to exactly my roommates"] and report["no unrequested changes"]


def test_an_expense_on_the_wrong_date_fails():
    task = _first("multi_receipts_file_expense", lambda t: ', date="' in t.solution)
    report = _report(task, re.sub(r', date="[0-9-]+"', "", task.solution))
    assert not report["with the category, description and date"] and report["for the file's total"]
