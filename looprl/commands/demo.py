"""`looprl demo` (under construction in this change)."""

from __future__ import annotations


def demo_command() -> None:
    """The CPU demo."""
    raise SystemExit("looprl demo is not built yet")
