"""Shared helpers for trainer tests: synthetic trajectories on the tiny model's vocabulary."""

from __future__ import annotations

import random

import pytest

from looprl.trajectory import Trajectory


def synthetic_trajectories(n: int, *, seed: int = 0, vocab: int = 300, groups: int = 2) -> list[Trajectory]:
    """Multi-turn token streams: prompt (masked), then agent turns (trainable) and observations (masked)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ids, trainable, turns = [], [], []
        prompt = rng.randint(3, 6)
        ids += [rng.randrange(10, vocab) for _ in range(prompt)]
        trainable += [False] * prompt
        turns += [-1] * prompt
        for turn in range(rng.randint(1, 3)):
            k = rng.randint(2, 5)
            ids += [rng.randrange(10, vocab) for _ in range(k)]
            trainable += [True] * k
            turns += [turn] * k
            obs = rng.randint(1, 3)
            ids += [rng.randrange(10, vocab) for _ in range(obs)]
            trainable += [False] * obs
            turns += [turn] * obs
        out.append(
            Trajectory(
                task_id=f"t{i % groups}",
                messages=[],
                reward=rng.random(),
                token_ids=ids,
                trainable=trainable,
                logprobs=[0.0] * len(ids),
                turn_ids=turns,
                group_id=f"g{i % groups}",
            )
        )
    return out


@pytest.fixture(scope="module")
def tiny_policy(tiny_model_dir):
    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig

    return HFBackend(str(tiny_model_dir), lora=LoraConfig(r=4, alpha=8), device="cpu", seed=0)


@pytest.fixture(scope="session")
def make_trajectories():
    return synthetic_trajectories


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny model gains nothing from intra-op threads, and on a busy 2-core machine they spin
    (a 6-token generation went from 0.7 s to 12 s under load); restore the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
