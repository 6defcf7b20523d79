"""Which task ids a split holds, for any registered env: the one place training, evaluation and the
demo ask it. Each env answers for itself (its `TaskLookup`, found with `looprl.env.base.task_lookup`):
the built-in world draws instances of its scenarios, AppWorld reads its split files, the toy env
lists its `n_tasks` tasks. An env registered without a lookup has no splits: asking is an error that
says to give its task ids explicitly (`tasks.task_ids`).
"""

from __future__ import annotations

from typing import Any, Mapping

from looprl.env.base import task_lookup

__all__ = ["task_ids"]


def task_ids(env_name: str, split: str, options: Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None, *, epoch: int = 0) -> list[str]:
    """The ids of `split` for env `env_name` built with `options`, as the env's own selection from the
    config's task `fields` picks them (none: the whole split; see `TaskLookup.task_selection`, which
    also says what `epoch` does). Raises ValueError naming the split when none is left, and the env's
    `TaskSelectionError` for a field it does not take."""
    lookup = task_lookup(env_name)
    ids = lookup.task_ids(split, lookup.task_selection(dict(options or {}), dict(fields or {}), epoch=epoch))
    if not ids:
        which = " with " + ", ".join(f"{name} {value!r}" for name, value in fields.items()) if fields else ""
        raise ValueError(f"split {split!r} of env {env_name!r} has no tasks{which}")
    return ids
