"""Which task ids a split holds, for any registered env: the one place training, evaluation and the
demo ask it. Each env answers for itself (`Env.task_ids`, found with `looprl.env.base.task_lookup`):
the built-in world draws instances of its scenarios, AppWorld reads its split files, the toy env
lists its `n_tasks` tasks. An env registered by a user without a lookup of its own falls back to the
built-in world's splits, as `make_env` users then pass their own `tasks.task_ids`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from looprl.env.base import task_lookup
from looprl.testing.envs import TOY_TASKS_DEFAULT

__all__ = ["TOY_TASKS_DEFAULT", "task_ids"]


def task_ids(
    env_name: str,
    split: str,
    options: Mapping[str, Any] | None = None,
    *,
    difficulties: Sequence[int] | None = None,
    instances: int | None = None,
    start: int = 1,
    scenarios: Sequence[str] | None = None,
) -> list[str]:
    """The ids of `split` for env `env_name` built with `options`, only those of `difficulties` when
    given (see `Env.task_ids`; the toy env has no splits: its `n_tasks` tasks). For the built-in world,
    `instances` per scenario from instance `start` (default: the split's canonical 3) and only
    `scenarios` when given; `heldout` is a split there too. Raises ValueError naming the split when
    none is left."""
    ids = task_lookup(env_name).task_ids(split, dict(options or {}), difficulties=difficulties, instances=instances, start=start, scenarios=scenarios)
    if not ids:
        which = f" with difficulties {list(difficulties)}" if difficulties is not None else ""
        raise ValueError(f"split {split!r} of env {env_name!r} has no tasks{which}")
    return ids
