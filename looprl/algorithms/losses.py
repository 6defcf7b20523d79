"""Policy and value losses: pure functions, tensors in, a scalar out (no logging, no I/O).

Shapes follow the trainer's batch: `logp_new`, `logp_old` (B, T) are per-token log-probabilities
aligned with the token ids (position t holds log p(x_t | x_<t)); `mask` (B, T) is True on the
tokens the policy sampled (the trainable tokens); `advantages` (B,) is one scalar per trajectory.

Every loss is a mean over trajectories of a per-trajectory loss, so a minibatch split into
micro-batches gives the same gradient when each micro-batch's loss is weighted by its share of
the trajectories (the trainer does this). Trajectories with no trainable token are ignored.

* `ppo_clip_loss` — LOOP's PPO objective (Chen et al. 2025, arXiv 2502.01600, eq. 3-4), with the
  ratio taken per token (LOOP), per turn (LOOP-turn) or per trajectory (LOOP-bandit).
* `decoupled_ppo_clip_loss` — LOOP's token loss on stale or mismatched samples: clip around the
  pre-update policy, a truncated behaviour weight for the sampler (`behaviour_weights`,
  `behaviour_weight_diagnostics`).
* `ppo_clip_loss_per_token_advantage` — the token-level loss with per-token advantages (PPO + critic).
* `ppo_clip_diagnostics` — clip fraction (with LOOP's or PPO's bound), k1 KL estimate and ratio
  statistics, kept apart from the loss.
* `reinforce_loss` — -A * length-normalized log-prob (RLOO's on-policy step).
* `grpo_loss` — GRPO's clipped token objective with an optional k3 KL to a reference policy.
* `value_loss` — squared error of a value head against returns.
* `sft_loss` — masked cross-entropy (SFT-GT, RFT, EI).
"""

from __future__ import annotations

from typing import Literal

import torch

Level = Literal["token", "turn", "trajectory"]
LEVELS = ("token", "turn", "trajectory")
Bound = Literal["loop", "symmetric"]  # LOOP's g(A) clip, or PPO's (and GRPO's) clip(r, 1-eps, 1+eps)
BOUNDS = ("loop", "symmetric")

# exp() of a summed log-ratio over a long turn overflows float32 past ~88; +-20 (ratio 5e8) is far
# outside any ratio the clip lets through, so clamping there only guards against inf * 0 = nan.
_MAX_SEQUENCE_LOG_RATIO = 20.0


def _check_shapes(logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> None:
    if logp_new.dim() != 2 or logp_new.shape != logp_old.shape or logp_new.shape != mask.shape:
        raise ValueError(f"logp_new, logp_old and mask must share one (B, T) shape; got {tuple(logp_new.shape)}, {tuple(logp_old.shape)}, {tuple(mask.shape)}")
    if advantages.shape != (logp_new.shape[0],):
        raise ValueError(f"advantages must have shape (B,) = ({logp_new.shape[0]},), got {tuple(advantages.shape)}")


def clip_target(advantages: torch.Tensor, eps: float) -> torch.Tensor:
    """LOOP's clip bound g(A) = (1+eps)*A if A >= 0 else A/(1+eps), i.e. the ratio bounds are
    [1/(1+eps), 1+eps] (symmetric in log space), not PPO's [1-eps, 1+eps]."""
    return torch.where(advantages >= 0, (1 + eps) * advantages, advantages / (1 + eps))


def _trajectory_mean(per_token: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of per_token over each row's masked tokens -> (per-trajectory (B,), has-tokens (B,))."""
    m = mask.to(per_token.dtype)
    n = m.sum(dim=1)
    return (per_token * m).sum(dim=1) / n.clamp(min=1), n > 0


def _mean_over_trajectories(per_traj: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    if not bool(valid.any()):
        return per_traj.sum() * 0.0  # keeps the graph; no trajectory carries a gradient
    return per_traj[valid].mean()


def _segment_log_ratio(
    log_ratio: torch.Tensor, mask: torch.Tensor, turn_ids: torch.Tensor | None, level: Level
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed log-ratio per segment (turn or whole trajectory).

    Returns (seg_log_ratio (S,), seg_row (S,) the trajectory each segment belongs to, seg_valid (S,)).
    """
    B, T = log_ratio.shape
    m = mask.bool()
    if level == "trajectory":
        seg = torch.zeros(B, T, dtype=torch.long, device=log_ratio.device)
        n_seg = 1
    else:
        if turn_ids is None:
            raise ValueError("level='turn' needs turn_ids (B, T): the agent turn of each token")
        if turn_ids.shape != log_ratio.shape:
            raise ValueError(f"turn_ids must have shape {tuple(log_ratio.shape)}, got {tuple(turn_ids.shape)}")
        seg = torch.where(m, turn_ids.long(), torch.zeros_like(turn_ids, dtype=torch.long))
        if bool((seg < 0).any()):
            raise ValueError("turn_ids must be >= 0 on trainable tokens (found a negative turn id under the mask)")
        n_seg = int(seg.max()) + 1 if seg.numel() else 1
    flat = (torch.arange(B, device=log_ratio.device)[:, None] * n_seg + seg).reshape(-1)
    sums = torch.zeros(B * n_seg, dtype=log_ratio.dtype, device=log_ratio.device)
    sums = sums.index_add(0, flat, (log_ratio * m).reshape(-1))
    counts = torch.zeros(B * n_seg, dtype=log_ratio.dtype, device=log_ratio.device)
    counts = counts.index_add(0, flat, m.to(log_ratio.dtype).reshape(-1))
    rows = torch.arange(B, device=log_ratio.device).repeat_interleave(n_seg)
    return sums, rows, counts > 0


def ppo_clip_loss(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps: float = 0.1,
    level: Level = "token",
    turn_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """LOOP's clipped PPO loss (Chen et al. 2025, eq. 3-4), a scalar to minimize.

    level="token" (LOOP):  per trainable token t of trajectory x,
        r_t  = exp(logp_new_t - logp_old_t)
        l_t  = -min(r_t * A_x, g(A_x)),   g(A) = (1+eps)A if A >= 0 else A/(1+eps)
        L    = mean_x [ mean_{t in x} l_t ]
    level="turn" (LOOP-turn): one ratio per agent turn u, r_u = exp(sum_{t in u} logp_new_t - logp_old_t)
        = prod_t r_t; L = mean_x [ mean_{u in x} -min(r_u * A_x, g(A_x)) ].
    level="trajectory" (LOOP-bandit): one ratio per trajectory, r_x = prod_{t in x} r_t;
        L = mean_x -min(r_x * A_x, g(A_x)).

    logp_new, logp_old: (B, T); advantages: (B,); mask: (B, T) bool; turn_ids: (B, T) int (turn level).
    """
    _check_shapes(logp_new, logp_old, advantages, mask)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    A = advantages.to(logp_new.dtype)
    g_eps = clip_target(A, eps)
    log_ratio = logp_new - logp_old.detach()
    if level == "token":
        ratio = torch.exp(log_ratio)
        per_token = -torch.minimum(ratio * A[:, None], g_eps[:, None])
        per_traj, valid = _trajectory_mean(per_token, mask)
        return _mean_over_trajectories(per_traj, valid)
    seg_log_ratio, rows, seg_valid = _segment_log_ratio(log_ratio, mask, turn_ids, level)
    ratio = torch.exp(seg_log_ratio.clamp(-_MAX_SEQUENCE_LOG_RATIO, _MAX_SEQUENCE_LOG_RATIO))
    per_seg = -torch.minimum(ratio * A[rows], g_eps[rows]) * seg_valid
    B = logp_new.shape[0]
    seg_sum = torch.zeros(B, dtype=per_seg.dtype, device=per_seg.device).index_add(0, rows, per_seg)
    seg_count = torch.zeros(B, dtype=per_seg.dtype, device=per_seg.device).index_add(0, rows, seg_valid.to(per_seg.dtype))
    return _mean_over_trajectories(seg_sum / seg_count.clamp(min=1), seg_count > 0)


def behaviour_weights(logp_prox: torch.Tensor, logp_behaviour: torch.Tensor, cap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-token importance weight from the behaviour policy mu (the sampler that drew the tokens) to
    the proximal policy pi_prox (the trained policy before the iteration's first step), and its truncation:

        rho_t = pi_prox_t / mu_t = exp(logp_prox_t - logp_behaviour_t),   w_t = min(rho_t, C)

    Returns (rho, w), both (B, T) and without gradient."""
    if logp_prox.shape != logp_behaviour.shape:
        raise ValueError(f"logp_prox and logp_behaviour must share a shape; got {tuple(logp_prox.shape)}, {tuple(logp_behaviour.shape)}")
    if cap < 1.0:
        raise ValueError(f"the behaviour weight cap must be >= 1 (a cap below 1 down-weights even on-policy tokens); got {cap}")
    rho = torch.exp((logp_prox - logp_behaviour).detach().clamp(max=_MAX_SEQUENCE_LOG_RATIO))
    return rho, rho.clamp(max=cap)


def decoupled_ppo_clip_loss(
    logp_new: torch.Tensor,
    logp_prox: torch.Tensor,
    logp_behaviour: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps: float = 0.1,
    cap: float = 2.0,
) -> torch.Tensor:
    """LOOP's per-token clipped loss on rollouts that a behaviour policy mu sampled, which may be
    older than the policy being updated (overlapped sampling, rollout.max_staleness > 0) or computed
    by another engine (vLLM): decoupled PPO (Hilton et al. 2022, arXiv 2110.00641; AReaL, Fu et al.
    2025, arXiv 2505.24298) with a truncated behaviour weight (truncated importance sampling, as
    TRL's and verl's sampler-mismatch corrections). Per trainable token t of trajectory x:

        w_t = min(pi_prox_t / mu_t, C)              behaviour weight, no gradient
        r_t = pi_new_t / pi_prox_t                  the ratio LOOP clips
        l_t = -w_t * min(r_t * A_x, g(A_x)),        g(A) = (1+eps)A if A >= 0 else A/(1+eps)
        L   = mean_x [ mean_{t in x} l_t ]

    pi_prox is the trained policy before the iteration's first step (the trainer's old-logprob pass):
    the clip keeps every step near it, as in the synchronous loss, however stale mu is; the weight moves
    the expectation from mu's samples to pi_prox's, and C bounds the variance a token mu found unlikely
    would add. With mu = pi_prox (on-policy, an exact sampler) w_t = 1 and this equals
    `ppo_clip_loss(level="token")`.

    logp_new, logp_prox, logp_behaviour, mask: (B, T); advantages: (B,).
    """
    _check_shapes(logp_new, logp_prox, advantages, mask)
    _, w = behaviour_weights(logp_prox, logp_behaviour, cap)
    A = advantages.to(logp_new.dtype)
    ratio = torch.exp(logp_new - logp_prox.detach())
    per_token = -w.to(logp_new.dtype) * torch.minimum(ratio * A[:, None], clip_target(A, eps)[:, None])
    per_traj, valid = _trajectory_mean(per_token, mask)
    return _mean_over_trajectories(per_traj, valid)


@torch.no_grad()
def behaviour_weight_diagnostics(logp_prox: torch.Tensor, logp_behaviour: torch.Tensor, mask: torch.Tensor, cap: float) -> dict[str, float]:
    """Over the batch's trainable tokens: ``ratio_mean`` and ``ratio_max`` of rho_t = pi_prox_t / mu_t
    (before truncation) and ``truncated_fraction``, the share of tokens with rho_t > C."""
    m = mask.bool()
    if not bool(m.any()):
        return {"ratio_mean": 1.0, "ratio_max": 1.0, "truncated_fraction": 0.0}
    rho, _ = behaviour_weights(logp_prox, logp_behaviour, cap)
    rho = rho[m]
    return {"ratio_mean": float(rho.mean()), "ratio_max": float(rho.max()), "truncated_fraction": float((rho > cap).float().mean())}


def ppo_clip_loss_per_token_advantage(
    logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, eps: float = 0.1
) -> torch.Tensor:
    """The token-level clipped loss with one advantage per token (PPO with a critic, A_t from GAE):

        l_t = -min(r_t * A_t, g(A_t)),   L = mean_x [ mean_{t in x} l_t ]

    with LOOP's bound g (see `clip_target`). advantages: (B, T); the rest as in `ppo_clip_loss`.
    """
    if not (logp_new.shape == logp_old.shape == advantages.shape == mask.shape) or logp_new.dim() != 2:
        raise ValueError(
            f"logp_new, logp_old, advantages and mask must share one (B, T) shape; got {tuple(logp_new.shape)}, "
            f"{tuple(logp_old.shape)}, {tuple(advantages.shape)}, {tuple(mask.shape)}"
        )
    A = advantages.to(logp_new.dtype)
    ratio = torch.exp(logp_new - logp_old.detach())
    per_token = -torch.minimum(ratio * A, clip_target(A, eps))
    per_traj, valid = _trajectory_mean(per_token, mask)
    return _mean_over_trajectories(per_traj, valid)


@torch.no_grad()
def ppo_clip_diagnostics(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps: float = 0.1,
    bound: Bound = "loop",
) -> dict[str, float]:
    """Per-token diagnostics of an update, averaged over all trainable tokens of the batch:

    * ``clip_fraction``: share of tokens whose term is clipped, i.e. the min picks the clipped term:
      r_t * A > g(A) with LOOP's bound (``bound="loop"``, ratio outside [1/(1+eps), 1+eps] on the
      side A pushes it), r_t * A > clip(r_t, 1-eps, 1+eps) * A with PPO's symmetric one
      (``bound="symmetric"``, GRPO's: ratio outside [1-eps, 1+eps]);
    * ``kl_k1``: the k1 estimate of KL(old || new) = mean(logp_old - logp_new) (the paper's guard);
    * ``ratio_mean``, ``ratio_max``: of r_t = exp(logp_new - logp_old).

    advantages: (B,), one per trajectory, or (B, T), one per token (PPO with a critic).
    """
    if advantages.dim() == 2:
        _check_shapes(logp_new, logp_old, advantages[:, 0], mask)
        if advantages.shape != logp_new.shape:
            raise ValueError(f"per-token advantages must have shape {tuple(logp_new.shape)}, got {tuple(advantages.shape)}")
    else:
        _check_shapes(logp_new, logp_old, advantages, mask)
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {', '.join(BOUNDS)}; got {bound!r}")
    m = mask.bool()
    n = int(m.sum())
    if n == 0:
        return {"clip_fraction": 0.0, "kl_k1": 0.0, "ratio_mean": 1.0, "ratio_max": 1.0}
    A = advantages.to(logp_new.dtype)
    A = (A if A.dim() == 2 else A[:, None].expand_as(logp_new))[m]
    log_ratio = (logp_new - logp_old)[m]
    ratio = torch.exp(log_ratio)
    target = clip_target(A, eps) if bound == "loop" else ratio.clamp(1 - eps, 1 + eps) * A
    clipped = ratio * A > target
    return {
        "clip_fraction": float(clipped.float().mean()),
        "kl_k1": float((-log_ratio).mean()),
        "ratio_mean": float(ratio.mean()),
        "ratio_max": float(ratio.max()),
    }


def reinforce_loss(logp_new: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """REINFORCE with a length-normalized log-prob (RLOO as the paper runs it, Ahmadian et al. 2024):

        L = mean_x [ -A_x * mean_{t in x} logp_new_t ]

    On-policy (one step per batch) its gradient equals ppo_clip_loss's at ratio 1.
    """
    _check_shapes(logp_new, logp_new, advantages, mask)
    mean_logp, valid = _trajectory_mean(logp_new, mask)
    return _mean_over_trajectories(-advantages.to(logp_new.dtype) * mean_logp, valid)


def k3_kl(logp_new: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(new || ref) (Schulman 2020): exp(d) - d - 1, d = logp_ref - logp_new.
    Non-negative, unbiased under samples from the new policy."""
    d = logp_ref - logp_new
    return torch.exp(d) - d - 1


def grpo_loss(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps: float = 0.2,
    logp_ref: torch.Tensor | None = None,
    kl_coef: float = 0.0,
) -> torch.Tensor:
    """GRPO's objective (Shao et al. 2024, eq. 3), per token with PPO's symmetric clip:

        l_t = -min(r_t * A_x, clip(r_t, 1-eps, 1+eps) * A_x) + beta * KL_k3(new || ref)_t
        L   = mean_x [ mean_{t in x} l_t ]

    The reference is the same model with its LoRA adapter disabled (one model in memory); pass its
    logprobs as ``logp_ref`` and beta as ``kl_coef`` (both or neither).
    """
    _check_shapes(logp_new, logp_old, advantages, mask)
    if (logp_ref is None) != (kl_coef == 0.0):
        raise ValueError("grpo_loss: give logp_ref together with a kl_coef > 0 (or neither)")
    A = advantages.to(logp_new.dtype)[:, None]
    ratio = torch.exp(logp_new - logp_old.detach())
    per_token = -torch.minimum(ratio * A, ratio.clamp(1 - eps, 1 + eps) * A)
    if logp_ref is not None:
        per_token = per_token + kl_coef * k3_kl(logp_new, logp_ref.detach())
    per_traj, valid = _trajectory_mean(per_token, mask)
    return _mean_over_trajectories(per_traj, valid)


def value_loss(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Critic regression, L = mean_x [ mean_{t in x} 1/2 (V_t - G_t)^2 ].

    Returns lie in [0, 1] (fraction of checks passed); the values fed to GAE are clipped to that
    range by the PPO method, while the loss sees the raw head output so its gradient never vanishes.
    """
    if not (values.shape == returns.shape == mask.shape):
        raise ValueError(f"values, returns, mask must share a shape; got {tuple(values.shape)}, {tuple(returns.shape)}, {tuple(mask.shape)}")
    per_traj, valid = _trajectory_mean(0.5 * (values - returns.detach()) ** 2, mask)
    return _mean_over_trajectories(per_traj, valid)


def sft_loss(logp_new: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the trainable tokens: L = mean_x [ -mean_{t in x} logp_new_t ]."""
    if logp_new.shape != mask.shape:
        raise ValueError(f"logp_new and mask must share a shape; got {tuple(logp_new.shape)}, {tuple(mask.shape)}")
    per_traj, valid = _trajectory_mean(-logp_new, mask)
    return _mean_over_trajectories(per_traj, valid)
