"""The training methods by CLI name. Each is a `Method` value defined in its own module."""

from __future__ import annotations

from looprl.training.methods.base import Method
from looprl.training.methods.finetune import EI, RFT, SFT_GT
from looprl.training.methods.grpo import GRPO, GRPO_KL
from looprl.training.methods.loop import LOOP, LOOP_BANDIT, LOOP_RWNORM, LOOP_TURN
from looprl.training.methods.ppo import PPO
from looprl.training.methods.rloo import RLOO

METHODS: dict[str, Method] = {m.name: m for m in (LOOP, LOOP_TURN, LOOP_BANDIT, LOOP_RWNORM, RLOO, GRPO, GRPO_KL, PPO, SFT_GT, RFT, EI)}


def get_method(name: str) -> Method:
    if name in METHODS:
        return METHODS[name]
    raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")


__all__ = ["METHODS", "Method", "get_method"]
