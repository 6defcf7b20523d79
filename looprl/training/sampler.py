"""The task sampler: a seeded stream of training tasks whose position is saved in checkpoints.

Tasks are drawn epoch by epoch: each epoch is a fresh permutation of the task list from a
`random.Random(seed + epoch)`, so `state()`/`restore()` need only (epoch, position) and a resumed
run draws exactly the tasks an uninterrupted one would.
"""

from __future__ import annotations

import random
from typing import Any, Sequence


class TaskSampler:
    def __init__(self, task_ids: Sequence[str], seed: int) -> None:
        if not task_ids:
            raise ValueError("the task sampler needs at least one training task id")
        self.task_ids = list(task_ids)
        self.seed = seed
        self.epoch = 0
        self.position = 0

    def _order(self, epoch: int) -> list[str]:
        order = list(self.task_ids)
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order

    def sample(self, n: int) -> list[str]:
        """The next `n` tasks (distinct when n <= number of tasks)."""
        out: list[str] = []
        while len(out) < n:
            order = self._order(self.epoch)
            take = order[self.position : self.position + (n - len(out))]
            out += take
            self.position += len(take)
            if self.position >= len(order):
                self.epoch, self.position = self.epoch + 1, 0
        return out

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "n_tasks": len(self.task_ids)}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("n_tasks") != len(self.task_ids) or state.get("seed") != self.seed:
            raise ValueError(
                f"checkpoint's task sampler (seed {state.get('seed')}, {state.get('n_tasks')} tasks) does not match "
                f"this run's (seed {self.seed}, {len(self.task_ids)} tasks); resume with the run's own config"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
