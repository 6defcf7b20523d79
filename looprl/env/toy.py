"""The "toy" env (`make_env("toy")`, `env.name: toy`): `DigitsEnv`, a learnable rule with no world and
no sandbox, for the tiny CPU recipe, the learning test and benchmarks.

Each task asks the agent to reply with digits only; the reward is the fraction of the reply's
non-space characters that are digits (an empty reply scores 0), `success` means all of them are. A
randomly initialized tiny model scores a few percent and a policy that moves probability mass onto
digit tokens scores more, smoothly: a signal a 115K-parameter model learns in a couple of minutes of
LOOP on a CPU (the learning test, configs/tiny-cpu.yaml). With ``turns > 1`` (``make_env("toy",
turns=3)``) each reply is answered "Continue: digits only." and the reward, given at the end, is
the mean digit share over the turns — a multi-turn credit-assignment problem on which LOOP's
per-token, per-turn and per-trajectory ratios differ (benchmarks/reproduce.py).
`ground_truth_messages(task_id)` gives a perfect reply per turn (its SFT-GT stand-in).

Task ids are "toy_<n>" (`load_toy_tasks(n)` lists the first n). There are no named splits: any split
name gives the env option ``n_tasks`` tasks (default TOY_TASKS_DEFAULT), whatever the difficulties
(every toy task counts as difficulty 1). `ToyTasks` is that lookup; looprl.testing's `StepsEnv`
shares it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from looprl.env.base import Message, StepResult, TaskSelectionError, register_env

__all__ = ["DigitsEnv", "TOY_TASKS_DEFAULT", "ToyTasks", "digit_score", "load_toy_tasks"]

TOY_TASKS_DEFAULT = 8  # the toy env's `n_tasks` option when not given
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


class ToyTasks:
    """The toy envs' task lookup: no named splits, `n_tasks` tasks "toy_0" .. "toy_<n_tasks-1>"."""

    @dataclass(frozen=True)
    class Selection:
        n_tasks: int = TOY_TASKS_DEFAULT

    @classmethod
    def splits(cls, options: Mapping[str, Any] | None = None) -> Sequence[str] | None:
        return None

    @classmethod
    def task_selection(cls, options: Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None, *, epoch: int = 0) -> "ToyTasks.Selection":
        """The env option ``n_tasks`` (default TOY_TASKS_DEFAULT); ``difficulties`` is taken and has no
        effect (every toy task is of difficulty 1), no other field applies."""
        for name, value in (fields or {}).items():
            if name != "difficulties":
                raise TaskSelectionError(
                    name, value, "does not apply to the toy env: its tasks are a fixed list, env.options.n_tasks of them; it takes only difficulties"
                )
        return cls.Selection(int((options or {}).get("n_tasks", TOY_TASKS_DEFAULT)))

    @classmethod
    def task_ids(cls, split: str, selection: "ToyTasks.Selection") -> list[str]:
        return load_toy_tasks(selection.n_tasks)

    @classmethod
    def check_task_ids(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        for task_id in ids:
            if re.fullmatch(r"toy_\d+", task_id) is None:
                raise ValueError(f"unknown toy task {task_id!r}; toy task ids look like 'toy_<n>' (n >= 0), e.g. toy_2")


class DigitsEnv(ToyTasks):
    """Reply with digits only: the reward is the share of digit characters in the agent's replies."""

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
            raise RuntimeError("DigitsEnv.step called on a finished episode; call reset(task_id) first")
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
        checks = [{"name": f"turn {i + 1} digits only", "passed": s == 1.0, "detail": f"{s:.2f} of characters are digits"} for i, s in enumerate(scores)]
        if self.turns == 1:
            checks[0]["name"] = "digits_only"
        return {"reward": reward, "success": all(c["passed"] for c in checks), "checks": checks}

    def ground_truth_messages(self, task_id: str) -> list[str]:
        """A perfect reply per turn (what SFT-GT imitates on the toy env)."""
        n = int(task_id[4:])
        return [str((n * 7919 + 13 * i) % 100000).zfill(5) for i in range(self.turns)]

    def close(self) -> None:
        self._done = True


# `n_tasks` sizes the toy "split" (ToyTasks.task_selection reads it); the env itself accepts and ignores it
register_env("toy", lambda n_tasks=None, **options: DigitsEnv(**options), overwrite=True, env_class=DigitsEnv)
