"""The environment contract: a Gymnasium-shaped, text-in/text-out protocol, and the env registry.

`reset(task_id)` returns the opening chat messages and an info dict; `step(action)` takes the agent's
whole message and returns a frozen `StepResult`. `terminated` (the agent called complete_task) and
`truncated` (a turn or token budget ran out) are kept apart. Reward arrives on the final step.
Cross-cutting behaviour (turn limits, observation truncation, recording) lives in wrappers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, TypedDict, runtime_checkable


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

    def close(self) -> None: ...


EnvFactory = Callable[..., Env]
_REGISTRY: dict[str, EnvFactory] = {}


def register_env(name: str, factory: EnvFactory, *, overwrite: bool = False) -> None:
    """Make `make_env(name, **options)` build an env with `factory(**options)`."""
    if not name or not isinstance(name, str):
        raise ValueError(f"env name must be a non-empty string, got {name!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an env named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


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
