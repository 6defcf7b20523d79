"""Benchmark: how a trained adapter reaches a vLLM server (`rollout.adapter_sync`), on this machine.

Agent-shaped requests: `--prompts` chats of about `--prompt-tokens` tokens each (distinct, so the
prefix cache does not hide the prefill), sent at once, `--max-new-tokens` sampled per request. Timed:

* lora server (--enable-lora): the base model, then the same requests with a LoRA adapter
  hot-swapped in (adapter_sync="lora");
* merged server (no LoRA, VLLM_SERVER_DEV_MODE=1): the base model, then the same requests after the
  adapter was merged into the weights and reloaded in place (adapter_sync="merged").

Each adapter phase is compared with the base model on its own server (the ratio), so the two servers'
different start-up (the no-LoRA server compiles its model) does not enter the comparison. Also timed:
the swap itself (hot-load vs merge + reload). JSON to `--out` (default
benchmarks/results/bench_adapter_sync.json).

    python benchmarks/bench_adapter_sync.py                   # SmolLM2-135M, 16 requests
    python benchmarks/bench_adapter_sync.py --model tiny      # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_vllm import _model_path, random_adapter  # noqa: E402


def _prompts(tok, n: int, prompt_tokens: int) -> list[list[int]]:
    filler = "The REPL printed: " + ", ".join(f"item {i} costs {i * 7 % 97} dollars" for i in range(400))
    out = []
    for i in range(n):
        text = f"Request {i}. " + filler[i * 13 :]
        ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
        out.append(ids[-prompt_tokens:])
    return out


def _timed(backend, prompts, sampling) -> dict:
    start = time.perf_counter()
    gens = backend.generate(prompts, sampling)
    seconds = time.perf_counter() - start
    tokens = sum(len(g.token_ids) for g in gens)
    return {"seconds": round(seconds, 2), "new_tokens": tokens, "new_tokens_per_s": round(tokens / seconds, 1), "prompt_tokens": sum(map(len, prompts))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=900)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--out", default="benchmarks/results/bench_adapter_sync.json")
    args = parser.parse_args()

    import torch

    from looprl.backends.base import SamplingParams
    from looprl.backends.hf import HFBackend
    from looprl.backends.vllm import VLLMBackend
    from looprl.config import LoraConfig
    from looprl.utils.io import atomic_write_json

    model = _model_path(args.model)
    hf = HFBackend(model, lora=LoraConfig(r=args.lora_r, alpha=2 * args.lora_r), seed=0)
    adapter = random_adapter(hf, 0.02)
    prompts = _prompts(hf.tokenizer, args.prompts, args.prompt_tokens)
    # ignore_eos is not exposed; temperature 1 with a fixed seed keeps lengths comparable across phases
    sampling = SamplingParams(temperature=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    server = {"max_lora_rank": args.lora_r, "max_model_len": 2048}
    result: dict = {
        "benchmark": "bench_adapter_sync",
        "model": model,
        "prompts": args.prompts,
        "prompt_tokens": args.prompt_tokens,
        "max_new_tokens": args.max_new_tokens,
        "lora_r": args.lora_r,
        "host": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
    }
    for sync in ("lora", "merged"):
        start = time.perf_counter()
        with VLLMBackend(model, adapter_sync=sync, server_kwargs=server) as backend:
            start_s = time.perf_counter() - start
            backend.generate(prompts[:1], SamplingParams(temperature=0.0, max_new_tokens=4))  # warm-up
            base = _timed(backend, prompts, sampling)
            t = time.perf_counter()
            backend.load_adapter(adapter)
            swap_s = time.perf_counter() - t
            backend.generate(prompts[:1], SamplingParams(temperature=0.0, max_new_tokens=4))
            tuned = _timed(backend, prompts, sampling)
        result[sync] = {
            "server_start_s": round(start_s, 1),
            "base": base,
            "with_adapter": tuned,
            "swap_s": round(swap_s, 2),
            "adapter_over_base_seconds": round(tuned["seconds"] / base["seconds"], 2),
        }
        print(sync, result[sync], flush=True)
    result["lora_over_merged_seconds"] = round(result["lora"]["with_adapter"]["seconds"] / result["merged"]["with_adapter"]["seconds"], 2)
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}; sampling with a LoRA adapter took {result['lora_over_merged_seconds']}x as long as with merged weights")


if __name__ == "__main__":
    main()
