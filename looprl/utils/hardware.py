"""What machine a run or benchmark ran on: the CPU's model, cores and the instruction sets that decide
dtype defaults and speed (AVX2, AVX-512, AVX-512 BF16, AMX), and the GPUs torch sees.

Recorded in every run's run.json (`hardware`), so a cost estimate (`looprl roi`) can say what the
training ran on, and benchmarks can say which machine gave which number.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

# /proc/cpuinfo flag -> the name we report
CPU_FLAGS = {"avx2": "avx2", "avx512f": "avx512", "avx512_bf16": "avx512_bf16", "amx_bf16": "amx_bf16", "amx_tile": "amx_tile"}


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """{"model", "cores", "flags"}: the model name and the flags of CPU_FLAGS this CPU has (Linux reads
    /proc/cpuinfo; elsewhere the model is platform.processor() and flags are unknown: [])."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.is_file() else ""
    model, flags = platform.processor() or platform.machine(), set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            model = value.strip()
        elif key in ("flags", "Features"):
            flags |= set(value.split())
    return {"model": model, "cores": os.cpu_count(), "flags": [name for flag, name in CPU_FLAGS.items() if flag in flags]}


def gpu_names() -> list[str]:
    """The CUDA devices torch sees, by name; [] without torch loaded or without GPUs. torch is only asked
    when this process has already imported it (a run that never needed it does not pay its import)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def describe_hardware() -> dict[str, Any]:
    """{"cpu": cpu_info(), "gpus": gpu_names(), "host": the machine's name}."""
    return {"cpu": cpu_info(), "gpus": gpu_names(), "host": platform.node()}


def hardware_line(hw: dict[str, Any] | None) -> str:
    """One line naming the hardware of a run.json's `hardware`, e.g. '1 x NVIDIA H100; AMD EPYC (16 cores, avx2)'."""
    if not hw:
        return "not recorded"
    cpu = hw.get("cpu") or {}
    flags = ", ".join(cpu.get("flags") or [])
    cpu_text = f"{cpu.get('model', 'unknown CPU')} ({cpu.get('cores', '?')} cores{', ' + flags if flags else ''})"
    gpus = hw.get("gpus") or []
    if not gpus:
        return cpu_text
    counts: dict[str, int] = {}
    for name in gpus:
        counts[name] = counts.get(name, 0) + 1
    return "; ".join([*(f"{n} x {name}" for name, n in counts.items()), cpu_text])


AUTOCAST_SETTINGS = ("auto", "bfloat16", "off")


def resolve_autocast(setting: str, device_type: str, flags: list[str] | None = None) -> str:
    """What `trainer.autocast` means on this machine: "bfloat16" or "off".

    "auto" is bf16 where it is fast and exact enough for training with fp32 master weights: a CPU with
    avx512_bf16 or amx_bf16 (`flags`, default cpu_info()'s), or a CUDA device that supports bf16;
    elsewhere (AVX2-only CPUs emulate bf16 matmuls, slower than fp32) it is off."""
    if setting not in AUTOCAST_SETTINGS:
        raise ValueError(f"trainer.autocast must be one of {', '.join(AUTOCAST_SETTINGS)}; got {setting!r}")
    if setting != "auto":
        return setting
    if device_type == "cuda":
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "off"
    if device_type != "cpu":
        return "off"
    have = set(cpu_info()["flags"] if flags is None else flags)
    return "bfloat16" if have & {"avx512_bf16", "amx_bf16"} else "off"
