"""Policy backends: transformers+peft (train and generate), vLLM (generate, LoRA hot-swap), and
OpenAI-compatible chat endpoints (evaluate hosted or served models). See base.py for the contract.

Importing this package is cheap; torch/transformers load only when a backend is built.

    from looprl.backends import HFBackend, VLLMBackend, OpenAIChatBackend, resolve_model
"""

from __future__ import annotations

import os
from pathlib import Path

from looprl.backends.base import ChatBackend, ChatResult, Generation, PolicyBackend, SamplingParams, TrainableBackend
from looprl.utils.lazy import lazy_exports

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


# lazy: keep `import looprl.backends` free of torch
__getattr__, __dir__ = lazy_exports(
    __name__, {"HFBackend": "looprl.backends.hf", "VLLMBackend": "looprl.backends.vllm", "OpenAIChatBackend": "looprl.backends.openai"}
)
