"""Reading run directories (docs/run-layout.md) for `looprl compare` and `looprl report`.

`load_run(path)` accepts an eval run, a train run, or a bare ``rollouts.jsonl`` file, and returns a
`Run`: its run.json, its training metrics (metrics.jsonl), its dev evaluations (eval/iter_*/), and
the trajectories that represent it. For an eval run those are its rollouts.jsonl; for a train run,
its latest dev evaluation (the newest eval/iter_*/rollouts.jsonl). A missing or malformed file is an
error that names the path and, for JSON lines, the line number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from looprl.trajectory import Trajectory

__all__ = ["Run", "RunError", "load_run", "read_trajectories", "read_metrics"]

_ITER_DIR = re.compile(r"^iter_(\d+)$")


class RunError(ValueError):
    """A run directory that cannot be read; the message names the path and what is wrong."""


@dataclass
class Run:
    path: Path
    info: dict[str, Any]  # run.json ({} when absent)
    trajectories: list[Trajectory]  # what represents the run in comparisons (see module docstring)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl rows, by iteration
    evals: dict[int, Path] = field(default_factory=dict)  # iteration -> eval/iter_N folder
    source: str = ""  # where `trajectories` came from, relative to the run

    @property
    def name(self) -> str:
        return str(self.info.get("name") or self.path.name)

    @property
    def kind(self) -> str:
        return str(self.info.get("kind") or ("train" if self.metrics else "eval"))

    @property
    def model(self) -> str:
        if self.info.get("model"):
            return str(self.info["model"])
        models = sorted({t.model for t in self.trajectories if t.model})
        return ", ".join(models) or "unknown"

    @property
    def method(self) -> str:
        """run.json's method; for an eval run without one: "openai" (hosted model), "adapter" (a
        LoRA adapter given in config.yaml's model.adapter_path) or "base"."""
        if self.info.get("method"):
            return str(self.info["method"])
        if self.kind != "eval":
            return "unknown"
        if self.model.startswith("openai:"):
            return "openai"
        return "adapter" if self.config.get("model", {}).get("adapter_path") else "base"

    @property
    def config(self) -> dict[str, Any]:
        """config.yaml as a dict ({} when absent or unreadable: it only labels the run)."""
        path = self.path / "config.yaml"
        if not path.is_file():
            return {}
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def split(self) -> str:
        splits = sorted({t.split for t in self.trajectories if t.split})
        return ", ".join(splits) or str(self.info.get("split") or "unknown")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RunError(f"{path}:{lineno}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise RunError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def read_trajectories(path: str | Path) -> list[Trajectory]:
    """Every trajectory in a rollouts JSONL file (errors name the file and line)."""
    path = Path(path)
    out = []
    for i, row in enumerate(_read_jsonl(path), 1):
        if "task_id" not in row or "messages" not in row:
            raise RunError(f"{path}: record {i} lacks 'task_id' or 'messages'; is this a rollouts file (looprl/trajectory.py)?")
        out.append(Trajectory.from_dict(row))
    return out


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    rows = _read_jsonl(Path(path))
    return sorted(rows, key=lambda r: (r.get("iteration") is None, r.get("iteration", 0)))


def load_run(path: str | Path) -> Run:
    """Load an eval run, a train run, or a bare rollouts .jsonl file."""
    path = Path(path)
    if path.is_file() and path.suffix == ".jsonl":
        return Run(path=path, info={"name": path.stem, "kind": "eval"}, trajectories=read_trajectories(path), source=path.name)
    if not path.is_dir():
        raise RunError(f"run {str(path)!r} does not exist (expected a run directory or a rollouts .jsonl file)")
    info: dict[str, Any] = {}
    if (path / "run.json").is_file():
        try:
            info = json.loads((path / "run.json").read_text())
        except json.JSONDecodeError as exc:
            raise RunError(f"{path / 'run.json'}: not valid JSON ({exc.msg})") from None
    metrics = read_metrics(path / "metrics.jsonl") if (path / "metrics.jsonl").is_file() else []
    evals: dict[int, Path] = {}
    if (path / "eval").is_dir():
        for child in (path / "eval").iterdir():
            m = _ITER_DIR.match(child.name)
            if m and (child / "rollouts.jsonl").is_file():
                evals[int(m.group(1))] = child
    evals = dict(sorted(evals.items()))
    if (path / "rollouts.jsonl").is_file():
        source = "rollouts.jsonl"
        trajectories = read_trajectories(path / "rollouts.jsonl")
    elif evals:
        last = max(evals)
        source = f"eval/{evals[last].name}/rollouts.jsonl"
        trajectories = read_trajectories(evals[last] / "rollouts.jsonl")
    elif metrics:
        source, trajectories = "", []
    else:
        raise RunError(
            f"{path} holds no rollouts.jsonl, eval/iter_*/rollouts.jsonl or metrics.jsonl; "
            "is it a run directory written by `looprl eval --out` or `looprl train`? (docs/run-layout.md)"
        )
    return Run(path=path, info=info, trajectories=trajectories, metrics=metrics, evals=evals, source=source)
