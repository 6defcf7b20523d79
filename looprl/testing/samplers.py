"""What a sampler backend's tests compare it with: the transformers model's own logprobs of tokens it
sampled, and a LoRA adapter that changes the model (a fresh LoRA's B is zero and changes nothing).
Used by the llama.cpp and OpenVINO backends' tests; a user's new sampler can be checked the same way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from looprl.backends.hf import HFBackend


def reference_logprobs(hf: "HFBackend", prompt: Sequence[int], ids: Sequence[int], temperature: float) -> list[float]:
    """log-softmax(logits / T) of each of `ids` after `prompt`, from the transformers model (its adapter on)."""
    import torch

    with torch.no_grad():
        logits = hf.model(torch.tensor([list(prompt) + list(ids)])).logits[0].float()
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return [logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(ids)]


def random_lora_adapter(model_dir: str | Path, path: str | Path, *, seed: int = 1, target_modules: Sequence[str] | None = None) -> "HFBackend":
    """Save at `path` a peft LoRA (r 4, alpha 8; `target_modules` or LoraConfig's default) whose B
    matrices are random and nonzero, so that it changes what the model samples; returns the
    HFBackend holding it (the reference a sampler serving the adapter must match)."""
    import torch

    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig

    lora = LoraConfig(r=4, alpha=8) if target_modules is None else LoraConfig(r=4, alpha=8, target_modules=list(target_modules))
    hf = HFBackend(str(model_dir), lora=lora, device="cpu")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in hf.model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    hf.save_adapter(path)
    return hf
