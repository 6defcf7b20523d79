"""The CPU demo: take a small real model, measure it, train it with LOOP, measure it again.

Stages (each recorded in RUN_DIR/demo_state.json when done, so a re-run — after Ctrl-C or to see
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

The numbers printed are whatever the run measured; nothing is tuned to look good.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console

from looprl.schema import DemoConfig, EvalConfig, RolloutConfig, SamplingConfig, TrainConfig
from looprl.utils.io import atomic_write_json

STAGES = ("model", "before", "sft", "warmup", "loop", "after", "report")


class DemoState:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "demo_state.json"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {"done": {}}

    def done(self, stage: str) -> bool:
        return stage in self.data["done"]

    def mark(self, stage: str, **info: Any) -> None:
        self.data["done"][stage] = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **info}
        atomic_write_json(self.path, self.data)

    def get(self, stage: str) -> dict[str, Any]:
        return self.data["done"].get(stage, {})


def pick_tasks(split: str, difficulties: list[int] | None, n: int, scenarios: list[str] | None = None) -> list[str]:
    """A deterministic subset of `n` tasks of `split` that spreads over its scenarios (or `scenarios`):
    instance 1 of each scenario first (of the wanted difficulties), then instance 2, and so on."""
    from looprl.world.tasks import instance, instance_numbers, split_scenarios

    names = [name for name in split_scenarios(split) if scenarios is None or name in scenarios]
    picked: list[str] = []
    for k, number in enumerate(instance_numbers(split, 10_000)):
        for name in names:
            task = instance(name, number)
            if not difficulties or task.difficulty in difficulties:
                picked.append(task.id)
                if len(picked) == n:
                    return picked
        if k >= 50 and not picked:
            break
    if len(picked) < n:
        raise ValueError(f"{split}: found {len(picked)} tasks with difficulties {difficulties}, wanted {n}")
    return picked


def pick_heldout_tasks(cfg: DemoConfig) -> list[str]:
    """Held-out instances of the training scenarios (those LOOP trains on), of the difficulties it trains on."""
    from looprl.world.tasks import HELDOUT

    return pick_tasks(HELDOUT, cfg.train.tasks.difficulties, cfg.heldout_tasks, cfg.train.tasks.scenarios)


def pick_dev_tasks(cfg: DemoConfig) -> list[str]:
    return pick_tasks(cfg.train.tasks.dev_split, cfg.dev_difficulties, cfg.dev_tasks) if cfg.dev_tasks else []


def sampler_backend(cfg: DemoConfig) -> str:
    """The backend that samples every rollout of the demo (evaluations and LOOP's collection).

    "auto" picks vLLM when its environment exists (`looprl models setup-vllm`, which
    scripts/demo.sh runs). Measured here (docs/results.md): with the adapter merged into the served
    weights and each episode's turn requested on its own, 12 dev episodes of the warmed-up model took
    68 s (57 tok/s), against 250 s with the LoRA hot-swapped in and batched turns.
    """
    from looprl.backends.vllm import vllm_python, vllm_ready

    if cfg.sampler == "vllm":
        vllm_python()  # raises, naming `looprl models setup-vllm`, when the environment is missing
    if cfg.sampler != "auto":
        return cfg.sampler
    return "vllm" if vllm_ready() else "transformers"


@contextmanager
def rollout_server(cfg: DemoConfig, model_path: str, backend: str, needed: bool) -> Iterator[str | None]:
    """One vLLM server shared by every stage (started only when a sampling stage is left to run); the
    trained adapter reaches it as `train.rollout.adapter_sync` says. Yields its URL, or None when
    sampling stays in this process."""
    if backend != "vllm" or not needed:
        yield None
        return
    if cfg.train.rollout.vllm_url:  # the user's own server
        yield cfg.train.rollout.vllm_url
        return
    from looprl.backends.vllm import server_kwargs_for, start_server

    t = cfg.train
    log = Path(cfg.run_dir) / "vllm_server.log"
    # the trainer's dtype (float32 by default): on a CPU without bf16 instructions (AVX2 only, as CI's
    # machine) vLLM's bf16 matmuls fall back to a path ~10x slower than float32
    with start_server(
        model_path,
        max_lora_rank=t.lora.r,
        max_model_len=t.rollout.sampling.max_context_tokens,
        dtype=t.model.dtype,
        seed=t.seed,
        log_path=log,
        **server_kwargs_for(t.rollout.adapter_sync),
    ) as server:
        yield server.url


def _with_sampler(rollout: RolloutConfig, backend: str, url: str | None) -> RolloutConfig:
    return rollout.model_copy(update={"backend": backend, "vllm_url": url}) if backend == "vllm" else rollout


def sft_config(cfg: DemoConfig, model_path: str, run_dir: Path) -> TrainConfig:
    """The SFT-GT warm-up's training config: one iteration = one pass over the ground-truth chats of
    every training task of `sft_difficulties`."""
    from looprl.training.trainer import resolve_task_ids

    sft = cfg.train.model_copy(deep=True)
    sft.run_dir = str(run_dir)
    sft.model.name_or_path = model_path
    sft.tasks.difficulties = list(cfg.sft_difficulties)
    sft.tasks.instances, sft.tasks.instance_start, sft.tasks.fresh_instances = cfg.sft_instances, 1, False
    t = sft.trainer
    chats = cfg.sft_epochs * len(resolve_task_ids(sft, sft.tasks.train_split))
    t.method, t.epochs = "sft-gt", 1
    # iterations of at most sft_chats_per_iteration chats, as even as can be (the task sampler goes pass by
    # pass, each a fresh permutation, so the warm-up sees every chat sft_epochs times, give or take one iteration's rounding)
    t.iterations = max(1, math.ceil(chats / cfg.sft_chats_per_iteration))
    t.tasks_per_iteration = max(1, math.ceil(chats / t.iterations))
    t.minibatch_size, t.lr, t.sft_read_docs = cfg.sft_minibatch_size, cfg.sft_lr, cfg.sft_read_docs
    return sft


def loop_config(cfg: DemoConfig, model_path: str, start_adapter: str | None, run_dir: Path, backend: str, url: str | None) -> TrainConfig:
    """The LOOP stage's training config, starting from `start_adapter` (the warm-up's, or None), on
    training instances after the warm-up's."""
    loop = cfg.train.model_copy(deep=True)
    if cfg.sft_epochs > 0 and loop.tasks.instances is not None and loop.tasks.instance_start == 1:
        loop.tasks.instance_start = cfg.sft_instances + 1
    loop.run_dir = str(run_dir)
    loop.model.name_or_path = model_path
    loop.model.adapter_path = start_adapter
    loop.rollout = _with_sampler(loop.rollout, backend, url)
    return loop


def eval_config(
    cfg: DemoConfig, model_path: str, adapter: str | None, backend: str = "transformers", url: str | None = None, split: str | None = None
) -> EvalConfig:
    t = cfg.train
    sampling = SamplingConfig(**{**t.rollout.sampling.model_dump(), "temperature": 0.0})
    rollout = _with_sampler(RolloutConfig(**{**t.rollout.model_dump(), "sampling": sampling}), backend, url)
    model = t.model.model_copy(update={"name_or_path": model_path, "adapter_path": adapter})
    return EvalConfig(seed=t.seed, model=model, env=t.env, split=split or t.tasks.dev_split, samples=cfg.eval_samples, rollout=rollout)


def run_evaluation(cfg: EvalConfig, task_ids: list[str], out: Path, label: str, method: str | None) -> dict[str, Any]:
    """Evaluate exactly `task_ids` and write an eval run directory (docs/run-layout.md); `method` is
    what trained the adapter (None: the base model). Built as `looprl eval` builds (looprl.build)."""
    from looprl.analysis.tables import print_summary
    from looprl.build import build_env_factory, build_sampling_backend, rollout_spec, write_run_files
    from looprl.rollout import evaluate

    write_run_files(out, cfg, kind="eval", split=cfg.split, method=method, name=label, command="looprl demo")
    spec = rollout_spec(cfg, max_turns=cfg.env.eval_max_turns, model_name=label)
    result = evaluate(build_sampling_backend(cfg), build_env_factory(cfg), task_ids, spec, samples=cfg.samples, split=cfg.split, out_dir=out, progress=True)
    print_summary(result.summary)
    return result.summary


EVAL_SETS = {  # suffix of the eval run folder -> what it measures
    "heldout": "held-out instances of the training scenarios (new instances of known kinds of work)",
    "dev": "dev scenarios (new kinds of work: no training task comes from them)",
}


def evaluate_subsets(
    cfg: DemoConfig,
    model_path: str,
    adapter: str | None,
    method: str | None,
    backend: str,
    url: str | None,
    out: Path,
    when: str,
    label: str,
    task_sets: dict[str, list[str]],
) -> dict[str, dict[str, Any]]:
    """Greedy evaluation of `adapter` (trained by `method`; None: the base model) on every set of
    `task_sets` (suffix -> task ids), each written as its own eval run directory OUT/eval_WHEN_SUFFIX.

    All sets are sampled in one pass (one collection, one adapter load): on a 2-core CPU a pass over
    24 + 6 tasks keeps the sampler's batch full where two passes would end on a batch of stragglers.
    Returns suffix -> summary."""
    from looprl.analysis.metrics import summarize
    from looprl.analysis.tables import print_summary
    from looprl.build import build_env_factory, build_sampling_backend, rollout_spec, write_run_files
    from looprl.rollout import evaluate
    from looprl.trajectory import write_jsonl
    from looprl.utils.io import atomic_write_json
    from looprl.world.tasks import HELDOUT

    sets = {suffix: ids for suffix, ids in task_sets.items() if ids}
    splits = {suffix: HELDOUT if suffix == "heldout" else cfg.train.tasks.dev_split for suffix in sets}
    configs = {suffix: eval_config(cfg, model_path, adapter, backend, url, split=splits[suffix]) for suffix in sets}
    first = next(iter(configs.values()))
    spec = rollout_spec(first, max_turns=first.env.eval_max_turns, model_name=label)
    every = [task for ids in sets.values() for task in ids]
    result = evaluate(build_sampling_backend(first), build_env_factory(first), every, spec, samples=first.samples, progress=True)
    summaries = {}
    for suffix, ids in sets.items():
        where, wanted = out / f"eval_{when}_{suffix}", set(ids)
        write_run_files(where, configs[suffix], kind="eval", split=splits[suffix], method=method, name=f"{label}, {suffix}", command="looprl demo")
        trajectories = [t for t in result.trajectories if t.task_id in wanted]
        for t in trajectories:
            t.split = splits[suffix]
        summary = summarize(trajectories)
        summary.update(
            split=splits[suffix],
            model=f"{label}, {suffix}",
            reward_mean=sum(t.reward for t in trajectories) / len(trajectories),
            rollout={**result.stats.to_dict(), "shared_with": sorted(set(sets) - {suffix})},
        )
        write_jsonl(where / "rollouts.jsonl", trajectories)
        atomic_write_json(where / "summary.json", summary)
        print_summary(summary)
        summaries[suffix] = summary
    return summaries


def latest_adapter(run_dir: Path) -> str:
    from looprl.training.checkpoint import load_latest

    found = load_latest(run_dir)
    if found is None:
        raise FileNotFoundError(f"no usable checkpoint under {run_dir / 'checkpoints'}")
    return str(found[0] / "adapter")


def train_stage(cfg: TrainConfig) -> None:
    """Train `cfg`, resuming from its run directory's last checkpoint when there is one."""
    from looprl.training.checkpoint import load_latest
    from looprl.training.trainer import Trainer

    resume = load_latest(cfg.run_dir) is not None
    Trainer(cfg, resume=resume).train()


def run_demo(cfg: DemoConfig, console: Console | None = None) -> dict[str, Any]:
    """Run (or resume) every stage; returns the before/after comparison."""
    from looprl.backends import resolve_model

    console = console or Console()
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    state = DemoState(run)
    atomic_write_json(run / "demo_config.json", cfg.model_dump(mode="json"))
    t_start = time.perf_counter()

    def stage(name: str, title: str) -> bool:
        if state.done(name):
            console.print(f"[dim]- {title}: already done ({state.get(name)['at']})[/]")
            return False
        console.rule(f"[bold]{STAGES.index(name) + 1}/{len(STAGES)} {title}")
        return True

    # 1. the model ---------------------------------------------------------------------------------
    if stage("model", "materialize the model"):
        t0 = time.perf_counter()
        path = str(resolve_model(cfg.train.model.name_or_path))
        state.mark("model", path=path, seconds=round(time.perf_counter() - t0, 1))
    model_path = state.get("model")["path"]
    console.print(f"model: {model_path}")
    task_sets = {"heldout": pick_heldout_tasks(cfg), "dev": pick_dev_tasks(cfg)}
    sets = " and ".join(f"{len(ids)} {suffix}" for suffix, ids in task_sets.items() if ids)

    def evaluate_both(adapter: str | None, method: str | None, url: str | None, when: str, label: str) -> None:
        evaluate_subsets(cfg, model_path, adapter, method, backend, url, run, when, label, task_sets)

    backend = sampler_backend(cfg)
    console.print(f"rollouts sampled with: {backend}" + ("" if backend == "vllm" else " (`looprl models setup-vllm` adds vLLM, faster for the evaluations)"))
    eval_warmup = cfg.sft_epochs > 0 and cfg.eval_warmup
    sampling_left = any(not state.done(s) for s in ("before", "loop", "after") + (("warmup",) if eval_warmup else ()))
    with rollout_server(cfg, model_path, backend, sampling_left) as url:
        # 2. before --------------------------------------------------------------------------------
        if stage("before", f"evaluate the starting model on {sets} tasks"):
            t0 = time.perf_counter()
            evaluate_both(None, None, url, "before", "before (base model)")
            state.mark("before", seconds=round(time.perf_counter() - t0, 1))

        # 3. SFT-GT warm-up ------------------------------------------------------------------------
        start_adapter = cfg.train.model.adapter_path
        if cfg.sft_epochs > 0:
            sft_cfg = sft_config(cfg, model_path, run / "sft")
            chats = "ground-truth chats" + (" that look the APIs up" if cfg.sft_read_docs else "")
            n_chats = sft_cfg.trainer.iterations * sft_cfg.trainer.tasks_per_iteration
            if stage(
                "sft",
                f"SFT-GT warm-up: {n_chats} {chats} ({cfg.sft_epochs} x instances 1-{cfg.sft_instances} of "
                f"the training scenarios), {sft_cfg.trainer.tasks_per_iteration} an iteration",
            ):
                t0 = time.perf_counter()
                train_stage(sft_cfg)
                state.mark("sft", seconds=round(time.perf_counter() - t0, 1))
            start_adapter = latest_adapter(run / "sft")
        # 4. the warm-up alone ---------------------------------------------------------------------
        if eval_warmup and stage("warmup", f"evaluate the warmed-up model on the same {sets} tasks"):
            t0 = time.perf_counter()
            evaluate_both(start_adapter, "sft-gt", url, "warmup", "after the SFT-GT warm-up")
            state.mark("warmup", seconds=round(time.perf_counter() - t0, 1))

        # 5. LOOP ----------------------------------------------------------------------------------
        loop_cfg = loop_config(cfg, model_path, start_adapter, run / "loop", backend, url)
        t = loop_cfg.trainer
        fresh = f", fresh training instances from {loop_cfg.tasks.instance_start} on" if loop_cfg.tasks.fresh_instances else ""
        if stage("loop", f"LOOP: {t.iterations} iterations x {t.tasks_per_iteration} tasks x K={t.rollouts_per_task}{fresh}"):
            t0 = time.perf_counter()
            train_stage(loop_cfg)
            state.mark("loop", seconds=round(time.perf_counter() - t0, 1))
        trained_adapter = latest_adapter(run / "loop")

        # 6. after ---------------------------------------------------------------------------------
        if stage("after", f"evaluate the trained model on the same {sets} tasks"):
            t0 = time.perf_counter()
            label = "after (SFT-GT + LOOP)" if cfg.sft_epochs > 0 else "after (LOOP)"
            evaluate_both(trained_adapter, cfg.train.trainer.method, url, "after", label)
            state.mark("after", seconds=round(time.perf_counter() - t0, 1))

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
    if stage("report", "write the HTML report"):
        from looprl.analysis.report import build_report

        runs = [p for suffix in suffixes for p in evals(suffix)] + [run / "loop"] + [p for p in [run / "sft"] if p.is_dir()]
        build_report(runs, report_path)
        state.mark("report", path=str(report_path))
    atomic_write_json(run / "before_after.json", comparison)
    total = sum(v.get("seconds", 0) for v in state.data["done"].values())
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


def headline_table(evals: dict[str, list[Path]], console: Console) -> dict[str, Any]:
    """One line per evaluation set: TGC (tasks fully solved) and mean reward before, [after the
    warm-up,] after, and LOOP's own step (after - warm-up), with what each set measures."""
    from rich.table import Table

    from looprl.analysis import load_run

    rows: dict[str, Any] = {}
    warmup = all(len(paths) == 3 for paths in evals.values())
    table = Table(title="what training changed, on tasks never trained on (greedy)")
    table.add_column("tasks")
    table.add_column("n", justify="right")
    for column in ("before", "warm-up", "after", "LOOP's own step") if warmup else ("before", "after"):
        table.add_column(column + (" (after - warm-up)" if column == "LOOP's own step" else ""), justify="right")
    for suffix, paths in evals.items():
        runs = [load_run(p) for p in paths]
        tgc = [100.0 * sum(t.success for t in r.trajectories) / max(len(r.trajectories), 1) for r in runs]
        reward = [sum(t.reward for t in r.trajectories) / max(len(r.trajectories), 1) for r in runs]
        n = len(runs[0].trajectories)
        rows[suffix] = {"tasks": n, "what": EVAL_SETS[suffix], "tgc": tgc, "reward": reward}
        cells = [f"TGC {v:.0f}% / reward {r:.2f}" for v, r in zip(tgc, reward)]
        if warmup:
            cells.append(f"{tgc[2] - tgc[1]:+.0f} pts / {reward[2] - reward[1]:+.2f}")
        table.add_row(EVAL_SETS[suffix], str(n), *cells)
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
