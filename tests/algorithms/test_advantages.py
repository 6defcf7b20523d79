"""Advantage estimators against naive Python-loop versions on random inputs."""

import math
import random

import pytest
import torch

from looprl.algorithms import gae_advantages, group_normalized_advantages, leave_one_out_advantages


def naive_loo(rewards, groups):
    out = []
    for k, (r, g) in enumerate(zip(rewards, groups)):
        others = [rewards[i] for i in range(len(rewards)) if i != k and groups[i] == g]
        out.append(r - sum(others) / len(others) if others else 0.0)
    return out


def naive_grpo(rewards, groups, eps=1e-4):
    out = []
    for r, g in zip(rewards, groups):
        members = [rewards[i] for i in range(len(rewards)) if groups[i] == g]
        if len(members) < 2:
            out.append(0.0)
            continue
        mean = sum(members) / len(members)
        std = math.sqrt(sum((m - mean) ** 2 for m in members) / (len(members) - 1))
        out.append((r - mean) / (std + eps))
    return out


def random_batch(rng, n):
    groups = [rng.randrange(5) for _ in range(n)]
    rewards = [rng.choice([0.0, 1.0, rng.random()]) for _ in range(n)]
    return rewards, groups


@pytest.mark.parametrize("seed", range(5))
def test_loo_matches_naive(seed):
    rng = random.Random(seed)
    rewards, groups = random_batch(rng, 23)
    got = leave_one_out_advantages(torch.tensor(rewards, dtype=torch.float64), torch.tensor(groups))
    assert got.tolist() == pytest.approx(naive_loo(rewards, groups), abs=1e-12)


def test_loo_string_groups_singletons_and_identity():
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.3])
    got = leave_one_out_advantages(rewards, ["a", "a", "a", "b"])
    assert got.tolist() == pytest.approx([1 - 0.25, 0 - 0.75, 0.5 - 0.5, 0.0])
    # A_k = K/(K-1) (R_k - mean): an identity of the estimator
    r = torch.rand(6, dtype=torch.float64)
    assert torch.allclose(leave_one_out_advantages(r, [0] * 6), 6 / 5 * (r - r.mean()))
    with pytest.raises(ValueError, match="group_ids has 3"):
        leave_one_out_advantages(torch.zeros(4), [0, 0, 1])


@pytest.mark.parametrize("seed", range(5))
def test_group_normalized_matches_naive(seed):
    rng = random.Random(100 + seed)
    rewards, groups = random_batch(rng, 30)
    got = group_normalized_advantages(torch.tensor(rewards, dtype=torch.float64), groups)
    assert got.tolist() == pytest.approx(naive_grpo(rewards, groups), abs=1e-9)


def naive_gae(rewards, values, mask, gamma, lam):
    B, T = len(rewards), len(rewards[0])
    adv = [[0.0] * T for _ in range(B)]
    for b in range(B):
        steps = [t for t in range(T) if mask[b][t]]
        nxt_v, nxt_a = 0.0, 0.0
        for t in reversed(steps):
            delta = rewards[b][t] + gamma * nxt_v - values[b][t]
            a = delta + gamma * lam * nxt_a
            adv[b][t] = a
            nxt_v, nxt_a = values[b][t], a
    ret = [[adv[b][t] + values[b][t] if mask[b][t] else 0.0 for t in range(T)] for b in range(B)]
    return adv, ret


@pytest.mark.parametrize("gamma,lam", [(1.0, 1.0), (0.9, 0.8)])
def test_gae_matches_naive(gamma, lam):
    g = torch.Generator().manual_seed(3)
    B, T = 4, 17
    rewards = torch.rand(B, T, generator=g, dtype=torch.float64)
    values = torch.rand(B, T, generator=g, dtype=torch.float64)
    mask = torch.rand(B, T, generator=g) > 0.4
    adv, ret = gae_advantages(rewards, values, mask, gamma=gamma, lam=lam)
    nadv, nret = naive_gae(rewards.tolist(), values.tolist(), mask.tolist(), gamma, lam)
    assert torch.allclose(adv, torch.tensor(nadv, dtype=torch.float64))
    assert torch.allclose(ret, torch.tensor(nret, dtype=torch.float64))


def test_gae_terminal_reward_gamma_one_is_return_minus_value():
    mask = torch.tensor([[False, True, True, False, True]])
    rewards = torch.zeros(1, 5)
    rewards[0, 4] = 0.75
    values = torch.tensor([[9.0, 0.2, 0.5, 9.0, 0.1]])
    adv, _ = gae_advantages(rewards, values, mask)
    assert adv[0, mask[0]].tolist() == pytest.approx([0.55, 0.25, 0.65])
