"""Ray mode on a local 2-CPU Ray cluster: env actors behind the collector, and rollout-worker actors."""

from __future__ import annotations

import os

import pytest

from looprl.agent import Scaffold
from looprl.backends.base import SamplingParams
from looprl.rollout import collect_rollouts
from looprl.testing import ScriptedPolicy, StepsEnv

if os.environ.get("CI"):  # CI installs the [ray] extra (scripts/ci-setup.d/50-ray.sh): a missing ray is a failure there
    import ray
else:
    ray = pytest.importorskip("ray", reason="Ray mode needs the [ray] extra: pip install -c constraints/cpu.txt -e '.[ray]'")

SAMPLING = SamplingParams(max_new_tokens=300)
TASKS = ["toy_2", "toy_1", "toy_3"]


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _key(trajs):
    return [(t.task_id, t.sample_index, t.token_ids, t.trainable, t.reward, t.success, [s["output"] for s in t.steps]) for t in trajs]


def test_env_actors_match_local_envs(local_ray):
    from looprl.rollout.ray_collector import RayEnvFactory

    local = collect_rollouts(ScriptedPolicy(), StepsEnv, TASKS, k=2, sampling=SAMPLING, scaffold=Scaffold(), progress=False)
    factory = RayEnvFactory(StepsEnv)
    try:
        remote = collect_rollouts(ScriptedPolicy(), factory, TASKS, k=2, sampling=SAMPLING, scaffold=Scaffold(), progress=False)
        assert _key(remote) == _key(local)
        assert 1 <= factory.num_actors <= 6  # pooled: an actor serves episode after episode
        # an env failure inside an actor still names the task and the turn
        failing = RayEnvFactory(StepsEnv, {"fail_on_turn": 1})
        (failed,) = collect_rollouts(ScriptedPolicy(), failing, ["toy_3"], k=1, sampling=SAMPLING, progress=False)
        assert failed.infra_failed and "task 'toy_3' (sample 0, turn 1)" in failed.stats["infra_error"]
        failing.shutdown()
    finally:
        factory.shutdown()
    assert factory.num_actors == 0


def test_rollout_workers_shard_tasks_and_keep_order(local_ray):
    from looprl.rollout.ray_collector import RayEnvFactory, collect_rollouts_ray

    local = collect_rollouts(ScriptedPolicy(), StepsEnv, TASKS, k=3, sampling=SAMPLING, progress=False)
    remote = collect_rollouts_ray(
        ScriptedPolicy,
        RayEnvFactory(StepsEnv),
        TASKS,
        k=3,
        sampling=SAMPLING,
        num_workers=2,
        worker_num_cpus=0.5,
        max_turns=10,
    )
    assert _key(remote) == _key(local)
    assert {t.group_id for t in remote} == set(TASKS)
    with pytest.raises(ValueError, match="num_workers must be >= 1"):
        collect_rollouts_ray(ScriptedPolicy, StepsEnv, TASKS, k=1, sampling=SAMPLING, num_workers=0)
