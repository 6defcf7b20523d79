"""Task instances without limit: a scenario draws instance n of its task for any n, the same in
every process; instances are distinct; held-out instances never overlap what training draws; the
trainer can draw fresh instances every pass."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from looprl.world.tasks import (
    HELDOUT,
    HELDOUT_START,
    N_WORLDS,
    BaseView,
    ScenarioExhausted,
    distinct_instances,
    get_task,
    instance,
    instance_numbers,
    load_tasks,
    scenarios,
    split_scenarios,
)
from looprl.world.validation import distinctness_problems, validate_scenario

TRAIN = split_scenarios("train")


def _digest_code(ids: list[str]) -> str:
    return (
        "import hashlib\nfrom looprl.world.tasks import get_task\nh = hashlib.sha256()\n"
        f"tasks = {{tid: get_task(tid) for tid in {ids!r}}}\n"  # drawn in this order, digested in one order
        "for tid in sorted(tasks):\n"
        "    t = tasks[tid]\n"
        "    h.update(repr((t.id, t.world, t.split, t.instruction, t.solution, t.difficulty, t.answer if t.is_question else None)).encode())\n"
        "print(h.hexdigest())\n"
    )


def test_an_instance_is_the_same_task_in_every_process_and_in_any_order():
    # instance 7 drawn first in one process, after 1..6 in another (draws depend on earlier instances)
    ids = [f"{TRAIN[0]}_7", f"{TRAIN[-1]}_12", f"{TRAIN[1]}_{HELDOUT_START + 4}", "notes_count_tag_30"]
    runs = {
        subprocess.run(
            [sys.executable, "-c", _digest_code(order)], capture_output=True, text=True, timeout=300, check=True, env={**os.environ, "PYTHONHASHSEED": seed}
        ).stdout.strip()
        for order, seed in ((ids, "1"), (sorted(ids), "2"))
    }
    assert len(runs) == 1 and next(iter(runs))


def test_any_instance_number_is_a_task_and_bad_ids_are_named():
    task = get_task("notes_count_tag_250")
    assert (task.scenario, task.instance, task.split) == ("notes_count_tag", 250, "train")
    assert 0 <= task.world < N_WORLDS
    for bad in ("notes_count_tag_0", "notes_count_tag", "notes_count_tag_x", "nope_1", "notes_count_tag_01"):
        with pytest.raises(KeyError, match="unknown task id"):
            get_task(bad)
    with pytest.raises(KeyError, match="unknown scenario 'notes_count_ta'.*notes_count_tag"):
        instance("notes_count_ta", 1)
    with pytest.raises(ValueError, match="integer >= 1"):
        instance("notes_count_tag", 0)


def test_instances_span_several_base_worlds_with_other_main_users():
    tasks = load_tasks("train", instances=10)
    assert len({t.world for t in tasks}) >= N_WORLDS // 2
    from looprl.world import World

    users = {World.for_task(t).supervisor["email"] for t in tasks[:40]}
    assert len(users) >= 3  # another main user in another base world


def test_load_tasks_keeps_its_meaning_and_takes_n_instances():
    canonical = load_tasks("train")
    assert len(canonical) == 3 * len(TRAIN) and {t.instance for t in canonical} == {1, 2, 3}
    more = load_tasks("dev", instances=5)
    assert len(more) == 5 * len(split_scenarios("dev"))
    assert [t.id for t in load_tasks("train", instances=2, start=4)][:2] == [f"{TRAIN[0]}_4", f"{TRAIN[0]}_5"]
    with pytest.raises(ValueError, match="unknown split 'trian'"):
        load_tasks("trian")
    with pytest.raises(ValueError, match=f"training instances are numbered 1 .. {HELDOUT_START - 1}"):
        load_tasks("train", instances=2, start=HELDOUT_START - 1)


def test_heldout_ranges_and_outcomes_are_disjoint_from_training():
    train_numbers = instance_numbers("train", HELDOUT_START - 1)
    heldout_numbers = instance_numbers(HELDOUT, 1000)
    assert max(train_numbers) < min(heldout_numbers) == HELDOUT_START
    assert set(train_numbers).isdisjoint(heldout_numbers)
    train = load_tasks("train", instances=20)
    held = load_tasks(HELDOUT, instances=6)
    assert {t.split for t in held} == {HELDOUT} and {t.scenario for t in held} == set(TRAIN)
    assert all(t.instance >= HELDOUT_START for t in held)
    train_outcomes = {t.outcome_key for t in train}
    assert not [t.id for t in held if t.outcome_key in train_outcomes]
    # dev and test scenarios have no held-out instances: their outcomes are not split
    from looprl.world.tasks import is_heldout

    dev = scenarios()[split_scenarios("dev")[0]]
    assert not is_heldout(dev, HELDOUT_START) and is_heldout(scenarios()[TRAIN[0]], HELDOUT_START)


def test_instances_are_pairwise_distinct_in_instruction_and_outcome():
    for split in ("train", HELDOUT, "dev"):
        tasks = load_tasks(split, instances=10 if split != HELDOUT else 4)
        for name in {t.scenario for t in tasks}:
            assert distinctness_problems([t for t in tasks if t.scenario == name]) == [], (split, name)


FIRST_N = 40  # instances per scenario the all-scenario distinctness test draws (about 5 s for all)
FIRST_HELDOUT = 16  # the held-out instances per training scenario a benchmark evaluates


def test_every_scenario_s_first_instances_are_pairwise_distinct():
    for name, sdef in scenarios().items():
        sides = [("train" if sdef.split == "train" else sdef.split, FIRST_N)] + ([(HELDOUT, FIRST_HELDOUT)] if sdef.split == "train" else [])
        for side, n in sides:
            tasks = [instance(name, k) for k in instance_numbers(side, n)]
            assert len({(t.instruction, t.outcome_key) for t in tasks}) == n, (name, side)
            assert distinctness_problems(tasks) == [], (name, side)


def test_a_scenario_that_runs_out_says_so_instead_of_repeating():
    # payments_count_requests repeated _12 as _149 (and 24 more) when its draws ran out
    count, exact = distinct_instances("payments_count_requests", limit=1000)
    assert exact and 16 <= count < 1000
    tasks = [instance("payments_count_requests", n) for n in range(1, count + 1)]
    assert distinctness_problems(tasks) == []
    for n in (count + 1, count + 5):
        message = rf"'payments_count_requests' has {count} distinct train instances .*payments_count_requests_{n} would repeat"
        with pytest.raises(ScenarioExhausted, match=message):
            instance("payments_count_requests", n)
    with pytest.raises(ScenarioExhausted, match="payments_count_requests"):
        load_tasks("train", instances=count + 1, scenarios=["payments_count_requests"])
    held, held_exact = distinct_instances("payments_count_requests", heldout=True, limit=1000)
    assert held_exact and FIRST_HELDOUT <= held < count
    # a scenario with more than the limit gives a lower bound
    assert distinct_instances("todo_add_task", limit=30) == (30, False)


def test_a_scenario_needs_three_phrasings():
    view = BaseView("notes_count_tag", 1)
    with pytest.raises(ValueError, match="at least 3 phrasings"):
        view.phrase(["one {x}", "two {x}"], x=1)
    assert view.phrase(["a {x}", "b {x}", "c {x}"], x=1) in {"a 1", "b 1", "c 1"}
    assert all(t.phrasings >= 3 for t in load_tasks(None, instances=2))


def test_validate_scenario_checks_instances_and_heldout():
    report = validate_scenario("notes_count_tag", instances=6)
    assert report["ok"], report["problems"] + [r for r in report["results"] if not r["ok"]]
    assert report["tasks"] == 6 + 2  # a third as many held-out instances
    assert sum(r["task_id"].endswith(f"_{HELDOUT_START}") for r in report["results"]) == 1


def test_every_scenario_is_registered_in_one_split():
    assert {s.split for s in scenarios().values()} == {"train", "dev", "test_normal", "test_challenge"}
