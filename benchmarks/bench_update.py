"""Benchmark: one LOOP update step vs TRL's GRPOTrainer loss step, same model, same LoRA, same batch.

Both sides get the same synthetic batch: `--prompts` prompts x `--k` completions, prompt length
`--prompt-len`, completion length `--completion-len` (random token ids, seeded), rewards in groups;
the default is the issue's (smollm2, 8 trajectories x 128 tokens: prompt 64 + completion 64).
A "step" is forward + backward + AdamW step over the whole batch (old logprobs precomputed, as both
trainers do before their first step):

* looprl: `accumulate_gradients` with `micro_batch_size` = batch (loss: LOOP's per-token clip) + step,
  under `--autocast` (trainer.autocast: "auto" = bf16 where the CPU has avx512_bf16/AMX or the GPU bf16)
* trl:    `GRPOTrainer.compute_loss` (loss_type "grpo", beta 0) on the same tensors + backward + step,
  with the same precision choice: GRPOConfig(bf16=True) and accelerate's autocast where looprl autocasts

Each side runs in its own subprocess so peak memory is its own: CUDA max allocated on a GPU, else
the process's peak RSS. TRL is not a dependency of the project: when `import trl` fails, the
benchmark installs trl (TRL_VERSION, which coexists with the project's transformers) into a venv of
its own, `.venvs/bench-trl`, that sees the project's packages (torch, transformers, peft) through a
.pth file, and runs the TRL side with that venv's python. `--sides looprl` skips TRL (the smoke test).

Recorded: median step seconds, peak memory MiB, torch threads and dtype/autocast of each side, the
1-minute load average before and after, and each side's MFU: the useful FLOPs of one step
(looprl.utils.flops.useful_flops: forward + LoRA backward, lm_head only at completion tokens) over
step seconds x the matmul peak measured in this run (`peak_flops`) in the dtype the side computed
in. The looprl/trl ratios are written only when the machine was idle at the start
(`machine_is_idle`: load average <= half the cores); otherwise `ratio_refused` says why
(`--wait-idle S` waits for it, `--allow-load` writes the ratio anyway, marked as measured under load).

    python benchmarks/bench_update.py --model smollm2 --steps 3 --wait-idle 600
    python benchmarks/bench_update.py --model tiny --sides looprl   # seconds, a smoke run without TRL
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
TRL_VERSION = "1.16.0"  # coexists with transformers 5.19 (pyproject's [bench] extra)
TRL_VENV = Path(__file__).resolve().parents[1] / ".venvs" / "bench-trl"


def _model_path(name: str) -> str:
    if name == "tiny":
        from looprl.testing import build_tiny_model

        return str(build_tiny_model(Path(tempfile.gettempdir()) / "looprl-bench-tiny"))
    from looprl.backends import resolve_model

    return resolve_model(name)


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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


def _timed_steps(args, device, step) -> list[float]:
    """Seconds of each of `args.steps` calls of `step` after one warm-up call."""
    times = []
    for i in range(args.steps + 1):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        if i:  # the first step is warm-up
            times.append(time.perf_counter() - t0)
    return times


def _side_facts(device, autocast: str, times: list[float]) -> dict:
    import torch

    return {
        "step_s": statistics.median(times),
        "step_s_all": times,
        "peak_mem_mib": _peak_mib(device),
        "torch_threads": torch.get_num_threads(),
        "weights_dtype": "float32",
        "autocast": autocast,
    }


def run_looprl(args) -> dict:
    import torch

    from looprl.algorithms import leave_one_out_advantages
    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig, TrainerConfig
    from looprl.training.batch import TrainBatch
    from looprl.training.methods import get_method
    from looprl.training.update import accumulate_gradients, compute_logprobs, trainer_autocast

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
    cfg = TrainerConfig(micro_batch_size=n, minibatch_size=n, autocast=args.autocast)
    autocast = trainer_autocast(cfg, policy.device)
    batch.logp_old = compute_logprobs(policy, batch, n, cfg.logprob_chunk_size, autocast=autocast).to(policy.device)
    opt = torch.optim.AdamW(policy.trainable_parameters(), lr=5e-5, weight_decay=0.01)
    method = get_method("loop")

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        accumulate_gradients(policy, method, batch, cfg)
        torch.nn.utils.clip_grad_norm_(policy.trainable_parameters(), 1.0)
        opt.step()

    return _side_facts(policy.device, autocast, _timed_steps(args, policy.device, step))


def run_trl(args) -> dict:
    import torch
    import trl
    from datasets import Dataset
    from peft import LoraConfig as PeftLoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from looprl.algorithms import group_normalized_advantages
    from looprl.utils.hardware import resolve_autocast

    path = _model_path(args.model)
    device = _device()
    bf16 = resolve_autocast(args.autocast, device.type) == "bfloat16"  # the same precision choice as looprl's
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
            bf16=bf16,
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
        # Trainer.train() would run the forward under accelerate's autocast (mixed_precision from bf16=True);
        # the step is driven here, so enter that same context
        with torch.no_grad(), trainer.accelerator.autocast():
            inputs["old_per_token_logps"] = trainer._get_per_token_logps_and_entropies(
                model,
                torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1),
                torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1),
                args.completion_len,
            )[0]
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); we drive the step ourselves
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            with trainer.accelerator.autocast():
                loss = trainer.compute_loss(model, inputs)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

        facts = _side_facts(device, "bfloat16" if bf16 else "off", _timed_steps(args, device, step))
    return {**facts, "trl_version": trl.__version__, "accelerate_mixed_precision": str(trainer.accelerator.mixed_precision)}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def trl_python(version: str = TRL_VERSION, venv: Path = TRL_VENV) -> str:
    """A python that imports trl: this one when it can, else `venv`'s, created and filled on first use.

    The venv sees this interpreter's packages (torch, transformers, peft) through a .pth file, so only
    trl and what it adds (datasets, accelerate) are installed into it; the project's venv is untouched."""
    if subprocess.run([sys.executable, "-c", "import trl, datasets"], capture_output=True).returncode == 0:
        return sys.executable
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import trl, datasets"], capture_output=True).returncode == 0:
        return str(python)
    print(f"installing trl=={version} into {venv} (first run only)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    import site
    import sysconfig

    here = [p for p in (*site.getsitepackages(), sysconfig.get_paths()["purelib"]) if Path(p).is_dir()]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    Path(purelib.stdout.strip(), "looprl-project.pth").write_text("\n".join(dict.fromkeys(here)) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"trl=={version}", "datasets"], check=True)
    return str(python)


def _run_side(python: str, side: str) -> dict:
    cmd = [python, __file__, *sys.argv[1:], "--side", side]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(f"{side} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def step_flops(args) -> float:
    """Useful FLOPs of one step (forward + LoRA backward over the batch; lm_head at completion tokens)."""
    from looprl.utils.flops import model_shape, useful_flops

    n, tokens = args.prompts * args.k, args.prompt_len + args.completion_len
    rows = [(tokens, args.completion_len)] * n
    return useful_flops(model_shape(_model_path(args.model)), rows, rows, epochs=1)["training"]


def ratio_fields(results: dict, load_1m: float, cores: int, allow_load: bool) -> dict:
    """The looprl/trl ratios when both sides ran and the machine was idle at the start (or `allow_load`,
    then marked); otherwise, with both sides, `ratio_refused` and why."""
    from looprl.utils.flops import machine_is_idle

    if not all("step_s" in results.get(s, {}) for s in ("looprl", "trl")):
        return {}
    idle = machine_is_idle(load_1m, cores)
    if not (idle or allow_load):
        return {
            "ratio_refused": f"the 1-minute load average was {load_1m:.2f} at the start on {cores} cores (idle means <= {cores / 2:g}): "
            "other work would skew the ratio; rerun on an idle machine, with --wait-idle, or pass --allow-load"
        }
    out = {
        "ratio_step_time_looprl_over_trl": results["looprl"]["step_s"] / results["trl"]["step_s"],
        "ratio_peak_mem_looprl_over_trl": results["looprl"]["peak_mem_mib"] / results["trl"]["peak_mem_mib"],
    }
    return out if idle else {**out, "measured_under_load": True}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2", help="'smollm2', 'tiny', or a model folder / hub id")
    p.add_argument("--prompts", type=int, default=2)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--completion-len", type=int, default=64)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument(
        "--autocast", choices=["auto", "bfloat16", "off"], default="auto", help="trainer.autocast for looprl; TRL gets bf16=True where it resolves to bfloat16"
    )
    p.add_argument("--sides", default="looprl,trl", help="comma-separated sides to run: looprl, trl (looprl alone needs no TRL)")
    p.add_argument("--peak-seconds", type=float, default=2.0, help="seconds per dtype of the matmul peak microbenchmark")
    p.add_argument("--peak-size", type=int, default=1024, help="matrix size of the peak microbenchmark")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait at most for the 1-minute load average to fall to half the cores")
    p.add_argument("--allow-load", action="store_true", help="write the ratios even when the machine was not idle at the start (marked)")
    p.add_argument("--side", choices=["looprl", "trl"], help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_update.json"))
    args = p.parse_args()
    if args.side:
        print(json.dumps((run_looprl if args.side == "looprl" else run_trl)(args)))
        return
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = sorted(set(sides) - {"looprl", "trl"})
    if unknown or not sides:
        p.error(f"--sides takes looprl and/or trl; got {args.sides!r}")
    import torch

    from looprl.utils.flops import peak_flops, wait_for_idle
    from looprl.utils.hardware import cpu_info
    from looprl.utils.io import atomic_write_json

    cores = os.cpu_count() or 1
    load_before = wait_for_idle(cores, args.wait_idle)  # judged before the benchmark's own work
    peak = peak_flops(args.peak_seconds, args.peak_size)  # on this process's torch threads, as the sides use
    pythons = {"looprl": sys.executable}
    if "trl" in sides:
        pythons["trl"] = trl_python()
    results = {side: _run_side(pythons[side], side) for side in sides}
    flops = step_flops(args)
    for r in results.values():
        if "step_s" in r:
            rate = flops / r["step_s"]
            r["mfu"] = rate / peak["bf16" if r["autocast"] == "bfloat16" else "fp32"]  # against the peak of the dtype it computed in
            r["mfu_vs"] = {dt: rate / v for dt, v in peak.items()}
    report = {
        "benchmark": "update_step",
        "model": args.model,
        "batch": {"trajectories": args.prompts * args.k, "prompt_len": args.prompt_len, "completion_len": args.completion_len},
        "steps_timed": args.steps,
        "gradient_checkpointing": args.gradient_checkpointing,
        "autocast_setting": args.autocast,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "cpu_count": cores,
        # other work on the machine skews CPU timings; the 1-minute load average before and after says how much
        "load_avg_before": list(load_before),
        "load_avg_1m_after": os.getloadavg()[0],
        "peak_gflops": {k: v / 1e9 for k, v in peak.items()},
        "useful_gflop_per_step": flops / 1e9,
        **results,
    }
    report.update(ratio_fields(results, load_before[0], cores, args.allow_load))
    atomic_write_json(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
