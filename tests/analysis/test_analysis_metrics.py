"""TGC / SGC on hand-written rollouts with answers worked out by hand, and against a naive version."""

from __future__ import annotations

import json
import math
import random

import pytest

from looprl.analysis import goal_completion, sgc, summarize, tgc
from looprl.trajectory import Trajectory


def T(task, scenario, success, sample=0, **kw):
    return Trajectory(task_id=task, messages=[], scenario=scenario, success=success, sample_index=sample, **kw)


def test_tgc_and_sgc_single_run():
    trajs = [T("a1", "A", True), T("a2", "A", True), T("b1", "B", True), T("b2", "B", False)]
    assert tgc(trajs) == pytest.approx(0.75)
    assert sgc(trajs) == pytest.approx(0.5)  # A fully solved, B not


def test_repeated_runs_give_mean_and_sample_std():
    # run 0: a solved, b not -> TGC .5, SGC 0 (one scenario); run 1: both -> TGC 1, SGC 1
    trajs = [T("a", "S", True, 0), T("b", "S", False, 0), T("a", "S", True, 1), T("b", "S", True, 1)]
    gc = goal_completion(trajs)
    assert gc["n_runs"] == 2 and gc["n_tasks"] == 2 and gc["n_scenarios"] == 1 and gc["n_rollouts"] == 4
    assert gc["tgc"] == pytest.approx(0.75)
    assert gc["tgc_std"] == pytest.approx(math.sqrt(2 * 0.25**2 / 1))  # ddof = 1
    assert gc["sgc"] == pytest.approx(0.5)
    assert gc["sgc_std"] == pytest.approx(math.sqrt(2 * 0.5**2))
    assert [r["tgc"] for r in gc["per_run"]] == [0.5, 1.0]


def test_single_run_has_zero_std_and_missing_scenario_is_its_own():
    trajs = [T("x", "", True), T("y", "", False)]
    gc = goal_completion(trajs)
    assert gc["tgc_std"] == 0.0 and gc["n_scenarios"] == 2 and gc["sgc"] == pytest.approx(0.5)


def test_duplicate_rollouts_in_one_run_count_fractionally():
    trajs = [T("a", "S", True), T("a", "S", False), T("b", "S", True)]
    assert tgc(trajs) == pytest.approx((0.5 + 1.0) / 2)
    assert sgc(trajs) == 0.0  # one of a's rollouts failed


def test_empty_input_is_an_error_for_the_scalar_functions():
    with pytest.raises(ValueError, match="at least one trajectory"):
        tgc([])
    assert goal_completion([])["tgc"] is None


def test_summarize_groups_by_difficulty_app_and_split_and_is_json():
    trajs = [
        T("a1", "A", True, difficulty=1, apps=["notes"], split="dev"),
        T("a2", "A", False, difficulty=1, apps=["notes", "music"], split="dev"),
        T("b1", "B", True, difficulty=2, apps=["music"], split="test_normal"),
        T("c1", "C", True, difficulty=None, apps=[], split=""),
    ]
    s = summarize(trajs)
    json.dumps(s)  # summary.json content must serialize
    assert s["tgc"] == pytest.approx(0.75) and s["sgc"] == pytest.approx(2 / 3)
    assert s["per_difficulty"]["1"]["tgc"] == pytest.approx(0.5) and s["per_difficulty"]["1"]["sgc"] == 0.0
    assert s["per_difficulty"]["2"]["tgc"] == 1.0 and s["per_difficulty"]["unknown"]["n_tasks"] == 1
    assert s["per_app"]["notes"]["tgc"] == pytest.approx(0.5)
    assert s["per_app"]["music"]["tgc"] == pytest.approx(0.5) and s["per_app"]["music"]["n_tasks"] == 2
    assert s["per_split"]["dev"]["n_tasks"] == 2 and s["per_split"]["test_normal"]["tgc"] == 1.0
    assert "unknown" in s["per_app"] and "unknown" in s["per_split"]
    assert set(s["behaviour"]) >= {"multi_cell_turn_share", "give_up_rate", "turns_per_episode"}


def _naive(trajs):
    """A direct restatement of the definitions, for comparison on random data."""
    runs = sorted({t.sample_index for t in trajs})
    tg, sg = [], []
    for k in runs:
        rk = [t for t in trajs if t.sample_index == k]
        tasks = sorted({t.task_id for t in rk})
        tg.append(sum(sum(t.success for t in rk if t.task_id == x) / sum(1 for t in rk if t.task_id == x) for x in tasks) / len(tasks))
        scen = sorted({t.scenario for t in rk})
        sg.append(sum(all(t.success for t in rk if t.scenario == s) for s in scen) / len(scen))
    return sum(tg) / len(tg), sum(sg) / len(sg)


@pytest.mark.parametrize("seed", range(5))
def test_matches_naive_definition_on_random_runs(seed):
    rng = random.Random(seed)
    trajs = [
        T(f"s{s}_{i}", f"s{s}", rng.random() < 0.6, k)
        for k in range(rng.randint(1, 4))
        for s in range(rng.randint(1, 6))
        for i in range(3)
        if rng.random() < 0.9
    ] or [T("a", "A", True)]
    assert (tgc(trajs), sgc(trajs)) == pytest.approx(_naive(trajs))


def test_summary_carries_intervals_and_per_task_values():
    from looprl.analysis.stats import bootstrap_ci

    trajs = [T(f"t{i}", f"s{i // 3}", i % 4 != 0, reward=0.25 * (i % 5)) for i in range(24)]
    trajs += [T("t1", "s0", False, reward=0.0)]  # a second rollout of one task: it counts fractionally
    s = summarize(trajs)
    json.dumps(s)
    assert s["per_task"]["t1"] == {"success": 0.5, "reward": 0.125} and len(s["per_task"]) == 24
    assert s["tgc_ci95"] == bootstrap_ci([v["success"] for v in s["per_task"].values()]).to_list()
    assert s["tgc_ci95"][0] < s["tgc"] < s["tgc_ci95"][1] and s["sgc_ci95"][0] <= s["sgc"] <= s["sgc_ci95"][1]
    assert s["reward_ci95"] == bootstrap_ci([v["reward"] for v in s["per_task"].values()]).to_list()
    assert s["per_difficulty"]["unknown"]["tgc_ci95"] == s["tgc_ci95"]  # every table that shows a group's TGC can show its interval
    assert goal_completion([])["tgc_ci95"] is None
