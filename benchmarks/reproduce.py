"""The LOOP paper's comparison (its Table 1) at a scale this machine can run.

Every method gets the same model, tasks, seed(s) and rollout budget (K rollouts x tasks per
iteration x iterations) and the same evaluation. On a 2-core CPU the setting is looprl's tiny
115K-parameter model (looprl.testing) on the multi-turn toy env (3 turns; reward = mean share of
digit characters over the turns; looprl/env/toy.py): small enough that every method learns or
fails within minutes, multi-turn so that LOOP's per-token, per-turn and per-trajectory ratios
differ. SmolLM2-135M on the built-in world is the setting of `looprl demo`; it does not learn
measurably in the minutes a CPU gives it (docs/results.md).

    python benchmarks/reproduce.py                          # all methods, seeds 0 1, ~15-25 min on 2 cores
    python benchmarks/reproduce.py --methods loop rloo --seeds 0 --iterations 10

Writes OUT/reproduce.json (every run's curve and final numbers, the setting, the command),
OUT/reproduce.png (learning curves, mean over seeds), OUT/reproduce.md (a table in the style of
the paper's Table 1). On a GPU, point --recipe at configs/qwen2.5-7b-1gpu.yaml and --env appsuite
to rerun the same comparison on the built-in world (see docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

METHODS = ["loop", "loop-turn", "loop-bandit", "rloo", "grpo", "ppo", "sft-gt"]
LABELS = {
    "loop": "LOOP (token)", "loop-turn": "LOOP (turn)", "loop-bandit": "LOOP (bandit)", "rloo": "RLOO",
    "grpo": "GRPO", "ppo": "PPO (learned critic)", "sft-gt": "SFT-GT",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS, help="methods to compare")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="training seeds (each method runs once per seed)")
    p.add_argument("--iterations", type=int, default=16, help="training iterations per run")
    p.add_argument("--tasks-per-iteration", type=int, default=8, help="tasks sampled per iteration")
    p.add_argument("--k", type=int, default=6, help="rollouts per task (K)")
    p.add_argument("--turns", type=int, default=3, help="turns per toy episode")
    p.add_argument("--lr", type=float, default=1e-2, help="learning rate (the tiny model is randomly initialized; LoRA covers lm_head)")
    p.add_argument("--eval-every", type=int, default=4, help="dev evaluation (greedy) every N iterations")
    p.add_argument("--test-tasks", type=int, default=32, help="held-out toy tasks for the final evaluation")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/reproduce"), help="output folder")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (1 is fastest for the tiny model)")
    return p.parse_args(argv)


def run_config(args, method: str, seed: int, model_dir: Path):
    from looprl.config import load_config
    from looprl.schema import TrainConfig

    recipe = Path(__file__).resolve().parent.parent / "configs" / "tiny-cpu.yaml"
    overrides = [
        f"seed={seed}", f"run_dir={args.out / 'runs' / f'{method}-seed{seed}'}", f"model.name_or_path={model_dir}",
        f"trainer.method={method}", f"trainer.iterations={args.iterations}",
        f"trainer.tasks_per_iteration={args.tasks_per_iteration}", f"trainer.rollouts_per_task={args.k}",
        f"trainer.lr={args.lr}", f"trainer.eval_every={args.eval_every}", "trainer.eval_samples=1",
        f"env.options={{n_tasks: 16, turns: {args.turns}}}", f"env.max_turns={args.turns}", f"env.eval_max_turns={args.turns}",
        "logging.tensorboard=false", "trainer.checkpoints_kept=1",
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
    spec = replace(trainer.eval_spec, sampling=replace(trainer.eval_spec.sampling, temperature=0.0), scaffold=None,
                   max_turns=args.turns, model_name=cfg.trainer.method)
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
    trainer = Trainer(cfg, progress=False)
    history = trainer.train()
    wall = time.perf_counter() - t0
    curve = [{"iteration": h["iteration"], "reward": h.get("rollout/reward_mean"),
              "dev_tgc": h.get("eval/tgc"), "dev_reward": h.get("eval/reward_mean")} for h in history]
    return {"method": method, "seed": seed, "wall_s": round(wall, 1), "curve": curve, "test": final_eval(trainer, args)}


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
        tail = [None if m == "sft-gt" else _mean([c["reward"] for c in r["curve"][-3:]]) for r in rs]
        # how fast: mean training reward over all iterations (area under the curve) and the first
        # iteration whose training reward reached 0.9 (None if never)
        auc = [None if m == "sft-gt" else _mean([c["reward"] for c in r["curve"]]) for r in rs]
        first = [None if m == "sft-gt" else next((c["iteration"] for c in r["curve"] if (c["reward"] or 0) >= 0.9), None) for r in rs]
        rows.append({
            "method": m, "label": LABELS[m], "seeds": len(rs),
            "train_reward_auc": _mean(auc), "iterations_to_0.9": _mean(first),
            "runs_reaching_0.9": sum(f is not None for f in first),
            "train_reward_last3": _mean(tail), "train_reward_last3_std": _std(tail),
            "dev_tgc": _mean(last_dev), "dev_reward": _mean(last_dev_reward),
            "test_tgc": _mean([r["test"]["tgc"] for r in rs]), "test_tgc_std": _std([r["test"]["tgc"] for r in rs]),
            "test_reward": _mean([r["test"]["reward_mean"] for r in rs]),
            "wall_s": _mean([r["wall_s"] for r in rs]),
        })
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
        lines.append(f"| {r['label']} | {pct(r['train_reward_auc'])} | {first} | {pct(r['train_reward_last3'], r['train_reward_last3_std'])} "
                     f"| {pct(r['dev_tgc'])} | "
                     f"{pct(r['dev_reward'])} | {pct(r['test_tgc'], r['test_tgc_std'])} | {pct(r['test_reward'])} | {r['wall_s']:.0f} |")
    head = (f"Tiny model ({setting['model_params']} parameters) on the {setting['turns']}-turn toy env; "
            f"{setting['iterations']} iterations x {setting['tasks_per_iteration']} tasks x K={setting['k']}; "
            f"seeds {setting['seeds']}; numbers in %, mean (± std) over seeds.\n\n")
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
        if m == "sft-gt":  # its training "rollouts" are the ground truth: only the dev curve is the policy's
            rs_dev_only = True
        else:
            rs_dev_only = False
        n = min(len(r["curve"]) for r in rs)
        its = [rs[0]["curve"][i]["iteration"] for i in range(n)]
        if not rs_dev_only:
            axes[0].plot(its, [_mean([r["curve"][i]["reward"] for r in rs]) for i in range(n)], label=LABELS[m])
        dev = [(c["iteration"], _mean([next((x["dev_reward"] for x in r["curve"] if x["iteration"] == c["iteration"]), None) for r in rs]))
               for c in rs[0]["curve"] if c["dev_reward"] is not None]
        if dev:
            axes[1].plot([d[0] for d in dev], [d[1] for d in dev], marker="o", label=LABELS[m])
    axes[0].set(title="training reward (mean over seeds)", xlabel="iteration", ylabel="reward", ylim=(0, 1.02))
    axes[1].set(title="dev reward, greedy (mean over seeds)", xlabel="iteration", ylabel="reward", ylim=(0, 1.02))
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    from looprl.testing import build_tiny_model
    from looprl.utils.io import atomic_write_json, atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_model(args.out / "tiny-model")
    results_path = args.out / "reproduce.json"
    done = json.loads(results_path.read_text())["runs"] if results_path.is_file() else []
    setting = {"model": "looprl.testing tiny Qwen2", "model_params": None, "env": "toy", "turns": args.turns,
               "iterations": args.iterations, "tasks_per_iteration": args.tasks_per_iteration, "k": args.k,
               "lr": args.lr, "seeds": args.seeds, "test_tasks": args.test_tasks,
               "command": " ".join(["python", "benchmarks/reproduce.py", *(argv if argv is not None else sys.argv[1:])])}
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_dir)
    per_layer = 4 * c.hidden_size ** 2 + 3 * c.hidden_size * c.intermediate_size  # attention q,k,v,o + MLP gate,up,down
    setting["model_params"] = f"~{(c.vocab_size * c.hidden_size + c.num_hidden_layers * per_layer) // 1000}K"
    runs = [r for r in done if r.get("setting_key") == json.dumps({k: setting[k] for k in ("turns", "iterations", "tasks_per_iteration", "k", "lr")})]
    key = json.dumps({k: setting[k] for k in ("turns", "iterations", "tasks_per_iteration", "k", "lr")})
    for seed in args.seeds:
        for method in args.methods:
            if any(r["method"] == method and r["seed"] == seed for r in runs):
                print(f"[reproduce] {method} seed {seed}: already done", flush=True)
                continue
            print(f"[reproduce] {method} seed {seed} ...", flush=True)
            result = run_one(args, method, seed, model_dir)
            result["setting_key"] = key
            runs.append(result)
            print(f"[reproduce] {method} seed {seed}: {result['wall_s']} s, held-out TGC {result['test']['tgc']:.3f}, "
                  f"reward {result['test']['reward_mean']:.3f}", flush=True)
            atomic_write_json(results_path, {"setting": setting, "runs": runs})  # resumable: finished runs are kept
    methods = [m for m in METHODS if m in args.methods]
    rows = summarize(runs, methods)
    atomic_write_json(results_path, {"setting": setting, "runs": runs, "table": rows})
    atomic_write_text(args.out / "reproduce.md", markdown(rows, setting))
    plot(runs, methods, args.out / "reproduce.png")
    print(markdown(rows, setting))
    print(f"wrote {results_path}, {args.out / 'reproduce.md'}, {args.out / 'reproduce.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
