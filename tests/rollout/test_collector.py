"""The rollout collector: batching, budgets, early stop, errors, chat path, and a real tiny model."""

from __future__ import annotations

import re
import threading
import time

import pytest

from looprl.agent import Scaffold
from looprl.backends.base import SamplingParams
from looprl.env.base import StepResult
from looprl.env.wrappers import TurnLimit
from looprl.rollout import collect, collect_rollouts
from looprl.rollout.collector import early_stop_min_per_task
from looprl.testing import ScriptedChat, ScriptedPolicy, StepsEnv

SAMPLING = SamplingParams(max_new_tokens=400)


def test_batches_across_episodes_and_orders_results():
    policy = ScriptedPolicy()
    result = collect(policy, StepsEnv, ["toy_3", "toy_1", "toy_2"], k=3, sampling=SAMPLING, progress=False, group_prefix="it7/")
    trajs = result.trajectories
    assert [(t.task_id, t.sample_index) for t in trajs] == [(t, s) for t in ("toy_3", "toy_1", "toy_2") for s in range(3)]
    assert all(t.success and t.terminated and not t.truncated and t.reward == 1.0 for t in trajs)
    assert {t.group_id for t in trajs} == {"it7/toy_3", "it7/toy_1", "it7/toy_2"}
    # all 9 episodes sample their first turn in one call; toy_3 needs 4 turns, so 4 calls in all
    assert policy.batch_sizes == [9, 9, 6, 3]
    assert result.stats.env_steps == 3 * (4 + 2 + 3) and result.stats.generate_calls == 4
    t = trajs[0]
    assert t.stats["turns"] == 4 == t.num_turns and t.stats["api_calls"] == 4 and t.stats["finish"] == "terminated"
    assert [s["turn"] for s in t.steps] == [0, 1, 2, 3] and t.steps[-1]["code"] == "apis.supervisor.complete_task()"
    assert t.difficulty == 1 + 3 % 3 and t.scenario == "toy3" and t.apps == ["toy"]
    t.validate()


def test_first_turn_is_one_batch_even_when_resets_take_different_times():
    delays = iter([0.0, 0.15, 0.05, 0.1, 0.0, 0.12])
    policy = ScriptedPolicy()
    collect_rollouts(policy, lambda: StepsEnv(reset_delay_s=next(delays)), ["toy_1", "toy_2"], k=3, sampling=SAMPLING, progress=False)
    assert policy.batch_sizes[:2] == [6, 6]


def test_generation_batch_size_caps_each_call():
    policy = ScriptedPolicy()
    trajs = collect_rollouts(policy, StepsEnv, ["toy_1"] * 5, k=1, sampling=SAMPLING, generation_batch_size=2, progress=False)
    assert len(trajs) == 5 and policy.batch_sizes == [2, 2, 1, 2, 2, 1]


def test_trainable_mask_is_exactly_what_the_policy_sampled():
    policy = ScriptedPolicy()
    generated: list[list[int]] = []
    inner = policy.generate

    def recording(prompts, sampling):
        gens = inner(prompts, sampling)
        generated.extend(g.token_ids for g in gens)
        return gens

    policy.generate = recording
    (traj,) = collect_rollouts(policy, StepsEnv, ["toy_2"], k=1, sampling=SAMPLING, scaffold=Scaffold(), progress=False)
    spans, cur = [], []
    for tid, tr in zip(traj.token_ids, traj.trainable):
        if tr:
            cur.append(tid)
        elif cur:
            spans.append(cur)
            cur = []
    if cur:
        spans.append(cur)
    assert spans == generated and len(spans) == 3
    # the whole stream is the chat template of the transcript (char tokenizer round-trips)
    text = policy.tokenizer.decode(traj.token_ids)
    assert text == policy.tokenizer.apply_chat_template(traj.messages, tokenize=False)[:-1]  # ends at the last stop token
    assert text.count("As a reminder") == 2


def test_turn_limit_truncates_and_scores_the_state():
    trajs = collect_rollouts(ScriptedPolicy(), StepsEnv, ["toy_50"], k=2, sampling=SAMPLING, max_turns=3, progress=False)
    for t in trajs:
        assert t.truncated and not t.terminated and not t.success
        assert t.stats["finish"] == "max_turns" and t.stats["turns"] == 3 == len(t.steps)
        assert t.reward == pytest.approx(0.5 * 3 / 50)  # StepsEnv.evaluate(): progress so far


def test_context_budget_truncates_never_crashes():
    policy = ScriptedPolicy()
    prompt_len = len(policy.tokenizer.encode(policy.tokenizer.apply_chat_template(StepsEnv().reset("toy_9")[0], tokenize=False, add_generation_prompt=True)))
    for budget in (prompt_len + 10, prompt_len + 120, prompt_len + 300):
        (t,) = collect_rollouts(policy, StepsEnv, ["toy_9"], k=1, sampling=SAMPLING, max_context_tokens=budget, progress=False)
        assert t.truncated and t.stats["finish"] == "context"
        assert len(t.token_ids) <= budget
        t.validate()
    (t,) = collect_rollouts(policy, StepsEnv, ["toy_9"], k=1, sampling=SAMPLING, max_context_tokens=prompt_len, progress=False)
    assert t.stats["turns"] == 0 and t.truncated and sum(t.trainable) == 0


def test_observations_are_cut_with_a_note():
    env_factory = lambda: StepsEnv(observation="x" * 5000)  # noqa: E731
    (t,) = collect_rollouts(ScriptedPolicy(), env_factory, ["toy_3"], k=1, sampling=SAMPLING, max_observation_tokens=100, progress=False)
    observations = [m["content"] for m in t.messages[2:] if m["role"] == "user"]
    assert observations[0] == "x" * 100 + "\n[output truncated: showing 100 of 5000 tokens]"
    assert t.steps[0]["output"] == "x" * 5000  # the step record keeps the full output
    assert t.success


class _OneThreadAtATime:
    """A tokenizer that counts the calls made while another thread is inside one (a transformers fast
    tokenizer may fail then, "Already borrowed")."""

    def __init__(self, inner):
        self.inner, self.busy, self.calls, self.overlaps = inner, threading.Lock(), 0, 0

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def one_at_a_time(*args, **kwargs):
            mine = self.busy.acquire(blocking=False)
            self.calls, self.overlaps = self.calls + 1, self.overlaps + (not mine)
            try:
                time.sleep(0.0005)  # widen the window a second caller would slip into
                return attr(*args, **kwargs)
            finally:
                if mine:
                    self.busy.release()

        return one_at_a_time


@pytest.mark.parametrize("concurrent_requests", [False, True])
def test_the_policy_tokenizer_is_used_by_one_thread_at_a_time(concurrent_requests):
    # env steps (and the observation cut, in ObservationBudget) run in the pool; in per-episode mode so
    # do the replies; the chat template runs on the driving thread: all of them share one tokenizer
    policy = ScriptedPolicy()
    policy.concurrent_requests = concurrent_requests
    policy.tokenizer = _OneThreadAtATime(policy.tokenizer)
    env_factory = lambda: StepsEnv(observation="x" * 300, step_delay_s=0.002)  # noqa: E731
    trajs = collect_rollouts(policy, env_factory, ["toy_3", "toy_4"], k=4, sampling=SAMPLING, max_observation_tokens=50, progress=False)
    assert all(t.success for t in trajs) and all(t.steps[0]["output"] == "x" * 300 for t in trajs)
    assert policy.tokenizer.calls > 100 and policy.tokenizer.overlaps == 0


class StuckEnv(StepsEnv):
    """The first env built never reaches 'ready'."""

    built = 0

    def reset(self, task_id, *, seed=None):
        messages, info = super().reset(task_id, seed=seed)
        StuckEnv.built += 1
        if StuckEnv.built == 1:
            self.needed = 10**6
        return messages, info


def test_early_stop_cancels_stragglers():
    assert [early_stop_min_per_task(k) for k in (1, 3, 4, 6)] == [1, 2, 3, 4]
    StuckEnv.built = 0
    closed = []

    def factory():
        env = StuckEnv()
        closed.append(env)
        return env

    tasks = [f"toy_{n}" for n in (1, 2, 1, 2, 3)]
    result = collect(ScriptedPolicy(), factory, tasks, k=4, sampling=SAMPLING, max_turns=500, early_stop=True, progress=False)
    assert len(result.trajectories) == 19 and result.stats.cancelled == 1
    assert all(t.success for t in result.trajectories)
    assert all(env.closed for env in closed)
    # without early stop the straggler runs to its turn limit
    StuckEnv.built = 0
    full = collect(ScriptedPolicy(), StuckEnv, tasks, k=4, sampling=SAMPLING, max_turns=30, early_stop=False, progress=False)
    assert len(full.trajectories) == 20 and sum(t.stats["finish"] == "max_turns" for t in full.trajectories) == 1


def test_early_stop_never_drops_a_task_below_its_minimum():
    StuckEnv.built = 0
    # one task, k=2: min per task is 1, but 90% of 2 needs both, so nothing is cancelled
    result = collect(ScriptedPolicy(), StuckEnv, ["toy_1"], k=2, sampling=SAMPLING, max_turns=20, early_stop=True, progress=False)
    assert len(result.trajectories) == 2 and result.stats.cancelled == 0


def test_env_failure_names_task_sample_and_turn():
    envs = []

    def factory():
        envs.append(StepsEnv(fail_on_turn=2))
        return envs[-1]

    # an env that raises ends its episode as an infra failure (not a crash of the collection, not a reward 0
    # the trainer would learn from); the record names the task, the sample and the turn
    (failed,) = collect_rollouts(ScriptedPolicy(), factory, ["toy_5"], k=1, sampling=SAMPLING, progress=False)
    assert failed.infra_failed and failed.finish_reason == "env_error"
    assert re.search(r"env step failed for task 'toy_5' \(sample 0, turn 2\).*on purpose", failed.stats["infra_error"])
    assert all(env.closed for env in envs)
    (failed,) = collect_rollouts(ScriptedPolicy(), StepsEnv, ["nope"], k=1, sampling=SAMPLING, progress=False)
    assert failed.finish_reason == "env_error" and re.search(r"env reset failed for task 'nope'.*toy_<steps>", failed.stats["infra_error"])


def test_chat_backend_path():
    chat = ScriptedChat()
    trajs = collect_rollouts(chat, StepsEnv, ["toy_2", "toy_1"], k=2, sampling=SAMPLING, scaffold=Scaffold(), progress=False)
    assert all(t.success and t.token_ids == [] for t in trajs)
    assert chat.batch_sizes[0] == 4
    assert trajs[0].messages[-1]["content"].endswith("complete_task()\n```")
    assert "As a reminder" in trajs[0].messages[-2]["content"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        collect_rollouts(ScriptedPolicy(), StepsEnv, ["toy_1"], k=0, sampling=SAMPLING)
    with pytest.raises(TypeError, match="PolicyBackend"):
        collect_rollouts(object(), StepsEnv, ["toy_1"], k=1, sampling=SAMPLING)  # type: ignore[arg-type]


# -- a real (tiny) model through HFBackend --------------------------------------------------------------
@pytest.fixture(scope="module")
def hf_policy(tiny_model_dir):
    from looprl.backends.hf import HFBackend

    return HFBackend(str(tiny_model_dir), lora=None, device="cpu")


def test_greedy_batched_equals_one_at_a_time(hf_policy):
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    tasks = ["toy_1", "toy_12", "toy_3"]
    batched = collect_rollouts(hf_policy, StepsEnv, tasks, k=2, sampling=greedy, max_turns=3, concurrency=6, progress=False)
    single = collect_rollouts(hf_policy, StepsEnv, tasks, k=2, sampling=greedy, max_turns=3, concurrency=1, progress=False)
    assert [t.token_ids for t in batched] == [t.token_ids for t in single]
    assert [t.trainable for t in batched] == [t.trainable for t in single]
    assert all(t.stats["turns"] == 3 for t in batched)
    for a, b in zip(batched, single):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_tiny_model_stream_matches_chat_template(hf_policy):
    sampling = SamplingParams(temperature=1.0, max_new_tokens=16, seed=3)
    (t,) = collect_rollouts(hf_policy, StepsEnv, ["toy_2"], k=1, sampling=sampling, max_turns=2, scaffold=Scaffold(), progress=False)
    tok = hf_policy.tokenizer
    trainable = [i for i, m in enumerate(t.trainable) if m]
    assert trainable and all(t.logprobs[i] < 0.0 for i in trainable)
    # the non-trainable pieces are exactly the template's rendering around the sampled text
    non = [i for i, m in enumerate(t.trainable) if not m]
    n_open = len(Scaffold().initial_messages(*StepsEnv().reset("toy_2")))
    prompt_ids = tok.encode(tok.apply_chat_template(t.messages[:n_open], tokenize=False, add_generation_prompt=True), add_special_tokens=False)
    assert t.token_ids[: len(prompt_ids)] == prompt_ids and non[: len(prompt_ids)] == list(range(len(prompt_ids)))
    tail = tok.decode([t.token_ids[i] for i in non[len(prompt_ids) :]])
    observations = [m for m in t.messages[n_open:] if m["role"] == "user"]
    assert len(observations) == 1 and tail.count("<|im_start|>user\n") == 1 and tail.endswith("<|im_start|>assistant\n")
    assert "As a reminder" in tail


# ----------------------------------------------------------------------------------------------------
# Per-episode mode (backends with concurrent_requests = True: a vLLM server, an OpenAI-style endpoint)
# ----------------------------------------------------------------------------------------------------
class _ConcurrentScripted(ScriptedPolicy):
    concurrent_requests = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seeds: list[int | None] = []

    def generate(self, prompts, sampling):
        self.seeds.append(sampling.seed)
        return super().generate(prompts, sampling)


def test_per_episode_mode_gives_the_batch_mode_trajectories_one_request_at_a_time():
    batch, single = ScriptedPolicy(), _ConcurrentScripted()
    tasks = ["toy_3", "toy_1", "toy_2"]
    a = collect(batch, StepsEnv, tasks, k=2, sampling=SAMPLING, progress=False)
    b = collect(single, StepsEnv, tasks, k=2, sampling=SAMPLING, progress=False)
    assert [(t.task_id, t.sample_index, t.token_ids, t.trainable, t.logprobs, t.reward) for t in a.trajectories] == [
        (t.task_id, t.sample_index, t.token_ids, t.trainable, t.logprobs, t.reward) for t in b.trajectories
    ]
    assert set(single.batch_sizes) == {1} and len(single.batch_sizes) == 2 * (4 + 2 + 3)
    assert b.stats.generate_calls == 18 and b.stats.generated_tokens == a.stats.generated_tokens and b.stats.env_steps == a.stats.env_steps


@pytest.mark.parametrize("concurrent", [False, True])
def test_the_sampler_busy_time_is_wall_time_within_the_collection(concurrent):
    """generate_wall_s counts the seconds at least one sampler call was in flight: per episode, calls
    overlap and their summed durations (generate_s) exceed it; it never exceeds the collection's wall
    time, and the env's steps (0.05 s each, no sampler call running in batch mode) are left out."""

    class Slow(ScriptedPolicy):
        concurrent_requests = concurrent

        def generate(self, prompts, sampling):
            time.sleep(0.05)
            return super().generate(prompts, sampling)

    stats = collect(Slow(), lambda: StepsEnv(step_delay_s=0.05), ["toy_2", "toy_3"], k=2, sampling=SAMPLING, progress=False).stats
    assert 0.05 <= stats.generate_wall_s <= stats.wall_s
    if concurrent:  # 4 episodes' first turns at once: 4 x 0.05 s summed, 0.05 s of wall time
        assert stats.generate_s > stats.generate_wall_s
    else:  # one call at a time: the same seconds; the steps between calls are not the sampler's
        assert stats.generate_wall_s == pytest.approx(stats.generate_s, abs=0.02)
        assert stats.wall_s - stats.generate_wall_s >= 3 * 0.05  # toy_3's 3 steps, one after another


def test_per_episode_mode_gives_every_episode_and_turn_its_own_seed():
    policy = _ConcurrentScripted()
    collect(policy, StepsEnv, ["toy_2"], k=3, sampling=SamplingParams(max_new_tokens=400, seed=7), progress=False)
    assert len(policy.seeds) == 9 and len(set(policy.seeds)) == 9  # identical first prompts, different samples


def test_per_episode_mode_does_not_hold_ready_episodes_behind_a_slow_generation():
    """toy_1's first generation waits (at most 1 s) for toy_4's episode to send its last turn. In
    per-episode mode toy_4 runs all 5 of its turns meanwhile; in batch mode toy_4 is stuck in the same
    call, so the wait runs out."""
    import threading

    def toy_4_finished_first(concurrent: bool) -> bool:
        released = threading.Event()
        waited: list[bool] = []

        class Gate(ScriptedPolicy):
            concurrent_requests = concurrent

            def generate(self, prompts, sampling):
                texts = [self.tokenizer.decode(p) for p in prompts]
                if any("Take 1 steps" in t for t in texts) and not waited:
                    waited.append(released.wait(timeout=1.0))
                out = super().generate(prompts, sampling)
                if any("Take 4 steps" in t and "ready" in t.rsplit("user\n", 1)[-1] for t in texts):
                    released.set()  # toy_4 just sampled its complete_task turn
                return out

        trajs = collect_rollouts(Gate(), StepsEnv, ["toy_1", "toy_4"], k=1, sampling=SAMPLING, progress=False)
        assert all(t.success for t in trajs) and released.is_set()
        return waited[0]

    assert toy_4_finished_first(concurrent=True)
    assert not toy_4_finished_first(concurrent=False)


class _CountingEvaluate(StepsEnv):
    """Counts evaluate() calls; with `truncate_after`, ends the episode itself (truncated) after that many steps."""

    def __init__(self, truncate_after=None, **kwargs):
        super().__init__(**kwargs)
        self.truncate_after, self.evaluations = truncate_after, 0

    def step(self, action):
        result = super().step(action)
        if self.truncate_after is not None and self.steps >= self.truncate_after and not result.terminated:
            return StepResult("the env gave up", 0.25, False, True, result.info)
        return result

    def evaluate(self):
        self.evaluations += 1
        return super().evaluate()


def test_the_turn_limit_is_the_turn_limit_wrapper():
    # the collector's max_turns gives the outcome TurnLimit gives on the same actions: truncated, not
    # terminated, reward/success/checks from one evaluate() of the state at the limit
    envs = []

    def factory():
        envs.append(_CountingEvaluate())
        return envs[-1]

    (t,) = collect_rollouts(ScriptedPolicy(), factory, ["toy_50"], k=1, sampling=SAMPLING, max_turns=3, progress=False)
    by_hand = TurnLimit(StepsEnv(), max_turns=3)
    by_hand.reset("toy_50")
    results = [by_hand.step(step["code"]) for step in t.steps]
    assert [r.truncated for r in results] == [False, False, True] and results[-1].info["truncated_by"] == "turn_limit"
    assert t.truncated and not t.terminated and t.stats["finish"] == "max_turns"
    assert (t.reward, t.success, t.checks) == (results[-1].reward, results[-1].info["success"], results[-1].info["checks"])
    assert t.reward == pytest.approx(0.5 * 3 / 50) and envs[0].evaluations == 1


def test_an_env_that_truncates_itself_keeps_its_reward():
    envs = []

    def factory():
        envs.append(_CountingEvaluate(truncate_after=2))
        return envs[-1]

    (t,) = collect_rollouts(ScriptedPolicy(), factory, ["toy_50"], k=1, sampling=SAMPLING, max_turns=10, progress=False)
    assert t.truncated and not t.terminated and t.stats["finish"] == "env_truncated" and t.stats["turns"] == 2
    assert t.reward == 0.25 and envs[0].evaluations == 0  # the env's own end, not a cut: no evaluation
    # the limit falling on the env's own truncating step leaves the env's result alone (as TurnLimit does)
    (t,) = collect_rollouts(ScriptedPolicy(), factory, ["toy_50"], k=1, sampling=SAMPLING, max_turns=2, progress=False)
    assert t.stats["finish"] == "env_truncated" and t.reward == 0.25 and envs[1].evaluations == 0


def test_a_context_cut_is_scored_like_a_turn_limit_cut():
    policy = ScriptedPolicy()
    prompt_len = len(policy.tokenizer.encode(policy.tokenizer.apply_chat_template(StepsEnv().reset("toy_9")[0], tokenize=False, add_generation_prompt=True)))
    (t,) = collect_rollouts(policy, StepsEnv, ["toy_9"], k=1, sampling=SAMPLING, max_context_tokens=prompt_len + 300, progress=False)
    assert t.stats["finish"] == "context" and t.truncated and not t.terminated
    assert t.stats["turns"] >= 1 and t.reward == pytest.approx(0.5 * t.stats["turns"] / 9) and t.checks[0]["name"] == "completed"
