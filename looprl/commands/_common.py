"""Shared CLI plumbing: config loading with readable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from looprl.config import ConfigError, load_config

console = Console(stderr=True, soft_wrap=True)
M = TypeVar("M", bound=BaseModel)

CONFIG_HELP = "YAML config file (see configs/ and `looprl config fields`)"
SET_HELP = "override a config field, e.g. --set trainer.lr=1e-5 (repeatable)"


def load_or_exit(model: type[M], config: Path | None, overrides: list[str] | None, base: dict | None = None) -> M:
    """Load a config; on a bad value print which field, what was given and what is allowed, then exit 2."""
    try:
        return load_config(model, config, overrides or [], base=base)
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def check_or_exit(check: Callable[[Any], None], cfg: Any) -> None:
    """Run a looprl.preflight check on a loaded config; on a problem print it and exit 2 (before any
    model loads or any run folder is written)."""
    try:
        check(cfg)
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
