"""RolloutSpec: how episodes are run, as one value instead of a dozen keyword arguments.

`collect(policy, env_factory, task_ids, spec, k=...)` and `evaluate(policy, env_factory, task_ids,
spec, samples=...)` take one; `looprl.build.rollout_spec(cfg, ...)` makes it from a config, so train,
eval and the demo run episodes with the same settings read the same way. What varies per call (K,
early stop, group prefix, progress bar, output folder) stays a keyword of the call.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from looprl.agent.scaffold import Scaffold
from looprl.backends.base import SamplingParams

__all__ = ["RolloutSpec"]


@dataclass(frozen=True)
class RolloutSpec:
    sampling: SamplingParams  # per-turn sampling (temperature, top-p/k, new tokens per turn, seed)
    scaffold: Scaffold | None = None  # the agent prompt; None = the env's own messages
    max_turns: int = 40  # agent turns before the episode is truncated (paper: 40 training, 50 evaluation)
    max_context_tokens: int = 32768  # an episode whose token stream fills this ends (truncated)
    max_observation_tokens: int = 3000  # each observation is cut to this many tokens, with a note
    concurrency: int = 32  # episodes alive at once
    generation_batch_size: int | None = None  # prompts per generate() call; None = every waiting episode
    model_name: str = ""  # recorded in every trajectory
    sampler_retries: int = 2  # a failed generate()/chat() call is sent again up to this many times (looprl/rollout/faults.py)
    env_timeout_s: float | None = 600.0  # an env reset/step still running after this ends its episode as infra-failed (None: wait forever)

    def __post_init__(self) -> None:
        if self.generation_batch_size is not None and self.generation_batch_size < 1:
            raise ValueError(f"generation_batch_size must be >= 1 or None (no limit), got {self.generation_batch_size}")
        for name in ("max_turns", "max_context_tokens", "max_observation_tokens", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.sampler_retries < 0:
            raise ValueError(f"sampler_retries must be >= 0, got {self.sampler_retries}")
        if self.env_timeout_s is not None and self.env_timeout_s <= 0:
            raise ValueError(f"env_timeout_s must be > 0 or None (no limit), got {self.env_timeout_s}")

    @classmethod
    def resolve(cls, spec: "RolloutSpec | None", settings: dict[str, Any], **defaults: Any) -> "RolloutSpec":
        """`spec` with `settings` (RolloutSpec fields given as keywords, the older calling style) applied;
        without a spec, one made from `defaults` and `settings`. An unknown setting is a TypeError naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(f"unknown rollout setting(s) {unknown}; a RolloutSpec has {sorted(known)}")
        if spec is not None:
            return replace(spec, **settings) if settings else spec
        if "sampling" not in settings:
            raise TypeError("give either a RolloutSpec or sampling=SamplingParams(...)")
        return cls(**{**defaults, **settings})
