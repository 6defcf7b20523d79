"""Confidence intervals and paired comparisons for evaluation results.

An evaluation set is a sample of tasks; a TGC measured on 24 of them moves 4 points with one task.
Every figure that is compared gets a 95% interval, computed here once:

* `bootstrap_ci(values)`: the percentile bootstrap over tasks (Efron & Tibshirani 1993, ch. 13).
  ``values`` holds one number per task (1/0 solved, a task's share of successful rollouts, its
  reward); each of ``resamples`` resamples draws n tasks with replacement, and the interval is the
  (2.5, 97.5) percentiles of the resampled means. Seeded: the same inputs give the same interval.
* `hierarchical_ci(per_seed)`: the two-stage (hierarchical) bootstrap over seeds, then tasks
  (Davison & Hinkley 1997, sec. 3.8): each resample draws m seeds with replacement and, for every
  seed drawn, its n tasks with replacement; the statistic is the mean over the drawn seeds of their
  task means. Both sources of variation, the training seed and the tasks, widen the interval. With
  one seed it is `bootstrap_ci` over that seed's tasks.
* `paired_difference(a, b)`: B - A on the tasks both runs evaluated: the per-task differences
  bootstrapped as above (two-stage when both sides have several seeds, seed i of A paired with seed
  i of B), with how many tasks each side did better on. Two runs on the same tasks share the tasks'
  difficulty, so the paired interval is much narrower than two separate intervals; "A beats B" is
  claimed only when it excludes 0 (`separated`).
* `wilson_interval(p, n)`: the Wilson score interval, the closed form for one proportion (what ROI
  uses for a TGC it knows only as a number and a count).

A percentile bootstrap is degenerate when every task has the same value (all solved or none): the
interval is one point. The Wilson interval is the one to quote for a lone proportion then. Pure
functions, numpy only, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Interval", "PairedDifference", "bootstrap_ci", "hierarchical_ci", "paired_difference", "wilson_interval", "Z95", "RESAMPLES"]

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
RESAMPLES = 10_000
_CHUNK = 1_000_000  # resampled values drawn at a time (memory, not results: the stream of draws is the same)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its interval, in the units of the values."""

    estimate: float
    low: float
    high: float

    def scaled(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)

    def to_list(self) -> list[float]:
        """``[low, high]``, the shape summaries store (``tgc_ci95``)."""
        return [self.low, self.high]

    def excludes(self, value: float = 0.0) -> bool:
        return value < self.low or value > self.high


@dataclass(frozen=True)
class PairedDifference:
    """B - A over the tasks both evaluated: the mean difference, its interval, and the tasks each side won."""

    interval: Interval
    n_shared: int
    a_better: int  # shared tasks where A's value is higher
    b_better: int

    @property
    def separated(self) -> bool:
        """Whether the interval excludes 0: only then does one run beat the other."""
        return self.interval.excludes(0.0)

    def scaled(self, factor: float) -> PairedDifference:
        """The same difference in other units (e.g. 100: shares of tasks to TGC points)."""
        return PairedDifference(self.interval.scaled(factor), self.n_shared, self.a_better, self.b_better)

    def to_dict(self) -> dict[str, float | int | bool | list[float]]:
        iv = self.interval
        return {
            "diff": iv.estimate,
            "ci95": iv.to_list(),
            "n_shared": self.n_shared,
            "a_better": self.a_better,
            "b_better": self.b_better,
            "separated": self.separated,
        }


def _check_confidence(confidence: float) -> tuple[float, float]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = 100.0 * (1.0 - confidence) / 2.0
    return tail, 100.0 - tail


def _resampled_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(resamples,)``: the mean of n values drawn with replacement from ``values`` (n,), per resample."""
    n = len(values)
    rows = max(1, _CHUNK // n)
    out = np.empty(resamples)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def _as_values(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{what} needs at least one value; got none")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} needs finite values; got {arr[~np.isfinite(arr)][:3].tolist()}")
    return arr


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The mean of ``values`` (one per task) and its percentile-bootstrap interval over tasks."""
    arr = _as_values(values, "bootstrap_ci")
    lo_q, hi_q = _check_confidence(confidence)
    means = _resampled_means(arr, resamples, np.random.default_rng(seed))
    low, high = np.percentile(means, [lo_q, hi_q])
    return Interval(float(arr.mean()), float(low), float(high))


def hierarchical_ci(per_seed: Sequence[Sequence[float]], *, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The mean over seeds of each seed's task mean, with its two-stage bootstrap interval (seeds,
    then each drawn seed's tasks, with replacement). ``per_seed[s]`` holds seed s's per-task values;
    seeds may have evaluated different numbers of tasks."""
    groups = [_as_values(v, "hierarchical_ci") for v in per_seed]
    if not groups:
        raise ValueError("hierarchical_ci needs at least one seed; got none")
    if len(groups) == 1:
        return bootstrap_ci(groups[0], confidence=confidence, resamples=resamples, seed=seed)
    lo_q, hi_q = _check_confidence(confidence)
    rng = np.random.default_rng(seed)
    m = len(groups)
    drawn = rng.integers(0, m, size=(resamples, m))  # stage 1: seeds, (B, m)
    total = np.zeros(resamples)
    for slot in range(m):  # stage 2: every drawn seed gets its own resample of its tasks
        task_means = np.stack([_resampled_means(g, resamples, rng) for g in groups])  # (m, B)
        total += task_means[drawn[:, slot], np.arange(resamples)]
    low, high = np.percentile(total / m, [lo_q, hi_q])
    return Interval(float(np.mean([g.mean() for g in groups])), float(low), float(high))


TaskValues = Mapping[str, float]


def paired_difference(
    a: TaskValues | Sequence[TaskValues], b: TaskValues | Sequence[TaskValues], *, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0
) -> PairedDifference:
    """B - A on the tasks both evaluated. ``a`` and ``b`` map task id -> value (one run each), or
    are lists of such maps, one per seed, paired by position (then the two-stage bootstrap over
    seeds and tasks; the tasks counted as won are those of the seed-averaged values). Raises when
    the runs share no task."""
    a_seeds = [a] if isinstance(a, Mapping) else list(a)
    b_seeds = [b] if isinstance(b, Mapping) else list(b)
    if len(a_seeds) != len(b_seeds) or not a_seeds:
        raise ValueError(f"paired_difference pairs seed i of A with seed i of B: A has {len(a_seeds)} seeds, B {len(b_seeds)}")
    shared = sorted(set.intersection(*(set(s) for s in a_seeds + b_seeds)))
    if not shared:
        raise ValueError("paired_difference needs tasks both runs evaluated; these share none")
    diffs = [[float(bs[t]) - float(as_[t]) for t in shared] for as_, bs in zip(a_seeds, b_seeds)]
    interval = hierarchical_ci(diffs, confidence=confidence, resamples=resamples, seed=seed)
    mean_diff = np.mean(np.asarray(diffs), axis=0)  # (tasks,): each task's difference averaged over seeds
    return PairedDifference(interval, len(shared), int(np.sum(mean_diff < 0)), int(np.sum(mean_diff > 0)))


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion p measured on n trials:
    (p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n); stays inside [0, 1], sensible at p = 0 or 1."""
    if n < 1:
        raise ValueError(f"wilson_interval needs n >= 1; got {n}")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
