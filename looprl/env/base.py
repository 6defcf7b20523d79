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

Which tasks an env has is the env's own business, asked on its class without building it: an env
class that implements `TaskLookup` lists its splits, builds its own *task selection* (an object of
its own, from its options and the config's `tasks.*` fields: the built-in world's instances,
instance range and scenarios are its own) and answers `task_ids(split, selection)`. Task metadata
(difficulty, scenario, apps, split) comes back in `reset`'s info. `register_env` records the class
with the factory; training, evaluation and the config checks ask `task_lookup(name)`, and
`looprl eval` asks `evaluation_hooks(name)` (an env class's optional `EvalHooks`: AppWorld exports
its experiment folders): there is no switch on env names. An env registered without a lookup runs
the task ids it is given (`tasks.task_ids`); asking it for a split is an error that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from looprl.trajectory import Trajectory


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
    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        """The opening chat messages and an info dict: what the agent's prompt is built from, and the
        task's metadata where the env has it (``difficulty``, ``scenario``, ``apps``, ``split``), which
        rollouts and evaluation summaries carry."""
        ...

    def step(self, action: str) -> StepResult: ...

    def evaluate(self) -> dict[str, Any]:
        """The episode's state as it stands, scored: {"reward" in [0, 1], "success", "checks": [{name,
        passed, detail}], ...}. What a turn limit or a context budget gives an episode it cuts off."""
        ...

    def close(self) -> None: ...


class TaskSelectionError(ValueError):
    """A task-selection field an env does not take, or a value it does not allow. It names the field,
    the value and what the env takes; `under("tasks.")` words it as the config field it came from."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        self.field, self.value, self.problem = field, value, problem
        super().__init__(self.under(""))

    def under(self, section: str) -> str:
        return f"{section}{self.field}={self.value!r} {self.problem}"


@runtime_checkable
class TaskLookup(Protocol):
    """An env class's answer, without building an env, to "which tasks?" (class methods).

    The selection is the env's own object: the built-in world's says how many instances of which
    scenarios from which instance on (`AppSuiteEnv.Selection`), AppWorld's which root and difficulties,
    the toy env's how many tasks. Nothing outside the env looks inside it."""

    @classmethod
    def splits(cls, options: Mapping[str, Any] | None = None) -> Sequence[str] | None:
        """The split names `task_ids` takes for an env built with `options`; None when any name does
        (the env has no named splits)."""
        ...

    @classmethod
    def task_selection(cls, options: Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None, *, epoch: int = 0) -> Any:
        """The env's selection of tasks for an env built with `options`, from the config's task fields
        (`tasks.<name>` -> value: always ``difficulties``, the others only where the config sets them
        away from their defaults; none: the env's whole splits). `epoch` is the pass over the training
        pool: an env that draws fresh instances per pass gives the epoch-th pool, others ignore it.
        `TaskSelectionError` for a field the env does not take or a value it does not allow."""
        ...

    @classmethod
    def task_ids(cls, split: str, selection: Any) -> list[str]:
        """The ids of `split` that `selection` (from `task_selection`) picks. ValueError naming the split
        when it is unknown (`TaskSelectionError` when the selection does not fit the split)."""
        ...

    @classmethod
    def check_task_ids(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        """ValueError naming the first id the env does not know (an env that can only tell on reset accepts all)."""
        ...


@runtime_checkable
class EvalHooks(Protocol):
    """Optional, on an env class: what an evaluation run (`looprl eval`) does around its rollouts for
    this env. AppWorld's bounds its servers, keeps their outputs and exports them as AppWorld
    experiment folders for AppWorld's own scoring tools."""

    @classmethod
    def prepare_evaluation(cls, options: Mapping[str, Any], *, concurrency: int | None) -> dict[str, Any]:
        """The env options the evaluation builds its envs with, from the configured `options`;
        `concurrency`: episodes alive at once in this process (None: the envs live in Ray actors)."""
        ...

    @classmethod
    def finish_evaluation(
        cls, options: Mapping[str, Any], trajectories: Sequence[Trajectory], out_dir: Path, *, split: str, task_ids: Sequence[str]
    ) -> list[str]:
        """After the rollouts of an evaluation run written to `out_dir` (with the options
        `prepare_evaluation` gave): write what the env adds to the run; the lines to tell the user."""
        ...


@runtime_checkable
class SolutionCheck(Protocol):
    """Optional, on an env class whose tasks may lack a ground-truth solution (AppWorld's test splits
    ship none): preflight asks it before SFT-GT loads a model."""

    @classmethod
    def check_solutions(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        """A ValueError naming the tasks among `ids` that have no usable ground-truth solution."""
        ...


@runtime_checkable
class GroundTruthSolutions(Protocol):
    """Optional, on an env: a task's ground-truth solution as code, what SFT-GT turns into a chat
    (looprl/training/sft_data.py). The built-in world's and AppWorld's envs have one."""

    def ground_truth_solution(self, task_id: str) -> str: ...


@runtime_checkable
class GroundTruthReplies(Protocol):
    """Optional, on an env: a task's ground truth as the agent's replies, one per turn, replayed through
    the env for SFT-GT (the toy env's; an env with both uses these)."""

    def ground_truth_messages(self, task_id: str) -> list[str]: ...


EnvFactory = Callable[..., Env]
_REGISTRY: dict[str, EnvFactory] = {}
_CLASSES: dict[str, type | None] = {}  # env name -> the class that answers for its tasks and hooks
_LOOKUP_METHODS = ("splits", "task_selection", "task_ids", "check_task_ids")


def register_env(name: str, factory: EnvFactory, *, overwrite: bool = False, env_class: type | None = None) -> None:
    """Make `make_env(name, **options)` build an env with `factory(**options)`. `env_class` (default:
    `factory` when it is a class) answers for the env's tasks when it implements `TaskLookup`, and
    for its evaluation when it implements `EvalHooks`; an env without a lookup runs the task ids it
    is given. A class that implements part of `TaskLookup` is an error naming what it lacks."""
    if not name or not isinstance(name, str):
        raise ValueError(f"env name must be a non-empty string, got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an env named {name!r} is already registered; pass overwrite=True to replace it")
    if env_class is None and isinstance(factory, type):
        env_class = factory
    if env_class is not None and not issubclass(env_class, TaskLookup):
        # naming what a half-written lookup lacks; a class with none of it simply has no lookup
        has = [m for m in _LOOKUP_METHODS if callable(getattr(env_class, m, None))]  # why: checks a class against TaskLookup, naming what it lacks
        if has:
            missing = [m for m in _LOOKUP_METHODS if m not in has]
            raise ValueError(
                f"env class {env_class.__name__} (env {name!r}) implements part of the task lookup ({', '.join(has)}) but not "
                f"{', '.join(missing)}; see looprl.env.base.TaskLookup"
            )
    _REGISTRY[name] = factory
    _CLASSES[name] = env_class


def _env_class(name: str) -> type | None:
    _ensure_builtin()
    if name not in _REGISTRY:
        raise ValueError(f"unknown env {name!r}; registered envs: {', '.join(sorted(_REGISTRY))}")
    return _CLASSES[name]


def find_task_lookup(name: str) -> type[TaskLookup] | None:
    """The class that answers for env `name`'s tasks; None when the env has no lookup. ValueError for an unknown env."""
    cls = _env_class(name)
    return cls if cls is not None and issubclass(cls, TaskLookup) else None


def task_lookup(name: str) -> type[TaskLookup]:
    """The class that answers for env `name`'s tasks; ValueError, saying so, when it has none."""
    lookup = find_task_lookup(name)
    if lookup is None:
        raise ValueError(
            f"env {name!r} was registered without a task lookup, so it has no splits to take tasks from: give its task ids "
            f"explicitly (tasks.task_ids to train, task_ids to evaluate), or register it with a class that implements looprl.env.base.TaskLookup "
            f"({', '.join(_LOOKUP_METHODS)})"
        )
    return lookup


def evaluation_hooks(name: str) -> type[EvalHooks] | None:
    """The class whose `EvalHooks` an evaluation of env `name` runs; None when the env has none."""
    cls = _env_class(name)
    return cls if cls is not None and issubclass(cls, EvalHooks) else None


def solution_check(name: str) -> type[SolutionCheck] | None:
    """The class that checks env `name`'s tasks for ground-truth solutions; None when every task has one."""
    cls = _env_class(name)
    return cls if cls is not None and issubclass(cls, SolutionCheck) else None


def registered_envs() -> list[str]:
    _ensure_builtin()
    return sorted(_REGISTRY)


def make_env(name: str, **options: Any) -> Env:
    """Build a registered env: "appsuite" (the built-in world), "appworld" (real AppWorld), "toy"
    (the digits env, looprl/env/toy.py), or your own."""
    _ensure_builtin()
    if name not in _REGISTRY:
        raise ValueError(f"unknown env {name!r}; registered envs: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def _ensure_builtin() -> None:
    # The built-in envs register themselves on import; importing lazily keeps `import looprl.env` light.
    import importlib

    for module in ("looprl.env.appsuite", "looprl.env.appworld", "looprl.env.toy"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
