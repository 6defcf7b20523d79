"""`looprl demo`: the CPU demo — train SmolLM2-135M-Instruct with LOOP on the built-in world and
print what changed. Re-running resumes (or just reprints the table when everything is done)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer

from looprl.commands._common import CONFIG_HELP, SET_HELP, check_or_exit, console, fail, load_or_exit


def demo_command(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP + " (a DemoConfig: run_dir, dev_tasks, sft_epochs, sampler, train.*)"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP + "; e.g. --set train.trainer.iterations=8"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="where to write the demo's runs (default runs/demo)"),
    fresh: bool = typer.Option(False, "--fresh", help="delete the run directory first instead of resuming it"),
) -> None:
    """Train a small agent with LOOP on the built-in world on CPU; print a before/after table and the report's path."""
    from looprl.config import DemoConfig

    overrides = list(set_ or [])
    if run_dir is not None:
        overrides.append(f"run_dir={run_dir}")
    cfg = load_or_exit(DemoConfig, config, overrides)
    from looprl.preflight import check_train_config

    check_or_exit(lambda c: check_train_config(c.train), cfg)
    run = Path(cfg.run_dir)
    if fresh and run.exists():
        shutil.rmtree(run)
    saved = run / "demo_config.json"
    if saved.is_file() and not fresh:
        import json

        if json.loads(saved.read_text()) != cfg.model_dump(mode="json"):
            fail(f"{run} holds a demo run made with another configuration; pass --fresh to start over or --run-dir to use another folder")
    from looprl.demo import run_demo

    try:
        run_demo(cfg)
    except KeyboardInterrupt:
        console.print(f"\ninterrupted: run `looprl demo` again (same options) to resume from {run}")
        raise typer.Exit(130) from None
