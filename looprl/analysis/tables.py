"""Evaluation summaries as terminal tables (rich), for `looprl eval` and the demo."""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["interval_text", "paired_text", "print_summary"]


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """TGC/SGC overall and per difficulty, then reward and throughput, of an evaluate() summary."""
    from rich.table import Table

    console = console or Console(stderr=True, soft_wrap=True)

    def pct(x: Any) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    table = Table(title=f"{summary.get('model', '')} on {summary.get('split', '')}")
    for col in ("", "TGC %", "SGC %", "tasks", "rollouts"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("all", pct(summary["tgc"]), pct(summary["sgc"]), str(summary["n_tasks"]), str(summary["n_rollouts"]))
    for diff, row in summary.get("per_difficulty", {}).items():
        table.add_row(f"difficulty {diff}", pct(row["tgc"]), pct(row["sgc"]), str(row["n_tasks"]), str(row["n_rollouts"]))
    console.print(table)
    r = summary.get("rollout", {})
    console.print(
        f"mean reward {summary.get('reward_mean', 0):.3f}; {r.get('generated_tokens', 0)} tokens in {r.get('wall_s', 0):.1f} s "
        f"({r.get('tokens_per_s', 0):.1f} tok/s), {r.get('env_steps', 0)} env steps"
    )


def interval_text(interval: list[float] | None) -> str:
    """A stored 95% interval (``[low, high]``, e.g. ``tgc_ci95``) as "[low, high]"; "[n/a]" when none."""
    return "[n/a]" if interval is None else f"[{interval[0]:.1f}, {interval[1]:.1f}]"


def paired_text(d: dict[str, Any], separated: str = "separated", not_separated: str = "not separated") -> str:
    """A stored paired difference (``PairedDifference.to_dict()``) as one cell: the difference, its
    interval, whether it excludes 0 (in the caller's words) and the tasks each side won."""
    verdict = separated if d["separated"] else not_separated
    return f"{d['diff']:+.1f} {interval_text(d['ci95'])} ({verdict}; {d['b_better']} up / {d['a_better']} down of {d['n_shared']})"
