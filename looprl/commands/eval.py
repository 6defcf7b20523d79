"""`looprl eval`: roll out a model on a split and write an eval run directory (docs/run-layout.md).

    looprl eval --model smollm2 --split dev --samples 3 --out runs/eval-smollm2 [--max-tasks 12]
    looprl eval --model openai:gpt-4o-mini --split dev --out runs/eval-4o-mini
    looprl eval --config configs/tiny.yaml --set rollout.sampling.temperature=0.7 --out runs/x

Writes run.json and config.yaml before any rollout (so a crashed run is still identifiable), then
rollouts.jsonl and summary.json (TGC, SGC, per difficulty, per app; looprl/rollout/evaluation.py).
On the appworld env it also writes <out>/appworld/, an AppWorld root whose experiment folders hold the
episodes' end states, for AppWorld's own `appworld evaluate` and leaderboard tools
(looprl/env/appworld_export.py).
Heavy imports happen inside the command so `looprl --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import typer

from looprl.commands._common import CONFIG_HELP, SET_HELP, check_or_exit, console, load_or_exit

OPENAI_PREFIX = "openai:"


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
    from looprl.schema import EvalConfig

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
        console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def run_eval(cfg: Any, out: Path, *, progress: bool = True) -> dict[str, Any]:
    """Evaluate as configured by an `EvalConfig`; returns the summary (also written to out/summary.json)."""
    from looprl.config import dump_config
    from looprl.rollout import evaluate
    from looprl.utils.io import atomic_write_json, atomic_write_text

    out = Path(out)
    from looprl.env.task_ids import task_ids as split_task_ids

    task_ids = split_task_ids(cfg.env.name, cfg.split, cfg.env.options)[: cfg.max_tasks]
    if cfg.env.name == "appworld":
        # keep each episode's AppWorld outputs for the experiment folder written below, and never run
        # more servers than episodes at once (a local run's servers live in this process)
        bound = {"max_servers": cfg.rollout.concurrency} if cfg.rollout.mode == "local" else {}
        cfg.env.options = {**bound, **cfg.env.options, "keep_outputs": True}
    atomic_write_json(out / "run.json", {
        "kind": "eval", "name": out.name, "model": cfg.model.name_or_path, "method": None, "split": cfg.split,
        "env": cfg.env.name, "seed": cfg.seed, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["looprl", *sys.argv[1:]]),
    })
    atomic_write_text(out / "config.yaml", dump_config(cfg))
    console.print(f"evaluating [bold]{cfg.model.name_or_path}[/] on {len(task_ids)} {cfg.split} tasks x {cfg.samples} samples -> {out}")
    from looprl.agent import scaffold_for

    scaffold = scaffold_for(cfg.rollout.scaffold, env=cfg.env.name)  # cheap checks first, the model load last
    env_factory = env_factory_for(cfg)
    policy = build_policy(cfg)
    result = evaluate(
        policy,
        env_factory,
        task_ids,
        samples=cfg.samples,
        sampling=sampling_for(cfg),
        scaffold=scaffold,
        max_turns=cfg.env.eval_max_turns,
        max_context_tokens=cfg.rollout.sampling.max_context_tokens,
        max_observation_tokens=cfg.env.max_observation_tokens,
        concurrency=cfg.rollout.concurrency,
        generation_batch_size=cfg.rollout.generation_batch_size,
        split=cfg.split,
        model_name=cfg.model.name_or_path,
        out_dir=out,
        progress=progress,
    )
    if cfg.env.name == "appworld":
        from looprl.env.appworld import resolve_root
        from looprl.env.appworld_export import write_experiments

        exported = write_experiments(result.trajectories, resolve_root(cfg.env.options.get("root")), out,
                                     run_name=cfg.env.options.get("experiment_prefix") or out.name, split=cfg.split,
                                     task_ids=list(task_ids))
        console.print(f"AppWorld experiment folder(s) in {exported['appworld_root']}; score them with AppWorld's own evaluation:")
        for command in exported["evaluate"]:
            console.print(f"  {command}", markup=False, highlight=False)
    print_summary(result.summary)
    return result.summary


def build_policy(cfg: Any) -> Any:
    """The backend named by the config: openai:NAME -> OpenAIChatBackend, else HF or vLLM."""
    name = cfg.model.name_or_path
    if name.startswith(OPENAI_PREFIX) or cfg.rollout.backend == "openai":
        from looprl.backends import OpenAIChatBackend

        model_id = name[len(OPENAI_PREFIX):] if name.startswith(OPENAI_PREFIX) else name
        if cfg.rollout.vllm_url:  # any OpenAI-compatible server, e.g. a vLLM one serving NAME
            return OpenAIChatBackend(model_id, base_url=cfg.rollout.vllm_url.rstrip("/") + "/v1")
        return OpenAIChatBackend(model_id)
    if cfg.rollout.backend == "vllm":
        from looprl.backends import VLLMBackend

        return VLLMBackend(name, base_url=cfg.rollout.vllm_url, adapter_path=cfg.model.adapter_path,
                           adapter_sync=cfg.rollout.adapter_sync)
    from looprl.backends import HFBackend

    return HFBackend(
        name, dtype=cfg.model.dtype, lora=None, adapter_path=cfg.model.adapter_path,
        attn_implementation=cfg.model.attn_implementation, seed=cfg.seed,
    )


def env_factory_for(cfg: Any) -> Callable[[], Any]:
    """A zero-argument env factory; in Ray mode each env lives in a Ray actor."""
    if cfg.rollout.mode == "ray":
        import ray

        from looprl.rollout.ray_collector import RayEnvFactory

        if not ray.is_initialized():
            ray.init()  # joins the cluster Ray is configured for, else starts a local one
        return RayEnvFactory(cfg.env.name, cfg.env.options)
    from looprl.env import make_env

    name, options = cfg.env.name, dict(cfg.env.options)
    return lambda: make_env(name, **options)


def sampling_for(cfg: Any) -> Any:
    from looprl.backends.base import SamplingParams

    s = cfg.rollout.sampling
    return SamplingParams(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k, max_new_tokens=s.max_new_tokens, seed=cfg.seed)


def print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    def pct(x: Any) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    table = Table(title=f"{summary.get('model', '')} on {summary.get('split', '')}")
    for col in ("", "TGC %", "SGC %", "tasks", "rollouts"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("all", pct(summary["tgc"]), pct(summary["sgc"]), str(summary["n_tasks"]), str(summary["n_rollouts"]))
    for diff, row in summary.get("per_difficulty", {}).items():
        table.add_row(f"difficulty {diff}", pct(row["tgc"]), pct(row["sgc"]), str(row["n_tasks"]), str(row["n_rollouts"]))
    console.print(table)
    r = summary.get("rollout", {})
    console.print(
        f"mean reward {summary.get('reward_mean', 0):.3f}; {r.get('generated_tokens', 0)} tokens in {r.get('wall_s', 0):.1f} s "
        f"({r.get('tokens_per_s', 0):.1f} tok/s), {r.get('env_steps', 0)} env steps"
    )
