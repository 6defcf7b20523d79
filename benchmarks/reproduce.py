"""The LOOP paper's comparison (its Table 1) at small scale: every method from the same start, with the
same rollout budget, tasks and seeds, evaluated the same way.

**The built-in world (`--env appsuite`, the default).** SmolLM2-135M-Instruct (`--model smollm2`,
materialized by looprl.backends.resolve_model) in the demo's setting (looprl.config.DemoConfig: six
training scenarios with short difficulty-1 ground truths, the terse prompt, episodes of at most 8
turns of at most 96 new tokens, rollouts at temperature 0.7, lr 5e-5 for every method). Stages, each a
looprl run directory under OUT/runs/, each marked done in OUT/state.json with its wall seconds, so a
killed benchmark continues where it stopped (and a training run resumes from its last checkpoint):

  1. warmup         one SFT-GT warm-up (the demo's: instances 1-20 of each scenario, one pass, lr 1e-3),
                    trained once and shared by every method and seed: the comparison is of what each
                    method does from the same starting policy, and the spread over seeds is the spread
                    of the methods' own stage (task order, sampling, minibatch order), not the warm-up's
                    (benchmarks/bench_generalization.py measures that one)
  2. warmup eval    greedy evaluation of the warm-up on held-out instances of the training scenarios
                    (`--heldout-tasks`: 96 by default, 16 distinct instances of each scenario, instance 1
                    of each first; the learning curve's tasks) and on 18 dev tasks (`--dev-tasks`)
  3. METHOD/sSEED   every method x seed from the warm-up's adapter, with the same budget:
                    * RL methods and EI: `--iterations` x `--tasks-per-iteration` x K (`--k`) rollouts of
                      the current policy on fresh training instances (the same task sequence for every
                      method of a seed: the trainer's seeded sampler);
                    * sft-gt (continued SFT-GT, no sampling): the ground truths of exactly the tasks the
                      RL methods of that seed draw, same iterations and tasks per iteration, each chat
                      presented K x epochs times (trainer.epochs = K x 2): as often as LOOP's update
                      passes over the K rollouts of a task;
                    * rft: one collection from the base model over its 3-temperature sweep on the
                      first round(iterations x tasks / 3) tasks of that sequence (x 3 temperatures x K:
                      the nearest whole-task match to the RL budget; the rollouts column says what it
                      got), then the same iterations and tasks per iteration on its successes;
                    * ppo: its critic trains alone for `--ppo-critic-warmup` iterations (default: the
                      paper's share, 10 of its ~200 iterations, rounded: 0 at 2 iterations).
                    Two of looprl's choices matter here, from the same start: GRPO's KL reference is the
                    model with the adapter disabled, i.e. the model *before* the warm-up; RFT's base
                    model is that same model without any adapter, on every sampler (the sampler
                    protocol's sampling_base_model()), not the warm-up.
  4. METHOD/sSEED eval  the same greedy evaluations of the run's final adapter (no best-on-dev
                    selection: there is no periodic dev evaluation at this size)
One local vLLM server samples every rollout when `looprl models setup-vllm` has built its
environment (`--sampler auto`), with each adapter merged into its weights (the demo's setting);
otherwise transformers in this process.

    .venv/bin/python benchmarks/reproduce.py                                   # everything (~11 h on 2 cores; rerun to resume)
    .venv/bin/python benchmarks/reproduce.py --methods loop rloo sft-gt --seeds 0   # a slice; rerun to extend

Writes OUT/reproduce.json (every run's numbers, each with the metrics file it was read from; the
setting; the cost estimate and the measured wall seconds of every stage; the command), OUT/reproduce.md
(the Table-1-shaped table: held-out and dev TGC and SGC, mean ± sd over seeds), OUT/behaviour.md
(docs/metrics.md's behaviour metrics per method against the warm-up, from the evaluation rollouts
pooled over seeds), OUT/reproduce.png (training reward per iteration, mean over seeds; final held-out
TGC) and OUT/report.html (looprl's HTML report over the evaluation runs; `--no-report` to skip).

**Cost (defaults, 2 CPU cores, SmolLM2 on vLLM).** An SFT-GT chat presentation ~2.5 s, a greedy
evaluation ~4 s per task (114 tasks ~6 min: the learning curve measured 5.0-6.0), a rollout ~6 s with its
share of the update, PPO ~2x that (it trains on every rollout, plus its critic). The default budget,
4 iterations x 8 tasks x K=4 = 128 rollouts a run, is the one where every RL run makes about 8 optimizer
steps or more (LOOP makes ~2.9 an iteration at 8 tasks x K=4 from this warm-up); at the earlier 2 x 2 x 4
an RL run made 0-4 and 5 of 12 made none. Warm-up ~5 min + its evaluation ~8 min + server start ~1 min,
then per seed ~3.6 h (7 RL-like methods x 128 rollouts ~1.5 h, PPO ~26 min, SFT-GT ~11 min, RFT ~13
min, 10 evaluations ~76 min): **about 11 hours for 3 seeds** (3.8 for one). It is meant to run over
several sessions: kill it at any point and rerun the same command; finished stages are skipped and a
training run resumes from its last checkpoint (`--methods`/`--seeds` run a slice first).
`estimate_seconds()` computes it for any setting; the JSON holds the estimate and what each stage
really took.

**On a GPU (Qwen2.5-7B-Instruct, configs/qwen2.5-7b-1gpu.yaml as the training recipe).** Untested
here (no GPU on the development machine); the budget is a sketch to size to the GPU hours:

    python benchmarks/reproduce.py --recipe configs/qwen2.5-7b-1gpu.yaml --sampler vllm \\
        --iterations 20 --tasks-per-iteration 16 --k 6 --heldout-tasks 72 --dev-tasks 27 --seeds 0 1 2 \\
        --set train.rollout.adapter_sync=lora --set train.env.max_observation_tokens=3000 \\
        --set "train.tasks.scenarios=null" --set "train.tasks.difficulties=[1,2]" --set "dev_difficulties=[1,2]" \\
        --set sft_lr=2e-4 --out benchmarks/results/reproduce-qwen7b

That is all 24 training scenarios (difficulties 1-2, 3 held-out instances each: 72 tasks), all 9 dev
scenarios x 3, the recipe's episodes (40 turns, 1,500 new tokens, temperature 1) and the paper's K=6;
the adapter hot-swapped as a LoRA (merging is for small models on CPU).

**The toy env (`--env toy`, the smoke variant).** looprl's tiny 282K-parameter model
(looprl.testing) on the multi-turn toy env (3 turns; reward = mean share of digit characters over the
turns; looprl/env/toy.py), no warm-up, 16 iterations x 8 tasks x K=6, ~15-25 min on 2 cores; every
RL method reaches 100% there, so it separates methods only by how fast the sampled reward rises.
Writes the same file names under benchmarks/results/reproduce/ (its own table and curves).

    python benchmarks/reproduce.py --env toy
    python benchmarks/reproduce.py --env toy --methods loop rloo --seeds 0 --iterations 10
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from looprl.training.methods import facts as registry

TOY_METHODS = ["loop", "loop-turn", "loop-bandit", "rloo", "grpo", "ppo", "sft-gt"]
APPSUITE_METHODS = ["loop", "loop-turn", "loop-bandit", "rloo", "grpo", "grpo-kl", "ppo", "sft-gt", "rft", "ei"]
METHODS = TOY_METHODS  # the toy comparison's default set (kept for callers of the earlier module)
# methods that train on fixed data (ground truth, base-model samples), not on their own samples: the registry says which
FIXED_DATA = tuple(name for name, facts in registry.METHODS.items() if facts.data.fixed)
LABELS = {
    "loop": "LOOP (token)",
    "loop-turn": "LOOP (turn)",
    "loop-bandit": "LOOP (bandit)",
    "rloo": "RLOO",
    "grpo": "GRPO, no KL",
    "grpo-kl": "GRPO (KL)",
    "ppo": "PPO (learned critic)",
    "sft-gt": "SFT-GT",
    "rft": "RFT",
    "ei": "EI",
}
PAPER_TGC = {  # the paper's Table 1, AppWorld test-normal TGC in % (shared/PAPER_NOTES.md)
    "loop": 71.3,
    "loop-turn": 64.1,
    "loop-bandit": 53.3,
    "rloo": 57.2,
    "grpo": 59.0,
    "grpo-kl": 58.0,
    "ppo": 50.8,
    "sft-gt": 6.2,
    "rft": 47.9,
    "ei": 58.3,
}
DEFAULTS = {  # per env: (iterations, tasks per iteration, K, output folder)
    "toy": (16, 8, 6, Path("benchmarks/results/reproduce")),
    # 128 rollouts a run: at 8 tasks x K=4 LOOP makes ~2.9 optimizer steps an iteration from the warm-up
    # (benchmarks/results/learning_curve), so every RL run makes about 8 or more; at 2 x 2 x 4, 5 of 12 made none
    "appsuite": (4, 8, 4, Path("benchmarks/results/reproduce-appsuite")),
}
# seconds on the 2-core development machine, SmolLM2-135M on vLLM's CPU backend (docs/results.md, the demo)
COST_S = {"sft_chat": 2.5, "eval_task": 4.0, "rollout": 6.0, "ppo_factor": 2.0, "server_start": 60.0}  # from the 5-method x 3-seed run (docs/results.md)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="appsuite", choices=["appsuite", "toy"], help="the built-in world (default) or the toy smoke variant")
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=APPSUITE_METHODS,
        help=f"methods to compare (default: appsuite {' '.join(APPSUITE_METHODS)}; toy {' '.join(TOY_METHODS)})",
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds (each method runs once per seed)")
    p.add_argument("--iterations", type=int, default=None, help="training iterations per run (appsuite 4, toy 16)")
    p.add_argument("--tasks-per-iteration", type=int, default=None, help="tasks sampled per iteration (appsuite 8, toy 8)")
    p.add_argument("--k", type=int, default=None, help="rollouts per task, K (appsuite 4, toy 6)")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate of every method (appsuite: the demo's 5e-5; toy 1e-2, the tiny model is randomly initialized and LoRA covers lm_head)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (appsuite: benchmarks/results/reproduce-appsuite; toy: benchmarks/results/reproduce); rerun with the same one to resume",
    )
    g = p.add_argument_group("built-in world (--env appsuite)")
    g.add_argument("--model", default="smollm2", help="HF model id or folder (default: SmolLM2-135M-Instruct, materialized)")
    g.add_argument(
        "--recipe",
        type=Path,
        default=None,
        help="a TrainConfig YAML (configs/) laid over the demo's training settings, e.g. configs/qwen2.5-7b-1gpu.yaml on a GPU",
    )
    g.add_argument(
        "--heldout-tasks", type=int, default=96, help="held-out instances of the training scenarios evaluated (96: 16 distinct ones of each of the six)"
    )
    g.add_argument("--dev-tasks", type=int, default=18, help="dev tasks evaluated (new kinds of work)")
    g.add_argument(
        "--ppo-critic-warmup", type=int, default=None, help="PPO: critic-only iterations first (default: round(0.05 x iterations), the paper's 10 of ~200)"
    )
    g.add_argument("--sampler", default="auto", choices=["auto", "vllm", "transformers"], help="what samples rollouts")
    g.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any DemoConfig override, e.g. train.rollout.sampling.temperature=1.0 (repeatable; applied last)",
    )
    g.add_argument("--no-report", dest="report", action="store_false", help="skip the HTML report")
    g = p.add_argument_group("toy env (--env toy)")
    g.add_argument("--turns", type=int, default=3, help="turns per toy episode")
    g.add_argument("--eval-every", type=int, default=4, help="dev evaluation (greedy) every N iterations")
    g.add_argument("--test-tasks", type=int, default=32, help="held-out toy tasks for the final evaluation")
    g.add_argument("--threads", type=int, default=1, help="torch threads per run (1 is fastest for the tiny model)")
    args = p.parse_args(argv)
    iterations, tasks, k, out = DEFAULTS[args.env]
    args.iterations = args.iterations or iterations
    args.tasks_per_iteration = args.tasks_per_iteration or tasks
    args.k = args.k or k
    args.out = args.out or out
    args.methods = args.methods or (APPSUITE_METHODS if args.env == "appsuite" else TOY_METHODS)
    if args.env == "toy" and args.lr is None:
        args.lr = 1e-2
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


# ================================================================================ the built-in world


def build_config(args):
    """The demo's config (DemoConfig), with the recipe laid over its training settings and the budget."""
    import yaml

    from looprl.config import DemoConfig, load_config

    base = {"train": yaml.safe_load(args.recipe.read_text())} if args.recipe else None
    overrides = [
        f"run_dir={args.out}",
        f"heldout_tasks={args.heldout_tasks}",
        f"dev_tasks={args.dev_tasks}",
        f"sampler={args.sampler}",
        f"train.model.name_or_path={args.model}" if not args.recipe or args.model != "smollm2" else None,
        f"train.trainer.iterations={args.iterations}",
        f"train.trainer.tasks_per_iteration={args.tasks_per_iteration}",
        f"train.trainer.rollouts_per_task={args.k}",
        "train.trainer.eval_every=0",
        f"train.trainer.lr={args.lr}" if args.lr is not None else None,
        *args.overrides,
    ]
    return load_config(DemoConfig, overrides=[o for o in overrides if o], base=base)


def critic_warmup(args) -> int:
    return args.ppo_critic_warmup if args.ppo_critic_warmup is not None else round(0.05 * args.iterations)


def rft_tasks(args) -> int:
    """RFT's task count: its one collection (tasks x 3 temperatures x K) nearest the RL budget."""
    return max(1, round(args.iterations * args.tasks_per_iteration / len(registry.RFT_TEMPERATURES)))


def method_config(cfg, args, method: str, seed: int, model_path: str, start_adapter: str, run_dir: Path, backend: str, url):
    """One method's training config: the demo's LOOP stage from the warm-up's adapter, with the
    method, the seed and the budget matching described in the module docstring."""
    from looprl.experiments import loop_config, task_sequence

    tc = loop_config(cfg, model_path, start_adapter, run_dir, backend, url)
    tc.seed = seed
    t = tc.trainer
    t.method = method
    budget_tasks = args.iterations * args.tasks_per_iteration
    if method in ("sft-gt", "rft"):  # fixed data: exactly the tasks (a prefix of those) the RL runs of this seed draw
        n = budget_tasks if method == "sft-gt" else rft_tasks(args)
        tc.tasks.task_ids = task_sequence(tc, n)
        tc.tasks.fresh_instances = False
    if method == "sft-gt":
        t.epochs = t.rollouts_per_task * t.epochs  # each chat as often as LOOP's update sees its task's K rollouts
    if method == "ppo":
        t.critic_warmup_iterations = critic_warmup(args)
    return type(tc).model_validate(tc.model_dump())  # validated again, as loaded


def stage_keys(methods: list[str], seeds: list[int]) -> list[str]:
    return ["warmup/sft", "warmup/eval"] + [f"{m}/s{s}/{stage}" for s in seeds for m in methods for stage in ("train", "eval")]


def setting_of(args, cfg, task_sets: dict[str, list[str]]) -> dict[str, Any]:
    """What makes two invocations the same benchmark (methods and seeds may differ: subsets of one)."""
    t = cfg.train
    return {
        "env": "appsuite",
        "model": t.model.name_or_path,
        "recipe": str(args.recipe) if args.recipe else None,
        "iterations": t.trainer.iterations,
        "tasks_per_iteration": t.trainer.tasks_per_iteration,
        "k": t.trainer.rollouts_per_task,
        "epochs": t.trainer.epochs,
        "lr": t.trainer.lr,
        "temperature": t.rollout.sampling.temperature,
        "max_turns": t.env.max_turns,
        "eval_max_turns": t.env.eval_max_turns,
        "max_new_tokens": t.rollout.sampling.max_new_tokens,
        "scenarios": t.tasks.scenarios,
        "difficulties": t.tasks.difficulties,
        "scaffold": t.rollout.scaffold,
        "warmup": {"instances": cfg.sft_instances, "passes": cfg.sft_epochs, "lr": cfg.sft_lr, "difficulties": cfg.sft_difficulties},
        "ppo_critic_warmup": critic_warmup(args),
        "rft_tasks": rft_tasks(args),
        "rollouts_per_run": t.trainer.iterations * t.trainer.tasks_per_iteration * t.trainer.rollouts_per_task,
        "heldout_ids": task_sets["heldout"],
        "dev_ids": task_sets["dev"],
        "overrides": args.overrides,
    }


def estimate_seconds(args, n_heldout: int, n_dev: int, demo=None, cost: dict[str, float] = COST_S) -> dict[str, float]:
    """The wall time the setting (`demo`: its DemoConfig, default the demo's) should take on the
    development machine with SmolLM2 on vLLM (rates in COST_S), per part, in seconds."""
    from looprl.config import DemoConfig

    demo = demo or DemoConfig()
    rollouts = args.iterations * args.tasks_per_iteration * args.k
    per_eval = (n_heldout + n_dev) * cost["eval_task"]
    per_method = {
        "sft-gt": args.iterations * args.tasks_per_iteration * args.k * demo.train.trainer.epochs * cost["sft_chat"],
        "rft": rft_tasks(args) * len(registry.RFT_TEMPERATURES) * args.k * cost["rollout"],
        "ppo": rollouts * cost["rollout"] * cost["ppo_factor"],
    }
    train = sum(per_method.get(m, rollouts * cost["rollout"]) for m in args.methods) * len(args.seeds)
    warmup = demo.sft_instances * len(demo.train.tasks.scenarios or []) * demo.sft_epochs * cost["sft_chat"]
    out = {
        "server_start": cost["server_start"],
        "warmup": warmup,
        "warmup_eval": per_eval,
        "training": train,
        "evaluations": per_eval * len(args.methods) * len(args.seeds),
    }
    out["total"] = sum(out.values())
    return {k: round(v) for k, v in out.items()}


def run_appsuite(args) -> dict[str, Any]:
    from looprl.backends import resolve_model
    from looprl.experiments import (
        Marks,
        Stages,
        eval_sets,
        evaluate_adapter,
        latest_adapter,
        pick_dev_tasks,
        pick_heldout_tasks,
        rollout_server,
        sampler_backend,
        sft_config,
        train_stage,
    )

    out, started = args.out, time.perf_counter()
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    cfg = build_config(args)
    task_sets = {"heldout": pick_heldout_tasks(cfg), "dev": pick_dev_tasks(cfg)}
    setting = setting_of(args, cfg, task_sets)
    marks = Marks(out / "state.json")
    if marks.done("setting") and marks.data["setting"] != setting:
        changed = sorted(k for k in setting if marks.data["setting"].get(k) != setting[k])
        raise SystemExit(
            f"{out} holds a benchmark with another setting ({', '.join(changed)} differ); rerun with its own arguments to resume it, or give another --out"
        )
    marks.mark("setting", **setting)
    stage = Stages(marks, "reproduce")
    model_path = str(resolve_model(cfg.train.model.name_or_path))
    backend = sampler_backend(cfg)
    print(
        f"[reproduce] {len(args.methods)} methods x seeds {args.seeds}, {setting['rollouts_per_run']} rollouts each; "
        f"estimated {estimate_seconds(args, *map(len, task_sets.values()), cfg)['total'] / 60:.0f} min in all; sampler {backend}",
        flush=True,
    )

    def evaluate(trained: Path, method: str, url, where: Path, when: str, label: str) -> None:
        """Greedy evaluation of the run `trained`'s newest adapter on the held-out and dev sets in one pass: WHERE/eval_WHEN_SUFFIX."""
        evaluate_adapter(cfg, model_path, latest_adapter(trained), method, backend, url, eval_sets(cfg, task_sets, where, when, label), label)

    with rollout_server(cfg, model_path, backend, needed=stage.pending(stage_keys(args.methods, args.seeds))) as url:
        warm = runs / "warmup"
        stage("warmup/sft", train_stage, sft_config(cfg, model_path, warm))
        start = latest_adapter(warm)
        stage("warmup/eval", evaluate, warm, "sft-gt", url, runs, "warmup", "SFT-GT warm-up")
        for seed in args.seeds:
            for method in args.methods:
                here, key = runs / f"{method}_s{seed}", f"{method}/s{seed}"
                tc = method_config(cfg, args, method, seed, model_path, start, here / "train", backend, url)
                stage(f"{key}/train", train_stage, tc)
                stage(f"{key}/eval", evaluate, here / "train", method, url, here, "final", f"{LABELS[method]}, seed {seed}")
    return summarize_appsuite(args, cfg, runs, marks, setting, task_sets, time.perf_counter() - started)


def _curve(train_dir: Path) -> list[dict[str, Any]]:
    from looprl.training.trainer import read_metrics

    return [
        {
            "iteration": h["iteration"],
            "reward": h.get("rollout/reward_mean"),
            "success": h.get("rollout/success_rate"),
            "rollouts": h.get("rollout/count"),
            "kept": h.get("rollout/kept"),
            "optimizer_steps": h.get("train/optimizer_steps"),
        }
        for h in read_metrics(train_dir)
    ]


def _rollouts_sampled(method: str, train_dir: Path, curve: list[dict[str, Any]]) -> int:
    """Rollouts the run sampled: its iterations' for methods that sample the policy, RFT's one
    collection (its fixed_data.jsonl), none for SFT-GT (ground truth)."""
    source = registry.METHODS[method].data
    if isinstance(source, registry.PolicyRollouts):
        return int(sum(c["rollouts"] or 0 for c in curve))
    if isinstance(source, registry.BaseModelSweep):
        path = train_dir / "fixed_data.jsonl"
        return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.is_file() else 0
    return 0


def summarize_appsuite(args, cfg, runs: Path, marks, setting: dict[str, Any], task_sets: dict[str, list[str]], wall_s: float) -> dict[str, Any]:
    from looprl.analysis.stats import hierarchical_ci
    from looprl.experiments import eval_numbers, mean_sd

    suffixes = [s for s, ids in task_sets.items() if ids]
    warmup = {s: eval_numbers(runs / f"eval_warmup_{s}") for s in suffixes}
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            here = runs / f"{method}_s{seed}"
            curve = _curve(here / "train")
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    "run_dir": str(here / "train"),
                    "metrics_file": str(here / "train" / "metrics.jsonl"),
                    "curve": curve,
                    "rollouts_sampled": _rollouts_sampled(method, here / "train", curve),
                    "kept": int(sum(c["kept"] or 0 for c in curve)),
                    "optimizer_steps": int(sum(c["optimizer_steps"] or 0 for c in curve)),
                    "eval": {s: eval_numbers(here / f"eval_final_{s}") for s in suffixes},
                    "seconds": {"train": marks.seconds(f"{method}/s{seed}/train"), "eval": marks.seconds(f"{method}/s{seed}/eval")},
                }
            )
    table = []
    for method in args.methods:
        mine = [r for r in rows if r["method"] == method]
        row: dict[str, Any] = {"method": method, "label": LABELS[method], "seeds": [r["seed"] for r in mine], "paper_tgc": PAPER_TGC[method]}
        for s in suffixes:
            for metric in ("tgc", "sgc", "reward"):
                row[f"{s}_{metric}"] = mean_sd([r["eval"][s][metric] for r in mine])
            per_seed = [r["eval"][s]["per_task"] for r in mine]
            if all(per_seed):  # the two-stage bootstrap over seeds, then tasks (looprl/analysis/stats.py)
                row[f"{s}_tgc_ci95"] = hierarchical_ci([list(p.values()) for p in per_seed]).scaled(100.0).to_list()
        for key in ("rollouts_sampled", "kept", "optimizer_steps"):
            row[key] = statistics.fmean(r[key] for r in mine)
        row["train_minutes"] = statistics.fmean(r["seconds"]["train"] for r in mine) / 60
        table.append(row)
    stage_s = {k: v["seconds"] for k, v in marks.data.items() if isinstance(v, dict) and "seconds" in v}
    result = {
        "benchmark": "reproduce",
        "command": "python benchmarks/reproduce.py " + " ".join(shlex.quote(a) for a in args.argv),
        "setting": setting,
        "methods": args.methods,
        "seeds": args.seeds,
        "warmup": {"run_dir": str(runs / "warmup"), "eval": warmup},
        "runs": rows,
        "table": table,
        "ordering": ordering(table, "heldout_tgc", per_task_of(rows, "heldout")) if "heldout" in suffixes else None,
        "behaviour": behaviour_by_method(runs, args.methods, args.seeds, suffixes),
        "cost": {
            "estimate_s": estimate_seconds(args, len(task_sets["heldout"]), len(task_sets["dev"]), cfg),
            "estimate_rates_s": COST_S,
            "stage_seconds": stage_s,
            "recorded_stage_seconds": round(sum(stage_s.values()), 1),
            "this_invocation_seconds": round(wall_s, 1),
            "cores": 2,
        },
    }
    from looprl.utils.io import atomic_write_json, atomic_write_text

    atomic_write_json(args.out / "reproduce.json", result)
    atomic_write_text(args.out / "reproduce.md", appsuite_markdown(result))
    atomic_write_text(args.out / "behaviour.md", behaviour_markdown(result))
    appsuite_plot(result, args.out / "reproduce.png")
    if args.report:
        from looprl.analysis.report import build_report

        evals = [runs / f"eval_warmup_{s}" for s in suffixes] + [
            runs / f"{m}_s{seed}" / f"eval_final_{s}" for m in args.methods for seed in args.seeds for s in suffixes
        ]
        build_report(evals, args.out / "report.html", title="looprl: the paper's comparison on the built-in world")
    print(appsuite_markdown(result))
    print(behaviour_markdown(result))
    print(f"wrote {args.out / 'reproduce.json'}, reproduce.md, behaviour.md, reproduce.png" + (", report.html" if args.report else ""))
    return result


def behaviour_by_method(runs: Path, methods: list[str], seeds: list[int], suffixes: list[str]) -> dict[str, Any]:
    """docs/metrics.md's behaviour metrics of the greedy evaluation rollouts (held-out and dev pooled),
    the warm-up's and each method's pooled over its seeds, with the ratio method / warm-up."""
    from looprl.analysis import load_run
    from looprl.analysis.behaviour import BEHAVIOUR_METRICS, behaviour_metrics
    from looprl.analysis.compare import ratio

    def pooled(dirs: list[Path]) -> dict[str, Any]:
        return behaviour_metrics([t for d in dirs for t in load_run(d).trajectories])

    base = pooled([runs / f"eval_warmup_{s}" for s in suffixes])
    out: dict[str, Any] = {"warmup": base, "labels": {k: v[0] for k, v in BEHAVIOUR_METRICS.items()}, "methods": {}}
    for m in methods:
        values = pooled([runs / f"{m}_s{seed}" / f"eval_final_{s}" for seed in seeds for s in suffixes])
        out["methods"][m] = {"values": values, "ratio_to_warmup": {k: ratio(values.get(k), base.get(k)) for k in BEHAVIOUR_METRICS}}
    return out


def per_task_of(rows: list[dict[str, Any]], suffix: str) -> dict[str, list[dict[str, float]]]:
    """Method -> its seeds' per-task success on the `suffix` evaluation (seed order), for paired comparisons."""
    out: dict[str, list[dict[str, float]]] = {}
    for r in rows:
        out.setdefault(r["method"], []).append(r["eval"][suffix].get("per_task") or {})
    return out


def ordering(table: list[dict[str, Any]], key: str, per_task: dict[str, list[dict[str, float]]] | None = None) -> dict[str, Any]:
    """The methods ranked by `key` (mean over seeds) against the paper's ranking (PAPER_TGC), pair by pair:
    a pair agrees when the method the paper puts higher is higher here, is reversed when it is lower, and
    is tied when equal; a difference counts as beyond the spread when it exceeds the larger sd of the two.
    With `per_task` (method -> per-seed task -> success), each pair is also compared on the same tasks
    (`paired`: the paper's higher minus its lower, in points, with the two-stage bootstrap interval
    over seeds and tasks): it agrees or is reversed only when that interval excludes 0, and is not
    separated otherwise."""
    rows = [r for r in table if r.get(key) is not None and r.get("paper_tgc") is not None]
    pairs = {"agree": [], "reversed": [], "tied": []}
    beyond = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if a["paper_tgc"] == b["paper_tgc"]:
                continue
            hi, lo = (a, b) if a["paper_tgc"] > b["paper_tgc"] else (b, a)
            diff = hi[key]["mean"] - lo[key]["mean"]
            kind = "agree" if diff > 0 else "reversed" if diff < 0 else "tied"
            pairs[kind].append([hi["method"], lo["method"]])
            beyond += kind != "tied" and abs(diff) > max(hi[key]["sd"], lo[key]["sd"])
    here = sorted(rows, key=lambda r: -r[key]["mean"])
    paper = sorted(rows, key=lambda r: -r["paper_tgc"])
    return {
        "key": key,
        "here": [[r["method"], round(r[key]["mean"], 1)] for r in here],
        "paper": [[r["method"], r["paper_tgc"]] for r in paper],
        **pairs,
        "beyond_spread": beyond,
        "paired": _paired_ordering(pairs, per_task) if per_task else None,
    }


def _paired_ordering(pairs: dict[str, list[list[str]]], per_task: dict[str, list[dict[str, float]]]) -> dict[str, list[dict[str, Any]]]:
    """Each ordered pair [higher in the paper, lower] as agree / reversed / not_separated by its paired interval."""
    from looprl.analysis.stats import paired_difference

    out: dict[str, list[dict[str, Any]]] = {"agree": [], "reversed": [], "not_separated": []}
    for hi, lo in (p for kind in ("agree", "reversed", "tied") for p in pairs[kind]):
        if not all(per_task.get(hi, [])) or not all(per_task.get(lo, [])) or not per_task.get(hi):
            continue  # summaries written before per-task values were kept
        d = paired_difference(per_task[lo], per_task[hi])  # hi - lo: > 0 where the paper's order holds
        entry = {"pair": [hi, lo], "diff": 100.0 * d.interval.estimate, "ci95": [100.0 * v for v in d.interval.to_list()], "n_shared": d.n_shared}
        out["not_separated" if not d.separated else "agree" if d.interval.estimate > 0 else "reversed"].append(entry)
    return out


def ordering_markdown(o: dict[str, Any]) -> str:
    def rank(items: list[list]) -> str:
        return " > ".join(f"{LABELS[m]} {v:.1f}" for m, v in items)

    n = len(o["agree"]) + len(o["reversed"]) + len(o["tied"])
    lines = [
        f"Ordering by held-out TGC here: {rank(o['here'])}.",
        f"The paper's (AppWorld test-normal TGC): {rank(o['paper'])}.",
        f"Of {n} pairs of methods, {len(o['agree'])} are in the paper's order here, {len(o['reversed'])} reversed, "
        f"{len(o['tied'])} tied; {o['beyond_spread']} of the differences exceed the spread over seeds (the larger sd of the pair).",
    ]
    if o["reversed"]:
        lines.append("Reversed here (the paper's higher first): " + "; ".join(f"{LABELS[a]} < {LABELS[b]}" for a, b in o["reversed"]) + ".")
    paired = o.get("paired")
    if paired:
        counts = ", ".join(f"{len(paired[k])} {k.replace('_', ' ')}" for k in ("agree", "reversed", "not_separated"))
        lines.append(
            f"Paired on the same held-out tasks (the paper's higher minus its lower, TGC points, 95% bootstrap over seeds and tasks; "
            f"separated only when the interval excludes 0): {counts}."
        )
        for kind in ("agree", "reversed", "not_separated"):
            for e in paired[kind]:
                (hi, lo), (low, high) = e["pair"], e["ci95"]
                lines.append(f"- {LABELS[hi]} - {LABELS[lo]}: {e['diff']:+.1f} [{low:+.1f}, {high:+.1f}] on {e['n_shared']} tasks: {kind.replace('_', ' ')}")
    return "\n".join(lines) + "\n"


def _pm(d: dict[str, float] | None, digits: int = 1) -> str:
    return "-" if d is None else f"{d['mean']:.{digits}f} ± {d['sd']:.{digits}f}"


def _ci(interval: list[float] | None) -> str:
    """A 95% interval after a mean ± sd cell, or nothing for results recorded before intervals were."""
    return "" if not interval else f" [{interval[0]:.1f}, {interval[1]:.1f}]"


def appsuite_markdown(result: dict[str, Any]) -> str:
    s, warm = result["setting"], result["warmup"]["eval"]
    suffixes = list(warm)
    names = {"heldout": "held-out", "dev": "dev"}
    head = " | ".join(f"{names[x]} {m}" for x in suffixes for m in ("TGC", "SGC"))
    lines = [
        f"{s['model']} on the built-in world, from one SFT-GT warm-up ({s['warmup']['instances']} instances per scenario x "
        f"{s['warmup']['passes']} passes); every method {s['iterations']} iterations x {s['tasks_per_iteration']} tasks x K={s['k']} "
        f"= {s['rollouts_per_run']} rollouts (SFT-GT: the same tasks' ground truth, no sampling; RFT: one collection of "
        f"{s['rft_tasks']} tasks x 3 temperatures x K), lr {s['lr']}, temperature {s['temperature']}. Greedy evaluation of the final "
        f"adapter on {len(s['heldout_ids'])} held-out instances of the training scenarios and {len(s['dev_ids'])} dev tasks. "
        f"TGC and SGC in %, mean reward (share of checks passed), mean ± sd over seeds {result['seeds']}, then TGC's 95% interval "
        "(two-stage bootstrap over seeds and tasks) where recorded. Trained on: the "
        "rollouts kept for the update (SFT-GT: ground-truth chats).",
        "",
        f"| method | {head} | {' | '.join(names[x] + ' reward' for x in suffixes)} | rollouts / run | trained on | optimizer steps | train min / run "
        "| paper: test-normal TGC |",
        "|---|" + "---|" * (3 * len(suffixes) + 5),
        "| SFT-GT warm-up (the start) | "
        + " | ".join(f"{warm[x][m]:.1f}" + _ci(warm[x].get(f"{m}_ci95")) for x in suffixes for m in ("tgc", "sgc"))
        + " | "
        + " | ".join(f"{warm[x]['reward']:.3f}" for x in suffixes)
        + " | - | - | - | - | - |",
    ]
    for r in result["table"]:
        cells = " | ".join(_pm(r[f"{x}_{m}"]) + _ci(r.get(f"{x}_{m}_ci95")) for x in suffixes for m in ("tgc", "sgc"))
        rewards = " | ".join(_pm(r[f"{x}_reward"], 3) for x in suffixes)
        lines.append(
            f"| {r['label']} | {cells} | {rewards} | {r['rollouts_sampled']:.0f} | {r['kept']:.0f} | {r['optimizer_steps']:.0f} | {r['train_minutes']:.1f} "
            f"| {r['paper_tgc']:.1f} |"
        )
    if result.get("ordering"):
        lines += ["", ordering_markdown(result["ordering"])]
    c = result["cost"]
    lines += ["", f"Cost: {c['recorded_stage_seconds'] / 60:.0f} min of recorded stages (estimate {c['estimate_s']['total'] / 60:.0f} min).", ""]
    return "\n".join(lines)


def behaviour_markdown(result: dict[str, Any]) -> str:
    b = result["behaviour"]
    methods = list(b["methods"])

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3g}"

    lines = [
        "Behaviour metrics (docs/metrics.md) of the greedy evaluation rollouts, held-out and dev pooled, each method's pooled "
        f"over seeds {result['seeds']}; in parentheses the ratio to the warm-up.",
        "",
        "| metric | warm-up | " + " | ".join(LABELS[m] for m in methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for key, label in b["labels"].items():
        cells = []
        for m in methods:
            v, r = b["methods"][m]["values"].get(key), b["methods"][m]["ratio_to_warmup"].get(key)
            cells.append(fmt(v) + (f" ({r:.2g}x)" if r is not None else ""))
        lines.append(f"| {label} | {fmt(b['warmup'].get(key))} | " + " | ".join(cells) + " |")
    lines.append(f"| rollouts | {b['warmup']['n_rollouts']} | " + " | ".join(str(b["methods"][m]["values"]["n_rollouts"]) for m in methods) + " |")
    return "\n".join(lines) + "\n"


def appsuite_plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for m in result["methods"]:
        if registry.METHODS[m].data.fixed:  # SFT-GT's and RFT's "rollouts" are fixed data, not the policy's samples
            continue
        curves = [r["curve"] for r in result["runs"] if r["method"] == m and r["curve"]]
        n = min((len(c) for c in curves), default=0)
        if n:
            ax1.plot(
                [curves[0][i]["iteration"] for i in range(n)],
                [statistics.fmean(c[i]["reward"] or 0.0 for c in curves) for i in range(n)],
                marker="o",
                label=LABELS[m],
            )
    ax1.set(title="training reward (sampled rollouts, mean over seeds)", xlabel="iteration", ylabel="mean reward", ylim=(0, 1.02))
    ax1.legend(fontsize=7)
    labels = [r["label"] for r in result["table"]]
    for offset, (suffix, name) in enumerate((("heldout", "held-out"), ("dev", "dev"))):
        key = f"{suffix}_tgc"
        if result["table"] and key in result["table"][0]:
            xs = [i + 0.4 * offset - 0.2 for i in range(len(labels))]
            ax2.bar(xs, [r[key]["mean"] for r in result["table"]], width=0.4, yerr=[r[key]["sd"] for r in result["table"]], capsize=3, label=f"{name} TGC")
            ax2.axhline(result["warmup"]["eval"][suffix]["tgc"], linestyle="--", color=f"C{offset}", linewidth=0.8, label=f"{name} TGC, warm-up")
    ax2.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax2.set(title="greedy TGC after training (mean ± sd over seeds)", ylabel="TGC (%)")
    ax2.set_ylim(0, max(10.0, ax2.get_ylim()[1]))
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ================================================================================ the toy env (smoke variant)


def run_config(args, method: str, seed: int, model_dir: Path):
    from looprl.config import TrainConfig, load_config

    recipe = Path(__file__).resolve().parent.parent / "configs" / "tiny-cpu.yaml"
    overrides = [
        f"seed={seed}",
        f"run_dir={args.out / 'runs' / f'{method}-seed{seed}'}",
        f"model.name_or_path={model_dir}",
        f"trainer.method={method}",
        f"trainer.iterations={args.iterations}",
        f"trainer.tasks_per_iteration={args.tasks_per_iteration}",
        f"trainer.rollouts_per_task={args.k}",
        f"trainer.lr={args.lr}",
        f"trainer.eval_every={args.eval_every}",
        "trainer.eval_samples=1",
        f"env.options={{n_tasks: 16, turns: {args.turns}}}",
        f"env.max_turns={args.turns}",
        f"env.eval_max_turns={args.turns}",
        "logging.tensorboard=false",
        "trainer.checkpoints_kept=1",
    ]
    if method == "ppo":
        overrides.append("trainer.critic_warmup_iterations=2")  # the paper warms up 10 of 200+ iterations
    return load_config(TrainConfig, recipe, overrides)


def final_eval(trainer, args) -> dict:
    """Greedy evaluation on held-out toy tasks (ids the training sampler never drew)."""
    from dataclasses import replace

    from looprl.rollout import evaluate

    ids = [f"toy_{1000 + i}" for i in range(args.test_tasks)]
    cfg = trainer.cfg
    spec = replace(
        trainer.eval_spec, sampling=replace(trainer.eval_spec.sampling, temperature=0.0), scaffold=None, max_turns=args.turns, model_name=cfg.trainer.method
    )
    result = evaluate(trainer.sampler_backend, trainer.env_factory, ids, spec, samples=1, split="test", progress=False)
    return {"tgc": result.summary["tgc"], "reward_mean": result.summary["reward_mean"]}


def run_one(args, method: str, seed: int, model_dir: Path) -> dict:
    import shutil

    import torch

    from looprl.training import Trainer

    torch.set_num_threads(args.threads)
    cfg = run_config(args, method, seed, model_dir)
    shutil.rmtree(cfg.run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    with Trainer(cfg, progress=False) as trainer:
        history = trainer.train()
        wall = time.perf_counter() - t0
        test = final_eval(trainer, args)
    curve = [
        {"iteration": h["iteration"], "reward": h.get("rollout/reward_mean"), "dev_tgc": h.get("eval/tgc"), "dev_reward": h.get("eval/reward_mean")}
        for h in history
    ]
    return {"method": method, "seed": seed, "wall_s": round(wall, 1), "curve": curve, "test": test}


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def _std(xs):
    xs = [x for x in xs if x is not None]
    return statistics.stdev(xs) if len(xs) > 1 else 0.0 if xs else None


def summarize(runs: list[dict], methods: list[str]) -> list[dict]:
    rows = []
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        last_dev = [next((c["dev_tgc"] for c in reversed(r["curve"]) if c["dev_tgc"] is not None), None) for r in rs]
        last_dev_reward = [next((c["dev_reward"] for c in reversed(r["curve"]) if c["dev_reward"] is not None), None) for r in rs]
        # SFT-GT's "rollouts" are the ground truth itself (reward 1 by construction), not policy samples
        tail = [None if m in FIXED_DATA else _mean([c["reward"] for c in r["curve"][-3:]]) for r in rs]
        # how fast: mean training reward over all iterations (area under the curve) and the first
        # iteration whose training reward reached 0.9 (None if never)
        auc = [None if m in FIXED_DATA else _mean([c["reward"] for c in r["curve"]]) for r in rs]
        first = [None if m in FIXED_DATA else next((c["iteration"] for c in r["curve"] if (c["reward"] or 0) >= 0.9), None) for r in rs]
        rows.append(
            {
                "method": m,
                "label": LABELS[m],
                "seeds": len(rs),
                "train_reward_auc": _mean(auc),
                "iterations_to_0.9": _mean(first),
                "runs_reaching_0.9": sum(f is not None for f in first),
                "train_reward_last3": _mean(tail),
                "train_reward_last3_std": _std(tail),
                "dev_tgc": _mean(last_dev),
                "dev_reward": _mean(last_dev_reward),
                "test_tgc": _mean([r["test"]["tgc"] for r in rs]),
                "test_tgc_std": _std([r["test"]["tgc"] for r in rs]),
                "test_reward": _mean([r["test"]["reward_mean"] for r in rs]),
                "wall_s": _mean([r["wall_s"] for r in rs]),
            }
        )
    return rows


def markdown(rows: list[dict], setting: dict) -> str:
    def pct(x, s=None):
        if x is None:
            return "-"
        return f"{100 * x:.1f}" + (f" ± {100 * s:.1f}" if s else "")

    lines = [
        "| method | train reward, mean over all it. | first it. with train reward >= 0.9 | train reward (last 3 it.) "
        "| dev TGC | dev reward | held-out TGC | held-out reward | s / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        first = "-" if r["iterations_to_0.9"] is None else f"{r['iterations_to_0.9']:.1f} ({r['runs_reaching_0.9']}/{r['seeds']} runs)"
        lines.append(
            f"| {r['label']} | {pct(r['train_reward_auc'])} | {first} | {pct(r['train_reward_last3'], r['train_reward_last3_std'])} "
            f"| {pct(r['dev_tgc'])} | "
            f"{pct(r['dev_reward'])} | {pct(r['test_tgc'], r['test_tgc_std'])} | {pct(r['test_reward'])} | {r['wall_s']:.0f} |"
        )
    head = (
        f"Tiny model ({setting['model_params']} parameters) on the {setting['turns']}-turn toy env; "
        f"{setting['iterations']} iterations x {setting['tasks_per_iteration']} tasks x K={setting['k']}; "
        f"seeds {setting['seeds']}; numbers in %, mean (± std) over seeds.\n\n"
    )
    return head + "\n".join(lines) + "\n"


def plot(runs: list[dict], methods: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        if not rs:
            continue
        rs_dev_only = m in FIXED_DATA  # their training "rollouts" are fixed data: only the dev curve is the policy's
        n = min(len(r["curve"]) for r in rs)
        its = [rs[0]["curve"][i]["iteration"] for i in range(n)]
        if not rs_dev_only:
            axes[0].plot(its, [_mean([r["curve"][i]["reward"] for r in rs]) for i in range(n)], label=LABELS[m])
        dev = [
            (c["iteration"], _mean([next((x["dev_reward"] for x in r["curve"] if x["iteration"] == c["iteration"]), None) for r in rs]))
            for c in rs[0]["curve"]
            if c["dev_reward"] is not None
        ]
        if dev:
            axes[1].plot([d[0] for d in dev], [d[1] for d in dev], marker="o", label=LABELS[m])
    axes[0].set(title="training reward (mean over seeds)", xlabel="iteration", ylabel="reward", ylim=(0, 1.02))
    axes[1].set(title="dev reward, greedy (mean over seeds)", xlabel="iteration", ylabel="reward", ylim=(0, 1.02))
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_toy(args) -> dict:
    from looprl.testing import build_tiny_model
    from looprl.utils.io import atomic_write_json, atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_model(args.out / "tiny-model")
    results_path = args.out / "reproduce.json"
    done = json.loads(results_path.read_text())["runs"] if results_path.is_file() else []
    setting = {
        "model": "looprl.testing tiny Qwen2",
        "model_params": None,
        "env": "toy",
        "turns": args.turns,
        "iterations": args.iterations,
        "tasks_per_iteration": args.tasks_per_iteration,
        "k": args.k,
        "lr": args.lr,
        "seeds": args.seeds,
        "test_tasks": args.test_tasks,
        "command": " ".join(["python", "benchmarks/reproduce.py", *args.argv]),
    }
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_dir)
    per_layer = 4 * c.hidden_size**2 + 3 * c.hidden_size * c.intermediate_size  # attention q,k,v,o + MLP gate,up,down
    setting["model_params"] = f"~{(c.vocab_size * c.hidden_size + c.num_hidden_layers * per_layer) // 1000}K"
    key = json.dumps({k: setting[k] for k in ("turns", "iterations", "tasks_per_iteration", "k", "lr")})
    runs = [r for r in done if r.get("setting_key") == key]
    for seed in args.seeds:
        for method in args.methods:
            if any(r["method"] == method and r["seed"] == seed for r in runs):
                print(f"[reproduce] {method} seed {seed}: already done", flush=True)
                continue
            print(f"[reproduce] {method} seed {seed} ...", flush=True)
            result = run_one(args, method, seed, model_dir)
            result["setting_key"] = key
            runs.append(result)
            print(
                f"[reproduce] {method} seed {seed}: {result['wall_s']} s, held-out TGC {result['test']['tgc']:.3f}, reward {result['test']['reward_mean']:.3f}",
                flush=True,
            )
            atomic_write_json(results_path, {"setting": setting, "runs": runs})  # resumable: finished runs are kept
    methods = [m for m in APPSUITE_METHODS if m in args.methods]
    rows = summarize(runs, methods)
    out = {"setting": setting, "runs": runs, "table": rows}
    atomic_write_json(results_path, out)
    atomic_write_text(args.out / "reproduce.md", markdown(rows, setting))
    plot(runs, methods, args.out / "reproduce.png")
    print(markdown(rows, setting))
    print(f"wrote {results_path}, {args.out / 'reproduce.md'}, {args.out / 'reproduce.png'}")
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    run_appsuite(args) if args.env == "appsuite" else run_toy(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
