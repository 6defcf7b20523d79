"""Does training carry to tasks never trained on? Held-out-instance TGC after the SFT-GT warm-up as a
function of how many instances of each training scenario the warm-up saw, and LOOP's own gain from
each warm-up (after LOOP minus after the warm-up), at equal budgets, over several seeds.

For every (instances per scenario n, seed s):
  1. warm-up  SFT-GT on instances of the training scenarios (the demo's, difficulty 1): n of each,
              from a block of its own per seed (each seed its own data), for the same number of chat
              presentations whatever n (`--sft-chats`): few instances are seen many times, many once
  2. warmup   greedy evaluation of the warmed-up adapter on the held-out instances (`--heldout-tasks`,
              the same for every run: the demo's pick, outcomes no training instance has)
  3. loop     LOOP from the warm-up on fresh training instances never used by any warm-up here,
              the same rollout budget for every run (iterations x tasks x K)
  4. after    the same evaluation of LOOP's adapter
  5. with --dynamic-sampling, also: LOOP from the same warm-up with trainer.dynamic_sampling (flat
     groups replaced by more draws, looprl/training/dynamic_sampling.py), stopped once it has spent
     the paper's setting's rollouts (its last iteration may overshoot: the JSON says by how much),
     and its evaluation; the table pairs it with the paper's setting on the same tasks
Every TGC carries its 95% interval (bootstrap over the held-out tasks; over seeds, then tasks, for
the means), and LOOP's own step is a paired difference on the same tasks (looprl.analysis.stats).
The base model is evaluated once on the same held-out instances. Every stage is a looprl run
directory under OUT/runs/n{n}_s{seed}/ and is skipped when already done, so a killed benchmark
resumes where it stopped. One local vLLM server samples every rollout (`looprl models setup-vllm`).

    .venv/bin/python benchmarks/bench_generalization.py                     # the full grid (cost: see the JSON)
    .venv/bin/python benchmarks/bench_generalization.py --instances 1 10 --seeds 0
    .venv/bin/python benchmarks/bench_generalization.py --instances 10 --dynamic-sampling   # against the paper's setting

Writes OUT/generalization.json (every run's numbers, the means and spreads, the setting, wall times
and the command), OUT/generalization.png and OUT/generalization.md (the table).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from looprl.experiments import Marks, Stages, evaluate_adapter, latest_adapter, mean_sd, tgc_and_reward

DEFAULT_OUT = Path("benchmarks/results/generalization")
LOOP_BLOCK = 20  # instances per scenario each seed's LOOP may draw (iterations x tasks / pool, with room)


def instance_blocks(seeds: list[int], instances: list[int]) -> dict[int, tuple[int, int]]:
    """Seed -> (first warm-up instance, first LOOP instance): every seed its own block of max(instances)
    warm-up instances, then every seed its own block of LOOP instances, all after the warm-ups'. Kept
    small: a process draws instances 1..n of a scenario in order to draw instance n."""
    width = max(instances)
    order = sorted(seeds)
    loop_start = 1 + len(order) * width
    return {s: (1 + i * width, loop_start + i * LOOP_BLOCK) for i, s in enumerate(order)}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (runs/ inside; rerun to resume)")
    p.add_argument("--model", default="smollm2", help="HF model id or folder (default: SmolLM2-135M-Instruct, materialized)")
    p.add_argument("--instances", type=int, nargs="+", default=[1, 3, 10, 30], help="instances per training scenario for the warm-up")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (each: its own warm-up data, LoRA init and sampling)")
    p.add_argument("--sft-chats", type=int, default=96, help="chat presentations per warm-up, whatever the instance count")
    p.add_argument("--sft-batch", type=int, default=12, help="chats per warm-up iteration (a checkpoint each)")
    p.add_argument("--heldout-tasks", type=int, default=24, help="held-out instances evaluated")
    p.add_argument("--loop-iterations", type=int, default=3, help="LOOP iterations from each warm-up")
    p.add_argument("--loop-tasks", type=int, default=8, help="LOOP tasks per iteration")
    p.add_argument("--k", type=int, default=4, help="LOOP rollouts per task (K)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any DemoConfig override, e.g. train.rollout.sampling.temperature=1.0 (repeatable)",
    )
    p.add_argument(
        "--dynamic-sampling",
        action="store_true",
        help="also run LOOP with trainer.dynamic_sampling from each warm-up, at the paper's setting's rollout budget",
    )
    p.add_argument("--ds-max-batches", type=int, default=3, help="with --dynamic-sampling: trainer.dynamic_sampling_max_batches")
    p.add_argument("--sampler", default="auto", choices=["auto", "vllm", "transformers"], help="what samples rollouts")
    return p.parse_args(argv)


def build_config(args: argparse.Namespace):
    from looprl.config import DemoConfig, load_config

    cfg = load_config(
        DemoConfig,
        overrides=[
            f"run_dir={args.out}",
            f"heldout_tasks={args.heldout_tasks}",
            "dev_tasks=0",
            "sft_difficulties=[1]",
            f"sampler={args.sampler}",
            f"train.model.name_or_path={args.model}",
            *args.overrides,
        ],
    )
    t = cfg.train.trainer
    t.iterations, t.tasks_per_iteration, t.rollouts_per_task = args.loop_iterations, args.loop_tasks, args.k
    return cfg


def sft_stage_config(cfg, model_path: str, run_dir: Path, n: int, seed: int, start: int, args: argparse.Namespace):
    from looprl.experiments import sft_config
    from looprl.training.trainer import resolve_task_ids

    sft = sft_config(cfg, model_path, run_dir)
    sft.seed = seed
    sft.tasks.instances, sft.tasks.instance_start = n, start
    pool = len(resolve_task_ids(sft, sft.tasks.train_split))
    sft.trainer.tasks_per_iteration = min(args.sft_batch, pool)
    sft.trainer.iterations = math.ceil(args.sft_chats / sft.trainer.tasks_per_iteration)
    return sft


def run(args: argparse.Namespace) -> dict[str, Any]:
    from looprl.backends import resolve_model
    from looprl.experiments import loop_config, pick_heldout_tasks, rollout_server, sampler_backend, train_stage
    from looprl.rollout.evaluation import EvalSet
    from looprl.world.tasks import HELDOUT

    blocks = instance_blocks(args.seeds, args.instances)
    out = args.out
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    marks = Marks(out / "state.json")
    timed = Stages(marks, "generalization")
    cfg = build_config(args)
    model_path = str(resolve_model(cfg.train.model.name_or_path))
    heldout = pick_heldout_tasks(cfg)
    backend = sampler_backend(cfg)
    started = time.perf_counter()

    def evaluate(trained: Path | None, method: str | None, url: str | None, where: Path, label: str) -> None:
        """Evaluate the newest adapter of the run `trained` (None: the base model) on the held-out instances."""
        adapter = latest_adapter(trained) if trained is not None else None
        evaluate_adapter(cfg, model_path, adapter, method, backend, url, {"heldout": EvalSet(heldout, HELDOUT, where, label)}, label)

    grid = [(n, s) for s in args.seeds for n in args.instances]
    with rollout_server(cfg, model_path, backend, needed=True) as url:
        timed("before", evaluate, None, None, url, runs / "eval_before", "base model, held-out instances")
        for n, seed in grid:
            here, key = runs / f"n{n}_s{seed}", f"n{n}_s{seed}"
            sft = sft_stage_config(cfg, model_path, here / "sft", n, seed, blocks[seed][0], args)
            timed(f"{key}/sft", train_stage, sft)
            timed(f"{key}/warmup", evaluate, here / "sft", "sft-gt", url, here / "eval_warmup", f"SFT-GT, {n} inst., seed {seed}")
            loop = loop_config(cfg, model_path, latest_adapter(here / "sft"), here / "loop", backend, url)
            loop.seed = seed
            loop.tasks.instance_start = blocks[seed][1]
            timed(f"{key}/loop", train_stage, loop)
            timed(f"{key}/after", evaluate, here / "loop", "loop", url, here / "eval_after", f"SFT-GT + LOOP, {n} inst., seed {seed}")
            if args.dynamic_sampling:
                ds = loop.model_copy(deep=True)
                ds.run_dir = str(here / "loop_ds")
                ds.trainer.dynamic_sampling, ds.trainer.dynamic_sampling_max_batches = True, args.ds_max_batches
                timed(f"{key}/loop_ds", train_at_budget, ds, rollout_budget(loop))
                timed(f"{key}/after_ds", evaluate, here / "loop_ds", "loop", url, here / "eval_after_ds", f"SFT-GT + LOOP (dynamic), {n} inst., seed {seed}")
    return summarize(args, cfg, runs, grid, marks, heldout, time.perf_counter() - started)


def rollout_budget(cfg) -> int:
    """The paper's setting's rollouts in a run: iterations x tasks x K."""
    t = cfg.trainer
    return t.iterations * t.tasks_per_iteration * t.rollouts_per_task


def train_at_budget(cfg, budget: int) -> None:
    """Train a dynamic-sampling run iteration by iteration until it has spent `budget` rollouts
    (`dynamic/rollouts_spent`, every batch drawn counted), resuming from its last checkpoint."""
    from looprl.training.checkpoint import load_latest
    from looprl.training.trainer import Trainer

    cfg = cfg.model_copy(deep=True)
    cfg.trainer.iterations = budget  # an upper bound: every iteration spends at least one rollout
    with Trainer(cfg, resume=load_latest(cfg.run_dir) is not None) as trainer:
        while sum(h.get("dynamic/rollouts_spent", 0.0) for h in trainer.logger.history) < budget:
            trainer.train(stop_after=1)


def with_intervals(eval_dir: Path) -> dict[str, Any]:
    """tgc_and_reward plus each task's share solved (`per_task`) and the TGC's 95% bootstrap interval over tasks."""
    from looprl.analysis import load_run
    from looprl.analysis.stats import bootstrap_ci

    numbers = tgc_and_reward(eval_dir)
    solved: dict[str, list[float]] = {}
    for t in load_run(eval_dir).trajectories:
        solved.setdefault(t.task_id, []).append(float(bool(t.success)))
    numbers["per_task"] = {task: sum(v) / len(v) for task, v in solved.items()}
    numbers["tgc_ci95"] = bootstrap_ci(list(numbers["per_task"].values())).scaled(100.0).to_list() if solved else None
    return numbers


def paired_points(a, b) -> dict[str, Any]:
    """b - a in TGC points on the tasks both evaluated (one run each, or lists paired seed by seed)."""
    from looprl.analysis.stats import paired_difference

    return paired_difference(a, b).scaled(100.0).to_dict()


def seeds_ci(per_seed: list[dict[str, float]]) -> list[float]:
    from looprl.analysis.stats import hierarchical_ci

    return hierarchical_ci([list(p.values()) for p in per_seed]).scaled(100.0).to_list()


def summarize(args, cfg, runs: Path, grid, marks: Marks, heldout: list[str], wall_s: float) -> dict[str, Any]:
    from looprl.training.trainer import read_metrics

    before = with_intervals(runs / "eval_before")
    rows = []
    for n, seed in grid:
        here = runs / f"n{n}_s{seed}"
        warm, after = with_intervals(here / "eval_warmup"), with_intervals(here / "eval_after")
        cost = sum(marks.data.get(f"n{n}_s{seed}/{stage}", {}).get("seconds", 0.0) for stage in ("sft", "warmup", "loop", "after"))
        rows.append(
            {
                "instances": n,
                "seed": seed,
                "warmup": warm,
                "after": after,
                "loop_gain_tgc": after["tgc"] - warm["tgc"],
                "loop_gain_reward": after["reward"] - warm["reward"],
                "loop_gain_paired": paired_points(warm["per_task"], after["per_task"]),
                "seconds": round(cost, 1),
            }
        )
        if args.dynamic_sampling:
            ds = with_intervals(here / "eval_after_ds")
            spent = sum(h.get("dynamic/rollouts_spent", 0.0) for h in read_metrics(here / "loop_ds"))
            rows[-1]["dynamic"] = {"after": ds, "rollouts_spent": spent, "vs_paper_setting": paired_points(after["per_task"], ds["per_task"])}
    by_n = {}
    for n in sorted({n for n, _ in grid}):
        mine = [r for r in rows if r["instances"] == n]
        by_n[str(n)] = {
            "warmup_tgc": mean_sd([r["warmup"]["tgc"] for r in mine]),
            "after_tgc": mean_sd([r["after"]["tgc"] for r in mine]),
            "loop_gain_tgc": mean_sd([r["loop_gain_tgc"] for r in mine]),
            "loop_gain_reward": mean_sd([r["loop_gain_reward"] for r in mine]),
            "warmup_tgc_ci95": seeds_ci([r["warmup"]["per_task"] for r in mine]),
            "after_tgc_ci95": seeds_ci([r["after"]["per_task"] for r in mine]),
            "loop_gain_paired": paired_points([r["warmup"]["per_task"] for r in mine], [r["after"]["per_task"] for r in mine]),
        }
        if args.dynamic_sampling:
            ds_tasks = [r["dynamic"]["after"]["per_task"] for r in mine]
            by_n[str(n)]["dynamic"] = {
                "after_tgc": mean_sd([r["dynamic"]["after"]["tgc"] for r in mine]),
                "after_tgc_ci95": seeds_ci(ds_tasks),
                "rollouts_spent": mean_sd([r["dynamic"]["rollouts_spent"] for r in mine]),
                "vs_paper_setting": paired_points([r["after"]["per_task"] for r in mine], ds_tasks),
            }
    t = cfg.train
    result = {
        "benchmark": "generalization",
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "setting": {
            "model": t.model.name_or_path,
            "heldout_tasks": len(heldout),
            "heldout_ids": heldout,
            "sft_chats": args.sft_chats,
            "sft_lr": cfg.sft_lr,
            "sft_difficulties": cfg.sft_difficulties,
            "loop": {
                "iterations": t.trainer.iterations,
                "tasks_per_iteration": t.trainer.tasks_per_iteration,
                "k": t.trainer.rollouts_per_task,
                "lr": t.trainer.lr,
                "temperature": t.rollout.sampling.temperature,
                "max_turns": t.env.max_turns,
                "rollouts_per_run": t.trainer.iterations * t.trainer.tasks_per_iteration * t.trainer.rollouts_per_task,
            },
            "seeds": args.seeds,
            "instances": args.instances,
            "dynamic_sampling": {"max_batches": args.ds_max_batches, "rollout_budget": rollout_budget(t)} if args.dynamic_sampling else None,
        },
        "before": before,
        "runs": rows,
        "by_instances": by_n,
        "cost": {
            "recorded_stage_seconds": round(sum(v.get("seconds", 0.0) for v in marks.data.values()), 1),
            "this_invocation_seconds": round(wall_s, 1),
            "cores": 2,
        },
    }
    from looprl.utils.io import atomic_write_json, atomic_write_text

    atomic_write_json(args.out / "generalization.json", result)
    atomic_write_text(args.out / "generalization.md", markdown(result))
    plot(result, args.out / "generalization.png")
    print(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    from looprl.analysis.tables import interval_text as ci, paired_text

    s = result["setting"]
    before = result["before"]
    lines = [
        f"Held-out instances of the training scenarios ({s['heldout_tasks']} tasks, greedy), {s['model']}; base model: "
        f"TGC {before['tgc']:.1f}% {ci(before.get('tgc_ci95'))}. Warm-up: SFT-GT, {s['sft_chats']} chat presentations; LOOP: "
        f"{s['loop']['rollouts_per_run']} rollouts ({s['loop']['iterations']} x {s['loop']['tasks_per_iteration']} tasks x K={s['loop']['k']}). "
        f"Mean over seeds {s['seeds']} with its 95% interval (bootstrap over seeds, then tasks); LOOP's own step is the paired "
        "difference after LOOP - after warm-up on the same tasks, with its interval.",
        "",
        "| instances per scenario | TGC after warm-up [95% CI] | TGC after LOOP [95% CI] | LOOP's own gain, paired (TGC pts) [95% CI] | "
        "gain, mean ± sd over seeds | LOOP's own gain (reward) |",
        "|---|---|---|---|---|---|",
    ]
    f = lambda d, p=1: f"{d['mean']:.{p}f} ± {d['sd']:.{p}f}"  # noqa: E731
    for n, v in result["by_instances"].items():
        lines.append(
            f"| {n} | {v['warmup_tgc']['mean']:.1f} {ci(v['warmup_tgc_ci95'])} | {v['after_tgc']['mean']:.1f} {ci(v['after_tgc_ci95'])} | "
            f"{paired_text(v['loop_gain_paired'])} | {f(v['loop_gain_tgc'])} | {f(v['loop_gain_reward'], 3)} |"
        )
    lines += ["", "Per run (one seed: intervals over the held-out tasks):", ""]
    lines += ["| instances | seed | TGC after warm-up [95% CI] | TGC after LOOP [95% CI] | LOOP's own gain, paired [95% CI] |", "|---|---|---|---|---|"]
    for r in result["runs"]:
        w, a = r["warmup"], r["after"]
        tgcs = [f"{x['tgc']:.1f} {ci(x['tgc_ci95'])}" for x in (w, a)]
        cells = [str(r["instances"]), str(r["seed"]), *tgcs, paired_text(r["loop_gain_paired"])]
        lines.append("| " + " | ".join(cells) + " |")
    if s.get("dynamic_sampling"):
        ds = s["dynamic_sampling"]
        lines += [
            "",
            f"Dynamic sampling (at most {ds['max_batches']} extra batches) against the paper's setting, both from the same warm-up, "
            f"at a budget of {ds['rollout_budget']} rollouts (the dynamic run stops once it has spent them):",
            "",
            "| instances per scenario | TGC, paper's setting [95% CI] | TGC, dynamic sampling [95% CI] | rollouts spent (dynamic) | "
            "dynamic - paper's, paired [95% CI] |",
            "|---|---|---|---|---|",
        ]
        for n, v in result["by_instances"].items():
            d = v["dynamic"]
            lines.append(
                f"| {n} | {v['after_tgc']['mean']:.1f} {ci(v['after_tgc_ci95'])} | {d['after_tgc']['mean']:.1f} {ci(d['after_tgc_ci95'])} | "
                f"{d['rollouts_spent']['mean']:.0f} | {paired_text(d['vs_paper_setting'])} |"
            )
    lines += ["", f"Cost: {result['cost']['recorded_stage_seconds'] / 60:.0f} min of recorded stages on 2 cores.", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [int(n) for n in result["by_instances"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("warmup_tgc", "after SFT-GT warm-up"), ("after_tgc", "after LOOP")):
        means = [result["by_instances"][str(n)][key]["mean"] for n in ns]
        sds = [result["by_instances"][str(n)][key]["sd"] for n in ns]
        ax1.errorbar(ns, means, yerr=sds, marker="o", capsize=4, label=label)
    ax1.axhline(result["before"]["tgc"], color="grey", linestyle="--", label="base model")
    ax1.set(
        xscale="log", xlabel="instances per training scenario in the warm-up", ylabel="held-out-instance TGC (%)", title="new instances of known kinds of work"
    )
    ax1.legend()
    gains = [result["by_instances"][str(n)]["loop_gain_tgc"] for n in ns]
    ax2.bar([str(n) for n in ns], [g["mean"] for g in gains], yerr=[g["sd"] for g in gains], capsize=4)
    for r in result["runs"]:
        ax2.plot(str(r["instances"]), r["loop_gain_tgc"], "k.", alpha=0.6)
    ax2.axhline(0, color="grey", linewidth=0.8)
    ax2.set(
        xlabel="instances per training scenario in the warm-up", ylabel="TGC after LOOP - after warm-up (pts)", title="LOOP's own gain, equal rollout budget"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
