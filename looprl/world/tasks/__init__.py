"""Tasks: scenario generators that each yield 3 related tasks.

A scenario is a function decorated with ``@scenario(name, split=..., apps=...)``. It receives a
`BaseView` (read-only queries on the base world, a seeded RNG and the clock) and returns three
`TaskSpec`s: the same intent with different parameters or asks. Tasks get ids ``<scenario>_<n>``
(n = 1, 2, 3). A task carries its instruction in the user's voice, a difficulty 1-3, a ground-truth
solution written against the public ``apis`` only, an optional setup (state the task adds to the
base world), and its checks (see looprl/world/evaluation.py).

Splits: train, dev, test_normal, test_challenge. No scenario is in two splits, and every
test_challenge task uses at least one app that no train task uses (tested).
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable

from looprl.world.evaluation import NO_ANSWER, AllowedChanges, Check, CheckContext
from looprl.world.state import BASE_NOW, DEFAULT_SEED, MAIN_USER_ID, _connect, base_bytes

SPLITS = ("train", "dev", "test_normal", "test_challenge")


@dataclass(frozen=True)
class TaskSpec:
    """What a scenario generator returns for one task."""

    instruction: str
    solution: str
    difficulty: int
    answer: Any = NO_ANSWER  # expected answer for questions; NO_ANSWER for tasks that change state
    answer_order_matters: bool = False
    checks: Callable[[CheckContext], list[Check]] | None = None  # the requested changes happened
    allowed_changes: AllowedChanges = field(default_factory=dict)  # table -> predicate(before, after) | None
    setup: Callable[[Any], None] | None = None  # gets a Ctx on the fresh world (user = the main user)
    extra_apps: tuple[str, ...] = ()  # apps this task uses beyond the scenario's
    now: datetime | None = None


@dataclass(frozen=True)
class Task:
    id: str
    scenario: str
    split: str
    instruction: str
    difficulty: int
    apps: tuple[str, ...]
    solution: str
    answer: Any
    answer_order_matters: bool
    checks: Callable[[CheckContext], list[Check]] | None
    allowed_changes: AllowedChanges
    setup: Callable[[Any], None] | None
    now: datetime

    @property
    def is_question(self) -> bool:
        return self.answer is not NO_ANSWER

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "split": self.split,
            "difficulty": self.difficulty,
            "apps": list(self.apps),
            "instruction": self.instruction,
            "question": self.is_question,
        }


class BaseView:
    """Read-only access to the base world for scenario generators, with a per-scenario RNG."""

    def __init__(self, scenario: str, seed: int = DEFAULT_SEED) -> None:
        self.db = _connect()
        self.db.deserialize(base_bytes(seed))
        self.rng = random.Random(int(hashlib.sha256(f"{seed}:{scenario}".encode()).hexdigest()[:8], 16))
        self.now = BASE_NOW
        self.user_id = MAIN_USER_ID

    def one(self, sql: str, params: tuple = ()) -> dict[str, Any] | None:
        row = self.db.execute(sql, params).fetchone()
        return dict(row) if row else None

    def all(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: tuple = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    @property
    def user(self) -> dict[str, Any]:
        return self.one("SELECT * FROM users WHERE id = ?", (self.user_id,))  # type: ignore[return-value]

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class ScenarioDef:
    name: str
    split: str
    apps: tuple[str, ...]
    generate: Callable[[BaseView], list[TaskSpec]]


_SCENARIOS: dict[str, ScenarioDef] = {}


def scenario(name: str, *, split: str, apps: tuple[str, ...] | list[str]):
    """Register a scenario generator (returns exactly 3 TaskSpecs)."""
    if split not in SPLITS:
        raise ValueError(f"scenario {name!r}: split must be one of {SPLITS}, got {split!r}")

    def register(fn: Callable[[BaseView], list[TaskSpec]]):
        if name in _SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        _SCENARIOS[name] = ScenarioDef(name, split, tuple(apps), fn)
        return fn

    return register


def _import_scenario_modules() -> None:
    import looprl.world.tasks as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


@lru_cache(maxsize=4)
def _all_tasks(seed: int = DEFAULT_SEED) -> tuple[Task, ...]:
    _import_scenario_modules()
    tasks: list[Task] = []
    for name in sorted(_SCENARIOS):
        sdef = _SCENARIOS[name]
        view = BaseView(name, seed)
        try:
            specs = sdef.generate(view)
        finally:
            view.close()
        if len(specs) != 3:
            raise ValueError(f"scenario {name!r} must yield 3 tasks, yielded {len(specs)}")
        for n, spec in enumerate(specs, start=1):
            if spec.difficulty not in (1, 2, 3):
                raise ValueError(f"task {name}_{n}: difficulty must be 1, 2 or 3, got {spec.difficulty}")
            tasks.append(
                Task(
                    id=f"{name}_{n}",
                    scenario=name,
                    split=sdef.split,
                    instruction=spec.instruction,
                    difficulty=spec.difficulty,
                    apps=tuple(dict.fromkeys(sdef.apps + spec.extra_apps)),
                    solution=spec.solution,
                    answer=spec.answer,
                    answer_order_matters=spec.answer_order_matters,
                    checks=spec.checks,
                    allowed_changes=spec.allowed_changes,
                    setup=spec.setup,
                    now=spec.now or BASE_NOW,
                )
            )
    return tuple(tasks)


def load_tasks(split: str | None = None, *, difficulties: list[int] | None = None) -> list[Task]:
    """All tasks of a split (or every split when None), optionally only some difficulties."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits are: {', '.join(SPLITS)}")
    tasks = [t for t in _all_tasks() if split is None or t.split == split]
    if difficulties:
        tasks = [t for t in tasks if t.difficulty in difficulties]
    return tasks


def get_task(task_id: str) -> Task:
    for t in _all_tasks():
        if t.id == task_id:
            return t
    import difflib

    ids = [t.id for t in _all_tasks()]
    close = difflib.get_close_matches(task_id, ids, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else " See `looprl world tasks`."
    raise KeyError(f"unknown task id {task_id!r}.{hint}")


def scenarios() -> dict[str, ScenarioDef]:
    _import_scenario_modules()
    return dict(_SCENARIOS)


# Helpers for checks --------------------------------------------------------------------------------


def check(name: str, passed: bool, detail: str = "") -> Check:
    return Check(name, bool(passed), "" if passed else detail)


def only_inserts(before: dict | None, after: dict | None) -> bool:
    """An allowed-change predicate: new rows only."""
    return before is None and after is not None


def user_rows(user_id: int = MAIN_USER_ID, column: str = "user_id"):
    """An allowed-change predicate: any change to rows owned by the user."""
    return lambda b, a: (b or a or {}).get(column) == user_id


__all__ = [
    "SPLITS",
    "Task",
    "TaskSpec",
    "BaseView",
    "scenario",
    "load_tasks",
    "get_task",
    "scenarios",
    "check",
    "only_inserts",
    "user_rows",
    "NO_ANSWER",
    "Check",
    "CheckContext",
]

_ = sqlite3  # re-exported type for generators' annotations
