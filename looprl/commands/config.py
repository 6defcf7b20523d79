"""`looprl config show|fields`: print a resolved config, or every field with its description."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from looprl.commands._common import CONFIG_HELP, SET_HELP, load_or_exit
from looprl.config import EvalConfig, TrainConfig, dump_config, field_help

app = typer.Typer(help="Inspect configurations.", no_args_is_help=True)
_MODELS = {"train": TrainConfig, "eval": EvalConfig}


@app.command("show")
def show(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    entry: str = typer.Option("train", "--entry", help="which entry point's config: train or eval"),
) -> None:
    """Print the fully resolved config (file + overrides + defaults) as YAML."""
    if entry not in _MODELS:
        raise typer.BadParameter(f"--entry must be one of {', '.join(_MODELS)}, got {entry!r}")
    cfg = load_or_exit(_MODELS[entry], config, set_)
    typer.echo(dump_config(cfg), nl=False)


@app.command("fields")
def fields(entry: str = typer.Option("train", "--entry", help="which entry point's config: train or eval")) -> None:
    """List every config field with its default and one-line description."""
    if entry not in _MODELS:
        raise typer.BadParameter(f"--entry must be one of {', '.join(_MODELS)}, got {entry!r}")
    table = Table("field", "default", "description")
    for name, default, desc in field_help(_MODELS[entry]):
        table.add_row(name, default, desc)
    Console().print(table)
