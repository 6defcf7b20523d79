"""The CPU demo: take a small real model, measure it, train it with LOOP, measure it again.

Stages (each recorded in RUN_DIR/demo_state.json when done (looprl.experiments.Marks), so a re-run — after Ctrl-C or to see
the table again — redoes nothing that is finished, and an interrupted training stage resumes from
its last checkpoint):

  1. model    materialize SmolLM2-135M-Instruct (or use the configured model)
  2. before   greedy evaluation (every set sampled in one pass) of the starting model on held-out instances of the training scenarios
              (new instances of known kinds of work: other parameters, wording and base world, never
              trained on) and on dev tasks (new kinds of work: scenarios no training task comes from)
  3. sft      optional SFT-GT warm-up on ground-truth solutions of instances 1..`sft_instances` of
              every training scenario (`sft_epochs` passes, `sft_chats_per_iteration` chats an iteration)
  4. warmup   the same evaluations with the warm-up's adapter (`eval_warmup`), so the tables tell
              what the warm-up changed from what LOOP changed
  5. loop     LOOP on easy training instances drawn fresh every pass (after the warm-up's ones;
              starting from the warm-up's adapter when there is one)
  6. after    the same evaluations with the trained adapter
  7. report   before/after tables (TGC, reward, behaviour metrics) and the HTML report

Every rollout (the evaluations and LOOP's collection) is sampled by one local vLLM server started
for the demo, with the trained adapter merged into its weights after each update
(`train.rollout.adapter_sync`), when `looprl models setup-vllm` has built its environment
(`sampler: auto`); otherwise by transformers in this process.

The stages, the sampler and the evaluations are looprl.experiments' (shared with the benchmarks);
this script is the demo's story: which stages, in which order, and its tables. The numbers printed
are whatever the run measured; nothing is tuned to look good.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from looprl.config import DemoConfig
from looprl.experiments import (
    Marks,
    Stages,
    eval_sets,
    evaluate_adapter,
    latest_adapter,
    loop_config,
    pick_dev_tasks,
    pick_heldout_tasks,
    rollout_server,
    sampler_backend,
    sft_config,
    train_stage,
)
from looprl.utils.io import atomic_write_json

STAGES = ("model", "before", "sft", "warmup", "loop", "after", "report")

EVAL_SETS = {  # suffix of the eval run folder -> what it measures
    "heldout": "held-out instances of the training scenarios (new instances of known kinds of work)",
    "dev": "dev scenarios (new kinds of work: no training task comes from them)",
}


def run_demo(cfg: DemoConfig, console: Console | None = None) -> dict[str, Any]:
    """Run (or resume) every stage; returns the before/after comparison."""
    from looprl.backends import resolve_model

    console = console or Console()
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    marks = Marks(run / "demo_state.json")
    stages = Stages(marks, "demo", console)
    atomic_write_json(run / "demo_config.json", cfg.model_dump(mode="json"))
    t_start = time.perf_counter()

    def stage(name: str, title: str, fn: Any, *args: Any) -> bool:
        return stages(name, fn, *args, title=f"{STAGES.index(name) + 1}/{len(STAGES)} {title}")

    # 1. the model ---------------------------------------------------------------------------------
    stage("model", "materialize the model", lambda: {"path": str(resolve_model(cfg.train.model.name_or_path))})
    model_path = marks.get("model")["path"]
    console.print(f"model: {model_path}")
    task_sets = {"heldout": pick_heldout_tasks(cfg), "dev": pick_dev_tasks(cfg)}
    sets = " and ".join(f"{len(ids)} {suffix}" for suffix, ids in task_sets.items() if ids)

    def evaluate_both(adapter: str | None, method: str | None, url: str | None, when: str, label: str) -> None:
        evaluate_adapter(cfg, model_path, adapter, method, backend, url, eval_sets(cfg, task_sets, run, when, label), label)

    backend = sampler_backend(cfg)
    console.print(f"rollouts sampled with: {backend}" + ("" if backend == "vllm" else " (`looprl models setup-vllm` adds vLLM, faster for the evaluations)"))
    eval_warmup = cfg.sft_epochs > 0 and cfg.eval_warmup
    sampling_left = stages.pending(["before", "loop", "after"] + (["warmup"] if eval_warmup else []))
    with rollout_server(cfg, model_path, backend, sampling_left) as url:
        # 2. before --------------------------------------------------------------------------------
        stage("before", f"evaluate the starting model on {sets} tasks", evaluate_both, None, None, url, "before", "before (base model)")

        # 3. SFT-GT warm-up ------------------------------------------------------------------------
        start_adapter = cfg.train.model.adapter_path
        if cfg.sft_epochs > 0:
            sft_cfg = sft_config(cfg, model_path, run / "sft")
            chats = "ground-truth chats" + (" that look the APIs up" if cfg.sft_read_docs else "")
            n_chats = sft_cfg.trainer.iterations * sft_cfg.trainer.tasks_per_iteration
            title = (
                f"SFT-GT warm-up: {n_chats} {chats} ({cfg.sft_epochs} x instances 1-{cfg.sft_instances} of "
                f"the training scenarios), {sft_cfg.trainer.tasks_per_iteration} an iteration"
            )
            stage("sft", title, train_stage, sft_cfg)
            start_adapter = latest_adapter(run / "sft")
        # 4. the warm-up alone ---------------------------------------------------------------------
        if eval_warmup:
            title = f"evaluate the warmed-up model on the same {sets} tasks"
            stage("warmup", title, evaluate_both, start_adapter, "sft-gt", url, "warmup", "after the SFT-GT warm-up")

        # 5. LOOP ----------------------------------------------------------------------------------
        loop_cfg = loop_config(cfg, model_path, start_adapter, run / "loop", backend, url)
        t = loop_cfg.trainer
        fresh = f", fresh training instances from {loop_cfg.tasks.instance_start} on" if loop_cfg.tasks.fresh_instances else ""
        stage("loop", f"LOOP: {t.iterations} iterations x {t.tasks_per_iteration} tasks x K={t.rollouts_per_task}{fresh}", train_stage, loop_cfg)
        trained_adapter = latest_adapter(run / "loop")

        # 6. after ---------------------------------------------------------------------------------
        label = "after (SFT-GT + LOOP)" if cfg.sft_epochs > 0 else "after (LOOP)"
        title = f"evaluate the trained model on the same {sets} tasks"
        stage("after", title, evaluate_both, trained_adapter, cfg.train.trainer.method, url, "after", label)

    # 7. table and report --------------------------------------------------------------------------
    with_sft = cfg.sft_epochs > 0
    whens = ("before", "warmup", "after") if eval_warmup else ("before", "after")

    def evals(suffix: str) -> list[Path]:
        return [run / f"eval_{when}_{suffix}" for when in whens]

    suffixes = [suffix for suffix, ids in task_sets.items() if ids]
    comparison: dict[str, Any] = {suffix: before_after_table(evals(suffix), console, with_sft=with_sft, subset=EVAL_SETS[suffix]) for suffix in suffixes}
    comparison["headline"] = headline_table({suffix: evals(suffix) for suffix in suffixes}, console)
    comparison["loop"] = loop_summary(run / "loop", console)
    report_path = run / "report.html"

    def report() -> dict[str, Any]:
        from looprl.analysis.report import build_report

        runs = [p for suffix in suffixes for p in evals(suffix)] + [run / "loop"] + [p for p in [run / "sft"] if p.is_dir()]
        build_report(runs, report_path)
        return {"path": str(report_path)}

    stage("report", "write the HTML report", report)
    atomic_write_json(run / "before_after.json", comparison)
    total = sum(v.get("seconds", 0) for v in marks.data.values())
    console.print(f"\nreport: [bold]{report_path.resolve()}[/]")
    console.print(f"before/after JSON: {(run / 'before_after.json').resolve()}")
    console.print(f"stage time recorded: {total / 60:.1f} min (this invocation: {(time.perf_counter() - t_start) / 60:.1f} min)")
    return comparison


def loop_summary(run_dir: Path, console: Console) -> dict[str, Any]:
    """What the LOOP stage did: rollouts, how many carried signal, optimizer steps, reward by iteration."""
    from looprl.training.trainer import read_metrics

    history = read_metrics(run_dir)
    summary = {
        "iterations": len(history),
        "rollouts": int(sum(h.get("rollout/count", 0) for h in history)),
        "kept": int(sum(h.get("rollout/kept", 0) for h in history)),
        "optimizer_steps": int(sum(h.get("train/optimizer_steps", 0) for h in history)),
        "reward_by_iteration": [round(h.get("rollout/reward_mean", 0.0), 3) for h in history],
    }
    console.print(
        f"LOOP: {summary['iterations']} iterations, {summary['rollouts']} rollouts, {summary['kept']} with a non-zero "
        f"leave-one-out advantage, {summary['optimizer_steps']} optimizer steps; training reward by iteration "
        f"{summary['reward_by_iteration']}"
    )
    if summary["optimizer_steps"] == 0:
        console.print(
            "[yellow]LOOP made no update: every task's K rollouts got the same reward, so no rollout carried a "
            "leave-one-out signal. Differences above come from the SFT-GT warm-up. More tasks, larger K, longer "
            "episodes or a stronger model give LOOP something to learn from.[/]"
        )
    return summary


SET_NAMES = {"heldout": "held-out", "dev": "dev"}  # the headline's row labels; EVAL_SETS says what each measures


def headline_table(evals: dict[str, list[Path]], console: Console) -> dict[str, Any]:
    """One line per evaluation set: TGC (tasks fully solved) before, [after the warm-up,] after, each
    with its 95% interval (bootstrap over the set's tasks, looprl.analysis.stats), and LOOP's own step
    (after - warm-up, paired on the same tasks, with its interval: LOOP changed something only where
    that interval excludes 0). Mean reward goes in the rows (and the full table below); what each set
    measures is said once, under the table, so that it fits an 80-column terminal, one line per set."""
    from rich.table import Table

    from looprl.analysis import load_run
    from looprl.analysis.stats import bootstrap_ci, paired_difference

    def pct(x: float) -> str:
        return f"{100 * x:.0f}"

    rows: dict[str, Any] = {}
    warmup = all(len(paths) == 3 for paths in evals.values())
    table = Table(title="what training changed, on tasks never trained on (greedy)")
    table.add_column("tasks", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for column in ("before", "warm-up", "after", "LOOP's step") if warmup else ("before", "after"):
        table.add_column(column, justify="right", no_wrap=True)
    for suffix, paths in evals.items():
        runs = [load_run(p) for p in paths]
        solved = [{t.task_id: float(bool(t.success)) for t in r.trajectories} for r in runs]
        intervals = [bootstrap_ci(list(s.values())) if s else None for s in solved]
        tgc = [100.0 * sum(t.success for t in r.trajectories) / max(len(r.trajectories), 1) for r in runs]
        reward = [sum(t.reward for t in r.trajectories) / max(len(r.trajectories), 1) for r in runs]
        n = len(runs[0].trajectories)
        row: dict[str, Any] = {"tasks": n, "what": EVAL_SETS[suffix], "tgc": tgc, "tgc_ci95": [iv.scaled(100).to_list() if iv else None for iv in intervals]}
        row["reward"] = reward
        cells = [f"{pct(iv.estimate)}% ({pct(iv.low)}-{pct(iv.high)})" if iv else "-" for iv in intervals]
        if warmup:
            step = paired_difference(solved[1], solved[2]) if solved[1] and solved[2] else None
            row["loop_step"] = step.scaled(100).to_dict() if step else None
            cells.append(f"{100 * step.interval.estimate:+.0f} ({100 * step.interval.low:+.0f},{100 * step.interval.high:+.0f})" if step else "-")
        rows[suffix] = row
        table.add_row(SET_NAMES.get(suffix, suffix), str(n), *cells)
    notes = [f"{SET_NAMES.get(suffix, suffix)}: {EVAL_SETS[suffix]}" for suffix in evals]
    table.caption = "\n".join(["cells: TGC % (tasks fully solved), 95% interval over the tasks", *notes])
    if warmup:
        table.caption += "\nLOOP's step: after - warm-up in points, paired on the same tasks"
    table.caption_justify = "left"
    console.print(table)
    return rows


def before_after_table(evals: list[Path], console: Console, *, with_sft: bool = False, subset: str = "dev subset (held out)") -> dict[str, Any]:
    """Print every metric of the eval runs `evals` (before, [after the warm-up,] after) side by side,
    with the ratio after/before and, when the warm-up was evaluated, after/warm-up: LOOP's own change."""
    from rich.table import Table

    from looprl.analysis import compare_runs, load_run
    from looprl.analysis.compare import ratio

    warmup = len(evals) == 3
    whens = ["before", "warmup", "after"] if warmup else ["before", "after"]
    runs = [load_run(p) for p in evals]
    comparison = compare_runs(runs)
    rewards = [sum(t.reward for t in r.trajectories) / len(r.trajectories) if r.trajectories else None for r in runs]
    stages = "SFT-GT warm-up, then LOOP" if with_sft else "LOOP"
    note = "; warm-up = after SFT-GT, before LOOP" if warmup else ""
    table = Table(title=f"before vs after training ({stages}); {subset}, greedy{note}")
    table.add_column("metric")
    for column in ["before", "warm-up", "after", "after/before", "after/warm-up"] if warmup else ["before", "after", "after/before"]:
        table.add_column(column, justify="right")

    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, (list, tuple)):  # an interval
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    def row(label: str, values: list[Any]) -> None:
        ratios = [ratio(values[-1], values[0])] + ([ratio(values[-1], values[1])] if warmup else [])
        table.add_row(label, *map(fmt, values), *map(fmt, ratios))

    row("mean reward (fraction of checks passed)", rewards)
    for m in comparison["metrics"]:
        if m["key"].startswith(("per_app/", "per_split/")) or m["key"].endswith("_std"):
            continue  # all of them are in before_after.json and the report; the table keeps to the headline
        row(m["label"], m["values"])
    console.print(table)
    return {"reward_mean": dict(zip(whens, rewards)), **comparison}
