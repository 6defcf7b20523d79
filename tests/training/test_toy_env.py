"""The toy env: protocol shape, the digits rule, registration."""

import pytest

from looprl.env import make_env
from looprl.testing import DigitsEnv, digit_score, load_toy_tasks


def test_digit_score_is_fraction_of_rule_parts():
    assert digit_score("123") == (1.0, True)
    assert digit_score("12 a4") == (0.75, False)
    assert digit_score("   ") == (0.0, False)
    assert digit_score("abc") == (0.0, False)


def test_toy_env_episode():
    env = make_env("toy")
    assert isinstance(env, DigitsEnv)
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


def test_multi_turn_toy_rewards_the_mean_over_turns_and_replays_its_ground_truth():
    env = DigitsEnv(turns=3)
    env.reset("toy_1")
    first = env.step("12")
    assert not first.terminated and first.reward == 0.0 and "digits" in first.observation
    env.step("ab")
    last = env.step("1a")
    assert last.terminated and last.reward == pytest.approx((1 + 0 + 0.5) / 3) and not last.info["success"]
    assert [c["passed"] for c in last.info["checks"]] == [True, False, False]
    env.reset("toy_1")
    for reply in env.ground_truth_messages("toy_1"):
        result = env.step(reply)
    assert result.terminated and result.reward == 1.0 and result.info["success"]
    with pytest.raises(ValueError, match="turns"):
        DigitsEnv(turns=0)


def test_sft_gt_on_the_toy_env_uses_its_own_ground_truth(tiny_model_dir):
    from transformers import AutoTokenizer

    from looprl.training.sft_data import ground_truth_trajectories

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    (traj,) = ground_truth_trajectories(["toy_2"], lambda: DigitsEnv(turns=2), None, tok)
    traj.validate()
    replies = DigitsEnv(turns=2).ground_truth_messages("toy_2")
    assert [m["content"] for m in traj.messages if m["role"] == "assistant"] == replies
    assert [m["content"] for m in traj.messages if m["role"] == "user"][1:] == ["Continue: digits only."]
    sampled = [i for i, tr in zip(traj.token_ids, traj.trainable) if tr]
    assert tok.decode(sampled) == "<|im_end|>".join(replies) + "<|im_end|>"
