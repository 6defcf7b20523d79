"""Which task ids a split holds, for every env looprl knows: the one place training, evaluation and
the demo ask it (the built-in world, AppWorld's split files, the toy env).

An env registered by a user with no split of its own falls back to the built-in world's splits, as
`make_env` users then pass their own `tasks.task_ids`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

TOY_TASKS_DEFAULT = 8  # the toy env's `n_tasks` option when not given


def task_ids(env_name: str, split: str, options: Mapping[str, Any] | None = None, *,
             difficulties: Sequence[int] | None = None, instances: int | None = None, start: int = 1,
             scenarios: Sequence[str] | None = None) -> list[str]:
    """The ids of `split` for env `env_name`, only those of `difficulties` when given (the toy env
    has no splits: its `n_tasks` tasks). For the built-in world, `instances` per scenario from
    instance `start` (default: the split's canonical 3); `heldout` is a split there too. Raises
    ValueError naming the split when none is left. `scenarios` keeps only those (built-in world)."""
    options = options or {}
    if env_name == "toy":
        from looprl.env.toy import load_toy_tasks

        return load_toy_tasks(int(options.get("n_tasks", TOY_TASKS_DEFAULT)))
    if env_name == "appworld":  # AppWorld's own split files and difficulty metadata
        from looprl.env.appworld import load_task_ids

        ids = load_task_ids(options.get("root"), split, difficulty=list(difficulties) if difficulties else None)
    else:
        from looprl.world import load_tasks
        from looprl.world.tasks import CANONICAL_INSTANCES

        ids = [t.id for t in load_tasks(split, difficulties=list(difficulties) if difficulties else None,
                                        instances=instances or CANONICAL_INSTANCES, start=start,
                                        scenarios=list(scenarios) if scenarios else None)]
    if not ids:
        which = f" with difficulties {list(difficulties)}" if difficulties is not None else ""
        raise ValueError(f"split {split!r} of env {env_name!r} has no tasks{which}")
    return ids
