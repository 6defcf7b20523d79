"""The training loop: collect -> score -> advantages -> update -> log -> checkpoint, one iteration at a time.

One iteration (the paper's, with its defaults in TrainConfig):

  1. sample tasks        `tasks_per_iteration` from a seeded sampler whose position is checkpointed
  2. collect             K rollouts per task from the current policy (temperature T, 1 by default as in
                         the paper; top-p 1, no top-k); the trained policy is softmax(logits / T).
                         With rollout.max_staleness = s > 0 they were sampled in a background thread
                         while earlier iterations updated, by a policy at most s versions older, and the
                         loss reweights them from that behaviour policy (looprl/training/pipeline.py)
                         With trainer.dynamic_sampling, groups whose K rewards are all equal are set aside
                         and more tasks drawn (up to dynamic_sampling_max_batches extra batches) until
                         tasks_per_iteration groups differ (looprl/training/dynamic_sampling.py; not the paper's)
                         Rollouts the infrastructure cut (an infra FinishReason) are written to disk and
                         counted, then left out of everything below (looprl/rollout/faults.py)
  3. advantages          the method's estimator (LOOP: leave-one-out), one scalar per rollout
  4. buffer              the method's filter (LOOP: drop |A| < 0.01; EI/RFT: keep successes)
  5. update              old logprobs (no grad), then epochs x shuffled minibatches, micro-batch
                         accumulation, grad-norm clip, AdamW step; KL and NaN guards (update.py)
  6. publish             the rollout backend samples with the new adapter (with the transformers
                         backend it is the very same model object, so nothing to copy; overlapped, the
                         sampler thread loads it before its next collection)
  7. evaluate            every `eval_every` iterations on dev tasks, tracking the best checkpoint
  8. log + checkpoint    metrics.jsonl / TensorBoard / W&B, then an atomic checkpoint

The policy, the sampling backend, the env factory, the rollout settings (a RolloutSpec) and run.json
are built by looprl.build, as `looprl eval` and the demo build them.

Resuming (`Trainer(cfg, resume=True)`) restores adapter, optimizer, RNG states (including the
sampler's generator and the minibatch shuffler), sampler position, metric history, best-on-dev and
the method's state (PPO's critic) from the newest checkpoint that verifies, so a run killed at any
point and resumed ends with the same weights as one never interrupted. That holds when collection
itself is deterministic: tested on the tiny model on CPU with rollout.concurrency 1 (with more
concurrency, which episodes share a generate() call depends on thread timing), and synchronous
(rollout.max_staleness 0; an overlapped run resumes and finishes, re-sampling what was in flight).

Every phase's wall time is a time/* metric (docs/metrics.md), so benchmarks read them
(benchmarks/bench_iteration.py) rather than re-time the loop.

Several processes (GPUs): launched with `accelerate launch --config_file configs/accelerate/fsdp-8gpu.yaml
-m looprl train --config configs/qwen2.5-32b-8gpu.yaml`, the policy is sharded with FSDP across the
processes; rank 0 alone collects, evaluates, logs and checkpoints, and every rank takes a slice of
each minibatch (looprl/training/distributed.py says how, and what was tested: CPU processes only).
Without a launcher `self.dist` is the one-process identity and nothing above changes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from looprl.backends.base import PolicyBackend, TrainableBackend
from looprl.build import (
    build_env_factory,
    build_policy,
    build_sampling_backend,
    policy_temperature,
    rollout_spec,
    write_run_files,
)
from looprl.config import TrainConfig
from looprl.rollout.collector import Collection
from looprl.rollout.faults import infra_metrics, require_survivors, split_infra
from looprl.rollout.spec import RolloutSpec
from looprl.training.batch import make_batch
from looprl.training.checkpoint import TrainerState, capture_rng, restore_rng, save_checkpoint, usable_checkpoints
from looprl.training.distributed import HistoryOnly, from_environment
from looprl.training.dynamic_sampling import collect_with_signal
from looprl.training.interrupt import deferred, stop_on_signals
from looprl.training.logger import MetricsLogger
from looprl.training.methods import get_method
from looprl.training.pipeline import RolloutPipeline, sampler_shares_cores, separate_sampler, split_threads, staleness_metrics
from looprl.training.sampler import TaskSampler
from looprl.training.update import run_update
from looprl.trajectory import Trajectory, read_jsonl, write_jsonl
from looprl.utils.io import atomic_write_json

log = logging.getLogger(__name__)


def resolve_task_ids(cfg: TrainConfig, split: str, *, epoch: int = 0) -> list[str]:
    """Training/dev task ids: explicit `tasks.task_ids` (then used for dev evaluation too), else the
    env's split; the training split as the env's own selection from the config's task fields picks
    it (`tasks.difficulties`, paper 1-2, and the fields the env takes, e.g. the built-in world's
    instances; epoch e: the e-th pass's pool, for `tasks.fresh_instances`)."""
    if cfg.tasks.task_ids:
        return list(cfg.tasks.task_ids)
    from looprl.env.task_ids import task_ids

    if split != cfg.tasks.train_split:
        return task_ids(cfg.env.name, split, cfg.env.options)
    return task_ids(cfg.env.name, split, cfg.env.options, cfg.tasks.selection_fields(), epoch=epoch)


class _SamplerClock(threading.local):
    """Seconds a sampler call was in flight, added up per thread: the trainer's collections and the
    sampler thread's (overlapped) each count their own."""

    seconds = 0.0


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        *,
        policy: TrainableBackend | None = None,
        collect_fn: Callable[..., Collection] | None = None,
        resume: bool = False,
        progress: bool = True,
    ) -> None:
        """`policy`: a ready policy instead of `build_policy(cfg)`; `collect_fn`: a replacement for
        looprl.rollout.collect, called as collect_fn(backend, env_factory, task_ids, spec, k=...,
        early_stop=..., group_prefix=..., progress=...) and returning a Collection (its stats give
        time/generate_s)."""
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.method = get_method(cfg.trainer.method)
        self.run_dir = Path(cfg.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.dist = from_environment()  # one process, or FSDP over the launcher's WORLD_SIZE processes
        if policy is None:
            policy = build_policy(cfg, device=self.dist.load_device)
        elif policy.policy_temperature != (wanted := policy_temperature(cfg)):
            raise ValueError(
                f"the policy passed in has policy_temperature={policy.policy_temperature}, but method "
                f"{cfg.trainer.method!r} with rollout.sampling.temperature={cfg.rollout.sampling.temperature} "
                f"trains a policy of temperature {wanted}"
            )
        self.policy: TrainableBackend = policy
        # the rollout backend: the very same model for transformers, a vLLM server (LoRA hot-swapped) otherwise;
        # under FSDP only rank 0 samples, from an unsharded copy for transformers, and the policy is sharded
        sampler = build_sampling_backend(cfg, self.policy) if self.dist.is_main else None
        self.sampler_backend: PolicyBackend | None  # None on the ranks other than 0 under FSDP
        self.policy, self.sampler_backend = self.dist.shard(self.policy, sampler, self.method)
        # overlapped sampling (rollout.max_staleness > 0) samples from a backend of its own while the policy
        # trains (a copy of the transformers model); its thread is started by train() (pipeline.py)
        self.pipeline: RolloutPipeline | None = None
        self._closed = False
        self._signal_metrics: dict[int, dict[str, float]] = {}  # overlapped dynamic sampling: iteration -> its accounting
        self._in_flight: dict[int, list[str]] = {}  # iterations a checkpoint recorded as submitted, not trained on
        if cfg.rollout.max_staleness > 0:
            if self.dist.sharded:
                raise ValueError(f"rollout.max_staleness={cfg.rollout.max_staleness} runs in one process; under FSDP use rollout.max_staleness=0")
            self.sampler_backend = separate_sampler(self.policy, self.sampler_backend)
        if collect_fn is None:
            from looprl.rollout import collect as collect_fn
        self.collect_fn = collect_fn
        self._sampler_clock = _SamplerClock()
        # only rank 0 runs episodes (and, in Ray mode, joins the cluster)
        self.env_factory: Callable[[], Any] | None = build_env_factory(cfg) if self.dist.is_main else None
        # training episodes draw from the policy's own checkpointed generator (see looprl.build.sampling_params);
        # dev evaluations are seeded, as `looprl eval` is
        self.rollout_spec: RolloutSpec = rollout_spec(cfg, max_turns=cfg.env.max_turns, seeded=False)
        self.eval_spec: RolloutSpec = rollout_spec(cfg, max_turns=cfg.env.eval_max_turns, temperature=cfg.trainer.eval_temperature)
        self.scaffold = self.rollout_spec.scaffold
        self.train_ids = resolve_task_ids(cfg, cfg.tasks.train_split)
        fresh = (lambda epoch: resolve_task_ids(cfg, cfg.tasks.train_split, epoch=epoch)) if cfg.tasks.fresh_instances else None
        self.sampler = TaskSampler(self.train_ids, cfg.seed, fresh=fresh)
        # the method's critic (PPO's value head), if it has one; its parameters train alongside the LoRA
        self.critic = self.method.critic(self.policy, cfg) if self.method.critic is not None else None
        params = list(self.policy.trainable_parameters()) + (self.critic.parameters() if self.critic else [])
        self.optimizer = torch.optim.AdamW(params, lr=cfg.trainer.lr, weight_decay=cfg.trainer.weight_decay)
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        self.iteration = 0
        self._checkpoint_s = 0.0  # the last checkpoint write's wall seconds (logged with the next iteration)
        self.last_checkpoint: Path | None = None  # the newest checkpoint written or resumed from
        self.best: dict[str, Any] = {}
        self.fixed_data: list[Trajectory] | None = None  # RFT's base-model successes / SFT-GT's solution chats
        self.logger = (
            MetricsLogger(
                self.run_dir,
                tensorboard=cfg.logging.tensorboard,
                wandb=cfg.logging.wandb,
                wandb_project=cfg.logging.wandb_project,
                config=cfg.model_dump(mode="json"),
                total_iterations=cfg.trainer.iterations,
                progress=progress,
            )
            if self.dist.is_main
            else HistoryOnly()
        )
        if resume:
            self._resume()
        elif self.dist.is_main:
            self._write_run_files()

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Close the sampling backend this trainer built: a llama.cpp or OpenVINO engine and the model
        files it exported, a sampler process, a vLLM client's merged adapters and the server it started.
        Without it they last as long as this process (llama.cpp's exports in the temporary directory
        longer). The policy stays loaded; train() cannot sample afterwards. Closing twice does nothing."""
        self._closed = True
        self._stop_pipeline(wait=True)
        backend, self.sampler_backend = self.sampler_backend, None
        if backend is not None and backend is not self.policy and hasattr(backend, "close"):
            backend.close()

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ the loop
    def train(self, stop_after: int | None = None, until: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Run iterations until trainer.iterations (or `stop_after` more, or until `until(metrics)` is true
        after an iteration: a budget in rollouts spent, say); returns the metric history. Overlapped, an
        `until` stop waits for the iteration sampled ahead, which the next train() samples again.

        SIGINT/SIGTERM abort the iteration in flight and raise `TrainingInterrupted` (a signal during
        the checkpoint write waits for it); `last_checkpoint` is then the state to resume from
        (looprl/training/interrupt.py says why abort rather than finish the iteration)."""
        if self._closed:
            raise RuntimeError(f"this Trainer was closed (its sampler with it): make a new one, with resume=True to continue {self.run_dir}")
        end = self.cfg.trainer.iterations if stop_after is None else min(self.cfg.trainer.iterations, self.iteration + stop_after)
        finished = False
        try:
            with stop_on_signals():
                if self.cfg.rollout.max_staleness > 0 and self.iteration < end:
                    self._start_pipeline(end)
                while self.iteration < end:
                    metrics = self.train_one_iteration()
                    if until is not None and until(metrics):
                        break
            self.dist.barrier()  # under FSDP no rank leaves while rank 0 still writes the last checkpoint
            finished = True
        finally:
            self._stop_pipeline(wait=finished)
            self.logger.close()
        return self.logger.history

    def train_one_iteration(self) -> dict[str, Any]:
        cfg, t = self.cfg.trainer, self.cfg
        i = self.iteration + 1
        t0 = time.perf_counter()
        signal_metrics: dict[str, float] = {}  # dynamic sampling's accounting, when it is on

        # -- 1-2. sample tasks, collect K rollouts each ------------------------------------------------
        if self.pipeline is None:
            task_ids = self.sampler.sample(cfg.tasks_per_iteration)  # every rank, so sampler positions agree
            if cfg.dynamic_sampling:  # rank 0 draws more while groups are flat; the other ranks take its sampler position
                got, generate_s = self._sampler_seconds(lambda: self._collect_with_signal(task_ids, i)) if self.dist.is_main else (None, 0.0)
                rollouts, signal_metrics, position = self.dist.broadcast(got)
                self.sampler.restore(position)
            else:
                got, generate_s = self._sampler_seconds(lambda: self._collect(task_ids, i)) if self.dist.is_main else (None, 0.0)
                rollouts = self.dist.broadcast(got)  # rank 0 collects
            collect_s = sample_s = time.perf_counter() - t0
            if not self.method.data.fixed:
                for r in rollouts:
                    r.policy_version = i - 1  # the behaviour policy: the current one
        else:  # sampled ahead by the sampler thread, at most max_staleness versions ago; collect_s is the wait
            sampled, collect_s = self.pipeline.take(i)
            rollouts, sample_s, generate_s = sampled.rollouts, sampled.sample_s, sampled.generate_s
            signal_metrics = self._signal_metrics.pop(i, {})
        if self.dist.is_main:
            write_jsonl(self.run_dir / "rollouts" / f"iter_{i:06d}.jsonl", rollouts)  # infra-failed ones too, with their finish reason
        require_survivors(rollouts, f"iteration {i}")
        rollouts, infra_failed = split_infra(rollouts)  # each group's baseline is over its surviving members

        # -- 3-4. advantages, then the method's buffer filter ---------------------------------------
        t1 = time.perf_counter()
        rewards = torch.tensor([r.reward for r in rollouts], dtype=torch.float32)
        advantages = self.method.advantages(rewards, [r.group_id for r in rollouts])
        keep = self.method.keep(rollouts, advantages, cfg)
        kept = [j for j, (r, k) in enumerate(zip(rollouts, keep)) if k and any(r.trainable)]
        buffer, kept_adv = [rollouts[j] for j in kept], advantages[kept]
        advantages_s = time.perf_counter() - t1

        # -- 5. update -------------------------------------------------------------------------------
        t1 = time.perf_counter()
        update_metrics: dict[str, float] = {"train/optimizer_steps": 0.0, "train/stopped_early": 0.0}  # an empty buffer
        if buffer:
            batch = make_batch(buffer, kept_adv, self.policy.pad_token_id, max_tokens=t.rollout.sampling.max_context_tokens)
            if self.pipeline is not None:  # mu, the behaviour policy: the logprobs its sampler returned
                batch.logp_behaviour = batch.logp_sampler
            update_metrics = run_update(self.policy, self.optimizer, self.method, batch, cfg, self.shuffle, self.critic, i, self.dist)
        update_s = time.perf_counter() - t1
        # -- 6. publish: the HF backend samples with this very model; a vLLM backend reloads the adapter
        t1 = time.perf_counter()
        self._publish(i)
        publish_s = time.perf_counter() - t1

        # -- 7. dev evaluation -----------------------------------------------------------------------
        metrics = {**self._rollout_metrics(rollouts, advantages, len(buffer)), **infra_metrics(infra_failed), **update_metrics, **signal_metrics}
        if self.pipeline is not None:
            metrics.update(staleness_metrics(rollouts, i - 1, t.rollout.max_staleness))
        t1 = time.perf_counter()
        if cfg.eval_every and i % cfg.eval_every == 0:
            metrics.update(self._evaluate(i))
        eval_s = time.perf_counter() - t1

        # -- 8. log and checkpoint -------------------------------------------------------------------
        metrics.update(
            {
                "time/collect_s": collect_s,
                "time/sample_s": sample_s,
                "time/generate_s": generate_s,  # of sample_s, the seconds a sampler call was in flight
                "time/env_s": max(sample_s - generate_s, 0.0),  # the rest: env setup, steps and scoring, with no sampler call running
                "time/advantages_s": advantages_s,
                "time/update_s": update_s,
                "time/publish_s": publish_s,
                "time/eval_s": eval_s,
                "time/checkpoint_s": self._checkpoint_s,  # the previous iteration's: a checkpoint holds these metrics
                "time/iteration_s": time.perf_counter() - t0,
            }
        )
        if not self.method.data.fixed:  # SFT-GT/RFT train on stored data: no sampling to time
            sampled_tokens = sum(sum(r.trainable) for r in rollouts)
            metrics["rollout/tokens_per_s"] = sampled_tokens / max(sample_s, 1e-9)
        self.iteration = i
        self.logger.log(i, metrics)
        t1 = time.perf_counter()
        self._checkpoint()
        self._checkpoint_s = time.perf_counter() - t1
        return metrics

    def _start_pipeline(self, end: int) -> None:
        """The sampler thread (pipeline.py), with the cores split between it and this (the trainer's) thread;
        it samples nothing past iteration `end` (a train(stop_after=n) segment's last: what it sampled
        beyond would be dropped at the stop and sampled again by the next segment)."""
        r = self.cfg.rollout
        trainer_threads, sampler_threads = split_threads(torch.get_num_threads(), shares_cores=sampler_shares_cores(r, torch.cuda.is_available()))
        sampler_threads = sampler_threads if r.backend == "transformers" else 0  # the server's threads are its own
        self._threads_before = torch.get_num_threads()
        torch.set_num_threads(trainer_threads)
        t = self.cfg.trainer
        # with dynamic sampling an iteration's tasks and the extra batches it may need are drawn at once (_collect_from_reserve)
        collect = self._collect_from_reserve if t.dynamic_sampling else self._collect
        per_draw = t.tasks_per_iteration * (1 + t.dynamic_sampling_max_batches if t.dynamic_sampling else 1)
        self.pipeline = RolloutPipeline(
            self.sampler_backend,
            lambda task_ids, i: self._sampler_seconds(lambda: collect(task_ids, i)),
            lambda: self.sampler.sample(per_draw),
            max_staleness=self.cfg.rollout.max_staleness,
            version=self.iteration,
            last_iteration=end,
            sampler_threads=sampler_threads,
            pending=self._in_flight,
        )

    def _stop_pipeline(self, wait: bool) -> None:
        if self.pipeline is None:
            return
        self.pipeline.close(wait=wait)
        self._in_flight = self.pipeline.pending()  # a later train() samples them again
        self.pipeline = None
        torch.set_num_threads(self._threads_before)

    # ------------------------------------------------------------------ phases
    def _sampler_seconds(self, collect: Callable[[], Any]) -> tuple[Any, float]:
        """`collect()`, and the wall seconds a sampler call was in flight in the collections it ran on
        this thread (CollectionStats.generate_wall_s; the sampler thread's are its own)."""
        self._sampler_clock.seconds = 0.0
        out = collect()
        return out, self._sampler_clock.seconds

    def _collect_with(self, task_ids: Sequence[str], spec: RolloutSpec, group_prefix: str, early_stop: bool) -> list[Trajectory]:
        collection = self.collect_fn(
            self.sampler_backend,
            self.env_factory,
            list(task_ids),
            spec,
            k=self.cfg.trainer.rollouts_per_task,
            early_stop=early_stop,
            group_prefix=group_prefix,
            progress=False,
        )
        self._sampler_clock.seconds += collection.stats.generate_wall_s
        return collection.trajectories

    @property
    def _fixed_data_path(self) -> Path:
        return self.run_dir / "fixed_data.jsonl"

    def _collect(self, task_ids: Sequence[str], i: int) -> list[Trajectory]:
        """The iteration's rollouts from the method's data source (methods/facts.py): the policy's own
        samples, gathered every iteration; or fixed data (RFT's base-model sweep, SFT-GT's chats),
        gathered once over every training task, stored with the run and served task by task."""
        data = self.method.data
        if not data.fixed:
            return data.collect(self, task_ids, i)
        if self.fixed_data is None and self._fixed_data_path.is_file():
            self.fixed_data = list(read_jsonl(self._fixed_data_path))
        if self.fixed_data is None:
            self.fixed_data = data.collect(self, self.train_ids, i)
            write_jsonl(self._fixed_data_path, self.fixed_data)  # kept so a resumed run trains on the very same data
        wanted = set(task_ids)
        return [r for r in self.fixed_data if r.task_id in wanted]

    def _collect_with_signal(self, task_ids: Sequence[str], i: int) -> tuple[list[Trajectory], dict[str, float], dict[str, Any]]:
        """Dynamic sampling (dynamic_sampling.py): more batches from the checkpointed sampler until enough
        groups have signal. The groups set aside are kept on disk apart from what the iteration trains on."""
        n = self.cfg.trainer.tasks_per_iteration
        got = collect_with_signal(
            task_ids,
            lambda: self.sampler.sample(n),
            lambda ids: self._collect(ids, i),
            n_groups=n,
            max_extra_batches=self.cfg.trainer.dynamic_sampling_max_batches,
        )
        write_jsonl(self.run_dir / "rollouts" / f"filtered_{i:06d}.jsonl", got.filtered)
        return got.rollouts, got.metrics, self.sampler.state()

    def _collect_from_reserve(self, reserve: Sequence[str], i: int) -> list[Trajectory]:
        """Dynamic sampling in the overlapped pipeline, on the sampler thread. The task sampler is drawn
        from the trainer's thread only (so that draws keep one order and a checkpoint's position counts
        them), and that thread cannot wait for this iteration's rewards; so it draws the first batch and
        every extra batch the bound allows at once (`reserve`), and this uses them in order, a batch at a
        time, while groups are flat. Batches left unused are never sampled: a run that oversamples in the
        pipeline moves through the training tasks faster than the synchronous one (with fresh instances,
        it skips instances no one trains on)."""
        t = self.cfg.trainer
        n = t.tasks_per_iteration
        extra = iter([list(reserve[j : j + n]) for j in range(n, len(reserve), n)])
        got = collect_with_signal(
            reserve[:n], lambda: next(extra), lambda ids: self._collect(ids, i), n_groups=n, max_extra_batches=t.dynamic_sampling_max_batches
        )
        write_jsonl(self.run_dir / "rollouts" / f"filtered_{i:06d}.jsonl", got.filtered)
        self._signal_metrics[i] = {**got.metrics, "dynamic/tasks_drawn": float(len(reserve))}
        return got.rollouts

    # what a data source gathers with (methods/facts.py Collector)
    def sample(
        self, task_ids: Sequence[str], *, group_prefix: str, early_stop: bool, temperature: float | None = None, base_model: bool = False
    ) -> list[Trajectory]:
        spec = self.rollout_spec if temperature is None else replace(self.rollout_spec, sampling=replace(self.rollout_spec.sampling, temperature=temperature))
        if base_model:
            with self.sampler_backend.sampling_base_model():
                return self._collect_with(task_ids, spec, group_prefix, early_stop)
        return self._collect_with(task_ids, spec, group_prefix, early_stop)

    def ground_truth(self, task_ids: Sequence[str]) -> list[Trajectory]:
        from looprl.training.sft_data import ground_truth_trajectories

        c = self.cfg
        return ground_truth_trajectories(
            list(task_ids),
            self.env_factory,
            self.scaffold,
            self.policy.tokenizer,
            read_docs=c.trainer.sft_read_docs,
            max_observation_tokens=c.env.max_observation_tokens,
        )

    def _publish(self, i: int) -> None:
        if self.sampler_backend is self.policy:  # transformers: rollouts already sample from the updated model
            return
        if self.pipeline is not None:  # overlapped: the sampler thread loads version i between two collections
            path = self.run_dir / "published" / f"v{i:06d}"
            self.policy.save_adapter(str(path))
            self.pipeline.publish(i, path)
            return
        path = self.run_dir / "adapter_latest"  # vLLM (or rank 0's copy under FSDP): hot-swap the freshly saved adapter
        self.policy.save_adapter(str(path))  # under FSDP every rank gathers, rank 0 writes
        if self.dist.is_main:
            self.sampler_backend.load_adapter(str(path))

    def _rollout_metrics(self, rollouts: list[Trajectory], advantages: torch.Tensor, kept: int) -> dict[str, float]:
        n = max(len(rollouts), 1)
        return {
            "rollout/reward_mean": sum(r.reward for r in rollouts) / n,
            "rollout/success_rate": sum(bool(r.success) for r in rollouts) / n,
            "rollout/turns_mean": sum(r.num_turns for r in rollouts) / n,
            "rollout/count": float(len(rollouts)),
            "rollout/kept": float(kept),
            "rollout/advantage_abs_mean": float(advantages.abs().mean()) if len(advantages) else 0.0,
        }

    def _evaluate(self, i: int) -> dict[str, float]:
        """Dev evaluation with looprl.rollout.evaluate; writes eval/iter_XXXXXX/ and tracks best/."""
        from looprl.rollout import evaluate

        c = self.cfg
        summary = None
        # rank 0 alone samples; the others join only in saving best/. Overlapped, between two collections
        holding = self.pipeline.holding_sampler() if self.pipeline is not None else contextlib.nullcontext()
        if self.dist.is_main:
            dev_ids = resolve_task_ids(c, c.tasks.dev_split)[: c.tasks.max_dev_tasks]
            spec = replace(self.eval_spec, model_name=f"{c.model.name_or_path}@iter{i}")
            with holding:
                summary = evaluate(
                    self.sampler_backend,
                    self.env_factory,
                    dev_ids,
                    spec,
                    samples=c.trainer.eval_samples,
                    split=c.tasks.dev_split,
                    out_dir=self.run_dir / "eval" / f"iter_{i:06d}",
                    progress=False,
                ).summary
        summary = self.dist.broadcast(summary)
        tgc, reward = float(summary["tgc"] or 0.0), float(summary.get("reward_mean") or 0.0)
        if not self.best or (tgc, reward) > (self.best["tgc"], self.best["reward_mean"]):
            self.best = {"iteration": i, "tgc": tgc, "reward_mean": reward}
            self.policy.save_adapter(str(self.run_dir / "best"))
            if self.dist.is_main:
                atomic_write_json(self.run_dir / "best.json", self.best)
        sgc = summary.get("sgc")
        return {"eval/tgc": tgc, "eval/reward_mean": reward, "eval/best_tgc": self.best["tgc"], **({"eval/sgc": float(sgc)} if sgc is not None else {})}

    # ------------------------------------------------------------------ checkpoints
    def _generators(self) -> dict[str, torch.Generator]:
        gens = {"shuffle": self.shuffle}
        # the sampler's generator of unseeded sampling (the policy itself with transformers, rank 0's
        # unsharded copy under FSDP); a vLLM server's sampling state is its own (generator None)
        if self.sampler_backend is not None and self.sampler_backend.generator is not None:
            gens["policy"] = self.sampler_backend.generator
        return gens

    def _checkpoint(self) -> None:
        # under FSDP every rank takes part in gathering the adapter and optimizer state; rank 0 writes
        optimizer_state, save_adapter = self.dist.optimizer_state(self.optimizer), self.dist.adapter_writer(self.policy)
        if not self.dist.is_main:
            return
        state = TrainerState(
            iteration=self.iteration,
            optimizer=optimizer_state,
            rng=capture_rng(self._generators()),
            sampler=self.sampler.state(),
            history=self.logger.history,
            best=self.best,
            extra={"method": self.critic.state_dict() if self.critic else {}},
        )
        if self.cfg.rollout.max_staleness > 0:  # what the sampler thread drew ahead: a resumed run samples it again
            state.extra["in_flight"] = {str(j): ids for j, ids in (self.pipeline.pending() if self.pipeline else self._in_flight).items()}
        with deferred():  # a SIGINT/SIGTERM now interrupts once this checkpoint is complete
            self.last_checkpoint = save_checkpoint(self.run_dir, state, save_adapter, keep=self.cfg.trainer.checkpoints_kept)

    def _resume(self) -> None:
        for path, state in usable_checkpoints(self.run_dir):
            try:
                self._restore(path, state)
                break
            except Exception as exc:  # noqa: BLE001 - an adapter or optimizer state that does not fit: the previous checkpoint
                log.warning("checkpoint %s does not restore (%s: %s); falling back to the previous checkpoint", path, type(exc).__name__, exc)
        else:
            raise FileNotFoundError(f"no usable checkpoint under {self.run_dir / 'checkpoints'}; start without --resume")
        self._publish(self.iteration)  # a separate sampler (vLLM, rank 0's copy under FSDP) samples the restored adapter

    def _restore(self, path: Path, state: TrainerState) -> None:
        self.policy.load_adapter(str(path / "adapter"))
        if self.critic is not None:
            self.critic.load_state_dict(state.extra["method"])
        self.dist.load_optimizer_state(self.optimizer, state.optimizer)
        restore_rng(state.rng, self._generators())
        self.sampler.restore(state.sampler)
        self.iteration, self.best = state.iteration, state.best
        self._in_flight = {int(j): list(ids) for j, ids in state.extra.get("in_flight", {}).items()}
        self.logger.restore(state.history)
        self.last_checkpoint = path

    def _write_run_files(self) -> None:
        self._fixed_data_path.unlink(missing_ok=True)  # a fresh run never trains on an older run's data
        write_run_files(self.run_dir, self.cfg, kind="train", split=self.cfg.tasks.train_split, method=self.cfg.trainer.method, command="looprl train")


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
