"""`looprl eval` (under construction in this change)."""

from __future__ import annotations


def eval_command() -> None:
    """Evaluate a model on a split of tasks."""
    raise SystemExit("looprl eval is not built yet")
