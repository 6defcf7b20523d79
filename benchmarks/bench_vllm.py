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

`--start-only` measures only the server's start: seconds from launch to the first served request
(a one-token completion), with the settings it started with, the phases of the start read from the
server's log as it is written (model loaded, warm-up/compile and profile run, KV cache, serving),
the load average before and after, and `--decode-prompts` greedy requests after it (generated
tokens/s, so a setting that speeds the start but slows decoding shows). Written to `--out` under
"start" (default benchmarks/results/bench_vllm_start.json, one entry per label):

    python benchmarks/bench_vllm.py --start-only --label demo --max-model-len 3072 --max-num-seqs 64 --adapter-sync merged
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
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


# Lines of vLLM 0.32's server log that open a phase of its start, in the order they appear
START_MARKS = {
    "engine_core_started": "Initializing a V1 LLM engine",
    "model_load_started": "Starting to load model",
    "weights_loaded": "Loading weights took",
    "warmup_started": "Warming up model for the compilation",
    "compiled_saved": "saved AOT compiled function",  # compiled now (a cold compile cache)
    "compiled_loaded": "Directly load AOT compilation",  # taken from ~/.cache/vllm (a warm one)
    "warmup_done": "Warming up done",
    "kv_cache_sized": "KV cache size:",
    "engine_ready": "init engine (profile, create kv cache, warmup model) took",
    "api_serving": "Starting vLLM server on",
}


def _watch_log(path: Path, t0: float, seen: dict[str, float], stop: threading.Event) -> None:
    """Stamp each START_MARKS line with the seconds since `t0` at which it reached the log (the log's
    own stamps have whole seconds only)."""
    offset = path.stat().st_size if path.exists() else 0
    while not stop.is_set():
        with open(path, errors="replace") as f:
            f.seek(offset)
            text = f.read()
        done = text.rfind("\n") + 1
        offset += len(text[:done].encode())
        for line in text[:done].splitlines():
            for mark, needle in START_MARKS.items():
                if needle in line and mark not in seen:
                    seen[mark] = round(time.perf_counter() - t0, 2)
        stop.wait(0.2)


def measure_start(model: str, args: argparse.Namespace, prompts: list[list[int]]) -> dict:
    """Launch a server as `args` says, time it to its first served request, then decode `prompts` greedily."""
    from looprl.backends.base import SamplingParams
    from looprl.backends.vllm import VLLMBackend

    log_path = Path(tempfile.mkdtemp(prefix="looprl-bench-vllm-start-")) / "vllm-server.log"
    log_path.touch()
    server = {"max_model_len": args.max_model_len, "dtype": args.dtype, "log_path": log_path, "max_lora_rank": args.lora_r}
    if args.max_num_seqs:
        server["max_num_seqs"] = args.max_num_seqs
    if args.max_num_batched_tokens:
        server["max_num_batched_tokens"] = args.max_num_batched_tokens
    if args.compile:
        server["eager"] = False
    if args.extra_args:
        server["extra_args"] = args.extra_args.split()
    seen: dict[str, float] = {}
    stop = threading.Event()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    watcher = threading.Thread(target=_watch_log, args=(log_path, t0, seen, stop), daemon=True)
    watcher.start()
    backend = VLLMBackend(model, adapter_sync=args.adapter_sync, concurrency=max(args.max_num_seqs or 0, len(prompts), 1), server_kwargs=server)
    healthy_s = time.perf_counter() - t0
    try:
        backend.generate(prompts[:1], SamplingParams(temperature=0.0, max_new_tokens=1))
        first_request_s = time.perf_counter() - t0
        stop.set()
        watcher.join()
        command = next((line for line in log_path.read_text(errors="replace").splitlines() if "non-default args" in line), "")
        greedy = SamplingParams(temperature=0.0, max_new_tokens=args.max_new_tokens)
        decode_s = float("inf")
        for _ in range(args.decode_repeats):  # the fastest of a few: the least disturbed by the machine's other load
            t1 = time.perf_counter()
            out = backend.generate(prompts, greedy)
            decode_s = min(decode_s, time.perf_counter() - t1)
    finally:
        stop.set()
        backend.close()
    tokens = sum(len(g.token_ids) for g in out)
    return {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in server.items() if k != "log_path"} | {"adapter_sync": args.adapter_sync},
        "vllm_args": command.split("non-default args: ", 1)[-1],
        "env": {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2")},
        "start_s": round(first_request_s, 2),
        "healthy_s": round(healthy_s, 2),
        "phases_s": dict(sorted(seen.items(), key=lambda kv: kv[1])),
        "decode": {
            "prompts": len(prompts),
            "prompt_tokens_mean": round(sum(map(len, prompts)) / len(prompts)),
            "max_new_tokens": args.max_new_tokens,
            "best_of": args.decode_repeats,
            "seconds": round(decode_s, 3),
            "tokens": tokens,
            "tokens_per_s": round(tokens / decode_s, 1),
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--out", default=None, help="default benchmarks/results/bench_vllm.json (bench_vllm_start.json with --start-only)")
    start = parser.add_argument_group("--start-only: the server's start time")
    start.add_argument("--start-only", action="store_true", help="measure the start (launch -> first served request) and a short greedy decode")
    start.add_argument("--label", default="default", help="the entry's name in the JSON (other labels are kept)")
    start.add_argument("--max-model-len", type=int, default=2048)
    start.add_argument("--max-num-seqs", type=int, default=None, help="default: vLLM's (128 on a CPU)")
    start.add_argument("--max-num-batched-tokens", type=int, default=None, help="default: start_server's (max-model-len on a CPU)")
    start.add_argument("--adapter-sync", choices=("lora", "merged"), default="lora", help="merged: no --enable-lora (vLLM then compiles the model)")
    start.add_argument("--dtype", default="float32")
    start.add_argument("--demo-prompts", action="store_true", help="decode the demo's opening prompts (its scaffold and tasks) instead of short questions")
    start.add_argument("--decode-repeats", type=int, default=3, help="greedy decodes of --prompts after the start; the fastest is kept")
    start.add_argument("--compile", action="store_true", help="let vLLM compile the model at start (start_server(eager=False); eager is the CPU default)")
    start.add_argument("--extra-args", default="", help="more vLLM flags, space-separated (e.g. '--enforce-eager')")
    args = parser.parse_args()
    if args.start_only:
        return start_only(args)

    import torch

    from looprl.backends.base import SamplingParams
    from looprl.backends.hf import HFBackend
    from looprl.backends.vllm import VLLMBackend
    from looprl.config import LoraConfig
    from looprl.utils.io import atomic_write_json

    model = _model_path(args.model)
    hf = HFBackend(model, lora=LoraConfig(r=args.lora_r, alpha=2 * args.lora_r), seed=0)
    tok = hf.tokenizer
    prompts = _chat_prompts(tok, args.prompts)
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
            "server_settings": {"max_lora_rank": args.lora_r, "max_model_len": 2048, "dtype": "float32"},
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
    out = args.out or "benchmarks/results/bench_vllm.json"
    atomic_write_json(out, result)
    print(f"wrote {out}")
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


def _chat_prompts(tok, n: int) -> list[list[int]]:
    prompts = []
    for i in range(n):
        ids = tok.apply_chat_template([{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], add_generation_prompt=True, tokenize=True)
        prompts.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    return prompts


def _demo_prompts(tok, n: int) -> list[list[int]]:
    """The demo's opening prompts: its scaffold (rollout.scaffold) over `n` of its training tasks, as the
    collector renders them (one shared system prompt, a task block each)."""
    from looprl.agent import scaffold_for
    from looprl.config import DemoConfig
    from looprl.env import make_env
    from looprl.experiments import task_sequence

    train = DemoConfig().train
    scaffold = scaffold_for(train.rollout.scaffold, env=train.env.name)
    prompts = []
    for task_id in task_sequence(train, n):
        env = make_env(train.env.name, **train.env.options)
        try:
            messages, info = env.reset(task_id)
        finally:
            env.close()
        chat = scaffold.initial_messages(messages, info)
        ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        prompts.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    return prompts


def start_only(args: argparse.Namespace) -> None:
    """Measure one start as `args` says; add it under its label to the JSON at --out."""
    from transformers import AutoTokenizer

    from looprl.utils.io import atomic_write_json

    model = _model_path(args.model)
    tok = AutoTokenizer.from_pretrained(model)
    prompts = _demo_prompts(tok, args.prompts) if args.demo_prompts else _chat_prompts(tok, args.prompts)
    entry = measure_start(model, args, prompts)
    out = Path(args.out or "benchmarks/results/bench_vllm_start.json")
    result = json.loads(out.read_text()) if out.is_file() else {"benchmark": "bench_vllm --start-only", "model": args.model, "start": {}}
    result["host"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "cpu": _cpu_name()}
    result["start"][args.label] = {"command": "python benchmarks/bench_vllm.py " + " ".join(sys.argv[1:]), **entry}
    atomic_write_json(out, result)
    print(json.dumps(entry, indent=1))
    print(f"wrote {out} [{args.label}]")


def _cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


if __name__ == "__main__":
    main()
