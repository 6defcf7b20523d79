"""A toy env with a learnable rule, for the learning test and the tiny CPU recipe (registered as "toy").

Each task asks the agent to reply with digits only. The episode is one turn: the reward is the
fraction of the reply's rule parts satisfied, where each non-space character is one part ("is a
digit"); an empty reply scores 0. `success` means every character is a digit. A randomly
initialized tiny model scores a few percent (digits are a small share of its vocabulary), and a
policy that moves probability mass onto digit tokens scores more, smoothly: a signal a 115K-param
model can learn in a couple of minutes of LOOP on a CPU.

Task ids are "toy_<n>" (n >= 0; `load_toy_tasks(n)` lists the first n). Only the instruction's
wording changes from task to task, so tasks share one rule and rollouts of a task form a group.
"""

from __future__ import annotations

from typing import Any

from looprl.env.base import Message, StepResult, register_env

_PHRASES = ["Reply with digits only.", "Answer using only digits.", "Write a number, digits only.", "Only digits, please."]


def load_toy_tasks(n: int) -> list[str]:
    return [f"toy_{i}" for i in range(n)]


def digit_score(text: str) -> tuple[float, bool]:
    """(fraction of non-space characters that are digits, all of them are)."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0, False
    hits = sum(c.isdigit() for c in chars)
    return hits / len(chars), hits == len(chars)


class ToyEnv:
    """One-turn env: the reward is the share of digit characters in the agent's reply."""

    def __init__(self) -> None:
        self.task_id: str | None = None
        self._done = True
        self._last: dict[str, Any] = {}

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        if not task_id.startswith("toy_") or not task_id[4:].isdigit():
            raise ValueError(f"toy env task ids look like 'toy_<n>' (n >= 0); got {task_id!r}")
        n = int(task_id[4:])
        self.task_id, self._done, self._last = task_id, False, {}
        instruction = f"Task {n}. {_PHRASES[n % len(_PHRASES)]}"
        messages: list[Message] = [{"role": "user", "content": instruction}]
        return messages, {"task_id": task_id, "instruction": instruction, "split": "toy", "difficulty": 1, "apps": []}

    def step(self, action: str) -> StepResult:
        if self._done:
            raise RuntimeError("ToyEnv.step called on a finished episode; call reset(task_id) first")
        self._done = True
        reward, success = digit_score(action)
        self._last = {"reward": reward, "success": success,
                      "checks": [{"name": "digits_only", "passed": success, "detail": f"{reward:.2f} of characters are digits"}]}
        return StepResult(observation="Done.", reward=reward, terminated=True, truncated=False, info=dict(self._last))

    def evaluate(self) -> dict[str, Any]:
        return dict(self._last) if self._last else {"reward": 0.0, "success": False, "checks": []}

    def close(self) -> None:
        self._done = True


register_env("toy", lambda **options: ToyEnv(**options), overwrite=True)
