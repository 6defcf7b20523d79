"""The training methods by CLI name. Each is a `Method` value defined in its own module."""

from __future__ import annotations

from looprl.training.methods.base import Method
from looprl.training.methods.finetune import EI, RFT
from looprl.training.methods.grpo import GRPO, GRPO_KL
from looprl.training.methods.loop import LOOP, LOOP_BANDIT, LOOP_RWNORM, LOOP_TURN
from looprl.training.methods.rloo import RLOO

METHODS: dict[str, Method] = {m.name: m for m in (LOOP, LOOP_TURN, LOOP_BANDIT, LOOP_RWNORM, RLOO, GRPO, GRPO_KL, EI, RFT)}
NOT_BUILT = {
    "ppo": "PPO with a learned critic is not built yet (the value head and per-token GAE update are missing)",
    "sft-gt": "SFT-GT is not built yet (it needs the agent scaffold to render ground-truth solutions as chats)",
}


def get_method(name: str) -> Method:
    if name in METHODS:
        return METHODS[name]
    if name in NOT_BUILT:
        raise NotImplementedError(f"method {name!r}: {NOT_BUILT[name]}. Built methods: {', '.join(METHODS)}")
    raise ValueError(f"unknown method {name!r}; choose one of {', '.join(list(METHODS) + list(NOT_BUILT))}")


__all__ = ["METHODS", "Method", "get_method"]
