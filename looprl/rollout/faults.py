"""Infra failures are not policy failures: how a rollout cut by the infrastructure is told apart and
kept out of the statistics.

A rollout the infrastructure ended (a `FinishReason` with `is_infra`: the sampler still failing after
retries, an env worker killed from outside, an env call past its timeout, a host-side exception in the
env) says nothing about the policy. Scoring it 0 would drag its group's leave-one-out baseline down and
teach the policy that its siblings did well, which is false. So:

* **Transient sampler errors are retried, in place.** A failed generate()/chat() call is sent again,
  the same prompts with the same sampling parameters, up to `RolloutSpec.sampler_retries` times with a
  short backoff (`SAMPLER_BACKOFF_S`). A server that comes back within that window leaves no trace:
  with a seeded sampler the episode is the one it would have been. Errors that are bugs in the caller
  (`PROGRAMMING_ERRORS`: a TypeError, a KeyError, ...) are never retried or excused: they stop the
  collection as a `RolloutError`, as before.
* **What still fails is excluded, not re-sampled.** The episode ends with its infra reason and the
  error's text in `stats["infra_error"]`. The trainer drops it before advantages (`split_infra`): each
  group's leave-one-out baseline is taken over its surviving members, so a group with fewer than 2
  survivors has A = 0 everywhere and carries no signal (the estimators stay pure functions of the
  survivors' rewards). Re-sampling in training was rejected: the retried rollout would come later,
  from the same policy but another RNG position, and would make a faulty run differ from a clean one in
  more places than the lost rollout; exclusion costs one rollout of signal and changes nothing else.
  Evaluation is different: a leaderboard number needs every task attempted, so `evaluate()` re-runs the
  infra-failed (task, sample) pairs up to a bounded number of times and reports what still failed
  apart from TGC.
* **A collection in which everything failed is not survived** (`require_survivors`): it stops with
  one `RolloutError` that quotes the first failure, rather than an iteration that silently trains on
  nothing because the sampler is down.

Counts per reason are logged each iteration (`infra_metrics`: `rollout/infra_failed`,
`rollout/infra/<reason>`; docs/metrics.md).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable, Sequence, TypeVar

from looprl.trajectory import INFRA_REASONS, FinishReason, Trajectory

__all__ = [
    "PROGRAMMING_ERRORS",
    "SAMPLER_BACKOFF_S",
    "call_with_retries",
    "env_failure_reason",
    "infra_metrics",
    "is_programming_error",
    "require_survivors",
    "split_infra",
]

log = logging.getLogger("looprl.rollout")

T = TypeVar("T")

# Seconds to wait before retry 1, 2, ... of a failed sampler call (the last value repeats).
SAMPLER_BACKOFF_S: tuple[float, ...] = (0.5, 2.0, 5.0)
# Exceptions that mean a bug in the caller or the backend's code, not an unavailable sampler or env:
# never retried, never counted as infrastructure (they would hide the bug behind "infra_failed").
PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    TypeError, AttributeError, NameError, AssertionError, NotImplementedError, ImportError, KeyError, IndexError,
)  # fmt: skip
# A Ray env actor that died (its process or node went away): the env's worker, lost from outside.
_WORKER_DIED_ERRORS = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError")


def is_programming_error(exc: BaseException) -> bool:
    return isinstance(exc, PROGRAMMING_ERRORS)


def call_with_retries(fn: Callable[[], T], retries: int, *, sleep: Callable[[float], None] = time.sleep, what: str = "sampler call") -> T:
    """`fn()`, tried again up to `retries` times after an exception that is not a programming error,
    waiting SAMPLER_BACKOFF_S between tries; the last exception is raised when every try failed."""
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as exc:
            if is_programming_error(exc) or attempt >= retries:
                raise
            delay = SAMPLER_BACKOFF_S[min(attempt, len(SAMPLER_BACKOFF_S) - 1)]
            log.warning("%s failed (%s: %s); retry %d of %d in %.1f s", what, type(exc).__name__, exc, attempt + 1, retries, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def env_failure_reason(exc: BaseException) -> FinishReason:
    """The infra reason of an exception raised by an env call: a dead Ray actor is a worker that died,
    a TimeoutError an env timeout, anything else a host-side env error."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & set(_WORKER_DIED_ERRORS):
        return FinishReason.ENV_WORKER_DIED
    if isinstance(exc, TimeoutError):
        return FinishReason.ENV_TIMEOUT
    return FinishReason.ENV_ERROR


def split_infra(trajectories: Sequence[Trajectory]) -> tuple[list[Trajectory], list[Trajectory]]:
    """(survivors, infra-failed), each in the given order. The survivors are what advantages, losses and
    TGC are computed over."""
    survivors = [t for t in trajectories if not t.infra_failed]
    failed = [t for t in trajectories if t.infra_failed]
    return survivors, failed


def infra_counts(trajectories: Sequence[Trajectory]) -> dict[str, int]:
    """Infra-failed rollouts per reason, every reason present (0 when none)."""
    counts = Counter(t.finish_reason for t in trajectories if t.infra_failed)
    return {reason.value: counts.get(reason.value, 0) for reason in sorted(INFRA_REASONS, key=lambda r: r.value)}


def infra_metrics(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """`rollout/infra_failed` and `rollout/infra/<reason>` for one iteration's rollouts."""
    counts = infra_counts(trajectories)
    return {"rollout/infra_failed": float(sum(counts.values())), **{f"rollout/infra/{reason}": float(n) for reason, n in counts.items()}}


def require_survivors(trajectories: Sequence[Trajectory], what: str) -> None:
    """Raise RolloutError when every one of a non-empty set of rollouts failed for infra reasons: the
    sampler or the env is down, and going on would train (or score) on nothing."""
    if trajectories and all(t.infra_failed for t in trajectories):
        from looprl.rollout.collector import RolloutError

        first = trajectories[0]
        raise RolloutError(
            f"{what}: all {len(trajectories)} rollouts failed for infrastructure reasons ({_describe(infra_counts(trajectories))}); "
            f"first: task {first.task_id!r} (sample {first.sample_index}): {first.stats.get('infra_error', first.finish_reason)}. "
            "Fix the sampler or env named above; a training run resumes from its last checkpoint with --resume."
        )


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.items() if n)


def rerun_infra_failures(trajectories: Sequence[Trajectory], rerun: Callable[[list[Trajectory]], list[Trajectory]], tries: int) -> list[Trajectory]:
    """Evaluation's retry: up to `tries` rounds, `rerun(failed)` runs each infra-failed (task, sample)
    once more (one new trajectory per failed one, in order) and the new one takes its place, its sample
    index kept. What still fails after the last round stays, infra-failed, for the caller to report."""
    out = list(trajectories)
    for _ in range(tries):
        failed = [j for j, t in enumerate(out) if t.infra_failed]
        if not failed:
            break
        log.warning("re-running %d infra-failed rollouts", len(failed))
        again = rerun([out[j] for j in failed])
        if len(again) != len(failed):
            raise ValueError(f"rerun returned {len(again)} trajectories for {len(failed)} failed ones")
        for j, t in zip(failed, again):
            t.sample_index = out[j].sample_index
            out[j] = t
    return out
