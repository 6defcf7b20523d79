"""The policy-backend contract.

A *policy backend* samples token ids with their logprobs from token-id prompts (transformers+peft,
vLLM). A *trainable* backend also computes logprobs of given trajectories with gradient and owns the
LoRA adapter. A *chat backend* (an OpenAI-compatible endpoint) only maps chats to text; it serves
evaluation of hosted models, never training.

Training samples at one temperature T (1.0 by default, the paper's), top-p 1 and top-k off, and the
trainer's policy is softmax(logits / T), so sampler and trainer agree on the probabilities the
importance ratios compare.

Implementations: `looprl.backends.hf.HFBackend` (trainable; the trainer is typed with `TrainableBackend`), `looprl.backends.vllm.VLLMBackend`,
`looprl.backends.openai.OpenAIChatBackend`. Token-level backends also carry `stop_token_ids` (the
chat template's end-of-turn token(s) plus eos), used when `SamplingParams.stop_token_ids` is empty.
`Generation.logprobs` are log-softmax(logits / T) at each sampled token, T the request's temperature
(1 for greedy requests), before top-p/top-k truncation: at the training settings, the probability of
the draw, which is what the trainer's policy of temperature T assigns it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_new_tokens: int = 1500
    stop_token_ids: tuple[int, ...] = ()  # a sequence ends after emitting one of these; () = the backend's own
    seed: int | None = None


@dataclass
class Generation:
    token_ids: list[int]  # sampled ids, the stop token included when one was emitted
    logprobs: list[float]  # the sampler's logprob of each sampled id
    finish_reason: str  # "stop" | "length"


@runtime_checkable
class PolicyBackend(Protocol):
    tokenizer: Any

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]: ...


@runtime_checkable
class TrainableBackend(PolicyBackend, Protocol):
    """What the trainer uses of a policy (looprl.training is annotated with it): logprobs with and
    without gradient, the trunk's hidden states (PPO's value head), the LoRA adapter (its parameters,
    its files, switching it off for a KL reference or base-model sampling), and the facts needed to
    batch and place tensors. Implemented by `HFBackend` and, under FSDP, by
    `looprl.training.distributed.ShardedPolicy`."""

    model: Any  # the peft-wrapped model
    pad_token_id: int  # what make_batch pads with
    device: Any  # torch.device the inputs go to
    policy_temperature: float  # T of the trained policy softmax(logits / T)
    generator: Any  # torch.Generator of unseeded sampling; the trainer checkpoints its state

    @property
    def hidden_size(self) -> int:
        """Width H of `last_hidden_state`'s (B, T, H) output."""
        ...

    def trainable_parameters(self) -> list[Any]: ...

    def token_logprobs(self, token_ids: Any, attention_mask: Any | None = None, *, grad: bool = True, chunk_size: int = 1024) -> Any:
        """logprob of token t given tokens < t, float32 (B, T); position 0 and padding are 0.
        Computed `chunk_size` positions at a time so (T x vocab) logits are never held at once."""
        ...

    def logprobs_and_hidden(self, token_ids: Any, attention_mask: Any | None = None, *, grad: bool = True, chunk_size: int = 1024) -> tuple[Any, Any]:
        """`token_logprobs` and the trunk's last hidden states (B, T, H) from one forward pass."""
        ...

    def last_hidden_state(self, token_ids: Any, attention_mask: Any | None = None, *, grad: bool = True) -> Any:
        """The trunk's final hidden states (B, T, H), LoRA applied."""
        ...

    def disable_adapter(self) -> AbstractContextManager[None]:
        """A context in which the model runs without its adapter (the base model)."""
        ...

    def save_adapter(self, path: str) -> None: ...

    def load_adapter(self, path: str) -> None: ...


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChatBackend(Protocol):
    def chat(self, conversations: Sequence[list[dict[str, str]]], sampling: SamplingParams) -> list[ChatResult]: ...
