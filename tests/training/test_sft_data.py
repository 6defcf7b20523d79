"""SFT-GT chats are built by the collector's own code: a ground-truth trajectory is exactly the one the
collector builds when the sampler returns the ground truth's replies."""

from __future__ import annotations

from looprl.backends.base import Generation, SamplingParams
from looprl.rollout import collect
from looprl.rollout.spec import RolloutSpec
from looprl.testing import ScriptedPolicy


class ReplayPolicy(ScriptedPolicy):
    """A PolicyBackend that samples, turn after turn, the given replies' ids (one episode at a time);
    the rest of the sampler protocol is ScriptedPolicy's."""

    def __init__(self, tokenizer, replies: list[list[int]]):
        super().__init__()
        self.tokenizer = tokenizer
        self.stop_token_ids = ()
        self.replies = list(replies)

    def generate(self, prompts, sampling: SamplingParams) -> list[Generation]:
        assert len(prompts) == 1
        ids = self.replies.pop(0)
        return [Generation(token_ids=ids, logprobs=[0.0] * len(ids), finish_reason="stop")]


def _replies(traj) -> list[list[int]]:
    turns = sorted({t for t, tr in zip(traj.turn_ids, traj.trainable) if tr})
    return [[i for i, tr, t in zip(traj.token_ids, traj.trainable, traj.turn_ids) if tr and t == turn] for turn in turns]


def _assert_collector_builds(traj, tokenizer, env_factory, scaffold, max_observation_tokens: int) -> None:
    spec = RolloutSpec(
        sampling=SamplingParams(max_new_tokens=4096),
        scaffold=scaffold,
        max_turns=len(_replies(traj)),
        max_context_tokens=1_000_000,
        max_observation_tokens=max_observation_tokens,
        concurrency=1,
    )
    (rollout,) = collect(ReplayPolicy(tokenizer, _replies(traj)), env_factory, [traj.task_id], spec, k=1, progress=False).trajectories
    assert rollout.token_ids == traj.token_ids
    assert rollout.trainable == traj.trainable
    assert rollout.turn_ids == traj.turn_ids
    assert rollout.messages == traj.messages


def test_an_sft_gt_chat_with_doc_reads_is_what_the_collector_builds(tiny_policy):
    from looprl.agent import scaffold_for
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.training.sft_data import ground_truth_trajectories

    tok, scaffold = tiny_policy.tokenizer, scaffold_for("default", env="appsuite")
    (traj,) = ground_truth_trajectories(["todo_count_open_in_list_1"], AppSuiteEnv, scaffold, tok, read_docs=True, max_observation_tokens=40)
    assert len(_replies(traj)) > 3  # a multi-turn chat, observations cut to 40 tokens in between
    _assert_collector_builds(traj, tok, AppSuiteEnv, scaffold, max_observation_tokens=40)


def test_an_sft_gt_chat_of_an_envs_own_ground_truth_is_what_the_collector_builds(tiny_policy):
    from looprl.testing import DigitsEnv
    from looprl.training.sft_data import ground_truth_trajectories

    def env_factory():
        return DigitsEnv(turns=3)

    (traj,) = ground_truth_trajectories(["toy_7"], env_factory, None, tiny_policy.tokenizer)
    assert len(_replies(traj)) == 3
    _assert_collector_builds(traj, tiny_policy.tokenizer, env_factory, None, max_observation_tokens=10_000)
