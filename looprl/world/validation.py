"""Checks that the world's tasks are what they claim: every ground truth passes all its checks,
doing nothing fails at least one, and a scenario's instances are distinct tasks worded in several
ways. `looprl world validate` and the tests run these."""

from __future__ import annotations

import time
from typing import Any

from looprl.world.tasks import HELDOUT, MIN_PHRASINGS, Task, instance, instance_numbers, scenarios


def validate_task(task: Task) -> dict[str, Any]:
    """Run ``task``'s ground truth (it must pass every check) and an empty episode (it must fail one).

    Returns {"task_id", "ok", "problems": [str], "ground_truth": report dict, "do_nothing_reward", "seconds"}.
    """
    from looprl.world.runner import solve
    from looprl.world.state import World

    started = time.perf_counter()
    problems: list[str] = []
    try:
        world, output, ran = solve(task)
        report = world.evaluate()
    except Exception as exc:  # a broken setup or evaluator is a failure of this task, not of the run
        return {"task_id": task.id, "ok": False, "problems": [f"error: {type(exc).__name__}: {exc}"], "seconds": time.perf_counter() - started}
    if not ran:
        problems.append("ground truth raised: " + output.strip().splitlines()[-1] if output.strip() else "ground truth raised")
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.passed]
    if failed:
        problems.append("ground truth fails checks: " + "; ".join(failed))
    if not world.completed:
        problems.append("ground truth never calls apis.supervisor.complete_task")
    empty = World.for_task(task).evaluate()
    if empty.success:
        problems.append("doing nothing passes every check")
    if task.phrasings < MIN_PHRASINGS:
        problems.append(f"instruction chosen from {task.phrasings} phrasings (at least {MIN_PHRASINGS} through view.phrase)")
    return {
        "task_id": task.id,
        "ok": not problems,
        "problems": problems,
        "ground_truth": report.to_dict(),
        "do_nothing_reward": empty.reward,
        "seconds": round(time.perf_counter() - started, 4),
    }


def distinctness_problems(tasks: list[Task]) -> list[str]:
    """Pairs of tasks with the same instruction or the same outcome (base world, ground truth, answer)."""
    problems = []
    for what, key in (("instruction", lambda t: t.instruction), ("outcome", lambda t: t.outcome_key)):
        first: dict[str, str] = {}
        for t in tasks:
            k = key(t)
            if k in first:
                problems.append(f"{t.id} repeats the {what} of {first[k]}")
            else:
                first[k] = t.id
    return problems


def validate_scenario(name: str, instances: int = 3, heldout: int | None = None) -> dict[str, Any]:
    """Validate instances 1..``instances`` of a scenario (and, for a training scenario, ``heldout``
    held-out instances: a third as many, at least 1, by default; one in `HELDOUT_SHARE` outcomes is
    held out, so that side has fewer distinct tasks to draw): each task valid, all pairwise distinct,
    held-out outcomes disjoint from the training instances' ones.

    Returns {"scenario", "split", "tasks", "ok", "results": [validate_task dicts], "problems": [str]}.
    """
    sdef = scenarios()[name]
    problems: list[str] = []
    try:
        tasks = [instance(name, n) for n in instance_numbers(sdef.split, instances)]
        held: list[Task] = []
        if sdef.split == "train":
            held = [instance(name, n) for n in instance_numbers(HELDOUT, max(1, instances // 3) if heldout is None else heldout)]
    except Exception as exc:  # a generator that fails is a validation failure, reported plainly
        return {"scenario": name, "split": sdef.split, "tasks": 0, "ok": False, "results": [], "problems": [f"could not generate: {type(exc).__name__}: {exc}"]}
    results = [validate_task(t) for t in tasks + held]
    problems += distinctness_problems(tasks) + distinctness_problems(held)
    train_outcomes = {t.outcome_key for t in tasks}
    problems += [f"held-out {t.id} has the outcome of a training instance" for t in held if t.outcome_key in train_outcomes]
    ok = not problems and all(r["ok"] for r in results)
    return {"scenario": name, "split": sdef.split, "tasks": len(results), "ok": ok, "results": results, "problems": problems}
