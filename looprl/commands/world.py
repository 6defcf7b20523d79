"""`looprl world` (under construction in this change)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Explore the built-in world: apps, APIs, tasks; run and validate ground truths.", no_args_is_help=True)
