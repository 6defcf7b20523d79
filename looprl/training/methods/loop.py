"""LOOP (Chen et al. 2025) and its ablations: leave-one-out advantage + per-token/turn/trajectory
PPO clip, 2 epochs of minibatches, no KL, no critic, no reference model.

* loop          ratio per token (the paper's best: 71.3 TGC test-normal)
* loop-turn     one ratio per agent turn (product of its tokens' ratios)
* loop-bandit   one ratio per trajectory
* loop-rwnorm   token level with std-normalized (GRPO-style) advantages (cost ~9 points in the paper)
"""

from __future__ import annotations

import torch

from looprl.algorithms import decoupled_ppo_clip_loss, group_normalized_advantages, leave_one_out_advantages, ppo_clip_loss
from looprl.training.methods import facts
from looprl.training.methods.base import Method


def _clip_loss(level: str):
    def loss(logp_new: torch.Tensor, batch, cfg) -> torch.Tensor:
        return ppo_clip_loss(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps, level=level, turn_ids=batch.turn_ids)

    loss.__name__ = f"ppo_clip_loss_{level}"
    return loss


def decoupled_loss(logp_new: torch.Tensor, batch, cfg) -> torch.Tensor:
    """The token-level loss on rollouts a behaviour policy sampled (rollout.max_staleness > 0): clipped
    around the pre-update policy (batch.logp_old), weighted by min(pi_prox / mu, C) with mu the sampler's
    logprobs (batch.logp_behaviour) and C trainer.behaviour_weight_cap."""
    return decoupled_ppo_clip_loss(logp_new, batch.logp_old, batch.logp_behaviour, batch.advantages, batch.mask, eps=cfg.clip_eps, cap=cfg.behaviour_weight_cap)


LOOP = Method(facts.LOOP, leave_one_out_advantages, _clip_loss("token"), off_policy_loss=decoupled_loss)
LOOP_TURN = Method(facts.LOOP_TURN, leave_one_out_advantages, _clip_loss("turn"))
LOOP_BANDIT = Method(facts.LOOP_BANDIT, leave_one_out_advantages, _clip_loss("trajectory"))
LOOP_RWNORM = Method(facts.LOOP_RWNORM, group_normalized_advantages, _clip_loss("token"), off_policy_loss=decoupled_loss)
