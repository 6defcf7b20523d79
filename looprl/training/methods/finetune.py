"""Fine-tuning on successful rollouts (cross-entropy on the agent's tokens):

* ei   expert iteration: every iteration, the same rollout budget as RL from the current policy;
       keep the rollouts with return == 1; train with cross-entropy.
* rft  rejection-sampling fine-tuning: rollouts from the *base* model over a temperature sweep,
       collected once; keep successes; train with cross-entropy for the configured iterations.
* sft-gt  ground-truth solutions as agent chats (looprl/training/sft_data.py), one per training
       task; cross-entropy. The paper's SFT-GT collapses (6.2 TGC): it learns open-loop solutions.
"""

from __future__ import annotations

from looprl.algorithms import sft_loss
from looprl.training.methods import facts
from looprl.training.methods.base import Method, constant_advantages, keep_all, keep_successes


def _loss(logp_new, batch, cfg):
    return sft_loss(logp_new, batch.mask)


# where each one's data comes from (the policy, a base-model sweep, ground truth) is a fact (facts.py)
EI = Method(facts.EI, constant_advantages, _loss, keep=keep_successes, needs_old_logprobs=False)
RFT = Method(facts.RFT, constant_advantages, _loss, keep=keep_successes, needs_old_logprobs=False)
SFT_GT = Method(facts.SFT_GT, constant_advantages, _loss, keep=keep_all, needs_old_logprobs=False)
