"""What a benchmark needs to say how close to the machine's limit it ran: useful FLOPs counted from a
model's shape, the peak matmul FLOP/s measured on the cores in use, whether the machine was idle, and
what a process tree used (CPU seconds, peak memory of a child run).

Useful FLOPs (2 per multiply-add), per token at position c (its causal context has c tokens), with
hidden d, L layers, h query heads and h_kv key/value heads of size d_h, MLP width f (gated: 3
matrices), vocabulary V:

    F_lin      = L * 2 * (d * h * d_h  +  2 * d * h_kv * d_h  +  h * d_h * d  +  3 * d * f)
    F_attn(c)  = L * 4 * h * d_h * c                    (QK^T and AV over the causal prefix)
    F_head     = 2 * d * V                              (only where a logit is used: sampled tokens)

A forward over n tokens of which s are sampled is n F_lin + sum_c F_attn(c) + s F_head; a LoRA
backward adds F_lin per token (activation gradients only: the base weights are frozen), 2 F_attn and
F_head per sampled token. Utilization = useful FLOPs / (wall seconds x peak FLOP/s).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from typing import Sequence


def model_shape(model_path: str) -> dict[str, int]:
    """The shape numbers of a transformers config that the FLOP count needs."""
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_path)
    heads = c.num_attention_heads
    return {
        "hidden": c.hidden_size,
        "layers": c.num_hidden_layers,
        "heads": heads,
        "kv_heads": getattr(c, "num_key_value_heads", None) or heads,
        "head_dim": getattr(c, "head_dim", None) or c.hidden_size // heads,
        "intermediate": c.intermediate_size,
        "vocab": c.vocab_size,
    }


def useful_flops(shape: dict[str, int], rollouts: list[tuple[int, int]], kept: list[tuple[int, int]], epochs: int) -> dict[str, float]:
    """Useful FLOPs (module docstring) of one iteration: `rollouts` and `kept` are (tokens, sampled tokens)
    per rollout, all collected ones and those the update trained on."""
    d, L, h, hkv, dh, f, V = (shape[k] for k in ("hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate", "vocab"))
    f_lin = L * 2 * (d * h * dh + 2 * d * hkv * dh + h * dh * d + 3 * d * f)
    f_head = 2 * d * V

    def attn(n: int) -> float:  # sum over positions c = 1..n of L * 4 * h * d_h * c
        return L * 4 * h * dh * n * (n + 1) / 2

    def forward(n: int, sampled: int) -> float:
        return n * f_lin + attn(n) + sampled * f_head

    sampling = sum(forward(n, s) for n, s in rollouts)
    old = sum(forward(n, s) for n, s in kept)
    train = epochs * sum(forward(n, s) + n * f_lin + 2 * attn(n) + s * f_head for n, s in kept)
    return {"sampling": sampling, "old_logprob": old, "training": train, "total": sampling + old + train}


def peak_flops(seconds: float, size: int) -> dict[str, float]:
    """Measured matmul FLOP/s in fp32 and bf16 on this process's torch threads (all cores by default):
    size x size matmuls for `seconds` per dtype, the fastest one's rate (the peak, not the mean, so a
    moment of contention does not lower it)."""
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        torch.matmul(a, b)  # warm-up
        fastest, t0 = float("inf"), time.perf_counter()
        while time.perf_counter() - t0 < seconds or fastest == float("inf"):
            t1 = time.perf_counter()
            torch.matmul(a, b)
            fastest = min(fastest, time.perf_counter() - t1)
        out[name] = 2 * size**3 / fastest
    return out


def machine_is_idle(load_1m: float, cores: int) -> bool:
    """The rule every benchmark that prints a ratio or a time uses: the 1-minute load average before
    its own work is at most half the cores."""
    return load_1m <= cores / 2


def wait_for_idle(cores: int, wait_s: float, poll_s: float = 5.0) -> tuple[float, float, float]:
    """The load average once its 1-minute figure is at most half the cores, or after `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    load = os.getloadavg()
    while not machine_is_idle(load[0], cores) and time.monotonic() < deadline:
        time.sleep(poll_s)
        load = os.getloadavg()
    return load


def process_tree_cpu_s() -> float:
    """CPU seconds of this process and all its descendants: live ones (a server's engine and workers)
    and those already reaped (sandbox workers that came and went)."""
    import psutil

    me = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            live += t.user + t.system
        except psutil.Error:  # exited between the listing and the read
            pass
    return me.ru_utime + me.ru_stime + reaped.ru_utime + reaped.ru_stime + live


def run_with_peak_rss(cmd: Sequence[str], env: dict[str, str] | None = None, poll_s: float = 0.2) -> tuple[int, float]:
    """Run `cmd` to its end; its exit code and the peak summed RSS (MiB) of its process tree, polled
    every `poll_s` seconds (its own memory, apart from the benchmark that launched it)."""
    import psutil

    proc = subprocess.Popen(list(cmd), env=env)
    peak, done = [0], threading.Event()

    def poll() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak[0] = max(peak[0], root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True)))
            except psutil.Error:  # the tree changed while it was read
                pass
            done.wait(poll_s)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    rc = proc.wait()
    done.set()
    poller.join()
    return rc, peak[0] / 2**20
