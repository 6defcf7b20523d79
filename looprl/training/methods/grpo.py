"""GRPO (Shao et al. 2024) as the paper's baseline: group std-normalized advantage, on-policy (one
epoch, one step per batch), per-token clipped objective, with or without a k3 KL penalty to the
same model with its LoRA disabled (grpo-kl, weight trainer.kl_coef: 0.04 by default, the common GRPO
default)."""

from __future__ import annotations

from looprl.algorithms import group_normalized_advantages, grpo_loss, ppo_clip_diagnostics
from looprl.training.methods import facts
from looprl.training.methods.base import Method


def _loss_no_kl(logp_new, batch, cfg):
    return grpo_loss(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps)


def _loss_kl(logp_new, batch, cfg):
    return grpo_loss(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps, logp_ref=batch.logp_ref, kl_coef=cfg.kl_coef)


def _diagnostics(logp_new, batch, cfg):
    # GRPO clips the ratio to [1-eps, 1+eps], not LOOP's [1/(1+eps), 1+eps]
    return ppo_clip_diagnostics(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps, bound="symmetric")


GRPO = Method(
    facts.GRPO,
    group_normalized_advantages,
    _loss_no_kl,
    epochs=1,
    one_step_per_batch=True,
    diagnostics=_diagnostics,
)
GRPO_KL = Method(
    facts.GRPO_KL,
    group_normalized_advantages,
    _loss_kl,
    epochs=1,
    one_step_per_batch=True,
    needs_ref_logprobs=True,
    diagnostics=_diagnostics,
)
