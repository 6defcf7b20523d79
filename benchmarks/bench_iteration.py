"""Benchmark: whole LOOP iterations on the demo's setting, where every second goes, synchronous
(rollout.max_staleness 0) and overlapped (1) side by side in one run.

Each pipeline runs N iterations of the demo's LOOP stage (`DemoConfig().train`: SmolLM2-135M-Instruct,
the demo's scenarios, turn and token limits, temperature 0.7; `--tasks` tasks x `--k` rollouts per
iteration) in its own subprocess, from the same seed, so its memory and CPU time are its own. The
trainer's own phase timings (time/* metrics, docs/metrics.md) give the breakdown; nothing is re-timed
here. Written under `--out` (default benchmarks/results/iteration/): bench_iteration.json and
bench_iteration.md, with per pipeline:

* rollouts per hour and generated (sampled) tokens per second, both over the training wall time;
* the wall seconds of each phase, summed over iterations: collection (task setup, env steps,
  sampling and the env's scoring), split into the seconds a sampler call was in flight and the rest
  (env work with no sampler call running; a vLLM server overlaps the two), the
  trainer's wait for the sampler thread (overlapped), advantages + filter, the old-logprob pass,
  forward/backward, optimizer, publish, checkpoint; and idle core-seconds = cores x wall - CPU
  seconds of the process and its children (sandbox workers, a vLLM server);
* peak memory: the largest summed RSS of the process tree, polled every 0.2 s;
* machine utilization = useful FLOPs / (wall x peak FLOP/s), the peak measured in this run by a
  matmul microbenchmark on the cores used, in fp32 and bf16.

Useful FLOPs are counted from the model config's shape by looprl.utils.flops (its docstring has the
per-token formulas F_lin, F_attn(c), F_head):

    sampling   sum over every token of every rollout of F_lin + F_attn(c), + F_head per sampled token
               (each token processed once: prompt and observations prefilled, agent tokens decoded;
               recomputation a sampler does without a prefix cache is not useful work)
    old logp   the same forward over each kept rollout (the no-grad pass)
    training   per epoch and kept rollout, forward as above + backward: F_lin (activation gradients
               only: the base weights are frozen, LoRA's own are negligible) + 2 F_attn(c) + F_head
               per sampled token

so a utilization of 100% would be the cores doing nothing but these matmuls at their measured peak.

The ratio (overlapped / synchronous rollouts per hour) is printed only when the 1-minute load average
before the benchmark's own work was at most half the cores (`--wait-idle S` waits up to S seconds for
that; the end-of-run load is recorded too, but the benchmark's own work makes it about the core count);
otherwise the JSON says why it was refused, unless `--allow-load`.

    python benchmarks/bench_iteration.py --iterations 3 --tasks 4 --k 4                 # the demo's size
    python benchmarks/bench_iteration.py --pipelines vllm:0 openvino:0 openvino:1 --set rollout.sampling.temperature=1  # samplers side by side
    python benchmarks/bench_iteration.py --model-path models/tiny --iterations 1 --tasks 1 --k 2 \\
        --set env.max_turns=1 --set rollout.sampling.max_new_tokens=8 --out /tmp/bench   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from looprl.utils.flops import machine_is_idle, model_shape, peak_flops, process_tree_cpu_s, run_with_peak_rss, useful_flops, wait_for_idle

RESULTS = Path(__file__).resolve().parent / "results" / "iteration"
SAMPLERS = ("transformers", "vllm", "llamacpp", "openvino")
PHASES = (
    ("collect", "time/sample_s", "collection: task setup, env steps, sampling, the env's scoring"),
    ("generate", "time/generate_s", "collection, a sampler call in flight"),
    ("env", "time/env_s", "collection, no sampler call running (env work)"),
    ("wait", "time/collect_s", "trainer waiting for rollouts (= collection when synchronous)"),
    ("advantages", "time/advantages_s", "advantages and buffer filter"),
    ("old_logprob", "time/old_logprob_s", "old-logprob pass"),
    ("forward_backward", "time/forward_backward_s", "forward/backward"),
    ("optimizer", "time/optimizer_s", "optimizer steps"),
    ("publish", "time/publish_s", "publish the adapter to the sampler"),
    ("checkpoint", "time/checkpoint_s", "checkpoint writes"),
)


# ------------------------------------------------------------------ one pipeline (the child process)


def run_pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    """N iterations of one pipeline; the numbers the parent tabulates."""
    import torch

    from looprl.config import DemoConfig, TrainConfig, apply_overrides
    from looprl.training.methods import get_method
    from looprl.training.trainer import Trainer
    from looprl.trajectory import read_jsonl

    data = DemoConfig().train.model_dump(mode="json")
    data = apply_overrides(
        data,
        [
            f"model.name_or_path={spec['model']}",
            f"run_dir={spec['run_dir']}",
            f"seed={spec['seed']}",
            f"trainer.iterations={spec['iterations']}",
            f"trainer.tasks_per_iteration={spec['tasks']}",
            f"trainer.rollouts_per_task={spec['k']}",
            f"rollout.max_staleness={spec['staleness']}",
            f"rollout.backend={spec['sampler']}",
            "logging.tensorboard=false",
            *spec["overrides"],
        ],
    )
    cfg = TrainConfig.model_validate(data)
    with Trainer(cfg, progress=False) as trainer:
        cpu0, t0 = process_tree_cpu_s(), time.perf_counter()
        history = trainer.train()
        wall, cpu = time.perf_counter() - t0, process_tree_cpu_s() - cpu0

    method = get_method(cfg.trainer.method)
    shape = model_shape(spec["model"])
    flops = {"sampling": 0.0, "old_logprob": 0.0, "training": 0.0, "total": 0.0}
    n_rollouts = sampled_tokens = 0
    for i, row in enumerate(history, start=1):
        rollouts = [r for r in read_jsonl(Path(cfg.run_dir) / "rollouts" / f"iter_{i:06d}.jsonl") if not r.infra_failed]
        advantages = method.advantages(torch.tensor([r.reward for r in rollouts]), [r.group_id for r in rollouts])
        keep = method.keep(rollouts, advantages, cfg.trainer)
        kept = [r for r, k in zip(rollouts, keep) if k and any(r.trainable)] if row.get("train/optimizer_steps", 0) else []
        sizes = [(len(r.token_ids), sum(r.trainable)) for r in rollouts]
        it = useful_flops(shape, sizes, [(len(r.token_ids), sum(r.trainable)) for r in kept], method.num_epochs(cfg.trainer))
        flops = {k: flops[k] + it[k] for k in flops}
        n_rollouts += len(rollouts)
        sampled_tokens += sum(s for _, s in sizes)
    phases = {name: sum(float(r.get(key, 0.0)) for r in history) for name, key, _ in PHASES}
    cores = os.cpu_count() or 1
    return {
        "sampler": spec["sampler"],
        "max_staleness": spec["staleness"],
        "iterations": len(history),
        "wall_s": wall,
        "rollouts": n_rollouts,
        "rollouts_per_hour": n_rollouts / wall * 3600,
        "sampled_tokens": sampled_tokens,
        "tokens_per_s": sampled_tokens / wall,
        "sampler_tokens_per_s": sampled_tokens / max(phases["collect"], 1e-9),
        "optimizer_steps": sum(float(r.get("train/optimizer_steps", 0.0)) for r in history),
        "reward_mean": sum(r["rollout/reward_mean"] for r in history) / max(len(history), 1),
        "phases_s": phases,
        "cpu_s": cpu,
        "idle_core_s": max(cores * wall - cpu, 0.0),
        "useful_flops": flops,
        "offpolicy": {k: [r[k] for r in history if k in r] for k in ("offpolicy/ratio_max", "offpolicy/truncated_fraction", "offpolicy/staleness_mean")},
    }


# ------------------------------------------------------------------ the parent


def _run_child(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run one pipeline in a subprocess, polling the peak RSS of its process tree."""
    name = f"{spec['sampler']}_{spec['staleness']}"
    spec_path, out_path = workdir / f"spec_{name}.json", workdir / f"result_{name}.json"
    spec_path.write_text(json.dumps(spec))
    rc, peak_mib = run_with_peak_rss([sys.executable, __file__, "--child", str(spec_path), "--child-out", str(out_path)])
    if rc != 0:
        raise SystemExit(f"the {spec['sampler']} max_staleness={spec['staleness']} pipeline failed (exit {rc}); its output is above")
    result = json.loads(out_path.read_text())
    result["peak_rss_mib"] = peak_mib
    return result


def _table(result: dict[str, Any]) -> str:
    runs = result["pipelines"]
    label = (
        (lambda r: f"{r['sampler']}, max_staleness {r['max_staleness']}")
        if len({r["sampler"] for r in runs}) > 1
        else (lambda r: f"max_staleness {r['max_staleness']}")
    )
    head = "| | " + " | ".join(map(label, runs)) + " |\n|---|" + "---|" * len(runs) + "\n"
    rows = [
        ("rollouts per hour", lambda r: f"{r['rollouts_per_hour']:.0f}"),
        ("generated tokens/s (wall)", lambda r: f"{r['tokens_per_s']:.1f}"),
        ("sampler tokens/s (while collecting)", lambda r: f"{r['sampler_tokens_per_s']:.1f}"),
        ("wall s", lambda r: f"{r['wall_s']:.1f}"),
        *[(f"{label} s", lambda r, n=name: f"{r['phases_s'][n]:.1f}") for name, _, label in PHASES],
        ("idle core-s", lambda r: f"{r['idle_core_s']:.1f}"),
        ("peak RSS MiB (tree)", lambda r: f"{r['peak_rss_mib']:.0f}"),
        ("useful GFLOP", lambda r: f"{r['useful_flops']['total'] / 1e9:.1f}"),
        ("utilization vs fp32 peak", lambda r: f"{r['utilization']['fp32']:.2%}"),
        ("utilization vs bf16 peak", lambda r: f"{r['utilization']['bf16']:.2%}"),
        ("optimizer steps", lambda r: f"{r['optimizer_steps']:.0f}"),
        ("reward mean", lambda r: f"{r['reward_mean']:.3f}"),
    ]
    body = "".join(f"| {name} | " + " | ".join(fn(r) for r in runs) + " |\n" for name, fn in rows)
    ratios = result["ratios_rollouts_per_hour"]
    verdict = "".join(f"\n{label(r)} / {label(runs[0])} rollouts per hour: **{x:.2f}x**\n" for r, x in zip(runs[1:], ratios))
    cpu = result["machine"]["cpu"]
    return (
        f"# bench_iteration\n\n`{result['command']}`\n\n{cpu['model']}, {cpu['cores']} cores, flags {', '.join(cpu['flags']) or 'unknown'}; "
        f"peak {result['peak_gflops']['fp32']:.0f} GFLOP/s fp32, {result['peak_gflops']['bf16']:.0f} bf16 (matmul, measured in this run); "
        f"load average {result['load_average']['start'][0]:.2f} at start, {result['load_average']['end'][0]:.2f} at end.\n\n"
        + head
        + body
        + (verdict if result["ratio_refused"] is None else f"\nNo ratio: {result['ratio_refused']}\n")
    )


def _pipeline(text: str) -> tuple[str, int]:
    """ "openvino:1" -> ("openvino", 1): a pipeline's sampler (rollout.backend) and max_staleness."""
    sampler, _, staleness = text.partition(":")
    if sampler not in SAMPLERS or not staleness.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected SAMPLER:STALENESS with SAMPLER one of {', '.join(SAMPLERS)} and STALENESS 0-4, e.g. openvino:1")
    return sampler, int(staleness)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", help="a built-in model name (looprl.backends.resolve_model) or a path")
    p.add_argument("--model-path", default=None, help="a model folder to use instead of --model (the tiny model for a smoke run)")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--tasks", type=int, default=4, help="tasks per iteration (the demo's: 4)")
    p.add_argument("--k", type=int, default=4, help="rollouts per task (the demo's: 4)")
    p.add_argument("--staleness", type=int, nargs="+", default=[0, 1], help="the pipelines to run, side by side (the first is the baseline)")
    p.add_argument(
        "--pipelines",
        nargs="+",
        type=_pipeline,
        default=None,
        metavar="SAMPLER:STALENESS",
        help="pipelines with samplers of their own, side by side, the first the baseline (e.g. vllm:0 openvino:0 openvino:1); "
        "replaces --sampler and --staleness",
    )
    p.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="transformers",
        help="rollout.backend of both pipelines (openvino samples at T = 1 only: add --set rollout.sampling.temperature=1)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], help="a TrainConfig override KEY=VALUE (repeatable)")
    p.add_argument("--peak-seconds", type=float, default=2.0, help="seconds per dtype of the matmul peak microbenchmark")
    p.add_argument("--peak-size", type=int, default=1024, help="matrix size of the peak microbenchmark")
    p.add_argument("--allow-load", action="store_true", help="write the ratio even when the load average exceeded the core count")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait at most for the 1-minute load average to fall to half the cores")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        Path(args.child_out).write_text(json.dumps(run_pipeline(json.loads(args.child.read_text()))))
        return 0

    from looprl.backends import resolve_model
    from looprl.utils.hardware import cpu_info

    cores = os.cpu_count() or 1
    load_start = wait_for_idle(cores, args.wait_idle)
    model = args.model_path or resolve_model(args.model)
    peak = peak_flops(args.peak_seconds, args.peak_size)
    plan = args.pipelines or [(args.sampler, s) for s in args.staleness]
    pipelines = []
    with tempfile.TemporaryDirectory(prefix="bench-iteration-") as tmp:
        for sampler, s in plan:
            spec = {
                "model": model,
                "run_dir": str(Path(tmp) / f"{sampler}-staleness{s}"),
                "seed": args.seed,
                "iterations": args.iterations,
                "tasks": args.tasks,
                "k": args.k,
                "staleness": s,
                "sampler": sampler,
                "overrides": args.overrides,
            }
            r = _run_child(spec, Path(tmp))
            r["utilization"] = {dt: r["useful_flops"]["total"] / (r["wall_s"] * peak[dt]) for dt in peak}
            pipelines.append(r)
    load_end = os.getloadavg()
    # The benchmark itself keeps every core busy, so its end-of-run load average is about the core count on
    # an idle machine: other work is judged by the load before the benchmark's own work began.
    loaded = not machine_is_idle(load_start[0], cores)
    ratios = [r["rollouts_per_hour"] / pipelines[0]["rollouts_per_hour"] for r in pipelines[1:]]
    refused = None
    if loaded and not args.allow_load:
        refused = (
            f"load average {load_start[0]:.2f} at start > {cores / 2:g} (half of {cores} cores): other work shared the machine "
            "(rerun idle, with --wait-idle, or pass --allow-load)"
        )
        ratios = []
    result = {
        "command": "python benchmarks/bench_iteration.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": args.model_path or args.model,
        "setting": {"iterations": args.iterations, "tasks": args.tasks, "k": args.k, "pipelines": [f"{a}:{b}" for a, b in plan], "overrides": args.overrides},
        "machine": {"cpu": cpu_info(), "torch_threads": __import__("torch").get_num_threads()},
        "load_average": {"start": list(load_start), "end": list(load_end), "loaded_at_start": loaded, "allowed": bool(loaded and args.allow_load)},
        "peak_gflops": {k: v / 1e9 for k, v in peak.items()},
        "pipelines": pipelines,
        "ratio_rollouts_per_hour": ratios[-1] if ratios else None,  # the last pipeline's over the first's
        "ratios_rollouts_per_hour": ratios,  # each later pipeline's over the first's
        "ratio_refused": refused,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_iteration.json").write_text(json.dumps(result, indent=2) + "\n")
    table = _table(result)
    (args.out / "bench_iteration.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
