"""The HTTP OpenAI-compatible sampler's server failing mid-evaluation (a tiny deterministic server on
127.0.0.1): answering 500 for a while, or stopping and coming back, is retried in place and leaves the
result exactly as without the fault; a server that stays down ends in one RolloutError, not a hang."""

from __future__ import annotations

import threading

import pytest

from looprl.agent import Scaffold
from looprl.backends.base import SamplingParams
from looprl.backends.openai import OpenAIChatBackend
from looprl.rollout import RolloutError, faults
from looprl.rollout.evaluation import evaluate
from looprl.testing import ChatServer, StepsEnv, default_script

TASKS = ["toy_1", "toy_2", "toy_3"]
SAMPLING = SamplingParams(max_new_tokens=200)


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch):
    monkeypatch.setattr(faults, "SAMPLER_BACKOFF_S", (0.3, 0.6))


@pytest.fixture
def server():
    s = ChatServer(default_script)
    yield s
    s.close()


def _run(server, env_factory=StepsEnv, **kw):
    backend = OpenAIChatBackend("test-model", base_url=server.url, max_retries=0, timeout=10.0, concurrency=4)
    try:
        return evaluate(backend, env_factory, TASKS, samples=2, sampling=SAMPLING, scaffold=Scaffold(), progress=False, **kw)
    finally:
        backend.close()


def _key(result):
    return [(t.task_id, t.sample_index, t.success, [m["content"] for m in t.messages]) for t in result.trajectories]


def test_server_errors_and_a_restart_mid_run_change_nothing(server):
    clean = _run(server)
    assert clean.summary["tgc"] == 1.0 and clean.summary["infra_failed"] == 0
    server.fail_next(2)  # two requests answered 500 ("EngineCore encountered an issue")
    flaky = _run(server)
    assert server.failed == 2 and _key(flaky) == _key(clean) and flaky.summary["infra_failed"] == 0

    calls = {"n": 0}

    def restarting_env():  # the server goes away on the 4th env step and is back 0.2 s later
        env = StepsEnv()
        step = env.step

        def stepping(action):
            calls["n"] += 1
            if calls["n"] == 4:
                server.stop()
                threading.Timer(0.2, server.start).start()
            return step(action)

        env.step = stepping
        return env

    restarted = _run(server, env_factory=restarting_env)
    assert calls["n"] >= 4 and _key(restarted) == _key(clean)
    assert restarted.summary["tgc"] == clean.summary["tgc"] and restarted.summary["infra_failed"] == 0


def test_a_server_that_stays_down_ends_in_one_error_naming_it(server, tmp_path):
    server.stop()
    with pytest.raises(RolloutError, match=r"all 6 rollouts failed for infrastructure reasons \(6 sampler_error\).*connection error"):
        _run(server, out_dir=tmp_path, infra_retries=1)


def test_infra_failures_left_are_reported_apart_from_tgc(server, tmp_path):
    calls = {"n": 0}

    def env_that_fails_twice():  # the first two steps anywhere raise: both episodes are re-run once
        env = StepsEnv()
        step = env.step

        def stepping(action):
            calls["n"] += 1
            if calls["n"] <= 2:
                raise ConnectionResetError("env backend lost (injected)")
            return step(action)

        env.step = stepping
        return env

    retried = _run(server, env_factory=env_that_fails_twice, out_dir=tmp_path / "a")
    assert retried.summary["infra_failed"] == 0 and retried.summary["tgc"] == 1.0 and len(retried.trajectories) == 6
    calls["n"] = -2  # four more failures and no retries: what is left is counted, not scored
    kept = _run(server, env_factory=env_that_fails_twice, out_dir=tmp_path / "b", infra_retries=0)
    assert kept.summary["infra_failed"] == len(kept.infra_failed) == 4 and kept.summary["infra"]["env_error"] == len(kept.infra_failed)
    assert kept.summary["tgc"] == 1.0  # over the tasks actually attempted
    assert (tmp_path / "b" / "infra_failed.jsonl").is_file() and not (tmp_path / "a" / "infra_failed.jsonl").exists()
