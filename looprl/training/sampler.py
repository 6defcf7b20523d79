"""The task sampler: a seeded stream of training tasks whose position is saved in checkpoints.

Tasks are drawn epoch by epoch: each epoch is a fresh permutation of the task list from a
`random.Random(seed + epoch)`, so `state()`/`restore()` need only (epoch, position) and a resumed
run draws exactly the tasks an uninterrupted one would. With ``fresh`` (the built-in world's
``tasks.fresh_instances``), epoch e > 0 permutes ``fresh(e)`` instead of the first list: new
instances of the same scenarios, so training never sees a task twice.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence


class TaskSampler:
    def __init__(self, task_ids: Sequence[str], seed: int, *, fresh: Callable[[int], Sequence[str]] | None = None) -> None:
        if not task_ids:
            raise ValueError("the task sampler needs at least one training task id")
        self.task_ids = list(task_ids)
        self.seed = seed
        self.fresh = fresh
        self.epoch = 0
        self.position = 0
        self._orders: dict[int, list[str]] = {}

    def _order(self, epoch: int) -> list[str]:
        if epoch not in self._orders:
            order = list(self.task_ids if epoch == 0 or self.fresh is None else self.fresh(epoch))
            if not order:
                raise ValueError(f"the task sampler's epoch {epoch} has no tasks")
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._orders = {epoch: order}  # only the current epoch is needed again
        return self._orders[epoch]

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
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "n_tasks": len(self.task_ids), "fresh": self.fresh is not None}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("n_tasks") != len(self.task_ids) or state.get("seed") != self.seed or state.get("fresh", False) != (self.fresh is not None):
            raise ValueError(
                f"checkpoint's task sampler (seed {state.get('seed')}, {state.get('n_tasks')} tasks, fresh instances "
                f"{state.get('fresh', False)}) does not match this run's (seed {self.seed}, {len(self.task_ids)} tasks, "
                f"fresh instances {self.fresh is not None}); resume with the run's own config"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
