"""AppWorld experiment folders from a looprl evaluation, in the layout AppWorld's own tools read.

AppWorld's `appworld evaluate EXPERIMENT DATASET`, `appworld pack` (the leaderboard bundle) and
`appworld make` read an *experiment*: ``<APPWORLD_ROOT>/experiments/outputs/<EXPERIMENT>/tasks/<task_id>/``
holding the end state of each task's world (``dbs/``) and its logs, next to ``<APPWORLD_ROOT>/data``.
During a looprl evaluation every episode runs under an experiment of its own (so concurrent episodes
never share one); `write_experiments` then moves each episode's task folder into one experiment per
sample index, under the run directory:

    <run>/appworld/                       an AppWorld root of its own
      data/<entry> -> <root>/data/<entry> symlinks to the real data (nothing is copied)
      data/datasets/                      copies of the split files, plus <split>_looprl.txt when only
                                          part of a split was evaluated (--max-tasks)
      experiments/outputs/<name>_<split>/tasks/<task_id>/   sample 0
      experiments/outputs/<name>-sample<k>_<split>/...      sample k > 0
      experiments.json                    what was written and the commands that score it

so ``appworld evaluate <name>_<split> <dataset> --root <run>/appworld`` scores the very episodes the
run's rollouts.jsonl holds (`engine_evaluate` does the same from Python, in the AppWorld venv), and the
leaderboard's naming rule (lowercase, ``..._test_normal`` / ``..._test_challenge``) holds.

Guarantees: an episode's outputs are moved, not copied, and its per-episode experiment folder is
removed; a trajectory without an AppWorld episode (a server that never started) is listed under
``missing`` and AppWorld's evaluation then scores that task as failed, as looprl did.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable

from looprl.trajectory import Trajectory

__all__ = ["experiment_name", "write_experiments", "engine_evaluate"]


def experiment_name(run_name: str, split: str, sample: int = 0) -> str:
    """``<run>_<split>`` (sample 0) or ``<run>-sample<k>_<split>``: lowercase letters, digits, '-' and
    '_', ending in the dataset name, as AppWorld's leaderboard tools require."""
    slug = re.sub(r"[^a-z0-9-]+", "-", run_name.lower()).strip("-") or "looprl"
    return f"{slug}{f'-sample{sample}' if sample else ''}_{split}"


def _shadow_root(root: Path, shadow: Path, split: str, task_ids: list[str]) -> str:
    """Make ``shadow`` an AppWorld root over ``root``'s data; return the dataset name to evaluate."""
    data = shadow / "data"
    data.mkdir(parents=True, exist_ok=True)
    for entry in (root / "data").iterdir():
        if entry.name == "datasets":
            continue
        link = data / entry.name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    datasets = data / "datasets"
    datasets.mkdir(exist_ok=True)
    for split_file in (root / "data" / "datasets").glob("*.txt"):
        shutil.copyfile(split_file, datasets / split_file.name)
    listed = (
        [line.strip().split(":")[0] for line in (datasets / f"{split}.txt").read_text().splitlines() if line.strip()]
        if (datasets / f"{split}.txt").is_file()
        else []
    )
    if listed == list(task_ids):
        return split
    # only part of the split was run: AppWorld would score the missing tasks as failed, so name the part
    (datasets / f"{split}_looprl.txt").write_text("".join(t + "\n" for t in task_ids))
    return f"{split}_looprl"


def write_experiments(
    trajectories: Iterable[Trajectory], root: str | os.PathLike, out_dir: str | os.PathLike, *, run_name: str, split: str, task_ids: list[str]
) -> dict[str, Any]:
    """Move each trajectory's AppWorld episode outputs into ``out_dir/appworld`` (see module docstring);
    return (and write to experiments.json) the experiments, the dataset name and the commands."""
    root, shadow = Path(root).expanduser().absolute(), Path(out_dir).absolute() / "appworld"
    dataset = _shadow_root(root, shadow, split, list(task_ids))
    outputs = root / "experiments" / "outputs"
    experiments: dict[int, str] = {}
    missing: list[dict[str, Any]] = []
    for t in trajectories:
        name = experiments.setdefault(t.sample_index, experiment_name(run_name, split, t.sample_index))
        episode = t.stats.get("episode_id")
        src = outputs / str(episode) / "tasks" / t.task_id if episode else None
        if src is None or not src.is_dir():
            missing.append({"task_id": t.task_id, "sample": t.sample_index, "episode_id": episode})
            continue
        dst = shadow / "experiments" / "outputs" / name / "tasks" / t.task_id
        if dst.exists():
            shutil.rmtree(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), str(dst))
        shutil.rmtree(outputs / str(episode), ignore_errors=True)
    info = {
        "appworld_root": str(shadow),
        "data_from": str(root),
        "dataset": dataset,
        "experiments": [experiments[k] for k in sorted(experiments)],
        "missing": missing,
        "evaluate": [f"appworld evaluate {name} {dataset} --root {shadow}" for name in (experiments[k] for k in sorted(experiments))],
    }
    (shadow / "experiments.json").write_text(json.dumps(info, indent=1))
    return info


_ENGINE_EVALUATE = """
import json, sys
from appworld import update_root
root, experiment, dataset = sys.argv[1:4]
update_root(root)
from appworld.evaluator import evaluate_dataset
result = evaluate_dataset(experiment_name=experiment, dataset_name=dataset, suppress_errors=True,
                          include_details=True, aggregate_only=False, save_reports=True, print_report=False)
print("LOOPRL-RESULT " + json.dumps(result))
"""


def engine_evaluate(
    appworld_root: str | os.PathLike, experiment: str, dataset: str, python: str | os.PathLike | None = None, timeout_s: float = 1800
) -> dict[str, Any]:
    """AppWorld's own `evaluate_dataset` over an experiment folder, run in the AppWorld venv; returns its
    result (``["aggregate"]["task_goal_completion"]`` and ``["scenario_goal_completion"]``, in percent)
    and writes its reports under the experiment's ``evaluations/``, as `appworld evaluate` does."""
    from looprl.env.appworld.install import default_venv_dir, venv_python

    python = Path(python) if python is not None else venv_python(default_venv_dir())
    root = Path(appworld_root).absolute()
    proc = subprocess.run(
        [str(python), "-c", _ENGINE_EVALUATE, str(root), experiment, dataset],
        cwd=root,
        env=dict(os.environ, APPWORLD_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("LOOPRL-RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(
            f"AppWorld's evaluation of experiment {experiment!r} on {dataset!r} failed (exit code {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return json.loads(line[len("LOOPRL-RESULT ") :])
