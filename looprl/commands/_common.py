"""Shared CLI plumbing: the one way a command fails (`fail`), and config loading with readable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from looprl.config import ConfigError, load_config

console = Console(stderr=True, soft_wrap=True)
M = TypeVar("M", bound=BaseModel)

CONFIG_HELP = "YAML config file (see configs/ and `looprl config fields`)"
SET_HELP = "override a config field, e.g. --set trainer.lr=1e-5 (repeatable)"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with ``code``: 2 for input the command rejects
    before doing any work (a bad option, config or path), 1 for work that failed. The message is
    printed as written (square brackets in it are text, not rich markup)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def load_or_exit(model: type[M], config: Path | None, overrides: list[str] | None, base: dict | None = None) -> M:
    """Load a config; on a bad value print which field, what was given and what is allowed, then exit 2."""
    try:
        return load_config(model, config, overrides or [], base=base)
    except ConfigError as exc:
        fail(str(exc))


def check_or_exit(check: Callable[[Any], None], cfg: Any) -> None:
    """Run a looprl.preflight check on a loaded config; on a problem print it and exit 2 (before any
    model loads or any run folder is written)."""
    try:
        check(cfg)
    except ConfigError as exc:
        fail(str(exc))
