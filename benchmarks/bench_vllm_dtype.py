"""Benchmark: the dtype a vLLM CPU server runs in, on this machine's CPU.

On a CPU without bf16 instructions (AVX2 only) vLLM's CPU backend cannot use its fast bf16 matmuls,
so a bfloat16 server (what `dtype=auto` picks for SmolLM2) can be slower than a float32 one. This
starts one server per dtype, sends `--requests` concurrent completions of `--max-new-tokens` greedy
tokens on distinct ~500-token prompts (after one warm-up request), and reports tokens/s per dtype
and the ratio float32 / bfloat16. JSON to `--out` (default benchmarks/results/bench_vllm_dtype.json).

    python benchmarks/bench_vllm_dtype.py                    # SmolLM2-135M (materialized from PyPI)
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import time
import urllib.request
from pathlib import Path


def _complete(url: str, model: str, prompt: str, max_tokens: int) -> int:
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "ignore_eos": True}
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        return int(json.loads(resp.read())["usage"]["completion_tokens"])


def measure(model: str, dtype: str, requests: int, max_new_tokens: int) -> dict:
    from looprl.backends.vllm import start_server

    prompt = "Write a python function that pages through an API and counts the items it returns. " * 30
    with start_server(model, dtype=dtype, max_model_len=3072, enable_lora=False) as server:
        _complete(server.url, model, prompt, 8)  # warm-up
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(requests) as pool:
            tokens = sum(pool.map(lambda i: _complete(server.url, model, f"Request {i}. " + prompt, max_new_tokens), range(requests)))
        seconds = time.perf_counter() - t0
    return {"dtype": dtype, "tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", help="HF model folder or built-in name (default: SmolLM2-135M-Instruct)")
    p.add_argument("--requests", type=int, default=16, help="concurrent requests")
    p.add_argument("--max-new-tokens", type=int, default=64, help="greedy tokens per request")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_vllm_dtype.json"), help="JSON output")
    a = p.parse_args(argv)

    from looprl.backends import resolve_model
    from looprl.utils.io import atomic_write_json

    model = str(resolve_model(a.model))
    runs = {dtype: measure(model, dtype, a.requests, a.max_new_tokens) for dtype in ("float32", "bfloat16")}
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    result = {
        "benchmark": "bench_vllm_dtype",
        "model": a.model,
        "requests": a.requests,
        "max_new_tokens": a.max_new_tokens,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "avx512_bf16": "avx512_bf16" in flags,
            "amx_bf16": "amx_bf16" in flags,
        },
        "runs": runs,
        "ratio_float32_over_bfloat16": round(runs["float32"]["tokens_per_s"] / runs["bfloat16"]["tokens_per_s"], 2),
    }
    atomic_write_json(a.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
