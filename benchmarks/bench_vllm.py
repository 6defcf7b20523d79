"""Benchmark: sampling through vLLM (a real server from .venvs/vllm) vs HFBackend, and the LoRA hot-swap.

Same model, same chat prompts (`--prompts` of them, each asking a different short question), greedy,
`--max-new-tokens` per prompt:

* hf:   HFBackend.generate on the whole batch (left-padded, KV cache)
* vllm: VLLMBackend.generate (concurrent requests to /v1/completions with token-id prompts)

Then a LoRA adapter (random, scaled so it visibly changes the model) is saved by HFBackend and
hot-loaded into vLLM through /v1/load_lora_adapter: we time the load and check that vLLM's outputs
changed and agree with HFBackend running the same adapter. Writes JSON (`--out`, default
benchmarks/results/bench_vllm.json): server start seconds, generated tokens/s for both, hot-swap
seconds, token agreement fractions.

    python benchmarks/bench_vllm.py --model smollm2 --prompts 16 --max-new-tokens 64
    python benchmarks/bench_vllm.py --model tiny                                   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTIONS = [
    "What is the capital of France?", "Name a prime number larger than 10.", "What colour is the sky?",
    "Write a Python list of three fruits.", "How many legs does a spider have?", "What is 12 times 12?",
    "Name a planet in the solar system.", "What does CPU stand for?", "Give a synonym for happy.",
    "What is the boiling point of water in Celsius?", "Who wrote Hamlet?", "What is the square root of 81?",
    "Name an ocean.", "Translate 'thank you' into French.", "What is the largest mammal?", "Spell 'cat' backwards.",
]  # fmt: skip


def _model_path(name: str) -> str:
    if name == "tiny":
        from looprl.testing import build_tiny_model

        # vLLM's CPU attention needs head_dim 32+: hidden 128 over 4 heads
        return str(build_tiny_model(Path(tempfile.gettempdir()) / "looprl-bench-tiny-vllm", hidden_size=128, initializer_range=0.2))
    from looprl.backends import resolve_model

    return resolve_model(name)


def random_adapter(hf, scale: float) -> Path:
    """Move `hf`'s LoRA weights by seeded noise of size `scale` (a trained-looking adapter that
    visibly changes the model) and save them to a fresh temporary folder; returns that folder."""
    import torch

    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in hf.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    adapter = Path(tempfile.mkdtemp(prefix="looprl-bench-adapter-")) / "adapter"
    hf.save_adapter(adapter)
    return adapter


def _agreement(a, b) -> float:
    same = sum(x.token_ids == y.token_ids for x, y in zip(a, b))
    return round(same / len(a), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--out", default="benchmarks/results/bench_vllm.json")
    args = parser.parse_args()

    import torch

    from looprl.backends.base import SamplingParams
    from looprl.backends.hf import HFBackend
    from looprl.backends.vllm import VLLMBackend
    from looprl.config import LoraConfig
    from looprl.utils.io import atomic_write_json

    model = _model_path(args.model)
    hf = HFBackend(model, lora=LoraConfig(r=args.lora_r, alpha=2 * args.lora_r), seed=0)
    tok = hf.tokenizer
    prompts = []
    for i in range(args.prompts):
        ids = tok.apply_chat_template([{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], add_generation_prompt=True, tokenize=True)
        prompts.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    greedy = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_tokens)

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start

    start = time.perf_counter()
    vllm = VLLMBackend(model, server_kwargs={"max_lora_rank": args.lora_r, "max_model_len": 2048, "dtype": "float32"})
    server_start_s = time.perf_counter() - start
    try:
        vllm.generate(prompts[:1], SamplingParams(temperature=0.0, max_new_tokens=4))  # warm-up
        hf_base, hf_s = timed(lambda: hf.generate(prompts, greedy))
        v_base, v_s = timed(lambda: vllm.generate(prompts, greedy))
        hf_tokens = sum(len(g.token_ids) for g in hf_base)
        v_tokens = sum(len(g.token_ids) for g in v_base)

        adapter = random_adapter(hf, 0.05)
        _, swap_s = timed(lambda: vllm.load_adapter(adapter))
        v_tuned = vllm.generate(prompts, greedy)
        hf_tuned = hf.generate(prompts, greedy)
        result = {
            "benchmark": "bench_vllm",
            "model": model,
            "prompts": args.prompts,
            "max_new_tokens": args.max_new_tokens,
            "host": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
            "server_start_s": round(server_start_s, 2),
            "hf": {"seconds": round(hf_s, 3), "tokens": hf_tokens, "tokens_per_s": round(hf_tokens / hf_s, 1)},
            "vllm": {"seconds": round(v_s, 3), "tokens": v_tokens, "tokens_per_s": round(v_tokens / v_s, 1)},
            "vllm_over_hf_tokens_per_s": round((v_tokens / v_s) / (hf_tokens / hf_s), 3),
            "base_greedy_agreement": _agreement(hf_base, v_base),
            "lora_hot_swap_s": round(swap_s, 3),
            "outputs_changed_after_swap": 1 - _agreement(v_base, v_tuned),
            "tuned_greedy_agreement_with_hf": _agreement(hf_tuned, v_tuned),
            "sample_answer_base": tok.decode(v_base[0].token_ids),
            "sample_answer_tuned": tok.decode(v_tuned[0].token_ids),
        }
    finally:
        vllm.close()
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    for key in (
        "server_start_s",
        "hf",
        "vllm",
        "vllm_over_hf_tokens_per_s",
        "base_greedy_agreement",
        "lora_hot_swap_s",
        "outputs_changed_after_swap",
        "tuned_greedy_agreement_with_hf",
    ):
        print(f"{key}: {result[key]}")


if __name__ == "__main__":
    main()
