"""Two small envs with no world and no sandbox, for tests, benchmarks and the tiny CPU recipe.

* `DigitsEnv` (registered as "toy", so `make_env("toy")` and `env.name: toy` build it): reply with
  digits only, a learnable rule; it lives with the other built-in envs (looprl/env/toy.py) and is
  re-exported here, with its helpers, for tests.
* `StepsEnv`: task "toy_<n>" is solved by calling complete_task after the env has said "ready",
  which it does after n steps; `evaluate()` scores an unfinished episode by progress. With the
  scripted fakes (looprl.testing.fakes) it drives the rollout collector's machinery (batching,
  budgets, early stop, Ray actors) with no model.

Task ids of both are "toy_<n>" (`load_toy_tasks(n)` lists the first n). Neither has named splits:
any split name gives the env option ``n_tasks`` tasks (default TOY_TASKS_DEFAULT; `ToyTasks`).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from looprl.env.base import Message, StepResult
from looprl.env.toy import TOY_TASKS_DEFAULT, DigitsEnv, ToyTasks, digit_score, load_toy_tasks

__all__ = ["DigitsEnv", "StepsEnv", "TOY_TASKS_DEFAULT", "digit_score", "load_toy_tasks"]


class StepsEnv(ToyTasks):
    """Task "toy_<n>": n steps, then the env says "ready"; complete_task after that succeeds."""

    def __init__(self, *, step_delay_s: float = 0.0, observation: str = "ok", fail_on_turn: int | None = None, reset_delay_s: float = 0.0):
        self.step_delay_s = step_delay_s
        self.reset_delay_s = reset_delay_s
        self.observation = observation
        self.fail_on_turn = fail_on_turn
        self.task_id = ""
        self.needed = 0
        self.steps = 0
        self.closed = False

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        match = re.fullmatch(r"toy_(\d+)", task_id)
        if match is None:
            raise ValueError(f"unknown toy task {task_id!r}; toy tasks are named toy_<steps>, e.g. toy_2")
        if self.reset_delay_s:
            time.sleep(self.reset_delay_s)
        self.task_id, self.needed, self.steps = task_id, int(match.group(1)), 0
        info = {
            "instruction": f"Take {self.needed} steps, then complete the task.",
            "supervisor": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone_number": "5550100"},
            "date": datetime(2024, 5, 1, 9, 30),
            "difficulty": 1 + self.needed % 3,
            "scenario": f"toy{self.needed}",
            "apps": ["toy"],
        }
        messages: list[Message] = [
            {"role": "system", "content": "You operate a toy app."},
            {"role": "user", "content": info["instruction"]},
        ]
        return messages, info

    def step(self, action: str) -> StepResult:
        if self.step_delay_s:
            time.sleep(self.step_delay_s)
        if self.fail_on_turn is not None and self.steps == self.fail_on_turn:
            raise RuntimeError("toy env failure on purpose")
        self.steps += 1
        calls = [{"app": "toy", "api": "step", "args": {}, "status": 200, "ok": True}]
        if "complete_task" in action:
            success = self.steps > self.needed
            calls = [{"app": "supervisor", "api": "complete_task", "args": {}, "status": 200, "ok": True}]
            checks = [{"name": "enough_steps", "passed": success, "detail": f"{self.steps - 1} of {self.needed} steps"}]
            info = {"api_calls": calls, "error": False, "success": success, "checks": checks, "answer": None}
            return StepResult("Execution successful.", 1.0 if success else 0.0, True, False, info)
        text = "ready" if self.steps >= self.needed else self.observation
        return StepResult(text, 0.0, False, False, {"api_calls": calls, "error": False})

    def evaluate(self) -> dict[str, Any]:
        progress = min(self.steps, self.needed) / self.needed if self.needed else 1.0
        return {"reward": 0.5 * progress, "success": False, "checks": [{"name": "completed", "passed": False, "detail": "not completed"}]}

    def close(self) -> None:
        self.closed = True
