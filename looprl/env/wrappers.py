"""Cross-cutting env behaviour as wrappers (Gymnasium's idea): turn limit, observation budget, recording.

Each wrapper is an Env around an Env and forwards what it does not change: the protocol's
`evaluate()`, and any extra method (attribute access falls through to the wrapped env; `unwrapped`
is the innermost). `wrap_env` stacks them in the usual order:

    env = wrap_env(make_env("appsuite"), max_turns=40, max_observation_tokens=3000, record_dir="runs/x/episodes")

* `TurnLimit`: the step that reaches `max_turns` without the episode terminating is truncated; its
  reward and `info` (reward, success, checks) come from the wrapped env's `evaluate()`, so an agent
  that never called complete_task still gets the fraction of checks passed (the paper's training
  reward). The rollout collector runs every episode inside one: it is the only turn limit.
  `evaluation_report` is the one way an episode that was cut off is scored (the collector's context
  budget uses it too).
* `ObservationBudget`: observations longer than the budget are cut by `truncate_observation` (the
  one implementation, which the collector and SFT-GT's data use too), keeping the start, with a
  closing line saying how much was cut. Tokens are counted with a tokenizer when one is given (an
  object with `encode`/`decode`, e.g. a transformers tokenizer), else as CHARS_PER_TOKEN characters.
* `RecordEpisode`: one JSONL file per episode (reset, then one line per step: action, observation,
  reward, flags, and every API call with its arguments, result and status), rewritten atomically
  after every step so a crash leaves a readable file.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from looprl.env.base import Env, Message, StepResult
from looprl.utils.io import atomic_write_text

__all__ = ["CHARS_PER_TOKEN", "Wrapper", "TurnLimit", "ObservationBudget", "RecordEpisode", "evaluation_report", "truncate_observation", "wrap_env"]


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
        if name.startswith("__") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


def evaluation_report(env: Env) -> dict[str, Any] | None:
    """`env.evaluate()` as a plain dict (a report object's `to_dict()`): the reward, success and checks
    of an episode cut off before it terminated. None when the env reports nothing (a Ray proxy of an
    env without an evaluator); the episode then keeps its last step's reward."""
    report = env.evaluate()
    if report is None:
        return None
    return report.to_dict() if hasattr(report, "to_dict") else dict(report)


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
    chat-level), SFT-GT's ground-truth chats and `ObservationBudget` all call it, so a model is trained
    on the cut it will see. Tokens are counted with `tokenizer` (an object with `encode`/`decode`, e.g. a
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
    """Cut observations to ``max_tokens`` (paper: 3,000) with `truncate_observation`."""

    def __init__(self, env: Env, max_tokens: int = 3000, *, tokenizer: Any = None) -> None:
        super().__init__(env)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError(f"ObservationBudget: max_tokens must be a positive integer, got {max_tokens!r}")
        self.max_tokens = max_tokens
        self.tokenizer = tokenizer

    def truncate(self, text: str) -> str:
        return truncate_observation(text, self.max_tokens, self.tokenizer)

    def step(self, action: str) -> StepResult:
        result = self.env.step(action)
        observation = self.truncate(result.observation)
        if observation is result.observation:
            return result
        info = {**result.info, "observation_chars_before_cut": len(result.observation)}
        return replace(result, observation=observation, info=info)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class RecordEpisode(Wrapper):
    """Write each episode to ``directory/<task_id>.<n>.jsonl`` (n counts this wrapper's episodes)."""

    def __init__(self, env: Env, directory: str | Path) -> None:
        super().__init__(env)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.episodes = 0
        self.path: Path | None = None
        self._lines: list[str] = []

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        messages, info = self.env.reset(task_id, seed=seed)
        self.path = self.directory / f"{_UNSAFE.sub('_', task_id)}.{self.episodes}.jsonl"
        self.episodes += 1
        self._lines = []
        self._write({"event": "reset", "task_id": task_id, "seed": seed, "time": time.time(), "messages": messages, "info": info})
        return messages, info

    def step(self, action: str) -> StepResult:
        result = self.env.step(action)
        if self.path is not None:
            self._write(
                {
                    "event": "step",
                    "turn": result.info.get("turn"),
                    "time": time.time(),
                    "action": action,
                    "observation": result.observation,
                    "reward": result.reward,
                    "terminated": result.terminated,
                    "truncated": result.truncated,
                    "api_calls": _calls_with_results(result.info),
                    "info": {k: v for k, v in result.info.items() if k not in ("api_calls", "api_results")},
                }
            )
        return result

    def _write(self, event: dict[str, Any]) -> None:
        self._lines.append(json.dumps(event, default=str) + "\n")
        atomic_write_text(self.path, "".join(self._lines))


def _calls_with_results(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The step's API calls, each with its result (envs may keep results apart, in `api_results`)."""
    calls = [dict(call) for call in info.get("api_calls", []) or []]
    results = info.get("api_results")
    if isinstance(results, list) and len(results) == len(calls):
        for call, result in zip(calls, results):
            call.setdefault("result", result)
    return calls


def wrap_env(
    env: Env,
    *,
    max_turns: int | None = None,
    max_observation_tokens: int | None = None,
    tokenizer: Any = None,
    record_dir: str | Path | None = None,
) -> Env:
    """Stack the standard wrappers: budget innermost, then the turn limit, recording outermost (so the
    recording shows what the agent saw)."""
    if max_observation_tokens is not None:
        env = ObservationBudget(env, max_observation_tokens, tokenizer=tokenizer)
    if max_turns is not None:
        env = TurnLimit(env, max_turns)
    if record_dir is not None:
        env = RecordEpisode(env, record_dir)
    return env
