"""What the samplers that apply a peft LoRA themselves (llama.cpp's merged GGUF, OpenVINO's run-time
adapter) read from its adapter_config.json: the scale of B A, and whether it is a plain LoRA at all."""

from __future__ import annotations

import math
from typing import Any


def plain_lora_scale(adapter_config: dict[str, Any], who: str) -> float:
    """peft's LoRA scale, lora_alpha / r (/ sqrt(r) with rsLoRA). Raises ValueError, naming `who` (the
    backend) and the settings, for what one scale times B A cannot express: DoRA, per-module ranks or
    alphas, trained biases or whole modules."""
    c = adapter_config
    unsupported = {
        "use_dora": bool(c.get("use_dora")),
        "rank_pattern": bool(c.get("rank_pattern")),
        "alpha_pattern": bool(c.get("alpha_pattern")),
        "modules_to_save": bool(c.get("modules_to_save")),
        "bias": c.get("bias", "none") != "none",
    }
    if any(unsupported.values()):
        names = ", ".join(k for k, v in unsupported.items() if v)
        raise ValueError(f"{who} applies plain LoRA adapters only; this one sets {names}")
    r = c["r"]
    return c["lora_alpha"] / (math.sqrt(r) if c.get("use_rslora") else r)
