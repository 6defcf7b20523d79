"""The update phase of one iteration: old logprobs, then epochs x shuffled minibatches with
gradient accumulation over micro-batches, clipped AdamW steps, and the paper's guards.

Guarantees:

* A minibatch's gradient does not depend on how it is cut into micro-batches: every method's loss
  is a mean over trajectories, and each micro-batch's loss is weighted by its share of the
  minibatch's trajectories (tested: one minibatch == two accumulated halves). So micro-batches of
  more than one row are cut from the rows sorted by length: similar lengths, little padding.
* Logprobs are computed only where a loss reads them: every method's objective (LOOP, PPO, GRPO and
  its KL reference, RLOO, SFT-GT, EI/RFT) reads logp at the trainable tokens (`batch.mask`) alone,
  so lm_head and the log-softmax run only there (PPO's critic reads the hidden states, which are
  computed everywhere).
* Precision: every forward pass here (old and reference logprobs, training, PPO's critic) runs
  under `trainer.autocast` resolved for the machine (`trainer_autocast`: "auto" is bf16 on CPUs with
  avx512_bf16/AMX and bf16-capable GPUs): the trunk's matmuls in bf16, the fp32 LoRA weights
  (master weights), lm_head, log-softmax and the optimizer in fp32. The old-logprob pass and the
  training pass use the same setting, so the first step's ratios are 1 (up to micro-batch shapes).
* "Old" logprobs are recomputed here with no grad, before the first step (the sampler's logprobs
  are for diagnostics only), as the paper's reference code does. When the rollouts may be stale
  (`batch.logp_behaviour` set, rollout.max_staleness > 0), the old logprobs are the proximal policy
  the loss clips around, and the sampler's are the behaviour policy it reweights from
  (`decoupled_ppo_clip_loss`); the weights' statistics are reported as offpolicy/*.
* Phase timings (time/old_logprob_s, time/forward_backward_s, time/optimizer_s) are wall seconds,
  measured here so benchmarks read them rather than re-time the update.
* Guards: a NaN/inf loss (or gradient norm) or a k1 KL estimate above `kl_guard` stops the rest of
  the iteration's update (the step that saw it is not taken); the reason is reported in the metrics.
* Sharded over W processes (`dist`, looprl.training.distributed), each rank takes a slice of every
  minibatch, all ranks run the same number of forward/backward calls, the averaged gradient equals
  the one-process gradient, and statistics and guard decisions are agreed across ranks. Without
  `dist` (one process) every one of those operations is the identity.
"""

from __future__ import annotations

import functools
import math
import time
from typing import TYPE_CHECKING

import torch

from looprl.algorithms import behaviour_weight_diagnostics
from looprl.backends.base import TrainableBackend
from looprl.training.batch import TrainBatch
from looprl.training.distributed import SINGLE_PROCESS, Distributed
from looprl.utils.hardware import resolve_autocast

if TYPE_CHECKING:  # pragma: no cover
    from looprl.config import TrainerConfig
    from looprl.training.methods.base import Critic, Method


def _chunks(indices: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [indices[i : i + size] for i in range(0, len(indices), size)]


@functools.lru_cache(maxsize=None)
def _resolved_autocast(setting: str, device_type: str) -> str:
    return resolve_autocast(setting, device_type)


def trainer_autocast(cfg: "TrainerConfig", device: torch.device) -> str:
    """`trainer.autocast` resolved for `device` ("bfloat16" or "off"): what every forward pass of the
    update (old and reference logprobs, training, PPO's critic) runs under."""
    return _resolved_autocast(cfg.autocast, torch.device(device).type)


def length_order(batch: TrainBatch) -> torch.Tensor:
    """The batch's row indices shortest first, so that consecutive micro-batches hold rows of similar
    length and `TrainBatch.select` trims most of their padding (stable: equal lengths keep their order)."""
    return torch.argsort(batch.attention_mask.sum(dim=1), stable=True)


def by_length(batch: TrainBatch) -> TrainBatch:
    """The batch's rows in `length_order`."""
    return batch.select(length_order(batch))


@torch.no_grad()
def compute_logprobs(
    policy: TrainableBackend,
    batch: TrainBatch,
    micro_batch_size: int,
    chunk_size: int,
    *,
    reference: bool = False,
    dist: Distributed = SINGLE_PROCESS,
    autocast: str = "off",
) -> torch.Tensor:
    """Per-token logprobs (B, T) of the batch under the policy (or its adapter-disabled reference), at
    the trainable tokens (`batch.mask`, the only ones any method's loss reads) and 0 elsewhere.

    Micro-batches of more than one row are cut from the rows sorted by length (less padding).
    Sharded, each rank computes its rows; the sum over ranks is the full tensor (one writer per row)."""
    out = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    order = length_order(batch) if micro_batch_size > 1 else torch.arange(len(batch))
    for idx, share in dist.micro_batches(len(batch), micro_batch_size):
        rows = order[idx]
        micro = batch.select(rows)
        kwargs = {"grad": False, "chunk_size": chunk_size, "positions": micro.mask, "autocast": autocast}
        if reference:
            with policy.disable_adapter():
                lp = policy.token_logprobs(micro.input_ids, micro.attention_mask, **kwargs)
        else:
            lp = policy.token_logprobs(micro.input_ids, micro.attention_mask, **kwargs)
        if share > 0:  # a zero-share micro-batch only keeps the ranks' forward calls in step
            out[rows, : lp.shape[1]] = lp.detach().float().cpu()
    return dist.sum_tensor(out)


def sampler_gap(batch: TrainBatch) -> dict[str, float]:
    """How far the sampler's logprobs are from the trainer's (same weights): mean and max |difference|
    over sampled tokens. Near 0 for the transformers backend; a large gap (a vLLM/trainer mismatch in
    kernels, dtype or weights) makes the importance ratios lie."""
    if batch.logp_sampler is None or batch.logp_old is None or not bool(batch.mask.any()):
        return {}
    gap = (batch.logp_sampler - batch.logp_old)[batch.mask]
    # trajectories without sampler logprobs (SFT-GT chats, chat backends) carry zeros there
    gap = gap[batch.logp_sampler[batch.mask] != 0]
    if gap.numel() == 0:
        return {}
    return {"rollout/sampler_logprob_gap_mean": float(gap.abs().mean()), "rollout/sampler_logprob_gap_max": float(gap.abs().max())}


def accumulate_gradients(
    policy: TrainableBackend,
    method: "Method",
    minibatch: TrainBatch,
    cfg: "TrainerConfig",
    critic: "Critic | None" = None,
    dist: Distributed = SINGLE_PROCESS,
) -> dict[str, float]:
    """Forward/backward every micro-batch of `minibatch` (this rank's slice of it), accumulating into .grad.
    One forward pass gives the log-probabilities and the hidden states; the method's `objective` makes
    the loss of them (its policy loss, plus its critic's when it has one).

    Returns {"loss": the minibatch loss, "kl_k1", "clip_fraction"} (token-weighted diagnostics),
    summed over ranks."""
    n = len(minibatch)
    total_loss, kl_sum, clip_sum, tokens = 0.0, 0.0, 0.0, 0
    finite = True
    device = policy.device
    autocast = trainer_autocast(cfg, device)
    if cfg.micro_batch_size > 1:  # the gradient does not depend on the cut; similar lengths pad less
        minibatch = by_length(minibatch)
    for idx, share in dist.micro_batches(n, cfg.micro_batch_size):
        micro = minibatch.select(idx).to(device)
        # logprobs only where the loss reads them (every method's objective reads logp_new at batch.mask)
        logp_new, hidden = policy.logprobs_and_hidden(
            micro.input_ids, micro.attention_mask, grad=True, chunk_size=cfg.logprob_chunk_size, positions=micro.mask, autocast=autocast
        )
        loss = method.objective(logp_new, hidden, micro, cfg, critic)
        if not torch.isfinite(loss):
            finite = False
            if not dist.sharded:  # alone, stop at once; sharded ranks must all run the same backward calls
                break
        (loss * (share * dist.grad_scale)).backward()
        total_loss += float(loss.detach()) * share
        if micro.logp_old is not None and share > 0:
            k = int(micro.mask.sum())
            d = method.diagnostics(logp_new.detach().float(), micro, cfg)  # the method's own clip bound and advantages
            kl_sum, clip_sum, tokens = kl_sum + d["kl_k1"] * k, clip_sum + d["clip_fraction"] * k, tokens + k
    total_loss, kl_sum, clip_sum, tokens, bad = dist.sum([total_loss, kl_sum, clip_sum, tokens, not finite])
    if bad:
        return {"loss": float("nan"), "kl_k1": float("nan"), "clip_fraction": float("nan")}
    return {
        "loss": total_loss,
        "kl_k1": kl_sum / tokens if tokens else 0.0,
        "clip_fraction": clip_sum / tokens if tokens else 0.0,
    }


def run_update(
    policy: TrainableBackend,
    optimizer: torch.optim.Optimizer,
    method: "Method",
    batch: TrainBatch,
    cfg: "TrainerConfig",
    generator: torch.Generator,
    critic: "Critic | None" = None,
    iteration: int = 0,
    dist: Distributed = SINGLE_PROCESS,
) -> dict[str, float]:
    """Epochs x shuffled minibatches over `batch`; returns the iteration's update metrics.

    Sharded, every rank passes the same batch and generator state, so all agree on the minibatches."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    diagnostics: dict[str, float] = {}
    t0 = time.perf_counter()
    autocast = trainer_autocast(cfg, policy.device)
    if method.needs_old_logprobs:
        batch.logp_old = compute_logprobs(policy, batch, cfg.micro_batch_size, cfg.logprob_chunk_size, dist=dist, autocast=autocast)
        diagnostics = sampler_gap(batch)
        if batch.logp_behaviour is not None:
            stats = behaviour_weight_diagnostics(batch.logp_old, batch.logp_behaviour, batch.mask, cfg.behaviour_weight_cap)
            diagnostics.update({f"offpolicy/{k}": v for k, v in stats.items()})
    if method.needs_ref_logprobs:
        batch.logp_ref = compute_logprobs(policy, batch, cfg.micro_batch_size, cfg.logprob_chunk_size, reference=True, dist=dist, autocast=autocast)
    prepared = critic.prepare(policy, batch, cfg, iteration) if critic is not None else {}  # PPO: per-token advantages
    old_logprob_s, backward_s, optimizer_s = time.perf_counter() - t0, 0.0, 0.0
    steps, losses, kls, clips, norms = 0, [], [], [], []
    stopped = ""
    mb_size = method.minibatch_size(cfg, len(batch))
    for _epoch in range(method.num_epochs(cfg)):
        order = torch.randperm(len(batch), generator=generator)
        for idx in _chunks(order, mb_size):
            optimizer.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            stats = accumulate_gradients(policy, method, batch.select(idx), cfg, critic, dist)
            backward_s += time.perf_counter() - t0
            dist.average_replicated_grads(params)  # sharded: PPO's critic sits outside FSDP
            # statistics are summed over ranks already; agreeing on the decision too means no rank steps alone
            stopped = dist.agree("nan_loss" if not math.isfinite(stats["loss"]) else "kl_guard" if stats["kl_k1"] > cfg.kl_guard else "")
            if stopped:
                break
            norm = dist.clip_grad_norm_(params, cfg.max_grad_norm)
            # a finite loss can still back-propagate inf/NaN: never step on it
            stopped = dist.agree("" if math.isfinite(norm) else "nan_loss")
            if stopped:
                break
            norms.append(norm)
            t0 = time.perf_counter()
            optimizer.step()
            optimizer_s += time.perf_counter() - t0
            steps += 1
            losses.append(stats["loss"])
            kls.append(stats["kl_k1"])
            clips.append(stats["clip_fraction"])
        if stopped:
            break
    optimizer.zero_grad(set_to_none=True)

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else 0.0

    return {
        **prepared,
        **diagnostics,
        "loss/policy": mean(losses),
        "ppo/kl_k1": mean(kls),
        "ppo/kl_k1_max": max(kls) if kls else 0.0,
        "ppo/clip_fraction": mean(clips),
        "train/grad_norm": mean(norms),
        "train/optimizer_steps": float(steps),
        "train/stopped_early": {"": 0.0, "kl_guard": 1.0, "nan_loss": 2.0}[stopped],
        "time/old_logprob_s": old_logprob_s,
        "time/forward_backward_s": backward_s,
        "time/optimizer_s": optimizer_s,
        "train/autocast_bf16": float(autocast == "bfloat16"),
    }
