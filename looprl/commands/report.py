"""`looprl report` and `looprl compare` (under construction in this change)."""

from __future__ import annotations


def report_command() -> None:
    """Write a static HTML report of one or more runs."""
    raise SystemExit("looprl report is not built yet")


def compare_command() -> None:
    """Compare runs side by side."""
    raise SystemExit("looprl compare is not built yet")
