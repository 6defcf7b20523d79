"""A toy env with a learnable rule, for the learning test and the tiny CPU recipe (registered as "toy").

Each task asks the agent to reply with digits only. The episode is one turn: the reward is the
fraction of the reply's rule parts satisfied, where each non-space character is one part ("is a
digit"); an empty reply scores 0. `success` means every character is a digit. A randomly
initialized tiny model scores a few percent (digits are a small share of its vocabulary), and a
policy that moves probability mass onto digit tokens scores more, smoothly: a signal a 115K-param
model can learn in a couple of minutes of LOOP on a CPU.

Task ids are "toy_<n>" (n >= 0; `load_toy_tasks(n)` lists the first n). Only the instruction's
wording changes from task to task, so tasks share one rule and rollouts of a task form a group.

With ``turns > 1`` (``make_env("toy", turns=3)``) an episode lasts that many turns: each reply is
answered "Continue: digits only." and the reward, given at the end, is the mean digit share over
the turns — a multi-turn credit-assignment problem on which the per-token, per-turn and
per-trajectory ratios of LOOP differ (benchmarks/reproduce.py). `ground_truth_messages(task_id)`
gives a perfect reply per turn, the toy's stand-in for a ground-truth solution (SFT-GT).
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

    def __init__(self, turns: int = 1) -> None:
        if not isinstance(turns, int) or turns < 1:
            raise ValueError(f"toy env option turns must be an integer >= 1, got {turns!r}")
        self.turns = turns
        self.task_id: str | None = None
        self._done = True
        self._last: dict[str, Any] = {}
        self._scores: list[float] = []

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        if not task_id.startswith("toy_") or not task_id[4:].isdigit():
            raise ValueError(f"toy env task ids look like 'toy_<n>' (n >= 0); got {task_id!r}")
        n = int(task_id[4:])
        self.task_id, self._done, self._last, self._scores = task_id, False, {}, []
        instruction = f"Task {n}. {_PHRASES[n % len(_PHRASES)]}"
        messages: list[Message] = [{"role": "user", "content": instruction}]
        return messages, {"task_id": task_id, "instruction": instruction, "split": "toy", "difficulty": 1, "apps": []}

    def step(self, action: str) -> StepResult:
        if self._done:
            raise RuntimeError("ToyEnv.step called on a finished episode; call reset(task_id) first")
        score, _ = digit_score(action)
        self._scores.append(score)
        if len(self._scores) < self.turns:
            return StepResult(observation="Continue: digits only.", reward=0.0, terminated=False, truncated=False, info={})
        self._done = True
        self._last = self.evaluate()
        return StepResult(observation="Done.", reward=self._last["reward"], terminated=True, truncated=False, info=dict(self._last))

    def evaluate(self) -> dict[str, Any]:
        """Score the turns taken so far (turns not taken score 0): mean digit share, success = all digits."""
        scores = self._scores + [0.0] * (self.turns - len(self._scores))
        reward = sum(scores) / self.turns
        checks = [{"name": f"turn {i + 1} digits only", "passed": s == 1.0, "detail": f"{s:.2f} of characters are digits"}
                  for i, s in enumerate(scores)]
        if self.turns == 1:
            checks[0]["name"] = "digits_only"
        return {"reward": reward, "success": all(c["passed"] for c in checks), "checks": checks}

    def ground_truth_messages(self, task_id: str) -> list[str]:
        """A perfect reply per turn (what SFT-GT imitates on the toy env)."""
        n = int(task_id[4:])
        return [str((n * 7919 + 13 * i) % 100000).zfill(5) for i in range(self.turns)]

    def close(self) -> None:
        self._done = True


# `n_tasks` sizes the toy "split" (looprl.env.task_ids reads it); any toy_N id works in every env
register_env("toy", lambda n_tasks=None, **options: ToyEnv(**options), overwrite=True)
