"""LOOP's pieces as pure functions (advantage estimators and losses) and the methods built from them.

Stable public names: `leave_one_out_advantages(rewards (B,), group_ids (B,)) -> (B,)` and
`ppo_clip_loss(logp_new, logp_old, advantages, mask, eps=0.1, level="token", turn_ids=None) -> scalar`.
"""

from looprl.algorithms.advantages import gae_advantages, group_normalized_advantages, leave_one_out_advantages
from looprl.algorithms.losses import (
    behaviour_weight_diagnostics,
    behaviour_weights,
    decoupled_ppo_clip_loss,
    grpo_loss,
    k3_kl,
    ppo_clip_diagnostics,
    ppo_clip_loss,
    ppo_clip_loss_per_token_advantage,
    reinforce_loss,
    sft_loss,
    value_loss,
)

__all__ = [
    "leave_one_out_advantages",
    "group_normalized_advantages",
    "gae_advantages",
    "ppo_clip_loss",
    "ppo_clip_diagnostics",
    "decoupled_ppo_clip_loss",
    "behaviour_weights",
    "behaviour_weight_diagnostics",
    "ppo_clip_loss_per_token_advantage",
    "reinforce_loss",
    "grpo_loss",
    "k3_kl",
    "value_loss",
    "sft_loss",
]
