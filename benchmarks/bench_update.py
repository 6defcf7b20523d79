"""Benchmark: one LOOP update step vs TRL's GRPOTrainer loss step, same model, same LoRA, same batch.

Both sides get the same synthetic batch: `--prompts` prompts x `--k` completions, prompt length
`--prompt-len`, completion length `--completion-len` (random token ids, seeded), rewards in groups.
A "step" is forward + backward + AdamW step over the whole batch (old logprobs precomputed, as both
trainers do before their first step):

* looprl: `accumulate_gradients` with `micro_batch_size` = batch (loss: LOOP's per-token clip) + step
* trl:    `GRPOTrainer.compute_loss` (loss_type "grpo", beta 0) on the same tensors + backward + step

Each side runs in its own subprocess so peak memory is its own: CUDA max allocated on a GPU, else
the process's peak RSS. Writes JSON (`--out`, default benchmarks/results/bench_update.json) with
median step seconds, peak memory MiB, and the looprl/trl ratios.

    python benchmarks/bench_update.py --model smollm2 --steps 3
    python benchmarks/bench_update.py --model tiny            # seconds, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _model_path(name: str) -> str:
    if name == "tiny":
        from looprl.testing import build_tiny_model

        return str(build_tiny_model(Path(tempfile.gettempdir()) / "looprl-bench-tiny"))
    from looprl.backends import resolve_model

    return resolve_model(name)


def _batch(args, vocab: int):
    import torch

    g = torch.Generator().manual_seed(0)
    n = args.prompts * args.k
    prompt = torch.randint(10, vocab, (args.prompts, args.prompt_len), generator=g).repeat_interleave(args.k, 0)
    completion = torch.randint(10, vocab, (n, args.completion_len), generator=g)
    rewards = torch.rand(n, generator=g)
    return prompt, completion, rewards


def _peak_mib(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_looprl(args) -> dict:
    import torch

    from looprl.algorithms import leave_one_out_advantages
    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig, TrainerConfig
    from looprl.training.batch import TrainBatch
    from looprl.training.methods import get_method
    from looprl.training.update import accumulate_gradients, compute_logprobs

    policy = HFBackend(
        _model_path(args.model), lora=LoraConfig(r=16, alpha=32, target_modules=TARGETS), seed=0, gradient_checkpointing=args.gradient_checkpointing
    )
    prompt, completion, rewards = _batch(args, policy.model.config.vocab_size)
    ids = torch.cat([prompt, completion], 1)
    n, T = ids.shape
    mask = torch.zeros(n, T, dtype=torch.bool)
    mask[:, args.prompt_len :] = True
    groups = torch.arange(args.prompts).repeat_interleave(args.k)
    batch = TrainBatch(
        ids.to(policy.device),
        torch.ones_like(ids).to(policy.device),
        mask.to(policy.device),
        torch.zeros_like(ids).to(policy.device),
        leave_one_out_advantages(rewards, groups).to(policy.device),
        rewards,
    )
    cfg = TrainerConfig(micro_batch_size=n, minibatch_size=n)
    batch.logp_old = compute_logprobs(policy, batch, n, cfg.logprob_chunk_size).to(policy.device)
    opt = torch.optim.AdamW(policy.trainable_parameters(), lr=5e-5, weight_decay=0.01)
    method = get_method("loop")
    times = []
    for step in range(args.steps + 1):
        _sync(policy.device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        accumulate_gradients(policy, method, batch, cfg)
        torch.nn.utils.clip_grad_norm_(policy.trainable_parameters(), 1.0)
        opt.step()
        _sync(policy.device)
        if step:  # the first step is warm-up
            times.append(time.perf_counter() - t0)
    return {"step_s": statistics.median(times), "step_s_all": times, "peak_mem_mib": _peak_mib(policy.device)}


def run_trl(args) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig as PeftLoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from looprl.algorithms import group_normalized_advantages

    path = _model_path(args.model)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(path)
    n = args.prompts * args.k
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out,
            per_device_train_batch_size=n,
            num_generations=args.k,
            beta=0.0,
            loss_type="grpo",
            max_completion_length=args.completion_len,
            report_to=[],
            learning_rate=5e-5,
            weight_decay=0.01,
            max_grad_norm=1.0,
            use_cpu=device.type == "cpu",
            gradient_checkpointing=args.gradient_checkpointing,
            logging_steps=1000,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
            args=config,
            train_dataset=Dataset.from_dict({"prompt": ["hi"] * n}),
            processing_class=tok,
            peft_config=PeftLoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM"),
        )
        model = trainer.model.to(device)
        model.train()
        prompt, completion, rewards = _batch(args, model.config.vocab_size)
        groups = torch.arange(args.prompts).repeat_interleave(args.k)
        inputs = {
            "prompt_ids": prompt.to(device),
            "prompt_mask": torch.ones_like(prompt).to(device),
            "completion_ids": completion.to(device),
            "completion_mask": torch.ones_like(completion).to(device),
            "advantages": group_normalized_advantages(rewards, groups).to(device),
        }
        with torch.no_grad():
            inputs["old_per_token_logps"] = trainer._get_per_token_logps_and_entropies(
                model,
                torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1),
                torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1),
                args.completion_len,
            )[0]
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we drive the step ourselves
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)
        times = []
        for step in range(args.steps + 1):
            _sync(device)
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            trainer.compute_loss(model, inputs).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            _sync(device)
            if step:
                times.append(time.perf_counter() - t0)
    return {"step_s": statistics.median(times), "step_s_all": times, "peak_mem_mib": _peak_mib(device)}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2", help="'smollm2', 'tiny', or a model folder / hub id")
    p.add_argument("--prompts", type=int, default=2)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--completion-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--side", choices=["looprl", "trl"], help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_update.json"))
    args = p.parse_args()
    if args.side:
        print(json.dumps((run_looprl if args.side == "looprl" else run_trl)(args)))
        return
    results = {}
    load_before = os.getloadavg()
    for side in ("looprl", "trl"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--side", side]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            results[side] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
            print(f"{side} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        else:
            results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    report = {
        "benchmark": "update_step",
        "model": args.model,
        "batch": {"trajectories": args.prompts * args.k, "prompt_len": args.prompt_len, "completion_len": args.completion_len},
        "steps_timed": args.steps,
        "gradient_checkpointing": args.gradient_checkpointing,
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
        "platform": platform.platform(),
        # other work on the machine skews CPU timings; the 1-minute load average before and after says how much
        "cpu_count": os.cpu_count(),
        "load_avg_1m_before": load_before[0],
        "load_avg_1m_after": os.getloadavg()[0],
        **results,
    }
    if "step_s" in results.get("looprl", {}) and "step_s" in results.get("trl", {}):
        report["ratio_step_time_looprl_over_trl"] = results["looprl"]["step_s"] / results["trl"]["step_s"]
        report["ratio_peak_mem_looprl_over_trl"] = results["looprl"]["peak_mem_mib"] / results["trl"]["peak_mem_mib"]
    from looprl.utils.io import atomic_write_json

    atomic_write_json(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
