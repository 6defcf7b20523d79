"""Tasks: scenario generators that draw any number of task instances.

A scenario is a function decorated with ``@scenario(name, split=..., apps=...)``. Called with a
`BaseView` (read-only queries on one base world, an RNG of its own and the clock) it returns one
`TaskSpec`: an instruction in the user's voice (worded through `BaseView.phrase`, which takes at
least 3 phrasings), a difficulty 1-3, a ground-truth solution written against the public ``apis``
only, an optional setup (state the task adds to its base world) and its checks (see
looprl/world/evaluation.py).

Instance ``n`` of a scenario is the task ``<scenario>_<n>``, for any n >= 1, and it is the same task
in every process: its base world (one of `N_WORLDS`, each built from its own seed: another main
user, other contacts and data) and its RNG are derived from (scenario, n). The instances of one
scenario are pairwise distinct: an instance whose instruction or whose outcome (base world,
ground-truth solution and answer) repeats an earlier instance's is drawn again, up to
`MAX_ATTEMPTS` times. A scenario's space of distinct tasks is finite: when no draw gives a new one,
the scenario has run out, and asking for that instance (or any later one) raises `ScenarioExhausted`,
which names the scenario and how many distinct instances it has, instead of repeating a task.
`distinct_instances(name)` counts them (or gives a lower bound when there are more than it looks at);
`looprl world stats` reports it for every scenario.

Splits: train, dev, test_normal, test_challenge, each scenario in one of them; ``load_tasks(split)``
gives instances 1-3 of its scenarios (the paper's sizes) and ``load_tasks(split, instances=N)``
instances 1..N. Besides them, ``heldout``: instances of the *training* scenarios that training never
draws. Their numbers start at `HELDOUT_START` (training draws 1 .. HELDOUT_START - 1), and their
outcomes are disjoint from every training instance's: a training scenario's possible outcomes are
split by a hash, one in `HELDOUT_SHARE` is kept for held-out instances, the rest for training.
So two kinds of generalization are measured apart: new instances of known kinds of work
(``heldout``) and new kinds of work (dev and the test splits).
Every test_challenge task uses at least one app that no train task uses (tested).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import pkgutil
import random
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Sequence

from looprl.world.evaluation import NO_ANSWER, AllowedChanges, Check, CheckContext
from looprl.world.state import BASE_NOW, MAIN_USER_ID, _connect, base_bytes

SPLITS = ("train", "dev", "test_normal", "test_challenge")
HELDOUT = "heldout"  # held-out instances of the training scenarios
CANONICAL_INSTANCES = 3  # instances per scenario in a split's canonical task list
N_WORLDS = 8  # base worlds an instance can live in (seeds 0 .. N_WORLDS - 1)
HELDOUT_START = 100_001  # first held-out instance number; training draws 1 .. HELDOUT_START - 1
HELDOUT_SHARE = 5  # one in HELDOUT_SHARE of a training scenario's outcomes is held out
MAX_ATTEMPTS = 1000  # draws per instance before a scenario is taken to have no new task left (about 1 s, once per process)
MIN_PHRASINGS = 3


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
    instance: int = 1
    world: int = 0  # the base world's seed
    phrasings: int = 0  # how many wordings the generator chose this instruction from

    @property
    def is_question(self) -> bool:
        return self.answer is not NO_ANSWER

    @property
    def outcome_key(self) -> str:
        """What makes two instances the same task whatever their wording: base world, ground truth, answer."""
        answer = repr(self.answer) if self.is_question else "-"  # NO_ANSWER's repr holds a memory address
        return hashlib.sha256(f"{self.world}\n{self.solution}\n{answer}".encode()).hexdigest()

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "split": self.split,
            "instance": self.instance,
            "world": self.world,
            "difficulty": self.difficulty,
            "apps": list(self.apps),
            "instruction": self.instruction,
            "question": self.is_question,
        }


def _hash_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)


@lru_cache(maxsize=N_WORLDS)
def _world_db(world: int) -> sqlite3.Connection:
    """One read-only connection per base world and process, shared by every generator call."""
    db = _connect()
    db.deserialize(base_bytes(world))
    db.execute("PRAGMA query_only = ON")
    return db


class BaseView:
    """Read-only access to one base world for a scenario generator, with an RNG of the instance's own."""

    def __init__(self, scenario: str, n: int = 1, *, world: int = 0, attempt: int = 0) -> None:
        self.scenario = scenario
        self.instance = n
        self.world = world
        self.db = _world_db(world)
        self.rng = random.Random(_hash_int(f"rng:{scenario}:{n}:{attempt}"))
        self.now = BASE_NOW
        self.user_id = MAIN_USER_ID
        self.phrasings = 0

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

    def phrase(self, templates: Sequence[str], **params: Any) -> str:
        """One of ``templates`` (``str.format`` fields filled from ``params``), drawn by the RNG.
        A scenario words its instruction through this, with at least `MIN_PHRASINGS` templates."""
        if len(templates) < MIN_PHRASINGS:
            raise ValueError(f"scenario {self.scenario!r}: an instruction needs at least {MIN_PHRASINGS} phrasings, got {len(templates)}")
        self.phrasings = max(self.phrasings, len(templates))
        return self.rng.choice(list(templates)).format(**params)

    def close(self) -> None:
        """Nothing to release: the world's connection is shared (kept for generators that call it)."""


@dataclass(frozen=True)
class ScenarioDef:
    name: str
    split: str
    apps: tuple[str, ...]
    generate: Callable[[BaseView], TaskSpec]


_SCENARIOS: dict[str, ScenarioDef] = {}


def scenario(name: str, *, split: str, apps: tuple[str, ...] | list[str]):
    """Register a scenario generator: ``fn(view) -> TaskSpec``, one task per call."""
    if split not in SPLITS:
        raise ValueError(f"scenario {name!r}: split must be one of {SPLITS}, got {split!r}")

    def register(fn: Callable[[BaseView], TaskSpec]):
        if name in _SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        _SCENARIOS[name] = ScenarioDef(name, split, tuple(apps), fn)
        return fn

    return register


def _import_scenario_modules() -> None:
    import looprl.world.tasks as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{info.name}")


def scenarios() -> dict[str, ScenarioDef]:
    _import_scenario_modules()
    return dict(_SCENARIOS)


# Drawing instances ---------------------------------------------------------------------------------


def is_heldout(sdef: ScenarioDef, n: int) -> bool:
    """Whether instance ``n`` of a scenario is a held-out instance (train scenarios only)."""
    return sdef.split == "train" and n >= HELDOUT_START


def _outcome_side(key: str) -> str:
    return HELDOUT if _hash_int(f"side:{key}") % HELDOUT_SHARE == 0 else "train"


class ScenarioExhausted(ValueError):
    """Instance ``n`` of a scenario was asked for, but the scenario has only ``count`` distinct
    instances on that side (training or held-out): every further draw repeats one of them."""

    def __init__(self, sdef: ScenarioDef, heldout: bool, n: int, count: int) -> None:
        first = HELDOUT_START if heldout else 1
        side = "held-out" if heldout else sdef.split
        have = f"{sdef.name}_{first} .. {sdef.name}_{first + count - 1}" if count else "none"
        super().__init__(
            f"scenario {sdef.name!r} has {count} distinct {side} instances ({have}): {sdef.name}_{n} would repeat one of them. "
            f"Ask for at most {count} instances of it, or leave it out (`looprl world stats` lists every scenario's count)."
        )
        self.scenario, self.heldout, self.count = sdef.name, heldout, count


class _Instances:
    """The instances of one scenario on one side (training or held-out), drawn in order and kept:
    instance n is unique given instances first .. n-1, so they are drawn once, in order, per process.
    Once a draw finds no new task, ``count`` is the side's number of distinct instances."""

    def __init__(self, sdef: ScenarioDef, heldout: bool) -> None:
        self.sdef = sdef
        self.heldout = heldout
        self.first = HELDOUT_START if heldout else 1
        self.tasks: list[Task] = []
        self.instructions: set[str] = set()
        self.outcomes: set[str] = set()
        self.count: int | None = None  # known once the scenario has run out

    def get(self, n: int) -> Task:
        while len(self.tasks) <= n - self.first:
            task = None if self.count is not None else self._draw(self.first + len(self.tasks))
            if task is None:
                self.count = len(self.tasks)
                raise ScenarioExhausted(self.sdef, self.heldout, n, self.count)
            self.tasks.append(task)
        return self.tasks[n - self.first]

    def _wanted_side(self) -> str | None:
        if self.sdef.split != "train":
            return None  # dev and test scenarios have no held-out instances: every outcome is theirs
        return HELDOUT if self.heldout else "train"

    def _draw(self, n: int) -> Task | None:
        """Instance ``n``: the first of up to `MAX_ATTEMPTS` draws on this side whose instruction and
        outcome are both new; None when every draw repeats an earlier instance (the scenario has run out)."""
        side = self._wanted_side()
        for attempt in range(MAX_ATTEMPTS):
            task = _build(self.sdef, n, attempt)
            if side is not None and _outcome_side(task.outcome_key) != side:
                continue
            if task.instruction not in self.instructions and task.outcome_key not in self.outcomes:
                self.instructions.add(task.instruction)
                self.outcomes.add(task.outcome_key)
                return task
        return None


def _build(sdef: ScenarioDef, n: int, attempt: int) -> Task:
    world = _hash_int(f"world:{sdef.name}:{n}:{attempt}") % N_WORLDS
    view = BaseView(sdef.name, n, world=world, attempt=attempt)
    spec = sdef.generate(view)
    task_id = f"{sdef.name}_{n}"
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"scenario {sdef.name!r} must return one TaskSpec, returned {type(spec).__name__}")
    if spec.difficulty not in (1, 2, 3):
        raise ValueError(f"task {task_id}: difficulty must be 1, 2 or 3, got {spec.difficulty}")
    return Task(
        id=task_id,
        scenario=sdef.name,
        split=HELDOUT if is_heldout(sdef, n) else sdef.split,
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
        instance=n,
        world=world,
        phrasings=view.phrasings,
    )


_LOCK = threading.RLock()
_DRAWN: dict[tuple[str, bool], _Instances] = {}


def instance(scenario_name: str, n: int) -> Task:
    """Instance ``n`` (>= 1) of a scenario: the task ``<scenario>_<n>``."""
    sdefs = scenarios()
    if scenario_name not in sdefs:
        close = difflib.get_close_matches(scenario_name, list(sdefs), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See `looprl world tasks`."
        raise KeyError(f"unknown scenario {scenario_name!r}.{hint}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"instance number must be an integer >= 1, got {n!r}")
    sdef = sdefs[scenario_name]
    heldout = is_heldout(sdef, n)
    with _LOCK:
        return _drawn(sdef, heldout).get(n)


def _drawn(sdef: ScenarioDef, heldout: bool) -> _Instances:
    drawn = _DRAWN.get((sdef.name, heldout))
    if drawn is None:
        drawn = _DRAWN[(sdef.name, heldout)] = _Instances(sdef, heldout)
    return drawn


def distinct_instances(scenario_name: str, *, heldout: bool = False, limit: int = 1000) -> tuple[int, bool]:
    """How many distinct instances a scenario has on one side (its training instances, or with
    ``heldout`` its held-out ones): ``(count, True)`` when it runs out within ``limit`` instances,
    ``(limit, False)`` (a lower bound) when it does not. Draws (and keeps) up to ``limit + 1`` instances."""
    sdef = scenarios()[scenario_name]
    if heldout and sdef.split != "train":
        raise ValueError(f"scenario {scenario_name!r} is a {sdef.split} scenario: only training scenarios have held-out instances")
    with _LOCK:
        drawn = _drawn(sdef, heldout)
        try:
            drawn.get(drawn.first + limit)
        except ScenarioExhausted as exc:
            return exc.count, True
    return limit, False


_ID = re.compile(r"^(?P<scenario>[a-z0-9_]+?)_(?P<n>[1-9][0-9]*)$")


def get_task(task_id: str) -> Task:
    """The task with id ``<scenario>_<n>``."""
    match = _ID.match(task_id) if isinstance(task_id, str) else None
    if match is None or match["scenario"] not in scenarios():
        ids = [f"{name}_1" for name in scenarios()]
        close = difflib.get_close_matches(str(task_id), ids, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See `looprl world tasks`."
        raise KeyError(f"unknown task id {task_id!r}: ids are <scenario>_<n> with n >= 1.{hint}")
    return instance(match["scenario"], int(match["n"]))


def instance_numbers(split: str, instances: int = CANONICAL_INSTANCES, start: int = 1) -> range:
    """The instance numbers ``load_tasks(split, instances=..., start=...)`` takes from each scenario:
    ``start .. start + instances - 1``, counted from `HELDOUT_START` for the held-out split."""
    if instances < 1:
        raise ValueError(f"instances must be >= 1, got {instances}")
    if start < 1:
        raise ValueError(f"start must be >= 1, got {start}")
    first = (HELDOUT_START if split == HELDOUT else 1) + start - 1
    if split == "train" and first + instances - 1 >= HELDOUT_START:
        raise ValueError(f"training instances are numbered 1 .. {HELDOUT_START - 1}; asked for {first} .. {first + instances - 1}")
    return range(first, first + instances)


def split_scenarios(split: str) -> list[str]:
    """The scenarios a split draws from (the training scenarios for the held-out split)."""
    if split not in SPLITS and split != HELDOUT:
        raise ValueError(f"unknown split {split!r}; splits are: {', '.join(SPLITS + (HELDOUT,))}")
    source = "train" if split == HELDOUT else split
    return sorted(name for name, sdef in scenarios().items() if sdef.split == source)


def load_tasks(
    split: str | None = None, *, difficulties: list[int] | None = None, instances: int = CANONICAL_INSTANCES, start: int = 1, scenarios: list[str] | None = None
) -> list[Task]:
    """The tasks of a split (every canonical split when None): instances ``start .. start +
    instances - 1`` of each of its scenarios (instances 1-3 by default), optionally only some
    difficulties or some scenarios. ``heldout`` gives held-out instances of the training scenarios."""
    splits = SPLITS if split is None else (split,)
    tasks = []
    for name in splits:
        numbers = instance_numbers(name, instances, start)
        for scenario_name in split_scenarios(name):
            if scenarios is None or scenario_name in scenarios:
                tasks += [instance(scenario_name, n) for n in numbers]
    if difficulties:
        tasks = [t for t in tasks if t.difficulty in difficulties]
    return tasks


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
    "HELDOUT",
    "HELDOUT_START",
    "N_WORLDS",
    "instance",
    "instance_numbers",
    "distinct_instances",
    "ScenarioExhausted",
    "split_scenarios",
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
