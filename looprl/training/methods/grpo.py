"""GRPO (Shao et al. 2024) as the paper's baseline: group std-normalized advantage, on-policy (one
epoch, one step per batch), per-token clipped objective, with or without a k3 KL penalty to the
same model with its LoRA disabled (trainer.kl_coef; grpo-kl uses 0.04 when it is left at 0, the
common GRPO default)."""

from __future__ import annotations

from looprl.algorithms import group_normalized_advantages, grpo_loss
from looprl.training.methods.base import Method

DEFAULT_KL_COEF = 0.04


def _loss_no_kl(logp_new, batch, cfg):
    return grpo_loss(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps)


def _loss_kl(logp_new, batch, cfg):
    beta = cfg.kl_coef or DEFAULT_KL_COEF
    return grpo_loss(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps, logp_ref=batch.logp_ref, kl_coef=beta)


GRPO = Method("grpo", "group-normalized advantage, on-policy, no KL", group_normalized_advantages, _loss_no_kl,
              epochs=1, one_step_per_batch=True)
GRPO_KL = Method("grpo-kl", "GRPO with a k3 KL to the adapter-disabled model", group_normalized_advantages, _loss_kl,
                 epochs=1, one_step_per_batch=True, needs_ref_logprobs=True)
