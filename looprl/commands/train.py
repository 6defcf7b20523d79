"""`looprl train` (under construction in this change)."""

from __future__ import annotations


def train_command() -> None:
    """Train an agent with LOOP or a baseline."""
    raise SystemExit("looprl train is not built yet")
