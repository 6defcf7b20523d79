"""Matplotlib figures for `looprl report`, returned as base64 PNG strings ready for a data: URI.

The Agg backend is used (no display, no window); figures are closed after rendering so a report
over many runs does not accumulate memory. Each function returns ``None`` when it has nothing to
draw, and the report says so instead of showing an empty chart.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

__all__ = ["TRAINING_PANELS", "training_curves", "bar_chart", "behaviour_chart"]

# (title, metric keys tried in order, y label). "wall time per iteration" falls back to the
# difference of the cumulative wall_s column; "dev TGC" to the run's eval/iter_*/ summaries.
TRAINING_PANELS: list[tuple[str, tuple[str, ...], str]] = [
    ("training reward (mean)", ("rollout/reward_mean",), "reward"),
    ("dev TGC", ("eval/tgc",), "TGC (%)"),
    ("clip fraction", ("ppo/clip_fraction",), "fraction of tokens"),
    ("KL (k1 estimate)", ("ppo/kl_k1",), "nats / token"),
    ("rollout throughput", ("rollout/tokens_per_s",), "tokens / s"),
    ("wall time per iteration", ("time/iteration_s",), "seconds"),
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _encode(fig) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)  # tight_layout already fits; bbox "tight" would draw twice
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def training_curves(series: dict[str, dict[str, list[tuple[float, float]]]]) -> str | None:
    """One panel per TRAINING_PANELS entry; ``series[run_name][panel_title]`` = [(iteration, value)]."""
    if not any(points for run in series.values() for points in run.values()):
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (title, _keys, ylabel) in zip(axes.flat, TRAINING_PANELS):
        drawn = False
        for run_name, panels in series.items():
            points = [(x, y) for x, y in panels.get(title, []) if _finite(y)]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=run_name)
                drawn = True
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if drawn and len(series) > 1:
            ax.legend(fontsize=7)
        if title == "dev TGC":
            ax.set_ylim(0, 100)
        if not drawn:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="gray")
    fig.tight_layout()
    return _encode(fig)


def bar_chart(
    labels: list[str],
    groups: dict[str, list[float | None]],
    errors: dict[str, list[float | None]] | None = None,
    ylabel: str = "",
    title: str = "",
    ylim: tuple[float, float] | None = None,
) -> str | None:
    """Grouped vertical bars: one group per label, one bar per key of ``groups`` (e.g. TGC, SGC)."""
    if not labels or not any(_finite(v) for vals in groups.values() for v in vals):
        return None  # all-zero bars are still drawn: a measured 0% is a result
    plt = _pyplot()
    width = 0.8 / max(1, len(groups))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 2), 3.6))
    for i, (name, vals) in enumerate(groups.items()):
        xs = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(labels))]
        ys = [v if _finite(v) else 0.0 for v in vals]
        errs = [e if _finite(e) else 0.0 for e in (errors or {}).get(name, [0.0] * len(vals))]
        ax.bar(xs, ys, width=width, yerr=errs if any(errs) else None, capsize=3, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([_short(label, 28) for label in labels], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _encode(fig)


def behaviour_chart(run_names: list[str], metrics: list[tuple[str, list[float | None]]]) -> str | None:
    """Small multiples: one horizontal bar panel per behaviour metric that is non-zero in some run
    (metrics that are 0 or missing everywhere stay in the report's table), one bar per run."""
    metrics = [(label, vals) for label, vals in metrics if any(_finite(v) and v != 0 for v in vals)]
    if not run_names or not metrics:
        return None
    plt = _pyplot()
    cols = 3
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 0.35 * len(run_names) * rows + 1.6 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, vals) in zip(axes.flat, metrics):
        ys = list(range(len(run_names)))[::-1]
        ax.barh(ys, [v if _finite(v) else 0.0 for v in vals], color=[colors[i % len(colors)] for i in range(len(run_names))])
        for y, v in zip(ys, vals):
            text = (f" {v:,.0f}" if abs(v) >= 1000 else f" {v:.3g}") if _finite(v) else " n/a"
            ax.text(v if _finite(v) else 0.0, y, text, va="center", fontsize=7)
        ax.set_yticks(ys)
        ax.set_yticklabels([_short(n, 22) for n in run_names], fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.margins(x=0.25)
        ax.set_xlim(left=0)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    fig.tight_layout()
    return _encode(fig)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
