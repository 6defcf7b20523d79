"""Policy backends: transformers+peft (train and generate), vLLM (generate, LoRA hot-swap), and
OpenAI-compatible chat endpoints (evaluate hosted or served models). See base.py for the contract.

Importing this package is cheap; torch/transformers load only when a backend is built.

    from looprl.backends import HFBackend, VLLMBackend, OpenAIChatBackend, resolve_model
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from looprl.backends.base import ChatBackend, ChatResult, Generation, PolicyBackend, SamplingParams, TrainableBackend

# Names that `resolve_model` builds on demand instead of treating as a path or hub id.
BUILTIN_MODELS = ("smollm2",)

__all__ = [
    "BUILTIN_MODELS",
    "ChatBackend",
    "ChatResult",
    "Generation",
    "HFBackend",
    "OpenAIChatBackend",
    "PolicyBackend",
    "SamplingParams",
    "TrainableBackend",
    "VLLMBackend",
    "looprl_home",
    "resolve_model",
]


def looprl_home() -> Path:
    """$LOOPRL_HOME, else ~/.cache/looprl: where built-in models are materialized."""
    return Path(os.environ.get("LOOPRL_HOME") or Path.home() / ".cache" / "looprl")


def resolve_model(name_or_path: str) -> str:
    """Map a built-in model name ("smollm2") to its local folder, materializing it on first use;
    return any other path or hub id unchanged."""
    if name_or_path in BUILTIN_MODELS:
        from looprl.backends.smollm2 import materialize_smollm2

        return str(materialize_smollm2(looprl_home() / "models" / name_or_path))
    return name_or_path


def __getattr__(name: str) -> Any:  # lazy: keep `import looprl.backends` free of torch
    if name == "HFBackend":
        from looprl.backends.hf import HFBackend

        return HFBackend
    if name == "VLLMBackend":
        from looprl.backends.vllm import VLLMBackend

        return VLLMBackend
    if name == "OpenAIChatBackend":
        from looprl.backends.openai import OpenAIChatBackend

        return OpenAIChatBackend
    raise AttributeError(f"module 'looprl.backends' has no attribute {name!r}")
