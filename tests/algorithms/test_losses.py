"""Losses against naive Python-loop versions on random inputs, and their gradients."""

import math

import pytest
import torch

from looprl.algorithms import (
    behaviour_weight_diagnostics,
    decoupled_ppo_clip_loss,
    grpo_loss,
    ppo_clip_diagnostics,
    ppo_clip_loss,
    reinforce_loss,
    sft_loss,
    value_loss,
)


def g_eps(a, eps):
    return (1 + eps) * a if a >= 0 else a / (1 + eps)


def random_inputs(seed, B=5, T=13, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    logp_old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    logp_new = logp_old + scale * torch.randn(B, T, generator=g, dtype=torch.float64)
    adv = torch.randn(B, generator=g, dtype=torch.float64)
    mask = torch.rand(B, T, generator=g) > 0.3
    mask[0] = False  # a trajectory with no trainable token is ignored
    turn_ids = torch.cumsum(torch.rand(B, T, generator=g) > 0.7, dim=1)
    return logp_new, logp_old, adv, mask, turn_ids


def naive_ppo(logp_new, logp_old, adv, mask, eps, level, turn_ids):
    per_traj = []
    for b in range(len(adv)):
        idx = [t for t in range(len(mask[b])) if mask[b][t]]
        if not idx:
            continue
        A = adv[b]
        if level == "token":
            terms = [-min(math.exp(logp_new[b][t] - logp_old[b][t]) * A, g_eps(A, eps)) for t in idx]
        else:
            segs = {}
            for t in idx:
                key = 0 if level == "trajectory" else turn_ids[b][t]
                segs[key] = segs.get(key, 0.0) + logp_new[b][t] - logp_old[b][t]
            terms = [-min(math.exp(s) * A, g_eps(A, eps)) for s in segs.values()]
        per_traj.append(sum(terms) / len(terms))
    return sum(per_traj) / len(per_traj)


@pytest.mark.parametrize("level", ["token", "turn", "trajectory"])
@pytest.mark.parametrize("seed", range(4))
def test_ppo_clip_matches_naive(level, seed):
    logp_new, logp_old, adv, mask, turn_ids = random_inputs(seed, scale=0.05 if level != "token" else 0.3)
    got = ppo_clip_loss(logp_new, logp_old, adv, mask, eps=0.1, level=level, turn_ids=turn_ids)
    want = naive_ppo(logp_new.tolist(), logp_old.tolist(), adv.tolist(), mask.tolist(), 0.1, level, turn_ids.tolist())
    assert float(got) == pytest.approx(want, rel=1e-10)


def test_ppo_clip_gradient_at_ratio_one_is_policy_gradient():
    # At logp_new == logp_old nothing is clipped; dL/dlogp_t = -A_x / n_x / B_valid.
    logp_new, _, adv, mask, _ = random_inputs(7)
    logp_new.requires_grad_(True)
    ppo_clip_loss(logp_new, logp_new.detach().clone(), adv, mask).backward()
    n = mask.sum(1).clamp(min=1)
    valid = int((mask.sum(1) > 0).sum())
    want = -(adv[:, None] / n[:, None]) * mask / valid
    assert torch.allclose(logp_new.grad, want)
    # and equals REINFORCE's (RLOO) gradient on-policy
    lp2 = logp_new.detach().clone().requires_grad_(True)
    reinforce_loss(lp2, adv, mask).backward()
    assert torch.allclose(lp2.grad, want)


def test_ppo_clip_bounds_are_loop_not_symmetric_ppo():
    # A > 0: gradient stops past ratio 1+eps; A < 0: below ratio 1/(1+eps) = 0.909 (PPO's 1-eps = 0.9 would still pass 0.905).
    mask = torch.ones(1, 1, dtype=torch.bool)
    eps = 0.1
    for A, ratio, has_grad in [(1.0, 1.09, True), (1.0, 1.11, False), (-1.0, 1 / 1.1 + 0.005, True), (-1.0, 0.905, False), (-1.0, 1 / 1.1 - 0.005, False)]:
        lp = torch.tensor([[math.log(ratio)]], requires_grad=True)
        ppo_clip_loss(lp, torch.zeros(1, 1), torch.tensor([A]), mask, eps=eps).backward()
        assert (lp.grad.abs().item() > 0) == has_grad, (A, ratio)


def test_ppo_diagnostics():
    logp_new, logp_old, adv, mask, _ = random_inputs(2)
    d = ppo_clip_diagnostics(logp_new, logp_old, adv, mask, eps=0.1)
    m = mask
    assert d["kl_k1"] == pytest.approx(float((logp_old - logp_new)[m].mean()))
    ratio = torch.exp(logp_new - logp_old)
    A = adv[:, None].expand_as(ratio)
    clipped = [(r * a > g_eps(a, 0.1)) for r, a in zip(ratio[m].tolist(), A[m].tolist())]
    assert d["clip_fraction"] == pytest.approx(sum(clipped) / len(clipped))
    assert 0 < d["clip_fraction"] < 1


def test_clip_diagnostics_symmetric_bound_and_per_token_advantages_match_naive():
    logp_new, logp_old, adv, mask, _ = random_inputs(4, B=20, T=40, scale=0.3)
    adv_t = torch.randn(logp_new.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ratio = torch.exp(logp_new - logp_old)
    for advantages in (adv, adv_t):
        A = advantages if advantages.dim() == 2 else advantages[:, None].expand_as(ratio)
        pairs = list(zip(ratio[mask].tolist(), A[mask].tolist()))
        symmetric = [r * a > min(max(r, 0.8), 1.2) * a for r, a in pairs]
        loop = [r * a > g_eps(a, 0.2) for r, a in pairs]
        assert symmetric != loop  # the two bounds disagree on some token
        d = ppo_clip_diagnostics(logp_new, logp_old, advantages, mask, eps=0.2, bound="symmetric")
        assert d["clip_fraction"] == pytest.approx(sum(symmetric) / len(pairs))
        d = ppo_clip_diagnostics(logp_new, logp_old, advantages, mask, eps=0.2)
        assert d["clip_fraction"] == pytest.approx(sum(loop) / len(pairs))


def test_errors_name_the_problem():
    logp_new, logp_old, adv, mask, _ = random_inputs(0)
    with pytest.raises(ValueError, match="level must be one of"):
        ppo_clip_loss(logp_new, logp_old, adv, mask, level="sentence")
    with pytest.raises(ValueError, match="needs turn_ids"):
        ppo_clip_loss(logp_new, logp_old, adv, mask, level="turn")
    with pytest.raises(ValueError, match=r"advantages must have shape \(B,\)"):
        ppo_clip_loss(logp_new, logp_old, adv[:2], mask)


def naive_grpo_loss(logp_new, logp_old, adv, mask, eps, logp_ref, beta):
    per_traj = []
    for b in range(len(adv)):
        idx = [t for t in range(len(mask[b])) if mask[b][t]]
        if not idx:
            continue
        terms = []
        for t in idx:
            r = math.exp(logp_new[b][t] - logp_old[b][t])
            term = -min(r * adv[b], min(max(r, 1 - eps), 1 + eps) * adv[b])
            if logp_ref is not None:
                d = logp_ref[b][t] - logp_new[b][t]
                term += beta * (math.exp(d) - d - 1)
            terms.append(term)
        per_traj.append(sum(terms) / len(terms))
    return sum(per_traj) / len(per_traj)


@pytest.mark.parametrize("with_kl", [False, True])
def test_grpo_matches_naive(with_kl):
    logp_new, logp_old, adv, mask, _ = random_inputs(11)
    logp_ref = logp_old + 0.2 * torch.randn_like(logp_old) if with_kl else None
    beta = 0.04 if with_kl else 0.0
    got = grpo_loss(logp_new, logp_old, adv, mask, eps=0.2, logp_ref=logp_ref, kl_coef=beta)
    want = naive_grpo_loss(logp_new.tolist(), logp_old.tolist(), adv.tolist(), mask.tolist(), 0.2, logp_ref.tolist() if with_kl else None, beta)
    assert float(got) == pytest.approx(want, rel=1e-10)


def test_value_and_sft_match_naive():
    logp_new, logp_old, _, mask, _ = random_inputs(5)
    values, returns = torch.sigmoid(logp_new), torch.sigmoid(logp_old)
    per_v, per_s = [], []
    for b in range(mask.shape[0]):
        idx = [t for t in range(mask.shape[1]) if mask[b, t]]
        if idx:
            per_v.append(sum(0.5 * (values[b, t].item() - returns[b, t].item()) ** 2 for t in idx) / len(idx))
            per_s.append(sum(-logp_new[b, t].item() for t in idx) / len(idx))
    assert float(value_loss(values, returns, mask)) == pytest.approx(sum(per_v) / len(per_v))
    assert float(sft_loss(logp_new, mask)) == pytest.approx(sum(per_s) / len(per_s))


def test_empty_mask_gives_zero_loss_with_graph():
    lp = torch.zeros(2, 3, requires_grad=True)
    loss = ppo_clip_loss(lp, lp.detach(), torch.ones(2), torch.zeros(2, 3, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(lp.grad.abs().sum()) == 0.0


def test_per_token_advantage_loss_matches_naive_and_reduces_to_scalar_version():
    from looprl.algorithms import ppo_clip_loss_per_token_advantage

    logp_new, logp_old, adv, mask, _ = random_inputs(13)
    adv_t = torch.randn(logp_new.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = ppo_clip_loss_per_token_advantage(logp_new, logp_old, adv_t, mask, eps=0.1)
    per_traj = []
    for b in range(mask.shape[0]):
        idx = [t for t in range(mask.shape[1]) if mask[b, t]]
        if idx:
            terms = [-min(math.exp(logp_new[b, t] - logp_old[b, t]) * adv_t[b, t].item(), g_eps(adv_t[b, t].item(), 0.1)) for t in idx]
            per_traj.append(sum(terms) / len(terms))
    assert float(got) == pytest.approx(sum(per_traj) / len(per_traj), rel=1e-10)
    broadcast = adv[:, None].expand_as(logp_new)
    assert torch.allclose(ppo_clip_loss_per_token_advantage(logp_new, logp_old, broadcast, mask), ppo_clip_loss(logp_new, logp_old, adv, mask))


# ---------------------------------------------------------------- decoupled PPO (stale or mismatched samples)


def naive_decoupled(logp_new, logp_prox, logp_mu, adv, mask, eps, cap):
    per_traj = []
    for b in range(logp_new.shape[0]):
        terms = []
        for t in range(logp_new.shape[1]):
            if mask[b, t]:
                w = min(math.exp(float(logp_prox[b, t] - logp_mu[b, t])), cap)
                r = math.exp(float(logp_new[b, t] - logp_prox[b, t]))
                terms.append(-w * min(r * float(adv[b]), g_eps(float(adv[b]), eps)))
        if terms:
            per_traj.append(sum(terms) / len(terms))
    return sum(per_traj) / len(per_traj)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoupled_ppo_clip_matches_naive_and_truncates(seed):
    logp_new, logp_prox, adv, mask, _ = random_inputs(seed)
    g = torch.Generator().manual_seed(100 + seed)
    logp_mu = logp_prox + 0.5 * torch.randn(logp_prox.shape, generator=g, dtype=torch.float64)  # a stale sampler
    for cap in (1.0, 1.5, 1e6):
        got = decoupled_ppo_clip_loss(logp_new, logp_prox, logp_mu, adv, mask, eps=0.1, cap=cap)
        assert float(got) == pytest.approx(naive_decoupled(logp_new, logp_prox, logp_mu, adv, mask, 0.1, cap), rel=1e-10)
    stats = behaviour_weight_diagnostics(logp_prox, logp_mu, mask, cap=1.5)
    rho = [math.exp(float(logp_prox[b, t] - logp_mu[b, t])) for b in range(mask.shape[0]) for t in range(mask.shape[1]) if mask[b, t]]
    assert stats["ratio_mean"] == pytest.approx(sum(rho) / len(rho), rel=1e-10)
    assert stats["ratio_max"] == pytest.approx(max(rho), rel=1e-10)
    assert stats["truncated_fraction"] == pytest.approx(sum(r > 1.5 for r in rho) / len(rho))
    assert 0 < stats["truncated_fraction"] < 1  # the inputs exercise both sides of the cap


def test_decoupled_ppo_clip_on_policy_is_loops_loss_and_weight_has_no_gradient():
    logp_new, logp_prox, adv, mask, _ = random_inputs(3)
    logp_new.requires_grad_(True)
    on_policy = decoupled_ppo_clip_loss(logp_new, logp_prox, logp_prox, adv, mask, eps=0.1, cap=2.0)
    assert torch.equal(on_policy, ppo_clip_loss(logp_new, logp_prox, adv, mask, eps=0.1))
    # the behaviour weight scales each token's gradient and gets none itself
    logp_mu = (logp_prox - 0.2).requires_grad_(True)
    loss = decoupled_ppo_clip_loss(logp_new, logp_prox, logp_mu, adv, mask, eps=0.1, cap=2.0)
    (grad_new,) = torch.autograd.grad(loss, logp_new, retain_graph=True)
    (grad_loop,) = torch.autograd.grad(ppo_clip_loss(logp_new, logp_prox, adv, mask, eps=0.1), logp_new)
    assert torch.allclose(grad_new, math.exp(0.2) * grad_loop)  # w = exp(0.2) < cap on every token
    assert torch.autograd.grad(loss, logp_mu, allow_unused=True) == (None,)  # mu is a constant of the loss
    with pytest.raises(ValueError, match="cap must be >= 1"):
        decoupled_ppo_clip_loss(logp_new, logp_prox, logp_prox, adv, mask, cap=0.5)
