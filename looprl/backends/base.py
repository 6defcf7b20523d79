"""The backend contracts: what the trainer and the collector use of a model, declared, never probed.

Three protocols, each a `typing.Protocol` that the code using it is annotated with
(tests/backends/test_protocol.py checks every backend and fake against them, member by member):

* `PolicyBackend`, the *sampler* protocol: everything the collector and the trainer use of whatever
  samples the rollouts (transformers+peft, a vLLM server, vLLM in-process, the test fakes):
  - `generate(prompts, sampling)`: token ids + the sampler's logprobs from token-id prompts;
  - `tokenizer`: the model's tokenizer with its chat template (the collector renders chats to ids
    with it; vLLM only ever sees ids);
  - `stop_token_ids`: the chat template's end-of-turn token(s) plus eos, used when
    `SamplingParams.stop_token_ids` is empty;
  - `concurrent_requests`: True when `generate` may be called from many threads at once, each call
    one episode's turn (a server batches them: vLLM); False when one call should carry every waiting
    episode (transformers);
  - `load_adapter(path)`: sample with the peft adapter at `path` from now on (the trainer publishes
    each update with it, and restores the adapter on resume);
  - `sampling_base_model()`: a context in which `generate` samples the base model, the weights
    without any adapter (RFT's base-model sweep): transformers disables the adapter (the same switch
    as the KL reference); a vLLM server routes requests to its base model (with merged adapters it
    reloads the base weights, and the merged ones on exit); the adapter is back after the block;
  - `generator`: the torch.Generator of unseeded sampling, whose state the trainer checkpoints so a
    resumed run samples what an uninterrupted one would; None where the sampling state is not in
    this process (a vLLM server keeps its own).
* `TrainableBackend`, a `PolicyBackend` that also trains: logprobs with and without gradient, the
  trunk's hidden states, the LoRA's parameters and files, switching it off (`disable_adapter`).
  Implemented by `HFBackend` and, under FSDP, by `looprl.training.distributed.ShardedPolicy`.
* `ChatBackend`: chats to text (`chat`), and `concurrent_requests` as above. An OpenAI-compatible
  endpoint (`OpenAIChatBackend`) is a ChatBackend only, for evaluating hosted or served models: it
  returns text, not token ids or logprobs, has no adapter and no base-model switch (it samples
  whatever model the endpoint serves under its name), so it can never train.

Training samples at one temperature T (1.0 by default, the paper's), top-p 1 and top-k off, and the
trainer's policy is softmax(logits / T), so sampler and trainer agree on the probabilities the
importance ratios compare. `Generation.logprobs` are log-softmax(logits / T) at each sampled token,
T the request's temperature (1 for greedy requests), before top-p/top-k truncation: at the training
settings, the probability of the draw, which is what the trainer's policy of temperature T assigns it.

Implementations: `looprl.backends.hf.HFBackend`, `looprl.backends.vllm.VLLMBackend` and
`VLLMOfflineBackend`, `looprl.backends.openai.OpenAIChatBackend`; the fakes in `looprl.testing.fakes`.
A new sampler implements `PolicyBackend` whole; `missing_members(obj, PolicyBackend)` says what is
left.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - torch loads only when a backend is built
    import torch


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_new_tokens: int = 1500
    stop_token_ids: tuple[int, ...] = ()  # a sequence ends after emitting one of these; () = the backend's own
    seed: int | None = None


class SamplerUnavailable(RuntimeError):
    """A sampler that can serve no more requests: a managed server that died past its restarts, or
    could not be restarted. The message names the server's log; `looprl train` stops with it and says
    how to resume (what a sampler survives is retried in place: looprl/rollout/faults.py)."""


@dataclass
class Generation:
    token_ids: list[int]  # sampled ids, the stop token included when one was emitted
    logprobs: list[float]  # the sampler's logprob of each sampled id
    finish_reason: str  # "stop" | "length"


def check_prompts(prompts: Sequence[Sequence[int]]) -> None:
    """Raise ValueError naming the empty prompts (every sampler needs at least one token to continue)."""
    empty = [i for i, p in enumerate(prompts) if len(p) == 0]
    if empty:
        raise ValueError(f"prompts {empty} are empty; every prompt needs at least one token")


@runtime_checkable
class PolicyBackend(Protocol):
    """The sampler protocol: what the collector and the trainer use of the backend that samples
    rollouts (see the module docstring for each member's meaning)."""

    tokenizer: Any  # a transformers tokenizer (or one shaped like it) with a chat template
    stop_token_ids: tuple[int, ...]  # end-of-turn token(s) plus eos; the default stops of `generate`
    concurrent_requests: bool  # True: call `generate` per episode from many threads; False: one batched call
    generator: torch.Generator | None  # the RNG of unseeded sampling, checkpointed; None: not in this process

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        """One continuation per token-id prompt: the sampled ids (stop token included) and their logprobs."""
        ...

    def load_adapter(self, path: str | os.PathLike[str]) -> object:
        """Sample with the peft adapter saved at `path` from now on."""
        ...

    def sampling_base_model(self) -> AbstractContextManager[None]:
        """A context in which `generate` samples the base model (no adapter); the adapter is back afterwards."""
        ...


@runtime_checkable
class TrainableBackend(PolicyBackend, Protocol):
    """What the trainer uses of a policy (looprl.training is annotated with it): logprobs with and
    without gradient, the trunk's hidden states (PPO's value head), the LoRA adapter (its parameters,
    its files, switching it off for a KL reference), and the facts needed to batch and place
    tensors. Implemented by `HFBackend` and, under FSDP, by `looprl.training.distributed.ShardedPolicy`."""

    model: Any  # the peft-wrapped transformers model
    pad_token_id: int  # what make_batch pads with
    device: torch.device  # where the inputs go
    policy_temperature: float  # T of the trained policy softmax(logits / T)

    @property
    def hidden_size(self) -> int:
        """Width H of `last_hidden_state`'s (B, T, H) output."""
        ...

    def trainable_parameters(self) -> list[Any]: ...

    def token_logprobs(
        self,
        input_ids: Any,
        attention_mask: Any | None = None,
        *,
        grad: bool = True,
        chunk_size: int = 1024,
        positions: Any | None = None,
        autocast: str = "off",
    ) -> Any:
        """logprob of token t given tokens < t, float32 (B, T); position 0 and padding are 0.
        Computed `chunk_size` positions at a time so (T x vocab) logits are never held at once.
        `positions` (B, T) bool: only there (lm_head and log-softmax skip the rest, which is 0).
        `autocast` "bfloat16" | "off": the trunk's matmuls under bf16 autocast (lm_head and log-softmax stay float32)."""
        ...

    def logprobs_and_hidden(
        self,
        input_ids: Any,
        attention_mask: Any | None = None,
        *,
        grad: bool = True,
        chunk_size: int = 1024,
        positions: Any | None = None,
        autocast: str = "off",
    ) -> tuple[Any, Any]:
        """`token_logprobs` and the trunk's last hidden states (B, T, H) from one forward pass."""
        ...

    def last_hidden_state(self, input_ids: Any, attention_mask: Any | None = None, *, grad: bool = True, autocast: str = "off") -> Any:
        """The trunk's final hidden states (B, T, H), LoRA applied."""
        ...

    def disable_adapter(self) -> AbstractContextManager[None]:
        """A context in which the model runs without its adapter (the base model: the KL reference)."""
        ...

    def save_adapter(self, path: str | os.PathLike[str]) -> None: ...


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The public names a protocol declares, its bases' included (attributes, properties, methods)."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (object, Protocol) or cls.__module__ == "typing":
            continue
        names.update(n for n in (*vars(cls), *vars(cls).get("__annotations__", {})) if not n.startswith("_"))
    return tuple(sorted(names))


def missing_members(obj: object, protocol: type) -> list[str]:
    """The members of `protocol` that `obj` lacks (what a runtime isinstance check looks for)."""
    return [name for name in protocol_members(protocol) if not hasattr(obj, name)]  # why: reports what isinstance() found missing


@dataclass
class ChatResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChatBackend(Protocol):
    """Chats to text (an OpenAI-compatible endpoint): evaluation only, never training."""

    concurrent_requests: bool  # as PolicyBackend's: True when `chat` may be called per episode from many threads

    def chat(self, conversations: Sequence[list[dict[str, str]]], sampling: SamplingParams) -> list[ChatResult]:
        """One reply per conversation, in order."""
        ...
