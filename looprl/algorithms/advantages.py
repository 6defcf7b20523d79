"""Advantage estimators: pure functions, tensors in, tensors out (no logging, no I/O).

* `leave_one_out_advantages` — LOOP's and RLOO's baseline (Chen et al. 2025, arXiv 2502.01600, eq. 5;
  Kool et al. 2019): each rollout is compared with the mean return of the *other* rollouts of the
  same task. No std normalization (the paper measured it costing ~9 points of TGC).
* `group_normalized_advantages` — GRPO's (Shao et al. 2024): centred on the group mean and divided
  by the group's standard deviation.
* `gae_advantages` — generalized advantage estimation (Schulman et al. 2016) over a trajectory's
  agent tokens, for PPO with a learned critic; the paper uses gamma = lambda = 1.

Groups are given as a (B,) tensor of integer ids (any values; rollouts sharing an id share a
group) or as any sequence of hashables (e.g. `Trajectory.group_id` strings).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


def group_index(group_ids: torch.Tensor | Sequence[Any]) -> torch.Tensor:
    """Map arbitrary group ids to dense indices 0..G-1, shape (B,), in order of first appearance."""
    if isinstance(group_ids, torch.Tensor):
        if group_ids.dim() != 1:
            raise ValueError(f"group_ids must be 1-D (B,), got shape {tuple(group_ids.shape)}")
        _, inverse = torch.unique(group_ids, return_inverse=True)
        return inverse
    seen: dict[Any, int] = {}
    return torch.tensor([seen.setdefault(g, len(seen)) for g in group_ids], dtype=torch.long)


def _group_sums(values: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n_groups = int(index.max()) + 1 if index.numel() else 0
    sums = torch.zeros(n_groups, dtype=values.dtype, device=values.device).index_add_(0, index, values)
    counts = torch.zeros(n_groups, dtype=values.dtype, device=values.device).index_add_(0, index, torch.ones_like(values))
    return sums, counts


def _check_rewards(rewards: torch.Tensor, group_ids: torch.Tensor | Sequence[Any]) -> torch.Tensor:
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D (B,), got shape {tuple(rewards.shape)}")
    index = group_index(group_ids).to(rewards.device)
    if index.shape[0] != rewards.shape[0]:
        raise ValueError(f"group_ids has {index.shape[0]} entries but rewards has {rewards.shape[0]}")
    return index


def leave_one_out_advantages(rewards: torch.Tensor, group_ids: torch.Tensor | Sequence[Any]) -> torch.Tensor:
    """LOOP's leave-one-out advantage, one scalar per rollout.

        A_k = R_k - 1/(K-1) * sum_{i != k} R_i        (K = size of k's group)

    which equals K/(K-1) * (R_k - mean_group(R)). A group of one has no baseline and gets A = 0.

    rewards: (B,) float; group_ids: (B,) -> advantages (B,), same dtype as rewards.
    """
    index = _check_rewards(rewards, group_ids)
    if rewards.numel() == 0:
        return rewards.clone()
    sums, counts = _group_sums(rewards, index)
    n = counts[index]  # (B,) size of each rollout's group
    loo_baseline = (sums[index] - rewards) / (n - 1).clamp(min=1)
    return torch.where(n > 1, rewards - loo_baseline, torch.zeros_like(rewards))


def group_normalized_advantages(rewards: torch.Tensor, group_ids: torch.Tensor | Sequence[Any], *, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's group-normalized advantage (Shao et al. 2024, DeepSeekMath, sec. 4.1.2):

        A_k = (R_k - mean_group(R)) / (std_group(R) + eps)

    with the unbiased (K-1) standard deviation, as GRPO implementations use. A group of one gets 0;
    a group whose rewards are all equal gets 0 everywhere (numerator 0).

    rewards: (B,); group_ids: (B,) -> advantages (B,).
    """
    index = _check_rewards(rewards, group_ids)
    if rewards.numel() == 0:
        return rewards.clone()
    sums, counts = _group_sums(rewards, index)
    mean = sums / counts
    centred = rewards - mean[index]
    sq_sums, _ = _group_sums(centred**2, index)
    std = torch.sqrt(sq_sums / (counts - 1).clamp(min=1))
    n = counts[index]
    return torch.where(n > 1, centred / (std[index] + eps), torch.zeros_like(rewards))


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    *,
    gamma: float = 1.0,
    lam: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over each trajectory's agent tokens.

    The MDP steps are the positions where ``mask`` is True (the tokens the policy sampled);
    environment tokens in between are skipped, as they are not actions. With V(s_end) = 0:

        delta_t = r_t + gamma * V_{t'} - V_t          (t' = the next masked position)
        A_t     = delta_t + gamma * lam * A_{t'}
        return_t = A_t + V_t

    The paper's PPO baseline puts the episode reward on the last agent token and uses
    gamma = lambda = 1, so A_t = R - V_t.

    rewards, values: (B, T) float; mask: (B, T) bool -> (advantages (B, T), returns (B, T)), zero
    where mask is False. Values are used as given (clip them to [0, 1] before calling, as the paper
    does, when returns lie in [0, 1]).
    """
    if not (rewards.shape == values.shape == mask.shape) or rewards.dim() != 2:
        raise ValueError(f"rewards, values and mask must share one (B, T) shape; got {tuple(rewards.shape)}, {tuple(values.shape)}, {tuple(mask.shape)}")
    mask = mask.bool()
    values = values.detach()
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)
    next_adv = torch.zeros_like(next_value)
    for t in range(rewards.shape[1] - 1, -1, -1):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        adv_t = delta + gamma * lam * next_adv
        advantages[:, t] = torch.where(m, adv_t, torch.zeros_like(adv_t))
        next_value = torch.where(m, values[:, t], next_value)
        next_adv = torch.where(m, adv_t, next_adv)
    returns = torch.where(mask, advantages + values, torch.zeros_like(values))
    return advantages, returns
