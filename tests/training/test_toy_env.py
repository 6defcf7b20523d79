"""The toy env: protocol shape, the digits rule, registration."""

import pytest

from looprl.env import make_env
from looprl.env.toy import ToyEnv, digit_score, load_toy_tasks


def test_digit_score_is_fraction_of_rule_parts():
    assert digit_score("123") == (1.0, True)
    assert digit_score("12 a4") == (0.75, False)
    assert digit_score("   ") == (0.0, False)
    assert digit_score("abc") == (0.0, False)


def test_toy_env_episode():
    import looprl.env.toy  # noqa: F401  (registers "toy")

    env = make_env("toy")
    assert isinstance(env, ToyEnv)
    messages, info = env.reset("toy_3")
    assert messages[-1]["role"] == "user" and "digits" in messages[-1]["content"].lower()
    assert info["task_id"] == "toy_3"
    result = env.step("42x")
    assert result.terminated and not result.truncated
    assert result.reward == pytest.approx(2 / 3) and result.info["success"] is False
    assert env.evaluate()["reward"] == pytest.approx(2 / 3)
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step("1")
    env.close()
    assert load_toy_tasks(3) == ["toy_0", "toy_1", "toy_2"]
    with pytest.raises(ValueError, match="toy_<n>"):
        env.reset("appsuite_1")
