"""The `looprl` command. Each subcommand group lives in looprl/commands/<name>.py; heavy imports
(torch, transformers) happen inside commands so `looprl --help` stays fast."""

from __future__ import annotations

import typer

from looprl.commands import (
    config as config_cmd,
    demo as demo_cmd,
    env as env_cmd,
    eval as eval_cmd,
    models as models_cmd,
    report as report_cmd,
    roi as roi_cmd,
    train as train_cmd,
    world as world_cmd,
)

app = typer.Typer(
    name="looprl",
    help="Train LLM agents for long, multi-turn tasks with LOOP (leave-one-out PPO), evaluate them, and see what they learned.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(models_cmd.app, name="models")
app.add_typer(world_cmd.app, name="world")
app.add_typer(env_cmd.app, name="env")
app.command("eval")(eval_cmd.eval_command)
app.command("train")(train_cmd.train_command)
app.command("report")(report_cmd.report_command)
app.command("compare")(report_cmd.compare_command)
app.command("demo")(demo_cmd.demo_command)
app.command("roi")(roi_cmd.roi_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
