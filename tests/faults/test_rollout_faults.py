"""Faults injected into collection, no model: an env step that raises, one that hangs past its timeout,
a sandbox worker SIGKILLed inside a K-group, a sampler that fails for a while or for good. Each ends as
an infra-failed rollout (or, for a transient sampler error, leaves no trace); the group's statistics are
taken over the survivors; nothing else is lost."""

from __future__ import annotations

import json
import random

import pytest
import torch

from looprl.agent import Scaffold
from looprl.algorithms import leave_one_out_advantages
from looprl.backends.base import SamplingParams
from looprl.env.sandbox import Sandbox
from looprl.rollout import RolloutError, collect_rollouts, faults
from looprl.rollout.faults import infra_metrics, require_survivors, split_infra
from looprl.testing import FaultPlan, FaultyEnv, ScriptedPolicy, StepsEnv
from looprl.trajectory import FinishReason, Trajectory, read_jsonl

SAMPLING = SamplingParams(max_new_tokens=200)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(faults, "SAMPLER_BACKOFF_S", (0.01,))


def _key(trajs):
    return [(t.task_id, t.sample_index, t.reward, t.token_ids, t.finish_reason) for t in trajs]


def test_finish_reasons_are_declared_and_split_policy_from_infra():
    assert {r.value for r in FinishReason if r.is_infra} == {"sampler_error", "env_worker_died", "env_timeout", "env_error"}
    assert not any(FinishReason(v).is_infra for v in ("terminated", "max_turns", "context", "env_truncated"))


def test_group_baseline_over_survivors_matches_naive_loop():
    rng = random.Random(0)
    reasons = ["terminated", "max_turns", "env_error", "sampler_error", "env_timeout"]
    trajs = [
        Trajectory(task_id=f"t{g}", messages=[], reward=rng.random(), group_id=f"g{g}", finish_reason=rng.choice(reasons))
        for g in range(12)
        for _ in range(rng.randint(1, 5))
    ]
    survivors, failed = split_infra(trajs)
    got = leave_one_out_advantages(torch.tensor([t.reward for t in survivors]), [t.group_id for t in survivors])
    for j, t in enumerate(survivors):  # naive: the mean of the *other surviving* members of the group
        others = [o.reward for o in survivors if o.group_id == t.group_id and o is not t]
        want = t.reward - sum(others) / len(others) if others else 0.0  # < 2 survivors: no signal
        assert abs(float(got[j]) - want) < 1e-6
    assert len(survivors) + len(failed) == len(trajs) and all(t.infra_failed for t in failed)
    counts = infra_metrics(trajs)
    assert counts["rollout/infra_failed"] == len(failed)
    assert counts["rollout/infra/env_error"] == sum(t.finish_reason == "env_error" for t in trajs)
    assert counts["rollout/infra/env_worker_died"] == 0


def test_env_step_that_raises_inside_a_group_is_excluded_and_the_rest_completes():
    plan = FaultPlan(raise_on_steps={5})
    envs = []

    def factory():
        envs.append(FaultyEnv(StepsEnv(), plan))
        return envs[-1]

    clean = collect_rollouts(ScriptedPolicy(), StepsEnv, ["toy_1", "toy_2"], k=3, sampling=SAMPLING, concurrency=1, progress=False)
    trajs = collect_rollouts(ScriptedPolicy(), factory, ["toy_1", "toy_2"], k=3, sampling=SAMPLING, concurrency=1, progress=False)
    assert plan.injected["raise"] == 1 and len(trajs) == 6  # nothing lost: every requested rollout comes back
    (failed,) = [t for t in trajs if t.infra_failed]
    assert failed.finish_reason == "env_error" and "injected fault" in failed.stats["infra_error"] and failed.reward == 0.0
    # every other rollout is exactly the one a run without the fault gives
    assert _key([t for t in trajs if not t.infra_failed]) == _key([t for t in clean if (t.task_id, t.sample_index) != (failed.task_id, failed.sample_index)])
    assert all(env.closed for env in envs)


def test_env_step_that_hangs_past_its_timeout_is_abandoned_and_closed_when_it_returns():
    plan = FaultPlan(hang_on_steps={2}, hang_s=60.0)
    envs = []

    def factory():
        envs.append(FaultyEnv(StepsEnv(), plan))
        return envs[-1]

    try:
        trajs = collect_rollouts(ScriptedPolicy(), factory, ["toy_2"], k=3, sampling=SAMPLING, env_timeout_s=0.3, progress=False)
        # the collection returned while the step still hangs: its episode is the one timed out
        assert not plan._released.is_set()
        assert [t.finish_reason for t in trajs].count("env_timeout") == 1
        assert sum(t.success for t in trajs) == 2
        (hung,) = [e for e in envs if not e.closed]  # closed only once its call returns
    finally:
        plan.release()
    for _ in range(100):
        if hung.closed:
            break
        import time

        time.sleep(0.05)
    assert hung.closed


class _FlakyPolicy(ScriptedPolicy):
    def __init__(self, fail_calls, exc=None):
        super().__init__()
        self.fail_calls, self.calls = set(fail_calls), 0
        self.exc = exc or ConnectionError("sampler unreachable (injected)")

    def generate(self, prompts, sampling):
        self.calls += 1
        if self.calls in self.fail_calls:
            raise self.exc
        return super().generate(prompts, sampling)


def test_transient_sampler_errors_are_retried_in_place_and_change_nothing():
    clean = collect_rollouts(ScriptedPolicy(), StepsEnv, ["toy_1", "toy_3"], k=2, sampling=SAMPLING, progress=False)
    flaky = _FlakyPolicy({2, 3})  # two failures in a row: within the 2 retries
    trajs = collect_rollouts(flaky, StepsEnv, ["toy_1", "toy_3"], k=2, sampling=SAMPLING, progress=False)
    assert _key(trajs) == _key(clean) and not any(t.infra_failed for t in trajs)


def test_a_sampler_that_stays_down_marks_its_episodes_and_a_bug_still_raises():
    down = _FlakyPolicy(set(range(2, 100)))
    trajs = collect_rollouts(down, StepsEnv, ["toy_2"], k=3, sampling=SAMPLING, sampler_retries=1, progress=False)
    assert [t.finish_reason for t in trajs] == ["sampler_error"] * 3
    assert "sampler unreachable" in trajs[0].stats["infra_error"] and down.calls == 3  # first call, then 1 try + 1 retry
    with pytest.raises(RolloutError, match="all 3 rollouts failed for infrastructure reasons.*3 sampler_error.*--resume"):
        require_survivors(trajs, "iteration 1")
    bug = _FlakyPolicy({1}, exc=TypeError("a bug, not an outage"))
    with pytest.raises(RolloutError, match="generate\\(\\) failed .*TypeError: a bug"):
        collect_rollouts(bug, StepsEnv, ["toy_2"], k=2, sampling=SAMPLING, progress=False)
    assert bug.calls == 1  # never retried


def test_sandbox_worker_killed_from_outside_is_infra_but_its_own_cpu_limit_is_not():
    with Sandbox(lambda app, api, kw: None, limits={"cpu_seconds": 1, "cell_timeout_s": 20}) as box:
        result = box.run("while True:\n    pass")
        assert result.error_kind == "died" and not result.infra  # the agent's busy loop hit its CPU limit
        import os
        import signal
        import threading

        assert box.run("x = 1").ok  # a fresh worker, up and ready
        threading.Timer(0.3, os.kill, (box.pid, signal.SIGKILL)).start()
        result = box.run("import time\ntime.sleep(5)")
        assert result.error_kind == "died" and result.infra and result.restarted
        assert box.run("print(1 + 1)").output.strip() == "2"  # replaced, the host goes on


def _appsuite_script(prompt: str) -> str:
    last = prompt.rsplit("<|im_start|>user\n", 1)[-1]
    if "slept" in last or "restarted" in last:
        return "```python\napis.supervisor.complete_task()\n```"
    return "```python\nimport time\ntime.sleep(0.8)\nprint('slept')\n```"


def test_sandbox_worker_killed_inside_a_k_group_is_left_out():
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.world import load_tasks

    task = load_tasks("train")[0].id
    plan = FaultPlan(kill_on_steps={3})  # the second episode's first cell (steps 1-2: episode 1)
    envs = []

    def factory():
        envs.append(FaultyEnv(AppSuiteEnv(), plan))
        return envs[-1]

    policy = ScriptedPolicy(_appsuite_script)
    trajs = collect_rollouts(policy, factory, [task], k=3, sampling=SamplingParams(max_new_tokens=400), concurrency=1, scaffold=Scaffold(), progress=False)
    assert plan.injected["kill"] == 1 and len(trajs) == 3
    assert [t.finish_reason for t in trajs] == ["terminated", "env_worker_died", "terminated"]
    assert "killed" in trajs[1].stats["infra_error"] or "SIGKILL" in trajs[1].stats["infra_error"]
    survivors, _ = split_infra(trajs)
    assert [t.sample_index for t in survivors] == [0, 2]
    assert all(env.inner._sandbox is None for env in envs)  # every worker stopped


def test_rollout_files_keep_the_finish_reason_and_old_files_still_load(tmp_path):
    from looprl.trajectory import write_jsonl

    write_jsonl(tmp_path / "new.jsonl", [Trajectory("a", [], finish_reason="env_timeout")])
    assert next(read_jsonl(tmp_path / "new.jsonl")).finish_reason == "env_timeout"
    old = {"task_id": "a", "messages": [], "reward": 0.5, "stats": {"finish": "max_turns"}}
    (tmp_path / "old.jsonl").write_text(json.dumps(old) + "\n" + json.dumps({"task_id": "b", "messages": []}) + "\n")
    a, b = read_jsonl(tmp_path / "old.jsonl")
    assert (a.finish_reason, a.infra_failed) == ("max_turns", False) and (b.finish_reason, b.infra_failed) == ("", False)
