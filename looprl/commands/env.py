"""`looprl env` (under construction in this change)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Set up and check environments (the AppWorld server's virtual environment).", no_args_is_help=True)
