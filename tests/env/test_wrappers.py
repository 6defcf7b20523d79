"""Wrappers: turn limit (with the evaluated reward), observation budget (the collector's, so counting under a lock)."""

from __future__ import annotations

import threading

import pytest

from looprl.env import check_env
from looprl.env.base import StepResult
from looprl.env.wrappers import ObservationBudget, TurnLimit, Wrapper, wrap_env


class CountingEnv:
    """Observation = the action echoed `repeat` times; complete_task ends it; evaluate() = progress."""

    def __init__(self, repeat: int = 1) -> None:
        self.repeat, self.turns, self.done = repeat, 0, True

    def reset(self, task_id, *, seed=None):
        self.turns, self.done = 0, False
        return [{"role": "user", "content": f"task {task_id}"}], {"task_id": task_id}

    def step(self, action):
        if self.done:
            raise RuntimeError("episode over")
        self.turns += 1
        calls = [{"app": "c", "api": "step", "args": {"n": self.turns}, "status": 200, "ok": True, "result": self.turns}]
        if "complete_task" in action:
            self.done = True
            report = self.evaluate()
            return StepResult("done", report["reward"], True, False, {"api_calls": calls, **report})
        return StepResult(action * self.repeat, 0.0, False, False, {"api_calls": calls, "turn": self.turns})

    def evaluate(self):
        passed = min(self.turns, 4)
        checks = [{"name": f"c{i}", "passed": i < passed, "detail": ""} for i in range(4)]
        return {"reward": passed / 4, "success": passed == 4, "checks": checks}

    def close(self):
        self.done = True


def test_turn_limit_truncates_with_the_evaluated_reward():
    env = TurnLimit(CountingEnv(), max_turns=3)
    env.reset("t")
    assert not env.step("a").truncated and not env.step("b").truncated
    last = env.step("c")
    assert last.truncated and not last.terminated and last.info["truncated_by"] == "turn_limit"
    assert last.reward == 0.75 and last.info["reward"] == 0.75 and last.info["success"] is False
    env.reset("t")  # the count starts again
    assert not env.step("a").truncated


def test_turn_limit_leaves_a_terminating_step_alone():
    env = TurnLimit(CountingEnv(), max_turns=1)
    env.reset("t")
    result = env.step("complete_task")
    assert result.terminated and not result.truncated and "truncated_by" not in result.info


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_turn_limit_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=f"max_turns must be a positive integer, got {bad!r}"):
        TurnLimit(CountingEnv(), max_turns=bad)


def test_observation_budget_in_characters():
    env = ObservationBudget(CountingEnv(repeat=100), max_tokens=10)  # 40 characters
    env.reset("t")
    short = env.step("xy")  # 200 characters
    assert short.observation == "xy" * 20 + "\n[output truncated: showing 10 of about 50 tokens (40 of 200 characters)]"
    assert short.info["uncut_observation"] == "xy" * 100  # what the env said, for the collector's step record
    unchanged = ObservationBudget(CountingEnv(), max_tokens=10)
    unchanged.reset("t")
    assert unchanged.step("short").observation == "short"


def test_observation_budget_with_a_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    env = ObservationBudget(CountingEnv(repeat=200), max_tokens=20, tokenizer=tokenizer)
    env.reset("t")
    result = env.step("hello world ")
    kept, note = result.observation.rsplit("\n", 1)
    assert len(tokenizer.encode(kept, add_special_tokens=False)) <= 21
    total = len(tokenizer.encode("hello world " * 200, add_special_tokens=False))
    assert note == f"[output truncated: showing 20 of {total} tokens]"


def test_observation_budget_counts_under_the_lock_it_is_given():
    lock = threading.Lock()

    class LockCheckingTokenizer:  # a tokenizer other threads use too: every call must hold the lock
        def encode(self, text, add_special_tokens=False):
            assert lock.locked(), "tokenizer used without the lock"
            return list(text)

        def decode(self, ids):
            assert lock.locked(), "tokenizer used without the lock"
            return "".join(ids)

    env = ObservationBudget(CountingEnv(repeat=50), max_tokens=10, tokenizer=LockCheckingTokenizer(), lock=lock)
    env.reset("t")
    assert env.step("ab").observation == "ab" * 5 + "\n[output truncated: showing 10 of 100 tokens]"
    assert not lock.locked()  # and released after


def test_wrappers_forward_extra_methods_and_unwrap():
    inner = CountingEnv()
    env = wrap_env(inner, max_turns=5, max_observation_tokens=100)
    assert isinstance(env, Wrapper) and env.unwrapped is inner
    env.reset("t")
    assert env.evaluate()["reward"] == 0.0  # evaluate() reaches the inner env


def test_check_env_passes_for_a_wrapped_fake_env():
    env = wrap_env(CountingEnv(), max_turns=10, max_observation_tokens=100)
    summary = check_env(env, "t", final_action="complete_task")
    assert summary["final_reward"] == 1.0


def test_check_env_names_what_is_wrong():
    from looprl.env.checker import EnvCheckError

    class Sloppy(CountingEnv):
        def step(self, action):
            result = super().step(action)
            return StepResult(result.observation, 1, result.terminated, result.terminated, {})

    with pytest.raises(EnvCheckError) as err:
        check_env(Sloppy(), "t", final_action="complete_task")
    text = str(err.value)
    assert "reward must be a float" in text and "info['api_calls'] must be a list" in text
    assert "terminated and truncated are both True" in text
