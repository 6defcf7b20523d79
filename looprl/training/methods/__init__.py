"""The training methods by CLI name.

`METHODS` is the registry of what each method is (facts.py: its data source, the settings only it
reads, its checks), importable without torch: the config schema derives its checks from it.
`get_method(name)` returns the method with its update (advantages, loss, buffer filter, critic),
each defined in its own module (loop.py, rloo.py, grpo.py, ppo.py, finetune.py); that loads torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from looprl.training.methods.facts import METHODS, MethodFacts

if TYPE_CHECKING:  # pragma: no cover
    from looprl.training.methods.base import Method


def get_method(name: str) -> "Method":
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return _built()[name]


def _built() -> dict[str, "Method"]:
    """Every method's `Method`, by name (a test checks that it covers the registry exactly)."""
    from looprl.training.methods.finetune import EI, RFT, SFT_GT
    from looprl.training.methods.grpo import GRPO, GRPO_KL
    from looprl.training.methods.loop import LOOP, LOOP_BANDIT, LOOP_RWNORM, LOOP_TURN
    from looprl.training.methods.ppo import PPO
    from looprl.training.methods.rloo import RLOO

    return {m.name: m for m in (LOOP, LOOP_TURN, LOOP_BANDIT, LOOP_RWNORM, RLOO, GRPO, GRPO_KL, PPO, SFT_GT, RFT, EI)}


__all__ = ["METHODS", "MethodFacts", "get_method"]
