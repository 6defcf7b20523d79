"""Trajectories -> padded training tensors, and the rollout buffer the update iterates over.

A `TrainBatch` holds, for B trajectories padded on the right to a common length T:
`input_ids (B, T)`, `attention_mask (B, T)`, `mask (B, T)` (True on tokens the policy sampled:
the only ones in ratios and gradients), `turn_ids (B, T)`, `advantages (B,)`, `rewards (B,)` and,
once the trainer has computed them, `logp_old (B, T)`. Position t of every per-token tensor
describes token t, matching the backend's `token_logprobs` (out[:, t] = log p(x_t | x_<t)).

Token ids are used exactly as the sampler produced them (never re-tokenized). `select(indices)`
cuts a sub-batch and trims padding to the longest selected row, so micro-batches stay small.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Sequence

import torch

from looprl.trajectory import Trajectory


@dataclass
class TrainBatch:
    input_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) long
    mask: torch.Tensor  # (B, T) bool, trainable tokens
    turn_ids: torch.Tensor  # (B, T) long, -1 outside agent turns
    advantages: torch.Tensor  # (B,) float
    rewards: torch.Tensor  # (B,) float
    logp_old: torch.Tensor | None = None  # (B, T) float, filled by the trainer before the update
    logp_sampler: torch.Tensor | None = None  # (B, T) float, the sampler's logprobs (diagnostics only)
    logp_ref: torch.Tensor | None = None  # (B, T) float, adapter-disabled logprobs (KL methods)
    # (B, T) float, the behaviour policy's logprobs (the sampler's, recorded when it sampled) when the rollouts
    # may be stale (rollout.max_staleness > 0): the method's loss then reweights them; None on-policy
    logp_behaviour: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] | None = None  # method-specific per-token tensors, e.g. PPO returns

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def num_trainable_tokens(self) -> int:
        return int(self.mask.sum())

    def select(self, indices: torch.Tensor | Sequence[int]) -> "TrainBatch":
        """Rows `indices`, right padding trimmed to the longest selected row."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        width = int(self.attention_mask[idx].sum(dim=1).max()) if len(idx) else 0
        return self._map(lambda v: v[idx][:, :width] if v.dim() == 2 else v[idx])

    def to(self, device: torch.device | str) -> "TrainBatch":
        """The batch with every tensor on `device` (a no-op when they already are)."""
        return self._map(lambda v: v.to(device))

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "TrainBatch":
        """A batch whose every tensor, those in `extras` included, is `fn` of this batch's."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                out[f.name] = None
            elif f.name == "extras":
                out[f.name] = {k: fn(v) for k, v in value.items()}
            else:
                out[f.name] = fn(value)
        return TrainBatch(**out)

    def with_(self, **changes) -> "TrainBatch":
        return replace(self, **changes)


def make_batch(trajectories: Sequence[Trajectory], advantages: torch.Tensor, pad_id: int, *, max_tokens: int | None = None) -> TrainBatch:
    """Pad trajectories into a TrainBatch. Raises ValueError naming a trajectory without token ids
    (chat-only backends cannot be trained on) or with misaligned per-token arrays."""
    if not trajectories:
        raise ValueError("make_batch needs at least one trajectory")
    for traj in trajectories:
        traj.validate()
        if not traj.token_ids:
            raise ValueError(f"trajectory of task {traj.task_id} has no token ids (from a chat-only backend?); it cannot be trained on")
    lengths = [len(t.token_ids) if max_tokens is None else min(len(t.token_ids), max_tokens) for t in trajectories]
    B, T = len(trajectories), max(lengths)
    input_ids = torch.full((B, T), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((B, T), dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.bool)
    turn_ids = torch.full((B, T), -1, dtype=torch.long)
    logp_sampler = torch.zeros((B, T), dtype=torch.float32)
    for i, (traj, n) in enumerate(zip(trajectories, lengths)):
        input_ids[i, :n] = torch.tensor(traj.token_ids[:n])
        attention_mask[i, :n] = 1
        mask[i, :n] = torch.tensor(traj.trainable[:n], dtype=torch.bool)
        turn_ids[i, :n] = torch.tensor(traj.turn_ids[:n])
        logp_sampler[i, :n] = torch.tensor(traj.logprobs[:n], dtype=torch.float32)
    mask[:, 0] = False  # no logprob for the first token (nothing precedes it)
    rewards = torch.tensor([float(t.reward) for t in trajectories])
    return TrainBatch(input_ids, attention_mask, mask, turn_ids, advantages.to(torch.float32), rewards, logp_sampler=logp_sampler)
