"""The environment contract: a Gymnasium-shaped, text-in/text-out protocol, and the env registry.

`reset(task_id)` returns the opening chat messages and an info dict; `step(action)` takes the agent's
whole message and returns a frozen `StepResult`. `terminated` (the agent called complete_task) and
`truncated` (a turn or token budget ran out) are kept apart. Reward arrives on the final step.
`evaluate()` scores the episode as it stands (the training reward of one cut off before the agent
called complete_task). Cross-cutting behaviour (turn limits, observation truncation, recording) lives
in wrappers. A step the env could not carry out for a reason outside the agent's doing either raises or
returns `info["infra_failure"]` set to an infrastructure `looprl.trajectory.FinishReason` value
("env_worker_died", "env_timeout", "env_error"): the collector then ends the episode as infra-failed,
and training and TGC leave it out.

Each env also answers, on its class and without being built, which tasks it has: `splits(options)`,
`task_ids(split, options, ...)` and `check_task_ids(ids, options)`. `register_env` records the class
with the factory, and training, evaluation and the config checks ask `task_lookup(name)`: there is
no switch on env names. An env registered without these falls back to the built-in world's splits
(`BuiltinWorldTasks`) and checks its task ids itself, on reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, TypedDict, runtime_checkable


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class StepResult:
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Env(Protocol):
    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]: ...

    def step(self, action: str) -> StepResult: ...

    def evaluate(self) -> dict[str, Any]:
        """The episode's state as it stands, scored: {"reward" in [0, 1], "success", "checks": [{name,
        passed, detail}], ...}. What a turn limit or a context budget gives an episode it cuts off."""
        ...

    def close(self) -> None: ...

    # The env's tasks, asked on the class (no env is built): see `task_lookup`.
    @classmethod
    def splits(cls, options: Mapping[str, Any] | None = None) -> Sequence[str] | None:
        """The split names `task_ids` takes; None when any name does (the env has no named splits)."""
        ...

    @classmethod
    def task_ids(
        cls,
        split: str,
        options: Mapping[str, Any] | None = None,
        *,
        difficulties: Sequence[int] | None = None,
        instances: int | None = None,
        start: int = 1,
        scenarios: Sequence[str] | None = None,
    ) -> list[str]:
        """The ids of `split` for an env built with `options`, only those of `difficulties` when given;
        `instances`, `start` and `scenarios` are for envs that draw instances of scenarios (the built-in
        world) and ignored by others. ValueError naming the split when it is unknown."""
        ...

    @classmethod
    def check_task_ids(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        """ValueError naming the first id the env does not know (an env that can only tell on reset accepts all)."""
        ...


class BuiltinWorldTasks:
    """The built-in world's task lookup: its splits (and `heldout`), drawn instances of its scenarios.
    The appsuite env's, and the fallback of an env registered without a lookup of its own (its users
    pass their own `tasks.task_ids`); such an env checks its ids itself, on reset."""

    @classmethod
    def splits(cls, options: Mapping[str, Any] | None = None) -> Sequence[str]:
        from looprl.world.tasks import HELDOUT, SPLITS

        return (*SPLITS, HELDOUT)

    @classmethod
    def task_ids(
        cls,
        split: str,
        options: Mapping[str, Any] | None = None,
        *,
        difficulties: Sequence[int] | None = None,
        instances: int | None = None,
        start: int = 1,
        scenarios: Sequence[str] | None = None,
    ) -> list[str]:
        from looprl.world import load_tasks
        from looprl.world.tasks import CANONICAL_INSTANCES

        return [
            t.id
            for t in load_tasks(
                split,
                difficulties=list(difficulties) if difficulties else None,
                instances=instances or CANONICAL_INSTANCES,
                start=start,
                scenarios=list(scenarios) if scenarios else None,
            )
        ]

    @classmethod
    def check_task_ids(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        return None


EnvFactory = Callable[..., Env]
_REGISTRY: dict[str, EnvFactory] = {}
_TASKS: dict[str, type] = {}


def register_env(name: str, factory: EnvFactory, *, overwrite: bool = False, env_class: type | None = None) -> None:
    """Make `make_env(name, **options)` build an env with `factory(**options)`. `env_class` (default:
    `factory` when it is a class) answers for the env's tasks (`splits`, `task_ids`, `check_task_ids`);
    a class without them falls back to `BuiltinWorldTasks`."""
    if not name or not isinstance(name, str):
        raise ValueError(f"env name must be a non-empty string, got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an env named {name!r} is already registered; pass overwrite=True to replace it")
    if env_class is None and isinstance(factory, type):
        env_class = factory
    _REGISTRY[name] = factory
    lookups = ("splits", "task_ids", "check_task_ids")
    _TASKS[name] = env_class if env_class is not None and all(hasattr(env_class, m) for m in lookups) else BuiltinWorldTasks


def task_lookup(name: str) -> type:
    """The class that answers for env `name`'s tasks (its `splits`, `task_ids`, `check_task_ids`)."""
    _ensure_builtin()
    if name not in _TASKS:
        raise ValueError(f"unknown env {name!r}; registered envs: {', '.join(sorted(_REGISTRY))}")
    return _TASKS[name]


def registered_envs() -> list[str]:
    _ensure_builtin()
    return sorted(_REGISTRY)


def make_env(name: str, **options: Any) -> Env:
    """Build a registered env: "appsuite" (the built-in world), "appworld" (real AppWorld), "toy"
    (looprl.testing's digits env), or your own."""
    _ensure_builtin()
    if name not in _REGISTRY:
        raise ValueError(f"unknown env {name!r}; registered envs: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def _ensure_builtin() -> None:
    # The built-in envs register themselves on import; importing lazily keeps `import looprl.env` light.
    import importlib

    for module in ("looprl.env.appsuite", "looprl.env.appworld", "looprl.testing.envs"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
