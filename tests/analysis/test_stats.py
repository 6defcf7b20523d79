"""The interval functions against known cases: the exact bootstrap distribution of a small sample
(every resample enumerated), the normal approximation for a large one, Wilson's closed form."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from looprl.analysis.stats import Z95, bootstrap_ci, hierarchical_ci, paired_difference, wilson_interval


def _exact_percentiles(values: list[float], low_q: float = 0.025, high_q: float = 0.975) -> tuple[float, float]:
    """The quantiles of the mean over every one of the n^n equally likely resamples, asserting that
    neither lies on a jump of the CDF (where a Monte Carlo percentile could land either side)."""
    means = np.sort([np.mean(c) for c in itertools.product(values, repeat=len(values))])
    cdf = np.arange(1, len(means) + 1) / len(means)
    out = []
    for q in (low_q, high_q):
        i = int(np.searchsorted(cdf, q))
        atom = means[i]
        below, above = np.mean(means < atom), np.mean(means <= atom)
        assert below + 0.003 < q < above - 0.003, "choose values whose quantile is inside an atom"
        out.append(float(atom))
    return out[0], out[1]


def test_bootstrap_matches_the_exact_distribution_of_a_small_sample():
    values = [0.0, 1.0, 2.0, 10.0]
    low, high = _exact_percentiles(values)
    iv = bootstrap_ci(values, resamples=100_000, seed=3)
    assert iv.estimate == pytest.approx(np.mean(values))
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=1e-9)


def test_bootstrap_matches_the_normal_approximation_for_many_tasks():
    rng = np.random.default_rng(0)
    solved = (rng.random(2000) < 0.3).astype(float)
    p, n = solved.mean(), len(solved)
    half = Z95 * math.sqrt(p * (1 - p) / n)
    iv = bootstrap_ci(solved)
    assert iv.low == pytest.approx(p - half, abs=0.002) and iv.high == pytest.approx(p + half, abs=0.002)
    wl, wh = wilson_interval(p, n)  # and Wilson's closed form agrees at this n
    assert (iv.low, iv.high) == pytest.approx((wl, wh), abs=0.003)


def test_bootstrap_is_seeded_and_checks_its_input():
    values = [0.13, 0.9, 0.4, 0.77, 0.05, 0.61, 0.32]
    assert bootstrap_ci(values, seed=5, resamples=500) == bootstrap_ci(values, seed=5, resamples=500)
    assert bootstrap_ci(values, seed=5, resamples=500) != bootstrap_ci(values, seed=6, resamples=500)
    assert bootstrap_ci([1, 1, 1]).to_list() == [1.0, 1.0]  # degenerate: every task solved
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0], confidence=95)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([1.0, float("nan")])


def test_hierarchical_with_one_seed_is_the_bootstrap_over_tasks():
    values = [0.0, 1.0, 1.0, 0.0, 1.0]
    assert hierarchical_ci([values], seed=2) == bootstrap_ci(values, seed=2)


def test_hierarchical_is_the_bootstrap_over_seeds_when_tasks_agree_within_a_seed():
    seed_means = [0.0, 0.2, 0.5, 1.0]
    low, high = _exact_percentiles(seed_means)  # tasks add nothing: only which seeds are drawn matters
    iv = hierarchical_ci([[m] * 6 for m in seed_means], resamples=100_000, seed=1)
    assert iv.estimate == pytest.approx(np.mean(seed_means))
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=1e-9)


def test_hierarchical_is_wider_than_pooling_when_seeds_differ():
    rng = np.random.default_rng(1)
    per_seed = [(rng.random(48) < p).astype(float) for p in (0.2, 0.5, 0.8)]
    two_stage = hierarchical_ci(per_seed)
    pooled = bootstrap_ci(np.concatenate(per_seed))
    assert two_stage.estimate == pytest.approx(pooled.estimate)
    assert two_stage.high - two_stage.low > 1.5 * (pooled.high - pooled.low)


def test_paired_difference_on_shared_tasks():
    a = {f"t{i}": float(i % 2) for i in range(40)}
    shifted = paired_difference(a, {**{t: v + 0.1 for t, v in a.items()}, "only_b": 1.0})
    assert shifted.n_shared == 40 and shifted.interval.to_list() == pytest.approx([0.1, 0.1])
    assert shifted.separated and (shifted.a_better, shifted.b_better) == (0, 40)
    same = paired_difference(a, dict(a))
    assert same.interval.to_list() == [0.0, 0.0] and not same.separated and (same.a_better, same.b_better) == (0, 0)
    with pytest.raises(ValueError, match="share none"):
        paired_difference({"x": 1.0}, {"y": 1.0})
    with pytest.raises(ValueError, match="A has 2 seeds, B 1"):
        paired_difference([a, a], [a])


def test_paired_difference_matches_the_normal_approximation():
    rng = np.random.default_rng(2)
    n = 1500
    a = {f"t{i}": float(rng.random() < 0.3) for i in range(n)}
    b = {t: float(v or rng.random() < 0.15) for t, v in a.items()}  # B solves what A solves and some more
    d = np.array([b[t] - a[t] for t in a])
    half = Z95 * d.std() / math.sqrt(n)
    diff = paired_difference(a, b)
    assert diff.interval.estimate == pytest.approx(d.mean())
    assert diff.interval.low == pytest.approx(d.mean() - half, abs=0.003) and diff.interval.high == pytest.approx(d.mean() + half, abs=0.003)
    assert diff.separated and diff.a_better == 0 and diff.b_better == int(d.sum())
    # pairing removes what the runs share (the tasks' difficulty): narrower than the unpaired difference's interval
    ia, ib = bootstrap_ci(list(a.values())), bootstrap_ci(list(b.values()))
    assert diff.interval.high - diff.interval.low < 0.8 * math.hypot(ia.high - ia.low, ib.high - ib.low)


def test_paired_difference_over_seeds_pairs_seed_by_seed():
    a = [{"x": 0.0, "y": 1.0}, {"x": 1.0, "y": 1.0}]
    b = [{"x": 1.0, "y": 1.0}, {"x": 1.0, "y": 0.0}]
    diff = paired_difference(a, b, resamples=2000)
    assert diff.interval.estimate == pytest.approx(0.0)  # seed 0: +0.5, seed 1: -0.5
    assert (diff.a_better, diff.b_better) == (1, 1)  # x: +0.5 on average, y: -0.5
    assert diff.interval.low < 0 < diff.interval.high


def test_one_wilson_interval():  # tested by hand in test_roi.py; ROI uses this one
    from looprl.analysis import roi

    assert roi.wilson_interval is wilson_interval


def test_a_paired_difference_in_points_scales_the_interval_and_keeps_the_counts():
    from looprl.analysis.tables import paired_text

    d = paired_difference({"a": 0.0, "b": 1.0, "c": 0.0}, {"a": 1.0, "b": 1.0, "c": 0.0})
    points = d.scaled(100.0).to_dict()
    assert points["diff"] == pytest.approx(100 * d.interval.estimate) and points["ci95"] == pytest.approx([100 * v for v in d.interval.to_list()])
    assert (points["n_shared"], points["a_better"], points["b_better"], points["separated"]) == (3, 0, 1, d.separated)
    assert paired_text(points).startswith(f"{points['diff']:+.1f} [") and "1 up / 0 down of 3" in paired_text(points)
