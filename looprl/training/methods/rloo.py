"""RLOO as the paper runs it: leave-one-out advantage, one on-policy gradient step per batch of
rollouts (one epoch, the whole buffer as one minibatch), REINFORCE on the length-normalized
log-probability of each trajectory (Ahmadian et al. 2024). No old logprobs are needed."""

from __future__ import annotations

from looprl.algorithms import leave_one_out_advantages, reinforce_loss
from looprl.training.methods import facts
from looprl.training.methods.base import Method


def _loss(logp_new, batch, cfg):
    return reinforce_loss(logp_new, batch.advantages, batch.mask)


RLOO = Method(
    facts.RLOO,
    leave_one_out_advantages,
    _loss,
    epochs=1,
    one_step_per_batch=True,
    needs_old_logprobs=False,
)
