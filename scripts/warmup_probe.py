"""What does a warm-up do on held-out tasks? The demo's SFT-GT stage with chosen settings, a greedy
evaluation on the demo's dev tasks and its seen training tasks, then (optionally) the demo's LOOP stage
from the warmed-up adapter and the same evaluations again, all sampled by one local vLLM server
(`looprl models setup-vllm`).

It is how the warm-up probes in docs/results.md (section 2) were measured, without the rest of the
demo (no evaluation of the base model, no report). The demo's defaults apply unless changed here:

    .venv/bin/python scripts/warmup_probe.py runs/probe-docs --read-docs --turns 14 --loop-iterations 4

`--adapter` starts from a warm-up already trained (its SFT stage is skipped), e.g. the one above:

    .venv/bin/python scripts/warmup_probe.py runs/probe-lr --adapter runs/probe-docs/sft/checkpoints/iter_000002/adapter \
        --turns 14 --loop-iterations 6 --loop-lr 1e-3

How often does the warmed-up model solve its training tasks when it samples, and how many of the
K-groups carry a leave-one-out signal (docs/results.md, section 2, "Sampling temperature")?

    .venv/bin/python scripts/warmup_probe.py runs/probe-paper --sample-temperatures 1.0 0.7 0.4

Does the warm-up carry to training tasks it has not seen? `--sft-difficulties 2` warms up on the
difficulty-2 chats only (then sample the difficulty-1 tasks as above); `--hold-out-third` warms up on
tasks 1 and 2 of every training scenario and evaluates task 3 of each (same intent, other parameters).

Each stage writes under OUT (sft/, eval_sft/, eval_sft_train/, eval_heldout_third/, sample_T*/, loop/,
eval_loop/, eval_loop_train/); the summaries are printed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from looprl.demo import (
    _eval_config,
    _latest_adapter,
    _train,
    evaluate_subsets,
    loop_config,
    pick_dev_tasks,
    pick_train_tasks,
    rollout_server,
    run_evaluation,
    sft_config,
)
from looprl.schema import DemoConfig
from looprl.world import load_tasks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="where the stages write")
    p.add_argument("--model", default="smollm2", help="HF model id or folder (default: SmolLM2-135M-Instruct, materialized)")
    p.add_argument("--read-docs", action="store_true", help="warm-up chats look the APIs up (trainer.sft_read_docs)")
    p.add_argument("--passes", type=int, default=None, help="SFT passes over the chats (default: the demo's sft_epochs)")
    p.add_argument("--lr", type=float, default=None, help="SFT learning rate (default: the demo's sft_lr)")
    p.add_argument("--turns", type=int, default=None, help="episode turn limit, training and evaluation (default: the demo's)")
    p.add_argument("--loop-iterations", type=int, default=0, help="LOOP iterations after the warm-up (0 = none)")
    p.add_argument("--loop-lr", type=float, default=None, help="LOOP learning rate (default: the demo's train.trainer.lr)")
    p.add_argument("--adapter", default=None, help="a warmed-up adapter to start from instead of training one (skips SFT-GT)")
    p.add_argument("--dev-difficulty", type=int, nargs="+", default=None, help="difficulties of the dev tasks (default: the "
                   "demo's; every dev task of them is evaluated)")
    p.add_argument("--sft-difficulties", type=int, nargs="+", default=None, help="difficulties of the warm-up's training chats "
                   "(default: the demo's sft_difficulties)")
    p.add_argument("--hold-out-third", action="store_true", help="warm up on tasks 1 and 2 of each training scenario only, and "
                   "evaluate (greedy) task 3 of each")
    p.add_argument("--sample-temperatures", type=float, nargs="+", default=[], help="after the warm-up, sample every "
                   "difficulty-1 training task --samples times at each of these temperatures")
    p.add_argument("--samples", type=int, default=4, help="samples per task for --sample-temperatures (K)")
    p.add_argument("--loop-temperature", type=float, default=None, help="LOOP's sampling temperature (default: the demo's)")
    p.add_argument("--loop-tasks", type=int, default=None, help="LOOP's tasks per iteration (default: the demo's)")
    a = p.parse_args()

    from looprl.backends import resolve_model

    cfg = DemoConfig(run_dir=str(a.out), sft_read_docs=a.read_docs)
    cfg.sft_epochs = a.passes if a.passes is not None else cfg.sft_epochs
    cfg.sft_lr = a.lr if a.lr is not None else cfg.sft_lr
    if a.turns is not None:
        cfg.train.env.max_turns = cfg.train.env.eval_max_turns = a.turns
    cfg.train.trainer.iterations = max(a.loop_iterations, 1)  # read only when LOOP runs
    cfg.train.trainer.lr = a.loop_lr if a.loop_lr is not None else cfg.train.trainer.lr
    if a.dev_difficulty:
        cfg.dev_difficulties, cfg.dev_tasks = a.dev_difficulty, 10_000
    if a.sft_difficulties:
        cfg.sft_difficulties = a.sft_difficulties
    if a.loop_temperature is not None:
        cfg.train.rollout.sampling.temperature = a.loop_temperature
    if a.loop_tasks is not None:
        cfg.train.trainer.tasks_per_iteration = a.loop_tasks
    model = str(resolve_model(a.model))
    dev, seen = pick_dev_tasks(cfg), pick_train_tasks(cfg)
    a.out.mkdir(parents=True, exist_ok=True)
    warmup_tasks = load_tasks("train", difficulties=cfg.sft_difficulties)
    third = [t.id for t in warmup_tasks if t.id.endswith("_3")] if a.hold_out_third else []

    if a.adapter:
        adapter = a.adapter
    else:
        sft = sft_config(cfg, model, a.out / "sft")  # the demo's stages, as looprl/demo.py builds them
        if third:
            sft.tasks.task_ids = [t.id for t in warmup_tasks if t.id not in third]
            sft.trainer.tasks_per_iteration = len(sft.tasks.task_ids)
        t0 = time.perf_counter()
        _train(sft)
        print(f"SFT-GT: {time.perf_counter() - t0:.0f} s", flush=True)
        adapter = _latest_adapter(a.out / "sft")

    with rollout_server(cfg, model, "vllm", True) as url:

        def evaluate(adapter: str, method: str, when: str, label: str) -> None:  # as the demo: dev, then seen training tasks
            evaluate_subsets(cfg, model, adapter, method, "vllm", url, a.out, when, label, dev, seen)

        evaluate(adapter, "sft-gt", "sft", "after SFT-GT")
        if third:
            run_evaluation(_eval_config(cfg, model, adapter, "vllm", url, split="train"), third, a.out / "eval_heldout_third",
                           "after SFT-GT, task 3 of each training scenario (held out)", "sft-gt")
        for temperature in a.sample_temperatures:
            sample_training_tasks(cfg, model, adapter, url, temperature, a.samples, a.out / f"sample_T{temperature}")
        if a.loop_iterations:
            t0 = time.perf_counter()
            _train(loop_config(cfg, model, adapter, a.out / "loop", "vllm", url))
            print(f"LOOP: {time.perf_counter() - t0:.0f} s", flush=True)
            evaluate(_latest_adapter(a.out / "loop"), cfg.train.trainer.method, "loop", "after SFT-GT + LOOP")


def sample_training_tasks(cfg: DemoConfig, model: str, adapter: str, url: str, temperature: float, k: int, out: Path) -> None:
    """K samples of every difficulty-1 training task at `temperature`; prints how many tasks were solved
    at least once and how many K-groups have unequal rewards (those carry LOOP's leave-one-out signal)."""
    ec = _eval_config(cfg, model, adapter, "vllm", url, split="train")
    ec.rollout.sampling.temperature, ec.samples = temperature, k
    ids = [t.id for t in load_tasks("train", difficulties=[1])]
    run_evaluation(ec, ids, out, f"after SFT-GT, {k} samples at T={temperature}", "sft-gt")
    rewards: dict[str, list[float]] = defaultdict(list)
    for line in open(out / "rollouts.jsonl"):
        r = json.loads(line)
        rewards[r["task_id"]].append(r["reward"])
    solved = sum(max(v) >= 1.0 for v in rewards.values())
    signal = sum(len(set(v)) > 1 for v in rewards.values())
    print(f"T={temperature}: {solved} of {len(rewards)} tasks solved at least once; {signal} K-groups with unequal rewards", flush=True)


if __name__ == "__main__":
    main()
