"""`looprl eval`: roll out a model on a split and write an eval run directory (docs/run-layout.md).

    looprl eval --model smollm2 --split dev --samples 3 --out runs/eval-smollm2 [--max-tasks 12]
    looprl eval --model openai:gpt-4o-mini --split dev --out runs/eval-4o-mini
    looprl eval --config configs/tiny.yaml --set rollout.sampling.temperature=0.7 --out runs/x
    looprl eval --model smollm2 --split heldout --set tasks.instances=16 --out runs/heldout   (as training selects tasks)

Everything is built by looprl.build and evaluated by looprl.experiments.evaluate_config, as the demo
and the benchmarks evaluate. Writes run.json and config.yaml before any rollout (so a crashed run is
still identifiable), then rollouts.jsonl and summary.json (TGC, SGC, per difficulty, per app;
looprl/rollout/evaluation.py).
An env may add its own part around the rollouts (`EvalHooks` on its class, looprl/env/base.py): on the
appworld env it is <out>/appworld/, an AppWorld root whose experiment folders hold the episodes' end
states, for AppWorld's own `appworld evaluate` and leaderboard tools (looprl/env/appworld/export.py).
Heavy imports happen inside the command so `looprl --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from looprl.build import build_sampling_backend  # module level, so tests can swap the backend
from looprl.commands._common import CONFIG_HELP, SET_HELP, check_or_exit, console, fail, load_or_exit


def eval_command(
    out: Path = typer.Option(..., "--out", help="run directory to write (rollouts.jsonl, summary.json, run.json, config.yaml)"),
    model: str | None = typer.Option(None, "--model", help="a local model folder, an HF id, 'smollm2', or openai:NAME for an OpenAI-compatible endpoint"),
    split: str | None = typer.Option(None, "--split", help="task split to evaluate on (built-in world: train, dev, test_normal, test_challenge)"),
    samples: int | None = typer.Option(None, "--samples", help="rollouts per task; TGC/SGC are averaged over them"),
    max_tasks: int | None = typer.Option(None, "--max-tasks", help="evaluate only the first N tasks of the split"),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    set_: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a live progress bar on stderr"),
) -> None:
    """Evaluate a model on a split of tasks: TGC, SGC and every rollout, in one run directory."""
    from looprl.config import EvalConfig

    overrides = list(set_ or [])
    # Explicit flags win over the file and --set; values are JSON-quoted so YAML reads them verbatim.
    for key, value in (("model.name_or_path", model), ("split", split), ("samples", samples), ("max_tasks", max_tasks)):
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    # Evaluation is greedy unless told otherwise. EvalConfig's greedy default lives in a default_factory
    # that a partial `rollout:` override would bypass, so it is also given as the base the overrides
    # land on (a config *file* with a rollout section still replaces it whole: set temperature there).
    cfg = load_or_exit(EvalConfig, config, overrides, base={"rollout": {"sampling": {"temperature": 0.0}}})
    from looprl.preflight import check_eval_config

    check_or_exit(check_eval_config, cfg)  # model, env, split: before the model loads or --out is written
    try:
        run_eval(cfg, out, progress=progress)
    except (ValueError, KeyError, FileNotFoundError, ImportError) as exc:
        fail(str(exc), 1)


def run_eval(cfg: Any, out: Path, *, progress: bool = True) -> dict[str, Any]:
    """Evaluate as configured by an `EvalConfig`; returns the summary (also written to out/summary.json)."""
    from looprl.analysis.tables import print_summary
    from looprl.env.base import evaluation_hooks
    from looprl.env.task_ids import task_ids as split_task_ids
    from looprl.experiments import evaluate_config
    from looprl.rollout.evaluation import EvalSet

    out = Path(out)
    selected = cfg.task_ids or split_task_ids(cfg.env.name, cfg.split, cfg.env.options, cfg.tasks.selection_fields())  # tasks.*: as training selects
    task_ids = list(selected)[: cfg.max_tasks]
    hooks = evaluation_hooks(cfg.env.name)  # what the env does around an evaluation run (AppWorld: export its experiment folders)
    if hooks is not None:
        cfg.env.options = hooks.prepare_evaluation(cfg.env.options, concurrency=cfg.rollout.concurrency if cfg.rollout.mode == "local" else None)
    console.print(f"evaluating [bold]{cfg.model.name_or_path}[/] on {len(task_ids)} {cfg.split} tasks x {cfg.samples} samples -> {out}")
    # run.json and config.yaml first, then the cheap checks, the model load last (looprl.experiments)
    (result,) = evaluate_config(cfg, {cfg.split: EvalSet(task_ids, cfg.split, out)}, progress=progress, build_policy=build_sampling_backend).values()
    if hooks is not None:
        for line in hooks.finish_evaluation(cfg.env.options, result.trajectories, out, split=cfg.split, task_ids=task_ids):
            console.print(line, markup=False, highlight=False)
    print_summary(result.summary, console)
    return result.summary
