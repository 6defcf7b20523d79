"""Sampling overlapped with training (`rollout.max_staleness` = s > 0): a background thread collects
the next iterations' rollouts while the trainer updates, never more than s policy versions behind.

Versions. Version v is the adapter after v updates; iteration i (1-based) updates version i-1 into
version i. The synchronous loop (s = 0, the trainer's own code path, untouched by this module)
samples iteration i with version i-1. Here iteration j may start sampling once version j-1-s is
published, with the newest version published by then:

    s = 1:  while iteration i updates (i-1 -> i), iteration i+1 is sampled with version i-1: the
            paper's one-step overlap. Iteration i+2 waits for version i.

A rollout's staleness at its update is (i-1) - policy_version, in [0, s]; every rollout records the
version that sampled it (`Trajectory.policy_version`), and each iteration logs the histogram. At
s = 1 the version is always max(j-2, the version the run started from): when iteration j starts
sampling the trainer cannot be past version j-2 (it still needs iteration j-1's rollouts), so a run
is as deterministic as its collection; at s >= 2 it depends on which side is faster.

The correction: the sampler's own logprobs with a truncated behaviour weight, in LOOP's decoupled
form (`looprl.algorithms.decoupled_ppo_clip_loss`):

    w_t = min(pi_prox_t / mu_t, C),   r_t = pi_new_t / pi_prox_t,   l_t = -w_t * min(r_t A_x, g(A_x))

mu is the behaviour policy (the logprobs the sampler returned with each token, at the trained
temperature), pi_prox the trained policy before the iteration's first step (the old-logprob pass the
synchronous loop runs anyway), C `trainer.behaviour_weight_cap`. Chosen over recomputing the old
logprobs under the behaviour adapter because (1) it needs no adapter versions kept and swapped into
the trained model and no extra forward pass per stale version, (2) the same weight corrects a sampler
whose numerics differ from the trainer's (vLLM's kernels; a quantized engine later), and (3) the clip
stays centred on the policy being updated, so at the first step of a stale batch the ratio is 1 and
the clip does not cut the gradient of every token the old policy sampled. The price: mu must be the
sampler's probability of the token at the trained temperature, which the config guarantees (top-p 1,
top-k 0, rollout.sampling.temperature = the trained T).

Threads. On a CPU the two sides share the cores: the sampler thread and the trainer thread each get
half of torch's intra-op threads (`torch.set_num_threads` is per thread), so the overlap does not
oversubscribe. With vLLM the sampler is the server's process (bound to the upper half of the cores,
`sampler_cores`, when looprl starts it on a CPU machine) and the thread only drives HTTP calls.

The transformers backend samples with the trained model itself; overlapped it cannot (the update
would change weights under a generation in flight), so the trainer samples from a separate copy
(`separate_sampler`: a deep copy of the backend made at start, one more model in memory: about 0.5 GB
for SmolLM2-135M in fp32) that loads each published adapter between collections.

Publishing. The trainer writes version v's adapter to `run_dir/published/v<v>` and calls `publish`;
the sampler thread loads the newest version before its next collection, never during one, so one
collection is one behaviour policy. Evaluation borrows the sampler between collections
(`holding_sampler`), with the newest adapter loaded.

Resume. A checkpoint after iteration i records the iterations submitted but not yet trained on
(their task ids: the task sampler's position already counts them). A resumed run samples those again
with the restored adapter (staleness 0 for them): rollouts in flight at a kill are lost, never half
used. Exact resume (same weights as an uninterrupted run) holds for s = 0 only.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence
from urllib.parse import urlsplit

import torch

from looprl.backends.base import PolicyBackend, TrainableBackend
from looprl.trajectory import Trajectory

if TYPE_CHECKING:
    from looprl.config import RolloutConfig


@dataclass
class SampledBatch:
    """One iteration's rollouts from the sampler thread: who sampled them and how long it took."""

    rollouts: list[Trajectory]
    version: int  # the policy version that sampled every rollout of the batch
    sample_s: float  # wall seconds of the collection
    generate_s: float = 0.0  # of sample_s, the seconds a sampler call was in flight (CollectionStats.generate_wall_s)


def separate_sampler(policy: TrainableBackend, sampler: PolicyBackend) -> PolicyBackend:
    """The backend the sampler thread may use while the trainer updates: `sampler` itself when it is
    not the trained model (a vLLM server), else a deep copy of the transformers backend (same adapter
    and sampling generator state, from here on its own)."""
    if sampler is not policy:
        return sampler
    return copy.deepcopy(policy)


def sampler_shares_cores(rollout: RolloutConfig, cuda: bool) -> bool:
    """Whether the sampler computes on this process's CPU cores: the transformers copy, llama.cpp's and
    OpenVINO's (here or in a child process), and, without a GPU, a vLLM server started here or at a URL
    on this machine (a demo's or benchmark's shared server); not a server elsewhere."""
    from looprl.config.models import IN_PROCESS_SAMPLERS

    if rollout.backend == "transformers" or rollout.backend in IN_PROCESS_SAMPLERS:
        return True
    local = rollout.vllm_url is None or urlsplit(rollout.vllm_url).hostname in ("127.0.0.1", "localhost", "::1")
    return local and not cuda


def split_threads(total: int, shares_cores: bool) -> tuple[int, int]:
    """(trainer threads, sampler threads) out of `total` intra-op threads. When the sampler computes on
    this machine's cores (`shares_cores`: the transformers copy in this process, or a vLLM CPU server
    started here and bound to `sampler_cores()`), the sampler gets total // 2 (at least one) and the
    trainer the rest (at least one); otherwise (a server elsewhere, or on a GPU) the trainer keeps all."""
    if not shares_cores:
        return max(total, 1), 0
    sampler = max(total // 2, 1)
    return max(total - sampler, 1), sampler


def sampler_cores(cores: Sequence[int] | None = None) -> list[int]:
    """The cores a vLLM CPU server started for an overlapped run is bound to (VLLM_CPU_OMP_THREADS_BIND):
    the upper half of this process's CPU affinity (`cores`), at least one; the trainer's threads take the
    rest, as `split_threads` counts them."""
    cores = sorted(os.sched_getaffinity(0) if cores is None else cores)
    return cores[len(cores) - max(len(cores) // 2, 1) :]


def staleness_metrics(rollouts: Sequence[Trajectory], version: int, max_staleness: int) -> dict[str, float]:
    """`offpolicy/staleness_mean` and `offpolicy/staleness_<k>`, the share of the rollouts sampled k
    versions before `version` (the policy they update), for k = 0..max_staleness."""
    lags = [version - r.policy_version for r in rollouts]
    n = max(len(lags), 1)
    out = {"offpolicy/staleness_mean": sum(lags) / n}
    out.update({f"offpolicy/staleness_{k}": sum(lag == k for lag in lags) / n for k in range(max_staleness + 1)})
    return out


class RolloutPipeline:
    """The sampler thread and its hand-offs with the trainer (see the module docstring).

    `collect(task_ids, iteration)` gathers one iteration's rollouts with `backend` and returns them with
    the seconds a sampler call was in flight (SampledBatch.generate_s); `draw_tasks()` gives
    the next iteration's task ids (called from the trainer's thread only, so the task sampler draws in
    the synchronous loop's order); `version` is the version `backend` holds now; `last_iteration` the
    run's last (nothing is sampled past it); `pending` the
    {iteration: task ids} a checkpoint recorded as submitted and not yet trained on."""

    def __init__(
        self,
        backend: PolicyBackend,
        collect: Callable[[list[str], int], tuple[list[Trajectory], float]],
        draw_tasks: Callable[[], list[str]],
        *,
        max_staleness: int,
        version: int,
        last_iteration: int,
        sampler_threads: int = 0,
        pending: dict[int, list[str]] | None = None,
    ) -> None:
        if max_staleness < 1:
            raise ValueError(f"the rollout pipeline overlaps sampling with training: max_staleness must be >= 1, got {max_staleness}")
        self.backend, self.collect, self.draw_tasks = backend, collect, draw_tasks
        self.max_staleness = max_staleness
        self.last_iteration = last_iteration  # never sampled past: the run ends there
        self.sampler_threads = sampler_threads
        self._cond = threading.Condition()
        self._sampler_lock = threading.Lock()  # held through each collection, and by holding_sampler()
        self._published: tuple[int, Path | None] = (version, None)  # the newest version, and where its adapter is
        self._loaded = version  # the version `backend` holds
        self._submitted: dict[int, list[str]] = {}  # iteration -> task ids, until the trainer takes it
        self._queue: deque[int] = deque()  # iterations submitted and not started
        self._done: dict[int, SampledBatch] = {}
        self._error: BaseException | None = None
        self._stop = False
        self._next = version + 1  # the next iteration to submit
        for j in sorted(pending or {}):
            self._submit(j, list(pending[j]))
        self._thread = threading.Thread(target=self._run, name="looprl-sampler", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the trainer's side
    def take(self, iteration: int) -> tuple[SampledBatch, float]:
        """Iteration `iteration`'s rollouts (submitting iterations up to iteration + max_staleness first),
        and the seconds the trainer waited for them. Raises the sampler thread's error, if it had one."""
        t0 = time.perf_counter()
        with self._cond:
            while self._next <= min(iteration + self.max_staleness, self.last_iteration):
                self._submit(self._next, self.draw_tasks())
            self._cond.notify_all()
            while iteration not in self._done and self._error is None:
                self._cond.wait()
            if self._error is not None:  # the very error (a RolloutError, SamplerUnavailable...), so callers handle it as in the synchronous loop
                self._error.add_note(f"raised in the sampler thread, collecting ahead of iteration {iteration}")
                raise self._error
            self._submitted.pop(iteration)
            return self._done.pop(iteration), time.perf_counter() - t0

    def publish(self, version: int, adapter_path: Path) -> None:
        """Version `version`'s adapter is at `adapter_path`: the sampler loads it before its next collection."""
        with self._cond:
            self._published = (version, adapter_path)
            self._cond.notify_all()

    def pending(self) -> dict[int, list[str]]:
        """The iterations submitted and not yet taken, with their task ids (for a checkpoint)."""
        with self._cond:
            return {j: list(ids) for j, ids in self._submitted.items()}

    @contextlib.contextmanager
    def holding_sampler(self) -> Iterator[PolicyBackend]:
        """The sampling backend between two collections, with the newest published adapter (evaluation)."""
        with self._sampler_lock:
            self._load_newest()
            yield self.backend

    def close(self, wait: bool = True) -> None:
        """Stop after the collection in flight (waiting for it when `wait`)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if wait:
            self._thread.join()

    # ------------------------------------------------------------------ the sampler thread
    def _submit(self, iteration: int, task_ids: list[str]) -> None:
        self._submitted[iteration] = task_ids
        self._queue.append(iteration)
        self._next = max(self._next, iteration + 1)

    def _ready(self) -> bool:
        # iteration j may start once version j-1-s is published: its rollouts are then at most s versions
        # behind the policy iteration j updates (version j-1)
        return bool(self._queue) and self._published[0] >= self._queue[0] - 1 - self.max_staleness

    def _load_newest(self) -> int:
        with self._cond:
            version, path = self._published
        if version > self._loaded and path is not None:
            self.backend.load_adapter(str(path))
            self._loaded = version
            for old in path.parent.glob("v*"):  # the versions before it are no longer needed (v10 comes after v9)
                if old != path and old.name[1:].isdigit() and int(old.name[1:]) < version:
                    shutil.rmtree(old, ignore_errors=True)
        return self._loaded

    def _run(self) -> None:
        if self.sampler_threads:
            torch.set_num_threads(self.sampler_threads)  # this thread's intra-op threads only
        while True:
            with self._cond:
                while not self._stop and not self._ready():
                    self._cond.wait()
                if self._stop:
                    return
                iteration = self._queue.popleft()
                task_ids = self._submitted[iteration]
            try:
                with self._sampler_lock:
                    version = self._load_newest()
                    t0 = time.perf_counter()
                    rollouts, generate_s = self.collect(task_ids, iteration)
                    sample_s = time.perf_counter() - t0
                for r in rollouts:
                    r.policy_version = version
                batch = SampledBatch(rollouts, version, sample_s, generate_s)
            except BaseException as exc:  # noqa: BLE001 - handed to the trainer's thread, raised there by take()
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._done[iteration] = batch
                self._cond.notify_all()
