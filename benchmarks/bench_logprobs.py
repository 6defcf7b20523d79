"""Benchmark: HFBackend.token_logprobs (chunked, checkpointed lm_head) vs the naive full computation.

For each sequence length T, forward + backward of sum(logprobs) over one sequence of random token
ids, with a LoRA adapter (gradients flow to the LoRA weights only, as in training):

* naive:   model(input_ids).logits -> log_softmax over (T x vocab) -> gather  (holds T x vocab twice)
* chunked: `token_logprobs(..., grad=True, chunk_size=C)` (lm_head + log_softmax per chunk, recomputed
           in backward)

Each (method, T) runs in its own subprocess so its peak memory is its own: CUDA max allocated on a
GPU, else the process's peak RSS above its RSS after loading the model (the peak mark is reset
through /proc/self/clear_refs). Also checks the two agree
(max |difference| of the logprobs). Peak RSS on a CPU depends on the allocator, so each run also
reports `saved_for_backward_mib`: the bytes of the tensors autograd keeps for the backward pass
(counted with saved-tensor hooks), which is where a held (T x vocab) logits tensor shows. Writes JSON (`--out`, default
benchmarks/results/bench_logprobs.json).

    python benchmarks/bench_logprobs.py --model smollm2 --lengths 1024 4096 8192
    python benchmarks/bench_logprobs.py --model tiny --lengths 256 1024   # seconds, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _model_path(name: str) -> str:
    if name == "tiny":
        from looprl.testing import build_tiny_model

        return str(build_tiny_model(Path(tempfile.gettempdir()) / "looprl-bench-tiny"))
    from looprl.backends import resolve_model

    return resolve_model(name)


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) so loading the model does not count (Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def run_one(model: str, method: str, length: int, chunk_size: int, dtype: str, device: str | None) -> dict:
    """One measurement in this process (called in a subprocess by main)."""
    import torch

    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig

    backend = HFBackend(model, dtype=dtype, lora=LoraConfig(), device=device, seed=0)
    cuda = backend.device.type == "cuda"
    vocab = backend.base_model.config.vocab_size
    ids = torch.randint(0, vocab, (1, length), generator=torch.Generator().manual_seed(0)).to(backend.device)
    _reset_peak_rss()
    base_rss = _status_mib("VmRSS")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated() / 2**20
    saved: dict[int, int] = {}  # storage -> bytes autograd keeps for backward (allocator-independent)

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if method == "naive":
            backend.model.train()
            logits = backend.model(input_ids=ids).logits.float()
            lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
            lp = torch.cat([torch.zeros_like(lp[:, :1]), lp], dim=1)
        else:
            lp = backend.token_logprobs(ids, grad=True, chunk_size=chunk_size)
    saved_mib = sum(saved.values()) / 2**20
    lp.sum().backward()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 - base_cuda if cuda else _status_mib("VmHWM") - base_rss
    return {
        "method": method,
        "length": length,
        "chunk_size": chunk_size if method == "chunked" else None,
        "seconds": round(seconds, 4),
        "peak_extra_mib": round(peak, 1),
        "saved_for_backward_mib": round(saved_mib, 1),
        "memory_kind": "cuda_max_allocated" if cuda else "process_peak_rss",
        "logprob_sum": float(lp.detach().sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2", help="'tiny', 'smollm2', a folder or an HF id")
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 8192])
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default="benchmarks/results/bench_logprobs.json")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._one:
        method, length = args._one
        print(json.dumps(run_one(args.model, method, int(length), args.chunk_size, args.dtype, args.device)))
        return

    model = _model_path(args.model)
    rows = []
    for length in args.lengths:
        for method in ("naive", "chunked"):
            cmd = [sys.executable, __file__, "--model", model, "--chunk-size", str(args.chunk_size), "--dtype", args.dtype, "--_one", method, str(length)]
            if args.device:
                cmd += ["--device", args.device]
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
            if proc.returncode != 0:
                rows.append({"method": method, "length": length, "error": proc.stderr.strip().splitlines()[-1:]})
            else:
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    for length in args.lengths:
        pair = {r["method"]: r for r in rows if r["length"] == length and "error" not in r}
        if len(pair) == 2:
            n, c = pair["naive"], pair["chunked"]
            n["chunked_memory_ratio"] = round(c["peak_extra_mib"] / max(n["peak_extra_mib"], 1e-9), 3)
            n["chunked_saved_ratio"] = round(c["saved_for_backward_mib"] / max(n["saved_for_backward_mib"], 1e-9), 3)
            n["chunked_time_ratio"] = round(c["seconds"] / n["seconds"], 3)
            n["logprob_sum_abs_diff"] = abs(c["logprob_sum"] - n["logprob_sum"])
    result = {
        "benchmark": "bench_logprobs",
        "model": model,
        "dtype": args.dtype,
        "chunk_size": args.chunk_size,
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from looprl.utils.io import atomic_write_json

    atomic_write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
