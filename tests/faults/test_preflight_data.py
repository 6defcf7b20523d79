"""Bad data is found before the model loads: SFT-GT on AppWorld-format data whose training tasks have
no ground-truth solution, or a training split with no tasks, is one message and exit 2, with no run
folder written (looprl/preflight.py `check_method_data`). `FAULT_CASES` are this module's rows for
the fault report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

FAULT_CASES = [
    ("SFT-GT on tasks without a ground truth", "test_sft_gt_without_solutions_is_refused_before_the_model_loads", "exit 2 at preflight, nothing written"),
    ("a training split with no tasks", "test_a_training_split_without_tasks_is_refused", "exit 2 at preflight, nothing written"),
]


def _appworld_root(tmp_path: Path, *, solutions: bool) -> Path:
    """A minimal AppWorld-format data root: two train tasks, one dev task, metadata, solutions or not."""
    root = tmp_path / "appworld"
    splits = {"train": ["a1b2c3d_1", "a1b2c3d_2"], "dev": ["c4d5e6f_1"]}
    (root / "data" / "datasets").mkdir(parents=True)
    for split, ids in splits.items():
        (root / "data" / "datasets" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for task_id in ids:
            gt = root / "data" / "tasks" / task_id / "ground_truth"
            gt.mkdir(parents=True)
            (gt / "metadata.json").write_text(json.dumps({"difficulty": 1}))
            if solutions:
                (gt / "compiled_solution.py").write_text("def solution(apis, requester):\n    apis.supervisor.complete_task()\n")
    return root


def _train(tmp_path: Path, root: Path, *settings: str):
    from looprl.cli import app

    args = ["train", "--no-progress", "--method", "sft-gt"]
    model = tmp_path / "never-loaded"  # a model folder that would fail to load: preflight must stop first
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    for s in (f"model.name_or_path={model}", f"run_dir={tmp_path / 'run'}", "env.name=appworld", f"env.options={{root: {root}}}", *settings):
        args += ["--set", s]
    return CliRunner().invoke(app, args)


def _rejected(res, run: Path, *words: str) -> None:
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output, res.output
    for word in words:
        assert word in res.output, (word, res.output)
    assert not run.exists(), f"{run} was written"


def test_sft_gt_without_solutions_is_refused_before_the_model_loads(tmp_path):
    root = _appworld_root(tmp_path, solutions=False)
    res = _train(tmp_path, root)
    _rejected(res, tmp_path / "run", "trainer.method='sft-gt'", "tasks.train_split='train'", "2 of 2 tasks", "a1b2c3d_1", "compiled_solution.py")


def test_sft_gt_with_solutions_passes_preflight(tmp_path):
    from looprl.config import TrainConfig, load_config
    from looprl.preflight import check_method_data

    root = _appworld_root(tmp_path, solutions=True)
    cfg = load_config(TrainConfig, None, ["trainer.method=sft-gt", "env.name=appworld", f"env.options={{root: {root}}}"])
    check_method_data(cfg)  # no error: every training task has its solution


def test_a_training_split_without_tasks_is_refused(tmp_path):
    root = _appworld_root(tmp_path, solutions=True)
    res = _train(tmp_path, root, "tasks.difficulties=[3]")
    _rejected(res, tmp_path / "run", "tasks.train_split='train'", "has no tasks", "difficulties [3]")
