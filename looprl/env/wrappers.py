"""Cross-cutting env behaviour as wrappers (Gymnasium's idea): turn limit and observation budget.

Each wrapper is an Env around an Env and forwards what it does not change: the protocol's
`evaluate()`, and any extra method (attribute access falls through to the wrapped env; `unwrapped`
is the innermost). `wrap_env` stacks them in the usual order; the rollout collector runs every
episode inside exactly this stack, so these wrappers are the one implementation of both budgets:

    env = wrap_env(make_env("appsuite"), max_turns=40, max_observation_tokens=3000)

* `TurnLimit`: the step that reaches `max_turns` without the episode terminating is truncated; its
  reward and `info` (reward, success, checks) come from the wrapped env's `evaluate()`, so an agent
  that never called complete_task still gets the fraction of checks passed (the paper's training
  reward). The rollout collector runs every episode inside one: it is the only turn limit.
  `evaluation_report` is the one way an episode that was cut off is scored (the collector's context
  budget uses it too).
* `ObservationBudget`: observations longer than the budget are cut by `truncate_observation` (the
  one implementation, which SFT-GT's data uses too), keeping the start, with a closing line saying
  how much was cut; the env's own text stays in ``info["uncut_observation"]``. Tokens are counted
  with a tokenizer when one is given (an object with `encode`/`decode`, e.g. a transformers
  tokenizer), else as CHARS_PER_TOKEN characters. A tokenizer that other threads use too (the
  collector's: its env steps run in a thread pool while its driving thread builds token streams)
  comes with the lock they all hold around it, since a transformers fast tokenizer is not safe to
  call from two threads at once.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from looprl.env.base import Env, Message, StepResult

__all__ = ["CHARS_PER_TOKEN", "Wrapper", "TurnLimit", "ObservationBudget", "evaluation_report", "truncate_observation", "wrap_env"]


class Wrapper:
    """An Env around an Env. Subclasses override what they change; everything else falls through."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        return self.env.reset(task_id, seed=seed)

    def step(self, action: str) -> StepResult:
        return self.env.step(action)

    def evaluate(self) -> dict[str, Any]:
        return self.env.evaluate()

    def close(self) -> None:
        self.env.close()

    @property
    def unwrapped(self) -> Env:
        env = self.env
        while isinstance(env, Wrapper):
            env = env.env
        return env

    def __getattr__(self, name: str) -> Any:
        # why: a wrapper stands in for the env it wraps (Gymnasium's convention): an env's own extras
        # (AppSuiteEnv.world, a declared optional capability such as GroundTruthSolutions) pass through
        if name.startswith("__") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


def evaluation_report(env: Env) -> dict[str, Any] | None:
    """`env.evaluate()` (a dict, as the Env protocol declares it): the reward, success and checks
    of an episode cut off before it terminated. None when the env reports nothing (a Ray proxy of an
    env without an evaluator); the episode then keeps its last step's reward."""
    report = env.evaluate()
    if report is None:
        return None
    return dict(report)


class TurnLimit(Wrapper):
    """Truncate the episode at ``max_turns`` steps (paper: 40 in training, 50 in evaluation)."""

    def __init__(self, env: Env, max_turns: int = 40) -> None:
        super().__init__(env)
        if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
            raise ValueError(f"TurnLimit: max_turns must be a positive integer, got {max_turns!r}")
        self.max_turns = max_turns
        self.turns = 0

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        self.turns = 0
        return self.env.reset(task_id, seed=seed)

    def step(self, action: str) -> StepResult:
        result = self.env.step(action)
        self.turns += 1
        if result.terminated or result.truncated or self.turns < self.max_turns:
            return result
        info = {**result.info, "truncated_by": "turn_limit", "max_turns": self.max_turns}
        reward = result.reward
        report = evaluation_report(self.env)
        if report is not None:
            info.update(report)
            reward = float(report.get("reward", reward))
        return replace(result, reward=reward, truncated=True, info=info)


# Characters per token, to apply a token budget where no tokenizer is at hand (chat-level backends).
CHARS_PER_TOKEN = 4
TRUNCATION_NOTE = "\n[output truncated: showing {shown} of {total} tokens]"


def truncate_observation(text: str, max_tokens: int, tokenizer: Any = None) -> str:
    """`text` cut to `max_tokens` tokens, keeping the start, with a closing line saying how much was
    cut; unchanged when it fits. The one implementation of the observation budget: rollouts (token- and
    chat-level, through `ObservationBudget`) and SFT-GT's ground-truth chats call it, so a model is
    trained on the cut it will see. Tokens are counted with `tokenizer` (an object with `encode`/`decode`, e.g. a
    transformers tokenizer) when given, else as CHARS_PER_TOKEN characters each."""
    if tokenizer is not None:
        ids = list(tokenizer.encode(text, add_special_tokens=False))
        if len(ids) <= max_tokens:
            return text
        kept = tokenizer.decode(ids[:max_tokens])
        return kept + TRUNCATION_NOTE.format(shown=max_tokens, total=len(ids))
    budget = max_tokens * CHARS_PER_TOKEN
    if len(text) <= budget:
        return text
    about = f"about {len(text) // CHARS_PER_TOKEN}"
    return text[:budget] + TRUNCATION_NOTE.format(shown=max_tokens, total=about)[:-1] + f" ({budget} of {len(text)} characters)]"


class ObservationBudget(Wrapper):
    """Cut observations to ``max_tokens`` (paper: 3,000) with `truncate_observation`; a cut step's info
    keeps the env's full text as ``uncut_observation``. ``lock``: held around each use of
    ``tokenizer``, for a tokenizer that other threads use at the same time."""

    def __init__(self, env: Env, max_tokens: int = 3000, *, tokenizer: Any = None, lock: threading.Lock | None = None) -> None:
        super().__init__(env)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError(f"ObservationBudget: max_tokens must be a positive integer, got {max_tokens!r}")
        self.max_tokens = max_tokens
        self.tokenizer = tokenizer
        self.lock = lock

    def truncate(self, text: str) -> str:
        with self.lock if self.lock is not None else nullcontext():
            return truncate_observation(text, self.max_tokens, self.tokenizer)

    def step(self, action: str) -> StepResult:
        result = self.env.step(action)
        observation = self.truncate(result.observation)
        if observation is result.observation:
            return result
        return replace(result, observation=observation, info={**result.info, "uncut_observation": result.observation})


def wrap_env(
    env: Env,
    *,
    max_turns: int | None = None,
    max_observation_tokens: int | None = None,
    tokenizer: Any = None,
    tokenizer_lock: threading.Lock | None = None,
) -> Env:
    """Stack the standard wrappers: the observation budget inside the turn limit (so the step the limit
    cuts is budgeted too). The rollout collector builds every episode's env with this."""
    if max_observation_tokens is not None:
        env = ObservationBudget(env, max_observation_tokens, tokenizer=tokenizer, lock=tokenizer_lock)
    if max_turns is not None:
        env = TurnLimit(env, max_turns)
    return env
