"""`looprl env`: set up and check environments (the AppWorld server's virtual environment and data).

    looprl env setup-appworld                       create or reuse the AppWorld venv (.venvs/appworld)
    looprl env setup-appworld --root ~/appworld     ... and check a folder with AppWorld's real data
    looprl env setup-appworld --root ~/appworld --download-data   ... downloading it first (internet)
    looprl env appworld-fixture /tmp/aw             write a tiny self-made task set to try the env offline

Every step is idempotent and says what it did; a failure prints the step, the command and the end of
its output, and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from looprl.commands._common import console, fail

app = typer.Typer(help="Set up and check environments (the AppWorld server's virtual environment).", no_args_is_help=True)


def _echo(message: str) -> None:
    console.print(message, markup=False, highlight=False)


@app.command("setup-appworld")
def setup_appworld(
    venv: Optional[Path] = typer.Option(
        None, help="where the AppWorld venv goes [default: .venvs/appworld in a source checkout, else ~/.cache/looprl/venvs/appworld]"
    ),
    python: Optional[str] = typer.Option(None, help="Python >= 3.11 to build the venv from [default: the one running looprl]"),
    version: Optional[str] = typer.Option(None, help="appworld version to install [default: the one looprl is tested with]"),
    force: bool = typer.Option(False, help="rebuild the venv even when it is ready"),
    root: Optional[Path] = typer.Option(None, help="an AppWorld root (the folder holding data/) to check, e.g. one with the real data"),
    download_data: bool = typer.Option(False, help="download AppWorld's data into --root first (`appworld download data`; needs internet)"),
    check_server: bool = typer.Option(False, help="also start a server on --root and open the first task of a split, then close it"),
) -> None:
    """Create (or reuse) the AppWorld virtual environment, and optionally check an AppWorld root."""
    from looprl.env.appworld.install import APPWORLD_VERSION, AppWorldSetupError, create_appworld_venv, inspect_root

    try:
        py = create_appworld_venv(venv, python=python, version=version or APPWORLD_VERSION, force=force, echo=_echo)
        if root is None:
            if download_data or check_server:
                raise AppWorldSetupError("--download-data and --check-server need --root PATH (the folder that holds or will hold data/)")
            _echo(f"[appworld] use it with: --set env.name=appworld --set env.options.python={py} --set env.options.root=YOUR_APPWORLD_ROOT")
            return
        root = root.expanduser().absolute()
        if download_data:
            _download_data(py, root)
        summary = inspect_root(root)
        splits = ", ".join(f"{name} {count}" for name, count in summary.splits.items()) or "none"
        _echo(f"[appworld] root {summary.root}: {summary.num_tasks} tasks; splits: {splits}")
        if check_server:
            _check_server(py, root, summary.splits)
        _echo(f"[appworld] use it with: --set env.name=appworld --set env.options.python={py} --set env.options.root={summary.root}")
    except AppWorldSetupError as exc:
        fail(str(exc), 1)


@app.command("appworld-fixture")
def appworld_fixture(
    root: Path = typer.Argument(..., help="an empty or new folder; becomes an AppWorld root with 5 self-made tasks (train, dev, test_normal)"),
    venv: Optional[Path] = typer.Option(None, help="the AppWorld venv [default: as for setup-appworld]"),
) -> None:
    """Write a tiny self-made AppWorld task set (SimpleNote questions and edits) to try the env offline."""
    import subprocess

    from looprl.env.appworld.install import default_venv_dir, venv_python

    py = venv_python(venv or default_venv_dir())
    if not py.exists():
        fail(f"no AppWorld venv at {py.parent.parent}; run `looprl env setup-appworld` first", 1)
    script = Path(__file__).resolve().parents[1] / "env" / "appworld" / "fixture.py"
    proc = subprocess.run([str(py), str(script), str(root.expanduser().absolute())], capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"building the fixture failed (exit code {proc.returncode}):\n{proc.stderr.strip()[-2000:]}", 1)
    _echo(f"[appworld] wrote a 3-task AppWorld root at {root} (splits train, test_normal)")


def _download_data(py: Path, root: Path) -> None:
    import subprocess

    from looprl.env.appworld.install import AppWorldSetupError

    if (root / "data" / "tasks").is_dir():
        _echo(f"[appworld] {root}/data already holds tasks; not downloading again")
        return
    root.mkdir(parents=True, exist_ok=True)
    cmd = [str(py), "-m", "appworld.cli", "download", "data", "--root", str(root)]
    _echo(f"[appworld] download data: {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not (root / "data" / "tasks").is_dir():
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise AppWorldSetupError(f"downloading AppWorld's data into {root} failed (exit code {proc.returncode}); it needs internet access.\n{tail}")


def _check_server(py: Path, root: Path, splits: dict[str, int]) -> None:
    from looprl.env.appworld import AppWorldEnv, AppWorldServerError, load_task_ids
    from looprl.env.appworld.install import AppWorldSetupError

    split = next((s for s in ("train", "dev", "test_normal") if splits.get(s)), None) or next((s for s, n in splits.items() if n), None)
    if split is None:
        raise AppWorldSetupError(f"{root}/data/datasets has no non-empty split to check the server with")
    task_id = load_task_ids(root, split)[0]
    env = AppWorldEnv(root=root, python=py)
    try:
        _, info = env.reset(task_id)
        out = env.step("```python\nprint(apis.api_docs.show_app_descriptions())\n```").observation
    except AppWorldServerError as exc:
        raise AppWorldSetupError(str(exc)) from None
    finally:
        env.close()
    _echo(f"[appworld] server check: opened {split} task {task_id} ({info['instruction'][:60]!r}); the REPL answered: {out.strip()[:80]!r}")
