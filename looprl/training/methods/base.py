"""What a training method is: its facts (facts.py) + an advantage estimator + a loss + a buffer
policy, and optionally a critic that trains alongside the policy (PPO).

The trainer runs every method the same way (collect -> advantages -> keep -> old logprobs ->
epochs x minibatches, each micro-batch's loss from `Method.objective`); a method only says *which*
pieces to plug in. No method branches on another's name: a new method is a new `MethodFacts` in
facts.py and a new `Method` value in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import torch

from looprl.algorithms import ppo_clip_diagnostics
from looprl.training.methods.facts import DataSource, MethodFacts

if TYPE_CHECKING:  # pragma: no cover
    from looprl.backends.base import TrainableBackend
    from looprl.config import TrainConfig, TrainerConfig
    from looprl.training.batch import TrainBatch
    from looprl.trajectory import Trajectory

AdvantageFn = Callable[[torch.Tensor, Sequence[Any]], torch.Tensor]
# loss(logp_new (B, T), batch, trainer config) -> scalar loss
LossFn = Callable[[torch.Tensor, "TrainBatch", "TrainerConfig"], torch.Tensor]
# keep(trajectories, advantages (B,), trainer config) -> which rollouts enter the buffer
KeepFn = Callable[[Sequence["Trajectory"], torch.Tensor, "TrainerConfig"], list[bool]]
# diagnostics(logp_new (B, T), batch, trainer config) -> {"clip_fraction", "kl_k1", ...} of one micro-batch
DiagnosticsFn = Callable[[torch.Tensor, "TrainBatch", "TrainerConfig"], dict[str, float]]


class Critic(Protocol):
    """A learned value function that trains alongside the policy (PPO's), built once per run as
    `method.critic(policy, train_config)`. The trainer adds its parameters to the optimizer and
    checkpoints its state; each iteration the update calls `prepare` once before the first step, then
    adds `loss` to the method's policy loss on every micro-batch (the same forward pass's hidden states)."""

    # False while the critic warms up: the policy loss is left out, so the LoRA gets no gradient
    trains_policy: bool

    def parameters(self) -> list[torch.nn.Parameter]: ...

    def prepare(self, policy: "TrainableBackend", batch: "TrainBatch", cfg: "TrainerConfig", iteration: int) -> dict[str, float]:
        """Whatever the method's loss reads from the critic (e.g. per-token advantages and returns in
        `batch.extras`), and the critic's metrics for the iteration."""
        ...

    def loss(self, hidden: torch.Tensor, batch: "TrainBatch") -> torch.Tensor:
        """The critic's weighted loss on the trunk's hidden states (B, T, H)."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


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


def constant_advantages(rewards: torch.Tensor, group_ids: Sequence[Any]) -> torch.Tensor:
    """Supervised methods weigh every kept example equally (the advantage is unused by their loss)."""
    return torch.ones_like(rewards)


def no_trajectory_advantages(rewards: torch.Tensor, group_ids: Sequence[Any]) -> torch.Tensor:
    """A method whose advantages are per token, from its critic at update time (PPO's GAE), has none
    per trajectory: 0 for every rollout (it keeps them all; rollout/advantage_abs_mean reads 0)."""
    return torch.zeros_like(rewards)


@dataclass(frozen=True)
class Method:
    facts: MethodFacts  # name, data source, the settings only it reads (facts.py)
    advantages: AdvantageFn
    loss: LossFn  # the policy loss
    keep: KeepFn = keep_informative
    # None = the config's trainer.epochs / trainer.minibatch_size; on-policy methods fix 1 epoch and
    # one step over the whole buffer.
    epochs: int | None = None
    one_step_per_batch: bool = False
    needs_old_logprobs: bool = True
    needs_ref_logprobs: bool = False
    # the policy loss on rollouts a behaviour policy sampled (batch.logp_behaviour set: rollout.max_staleness > 0),
    # for methods whose facts say off_policy (LOOP: the decoupled PPO loss)
    off_policy_loss: LossFn | None = None
    # a value function trained alongside the policy (PPO's), built by the trainer as critic(policy, train_config)
    critic: Callable[["TrainableBackend", "TrainConfig"], Critic] | None = None
    # what an update step reports (ppo/clip_fraction, ppo/kl_k1), measured with the method's own clip
    # bound and its own advantages; used when the method has old logprobs
    diagnostics: DiagnosticsFn = loop_clip_diagnostics

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def summary(self) -> str:
        return self.facts.summary

    @property
    def data(self) -> DataSource:
        """Where the method's rollouts come from (facts.py): the policy, a base-model sweep, ground truth."""
        return self.facts.data

    @property
    def rollouts(self) -> str:
        """The data source's name ("policy", "base-once", "ground-truth"): a label for reports
        (benchmarks/reproduce.py reads it); code asks `data`, whose type says what to do."""
        return self.facts.data.name

    def objective(self, logp_new: torch.Tensor, hidden: torch.Tensor, batch: "TrainBatch", cfg: "TrainerConfig", critic: Critic | None) -> torch.Tensor:
        """One micro-batch's loss: the policy loss, plus the critic's on the same forward pass's hidden
        states (B, T, H); while the critic warms up, the critic's alone."""
        loss = self.loss if batch.logp_behaviour is None else self.behaviour_loss
        if critic is None:
            return loss(logp_new, batch, cfg)
        value_loss = critic.loss(hidden, batch)
        return loss(logp_new, batch, cfg) + value_loss if critic.trains_policy else value_loss

    @property
    def behaviour_loss(self) -> LossFn:
        """The loss for rollouts that may be stale (batch.logp_behaviour set)."""
        if self.off_policy_loss is None:
            raise ValueError(f"method {self.name!r} has no loss for rollouts a stale policy sampled; train it with rollout.max_staleness=0")
        return self.off_policy_loss

    def num_epochs(self, cfg: "TrainerConfig") -> int:
        return self.epochs if self.epochs is not None else cfg.epochs

    def minibatch_size(self, cfg: "TrainerConfig", buffer_size: int) -> int:
        return max(buffer_size, 1) if self.one_step_per_batch else cfg.minibatch_size
