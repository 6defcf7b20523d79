"""The AppWorld virtual environment: where it lives, how to create it, how to check it.

AppWorld pins pydantic<2 and looprl needs pydantic 2, so AppWorld lives in a virtual environment of
its own and looprl only ever talks to it over HTTP (looprl.env.appworld). This module finds, creates
and checks that environment. It imports only the standard library, so `looprl --help` stays fast.

Guarantees:

* `create_appworld_venv` is idempotent: a stamp file records the AppWorld version and the install
  succeeded; a second call with the same version does nothing (use ``force=True`` to rebuild);
* it works offline once the package is in the pip index/cache: `appworld install` only decrypts code
  that ships inside the package (into the venv's own site-packages, and its package tests into a
  cache folder inside the venv, never into ~/.appworld);
* every failure names the step, the command and the end of its output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

APPWORLD_VERSION = "0.1.3.post1"
STAMP_NAME = ".looprl-appworld-ready"

__all__ = [
    "APPWORLD_VERSION",
    "AppWorldSetupError",
    "default_venv_dir",
    "venv_python",
    "appworld_venv_ready",
    "create_appworld_venv",
    "inspect_root",
    "RootSummary",
]


class AppWorldSetupError(RuntimeError):
    """The AppWorld environment or data is missing or broken; the message says what to run."""


def default_venv_dir() -> Path:
    """`.venvs/appworld` in the source checkout looprl runs from, else ~/.cache/looprl/venvs/appworld."""
    package_dir = Path(__file__).resolve().parents[2]  # looprl/
    checkout = package_dir.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "looprl").is_dir():
        return checkout / ".venvs" / "appworld"
    return Path.home() / ".cache" / "looprl" / "venvs" / "appworld"


def venv_python(venv_dir: str | Path) -> Path:
    venv_dir = Path(venv_dir)
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp(venv_dir: Path) -> dict | None:
    try:
        return json.loads((venv_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def appworld_venv_ready(venv_dir: str | Path, version: str = APPWORLD_VERSION) -> bool:
    """True when `create_appworld_venv` finished for this version and the interpreter is still there."""
    venv_dir = Path(venv_dir)
    stamp = _stamp(venv_dir)
    return bool(stamp and stamp.get("appworld") == version and venv_python(venv_dir).exists())


def _run(step: str, cmd: list[str], env: dict[str, str] | None = None, echo=print) -> str:
    echo(f"[appworld] {step}: {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        raise AppWorldSetupError(f"{step} failed (exit code {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout


def create_appworld_venv(
    venv_dir: str | Path | None = None,
    *,
    python: str | None = None,
    version: str = APPWORLD_VERSION,
    force: bool = False,
    echo=print,
) -> Path:
    """Create (or reuse) the AppWorld venv and return its interpreter's path.

    Steps: ``python -m venv``; ``pip install appworld==VERSION``; ``appworld install`` (unpacks the
    package's encrypted app code); an import check of ``appworld.apps.api_docs``; the stamp file.
    """
    venv_dir = Path(venv_dir) if venv_dir is not None else default_venv_dir()
    venv_dir = venv_dir.absolute()
    if appworld_venv_ready(venv_dir, version) and not force:
        echo(f"[appworld] {venv_dir} is ready (appworld {version}); pass --force to rebuild")
        return venv_python(venv_dir)
    if force and venv_dir.exists():
        shutil.rmtree(venv_dir)
    python = python or _base_python()
    if not venv_python(venv_dir).exists():
        _run("create the virtual environment", [python, "-m", "venv", str(venv_dir)], echo=echo)
    py = str(venv_python(venv_dir))
    (venv_dir / STAMP_NAME).unlink(missing_ok=True)
    _run("install appworld", [py, "-m", "pip", "install", "--quiet", f"appworld=={version}"], echo=echo)
    env = dict(os.environ)
    env["APPWORLD_CACHE"] = str(venv_dir / "appworld-cache")  # keep the unpacked package tests inside the venv
    _run("unpack appworld's encrypted app code", [py, "-m", "appworld.cli", "install"], env=env, echo=echo)
    _run(
        "check the install",
        [py, "-c", "import appworld, appworld.apps.api_docs, uvicorn; print(appworld.__version__)"],
        env=env,
        echo=echo,
    )
    (venv_dir / STAMP_NAME).write_text(json.dumps({"appworld": version, "python": py}) + "\n")
    echo(f"[appworld] ready: {py}")
    return Path(py)


def _base_python() -> str:
    # AppWorld needs Python >= 3.11. The interpreter looprl runs on qualifies (looprl needs 3.11 too);
    # inside a venv, sys.executable still works with -m venv (it builds on the base interpreter).
    if sys.version_info < (3, 11):
        raise AppWorldSetupError(f"AppWorld needs Python >= 3.11; this is {sys.version.split()[0]}. Pass --python /path/to/python3.11")
    return sys.executable


@dataclass(frozen=True)
class RootSummary:
    root: Path
    splits: dict[str, int]  # split name -> number of task ids
    num_tasks: int  # task folders under data/tasks


def inspect_root(root: str | Path) -> RootSummary:
    """Check that ``root`` is an APPWORLD_ROOT with data (tasks, base DBs, splits) and count it."""
    root = Path(root).expanduser().absolute()
    data = root / "data"
    missing = [str(p.relative_to(root)) for p in (data / "tasks", data / "base_dbs", data / "datasets") if not p.is_dir()]
    if missing:
        raise AppWorldSetupError(
            f"{root} is not an AppWorld root with data: missing {', '.join(missing)}. "
            "Download the data there with `looprl env setup-appworld --root PATH --download-data` "
            "(needs internet) or point --root at the folder that holds data/."
        )
    splits = {}
    for split_file in sorted((data / "datasets").glob("*.txt")):
        splits[split_file.stem] = sum(1 for line in split_file.read_text().splitlines() if line.strip())
    num_tasks = sum(1 for p in (data / "tasks").iterdir() if (p / "specs.json").is_file())
    return RootSummary(root=root, splits=splits, num_tasks=num_tasks)
