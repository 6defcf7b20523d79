"""PPO with a learned critic, the paper's baseline (Chen et al. 2025, sec. 5 and appendix):

* value head: a 3-layer MLP on the trunk's last hidden state, one value per token; it reads the
  hidden state *detached*, so the value loss never reaches the LoRA (the policy's features are
  the policy's alone);
* advantages per token from GAE over the agent's tokens with gamma = lambda = 1 (smaller lambda
  diverged in the paper), the episode reward on the last agent token, values clipped to [0, 1]
  (the range of the return) before they enter GAE;
* loss = token-level clipped PPO (LOOP's bound) + c_v * value loss, with c_v decaying
  log-linearly from 0.1 to 0.001 over 200 iterations: the method's policy loss plus its critic's
  (`Method.objective`), on one forward pass's log-probabilities and hidden states;
* critic warm-up: for the first N iterations (paper: 10) only the critic trains, so those
  rollouts come from the base model.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from looprl.algorithms import gae_advantages, ppo_clip_diagnostics, ppo_clip_loss_per_token_advantage, value_loss
from looprl.backends.base import TrainableBackend
from looprl.training.methods import facts
from looprl.training.methods.base import Method, keep_all, no_trajectory_advantages


class ValueHead(torch.nn.Module):
    """3-layer MLP: hidden state (H,) -> value (scalar)."""

    def __init__(self, hidden_size: int, width: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(hidden_size, width),
            torch.nn.GELU(),
            torch.nn.Linear(width, width),
            torch.nn.GELU(),
            torch.nn.Linear(width, 1),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B, T)
        return self.net(hidden).squeeze(-1)


def value_coef(iteration: int, start: float, end: float, iterations: int) -> float:
    """Log-linear decay start -> end over `iterations` (then constant at end)."""
    if start <= 0 or end <= 0:
        return start if iteration <= 1 else end
    frac = min(max(iteration - 1, 0) / iterations, 1.0)
    return math.exp(math.log(start) + frac * (math.log(end) - math.log(start)))


def terminal_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) with each trajectory's reward on its last trainable token, 0 elsewhere."""
    out = torch.zeros(mask.shape, dtype=torch.float32)
    positions = torch.arange(mask.shape[1]).expand_as(mask)
    last = torch.where(mask, positions, torch.full_like(positions, -1)).max(dim=1).values
    rows = torch.nonzero(last >= 0).squeeze(-1)
    out[rows, last[rows]] = rewards[rows].float()
    return out


class ValueCritic:
    """PPO's critic (a `Critic`, base.py): the value head, its coefficient schedule and warm-up."""

    def __init__(self, policy: TrainableBackend, cfg: Any) -> None:
        t = cfg.trainer
        self.cfg = t
        self.head = ValueHead(policy.hidden_size, t.value_hidden_size).to(policy.device)
        self.coef = t.value_coef_start
        self.trains_policy = t.critic_warmup_iterations == 0

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.head.parameters())

    @torch.no_grad()
    def prepare(self, policy: TrainableBackend, batch: Any, cfg: Any, iteration: int) -> dict[str, float]:
        """This iteration's coefficient and warm-up; per-token GAE advantages and returns into batch.extras."""
        t = self.cfg
        self.coef = value_coef(iteration, t.value_coef_start, t.value_coef_end, t.value_coef_iterations)
        self.trains_policy = iteration > t.critic_warmup_iterations
        from looprl.training.update import trainer_autocast

        autocast = trainer_autocast(cfg, policy.device)
        values = torch.zeros(batch.input_ids.shape)
        for start in range(0, len(batch), cfg.micro_batch_size):
            idx = torch.arange(start, min(start + cfg.micro_batch_size, len(batch)))
            micro = batch.select(idx)
            hidden = policy.last_hidden_state(micro.input_ids, micro.attention_mask, grad=False, autocast=autocast)
            values[idx, : hidden.shape[1]] = self.head(hidden.float()).float().cpu()
        values = values.clamp(0.0, 1.0)  # the return lies in [0, 1]
        adv_t, returns = gae_advantages(terminal_rewards(batch.rewards, batch.mask), values, batch.mask, gamma=t.gae_gamma, lam=t.gae_lambda)
        batch.extras = {"advantages_t": adv_t, "returns": returns}
        m = batch.mask
        return {
            "ppo/value_coef": self.coef,
            "ppo/critic_warmup": float(not self.trains_policy),
            "ppo/value_mean": float(values[m].mean()) if m.any() else 0.0,
            "ppo/advantage_mean": float(adv_t[m].mean()) if m.any() else 0.0,
        }

    def loss(self, hidden: torch.Tensor, batch: Any) -> torch.Tensor:
        """c_v * value loss; the head reads the hidden states detached, so it stays out of the LoRA."""
        values = self.head(hidden.detach().float())
        return self.coef * value_loss(values, batch.extras["returns"], batch.mask)

    def state_dict(self) -> dict[str, Any]:
        return {"head": self.head.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])


def _loss(logp_new: torch.Tensor, batch: Any, cfg: Any) -> torch.Tensor:
    # token-level clip (LOOP's bound) on the per-token GAE advantages ValueCritic.prepare put in batch.extras
    return ppo_clip_loss_per_token_advantage(logp_new.float(), batch.logp_old, batch.extras["advantages_t"], batch.mask, eps=cfg.clip_eps)


def _diagnostics(logp_new: torch.Tensor, batch: Any, cfg: Any) -> dict[str, float]:
    # the clip is measured on the same per-token advantages
    return ppo_clip_diagnostics(logp_new, batch.logp_old, batch.extras["advantages_t"], batch.mask, eps=cfg.clip_eps)


PPO = Method(facts.PPO, no_trajectory_advantages, _loss, keep=keep_all, critic=ValueCritic, diagnostics=_diagnostics)
