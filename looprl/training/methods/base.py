"""What a training method is: an advantage estimator + a loss + a buffer policy.

The trainer runs every method the same way (collect -> advantages -> keep -> old logprobs ->
epochs x minibatches); a method only says *which* pieces to plug in. No method branches on
another's name: a new method is a new `Method` value in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from looprl.algorithms import ppo_clip_diagnostics

if TYPE_CHECKING:  # pragma: no cover
    from looprl.backends.base import TrainableBackend
    from looprl.schema import TrainerConfig
    from looprl.training.batch import TrainBatch
    from looprl.trajectory import Trajectory

AdvantageFn = Callable[[torch.Tensor, Sequence[Any]], torch.Tensor]
# loss(logp_new (B, T), batch, trainer config) -> scalar loss
LossFn = Callable[[torch.Tensor, "TrainBatch", "TrainerConfig"], torch.Tensor]
# keep(trajectories, advantages (B,), trainer config) -> which rollouts enter the buffer
KeepFn = Callable[[Sequence["Trajectory"], torch.Tensor, "TrainerConfig"], list[bool]]
# diagnostics(logp_new (B, T), batch, trainer config) -> {"clip_fraction", "kl_k1", ...} of one micro-batch
DiagnosticsFn = Callable[[torch.Tensor, "TrainBatch", "TrainerConfig"], dict[str, float]]


def loop_clip_diagnostics(logp_new: torch.Tensor, batch: "TrainBatch", cfg: "TrainerConfig") -> dict[str, float]:
    """Clip fraction with LOOP's bound g(A) on the trajectory advantages, and the k1 KL estimate."""
    return ppo_clip_diagnostics(logp_new, batch.logp_old, batch.advantages, batch.mask, eps=cfg.clip_eps)


def keep_informative(trajectories: Sequence["Trajectory"], advantages: torch.Tensor, cfg: "TrainerConfig") -> list[bool]:
    """LOOP's filter: a rollout with |A| < adv_threshold (0.01) carries no signal and is dropped."""
    return [abs(float(a)) >= cfg.adv_threshold for a in advantages]


def keep_successes(trajectories: Sequence["Trajectory"], advantages: torch.Tensor, cfg: "TrainerConfig") -> list[bool]:
    """Expert iteration / RFT: keep only rollouts that solved the task (return == 1)."""
    return [bool(t.success) or float(t.reward) >= 1.0 for t in trajectories]


def keep_all(trajectories: Sequence["Trajectory"], advantages: torch.Tensor, cfg: "TrainerConfig") -> list[bool]:
    """Keep every rollout (methods whose signal is per token, e.g. PPO with a critic)."""
    return [True] * len(trajectories)


class MethodRuntime:
    """Per-run state a method may need beyond the policy (PPO: the critic). The trainer adds its
    `parameters()` to the optimizer, calls `prepare` once per iteration before the update, uses its
    `loss` (given the trunk's hidden states too) instead of `Method.loss`, and checkpoints its state."""

    def parameters(self) -> list[torch.nn.Parameter]:
        return []

    def prepare(self, policy: "TrainableBackend", batch: "TrainBatch", cfg: "TrainerConfig", iteration: int) -> dict[str, float]:
        return {}

    def loss(self, logp_new: torch.Tensor, hidden: torch.Tensor, batch: "TrainBatch", cfg: "TrainerConfig") -> torch.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def constant_advantages(rewards: torch.Tensor, group_ids: Sequence[Any]) -> torch.Tensor:
    """Supervised methods weigh every kept example equally (the advantage is unused by their loss)."""
    return torch.ones_like(rewards)


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    advantages: AdvantageFn
    loss: LossFn
    keep: KeepFn = keep_informative
    # None = the config's trainer.epochs / trainer.minibatch_size; on-policy methods fix 1 epoch and
    # one step over the whole buffer.
    epochs: int | None = None
    one_step_per_batch: bool = False
    needs_old_logprobs: bool = True
    needs_ref_logprobs: bool = False
    # where rollouts come from: "policy" (the current policy, every iteration), "base-once" (the
    # base model once, over a temperature sweep: RFT) or "ground-truth" (solutions as chats: SFT-GT)
    rollouts: str = "policy"
    # per-run state (PPO's critic): built by the trainer as runtime(policy, train_config)
    runtime: Callable[[Any, Any], MethodRuntime] | None = None
    # what an update step reports (ppo/clip_fraction, ppo/kl_k1), measured with the method's own clip
    # bound and its own advantages; used when the method has old logprobs
    diagnostics: DiagnosticsFn = loop_clip_diagnostics

    def num_epochs(self, cfg: "TrainerConfig") -> int:
        return self.epochs if self.epochs is not None else cfg.epochs

    def minibatch_size(self, cfg: "TrainerConfig", buffer_size: int) -> int:
        return max(buffer_size, 1) if self.one_step_per_batch else cfg.minibatch_size
