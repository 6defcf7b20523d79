"""The transformers + peft policy backend: samples rollouts and computes trainable logprobs with
one model in memory.

Guarantees:

* `generate` keeps exact token ids. Prompts are left-padded into one batch with a KV cache;
  attention masks and position ids are built from the real tokens only, so a row's tokens do not
  depend on what else is in the batch (greedy batched == greedy one-at-a-time, tested).
* Each row stops on its own at the first stop token (included in the returned ids,
  finish_reason "stop") or after `max_new_tokens` (finish_reason "length").
* The logprobs returned with a sample are log-softmax(logits / T) at each sampled token, T the
  request's temperature (T = 1 for greedy requests), before any top-p/top-k truncation. At the
  training settings (top-p 1, top-k off) that is exactly the sampling distribution, and the quantity
  the trainer computes for a policy of temperature T. vLLM's "processed" logprobs (the mode
  looprl's servers run in) are the same quantity there.
* The policy this backend trains is pi_tau = softmax(logits / tau), `policy_temperature` tau (default
  1, the paper's): `token_logprobs` returns its logprobs. A trainer that samples its rollouts at
  temperature T builds the backend with tau = T, so sampler and trainer agree on every probability.
* Seeded sampling is reproducible: `SamplingParams.seed` seeds a private generator per call;
  without it the backend's own generator (seeded at construction) advances call to call.
* `token_logprobs` runs the transformer trunk once and then lm_head + log_softmax + gather in
  chunks over time, so a (T x vocab) logits tensor is never held at once; with grad, each chunk is
  checkpointed (recomputed in backward), so memory stays flat in T apart from the hidden states.
  Given `positions` (the loss's tokens), lm_head and log_softmax run only there (0 elsewhere).
* `autocast="bfloat16"` runs the trunk under torch.autocast (bf16 matmuls, the weights untouched);
  lm_head and log_softmax stay in the weights' dtype, since bf16 logits would quantize the ratios.
* The KL reference is the same model with the adapter disabled (`disable_adapter()`), never a
  second copy; so is base-model sampling (`sampling_base_model()`).

It implements `TrainableBackend` (and so the sampler protocol `PolicyBackend`) of looprl/backends/base.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from looprl.backends.base import Generation, SamplingParams, check_prompts

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from looprl.config import LoraConfig

_DTYPES = ("auto", "float32", "bfloat16", "float16")
_MISSING = object()


def pad_token_batch(sequences: Sequence[Sequence[int]], pad_id: int, *, side: str = "right", device: Any = None) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Pad token-id lists into (input_ids (B, T), attention_mask (B, T)); `side` is "right" or "left"."""
    import torch

    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if not sequences:
        raise ValueError("pad_token_batch needs at least one sequence")
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        n = len(seq)
        if n == 0:
            continue
        cols = slice(width - n, width) if side == "left" else slice(0, n)
        ids[i, cols] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[i, cols] = 1
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    return ids, mask


def positions_from_mask(attention_mask: "torch.Tensor") -> "torch.Tensor":
    """Position ids that count real tokens only (0 for the first real token of each row, padding 1)."""
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 1)


def end_of_turn_token_ids(tokenizer: Any, generation_config: Any = None) -> tuple[int, ...]:
    """The token(s) that end an assistant turn under the tokenizer's chat template, plus eos.

    Renders a one-message assistant turn with a sentinel text and takes the first special token
    the template puts after it (e.g. <|im_end|>, <|eot_id|>, <end_of_turn>).
    """
    ids: list[int] = []
    sentinel = "QZXSENTINELQZX"
    if getattr(tokenizer, "chat_template", None):  # why: a third-party tokenizer may have no chat template at all
        try:
            text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": sentinel}], tokenize=False)
            tail = text.split(sentinel, 1)[1] if sentinel in text else ""
            # why: only fast (tokenizers-backed) transformers tokenizers have added_tokens_decoder
            special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
            for tok in tokenizer.encode(tail, add_special_tokens=False):
                if tok in special:
                    ids.append(int(tok))
                    break
        except Exception:  # a template that rejects this chat: fall back to eos below
            pass
    eos: list[Any] = [tokenizer.eos_token_id]
    if generation_config is not None:
        gen_eos = getattr(generation_config, "eos_token_id", None)  # why: a transformers GenerationConfig may leave it out
        eos.extend(gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos])
    for tok in eos:
        if tok is not None and int(tok) not in ids:
            ids.append(int(tok))
    if not ids:
        raise ValueError("cannot tell where an assistant turn ends: the tokenizer has no chat template end token and no eos_token")
    return tuple(ids)


def _resolve_dtype(dtype: str) -> Any:
    import torch

    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}; got {dtype!r}")
    return "auto" if dtype == "auto" else getattr(torch, dtype)  # why: dtype is torch's name for it, checked above


class HFBackend:
    """A transformers causal LM with a peft LoRA adapter: generation, logprobs, adapter I/O (a `TrainableBackend`).

    `lora` defaults to `LoraConfig()` (the paper's r=16, alpha=32 on q,k,v,o,gate,up,down).
    `lora=None` and no `adapter_path` trains the full model (no adapter; `disable_adapter` and
    `save_adapter` then raise). With `adapter_path`, that adapter is loaded trainable and its own
    config wins over `lora`.
    """

    concurrent_requests = False  # one generate() call decodes every waiting episode as one batch; not thread-safe

    def __init__(
        self,
        model_name_or_path: str,
        *,
        dtype: str = "float32",
        lora: "LoraConfig | None" = _MISSING,  # type: ignore[assignment]
        adapter_path: str | None = None,
        device: str | None = None,
        gradient_checkpointing: bool = False,
        attn_implementation: str | None = None,
        seed: int = 0,
        policy_temperature: float = 1.0,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from looprl.backends import resolve_model
        from looprl.config import LoraConfig

        if lora is _MISSING:
            lora = LoraConfig()
        if not policy_temperature > 0:
            raise ValueError(f"policy_temperature must be > 0 (the trained policy is softmax(logits / temperature)); got {policy_temperature}")
        self.policy_temperature = float(policy_temperature)
        self.model_name_or_path = resolve_model(model_name_or_path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
        kwargs: dict[str, Any] = {"dtype": _resolve_dtype(dtype)}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        base = AutoModelForCausalLM.from_pretrained(self.model_name_or_path, **kwargs).to(self.device)
        # why: only transformers models that can generate carry a generation_config
        self.stop_token_ids = end_of_turn_token_ids(self.tokenizer, getattr(base, "generation_config", None))
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else self.stop_token_ids[-1])
        self.is_peft = lora is not None or adapter_path is not None
        if adapter_path is not None:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(base, adapter_path, is_trainable=True)
        elif lora is not None:
            from peft import LoraConfig as PeftLoraConfig, get_peft_model

            peft_config = PeftLoraConfig(
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=list(lora.target_modules),
                task_type="CAUSAL_LM",
            )
            self.model = get_peft_model(base, peft_config)
        else:
            self.model = base
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.eval()
        # the generator of unseeded sampling (SamplingParams.seed None): seeded here, checkpointed by the trainer
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    # ------------------------------------------------------------------ modules
    @property
    def base_model(self) -> Any:
        """The underlying transformers model (LoRA layers injected in place when peft-wrapped)."""
        return self.model.get_base_model() if self.is_peft else self.model

    @property
    def hidden_size(self) -> int:
        """Width H of the trunk's hidden states (`last_hidden_state` is (B, T, H)), e.g. for a value head."""
        cfg = self.base_model.config
        return int(getattr(cfg, "get_text_config", lambda: cfg)().hidden_size)  # why: multimodal transformers configs nest the text model's

    def _trunk_and_head(self) -> tuple[Any, Any]:
        base = self.base_model
        return base.get_decoder(), base.get_output_embeddings()

    def _final_softcap(self) -> float | None:
        # why: transformers configs: multimodal ones nest the text model's; only some architectures (Gemma 2) softcap
        cfg = getattr(self.base_model, "config", None)
        cfg = getattr(cfg, "get_text_config", lambda: cfg)()
        return getattr(cfg, "final_logit_softcapping", None)

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        """Sample one continuation per prompt (token ids + the policy's logprobs; see module docstring)."""
        import torch

        if not prompts:
            return []
        check_prompts(prompts)
        _check_sampling(sampling)
        stops = torch.tensor(sampling.stop_token_ids or self.stop_token_ids, device=self.device)
        generator = torch.Generator(device=self.device).manual_seed(sampling.seed) if sampling.seed is not None else self.generator
        lp_temperature = sampling.temperature if sampling.temperature > 0 else 1.0  # see the module docstring
        ids, mask = pad_token_batch(prompts, self.pad_token_id, side="left", device=self.device)
        batch = ids.shape[0]
        out_ids = torch.zeros((batch, sampling.max_new_tokens), dtype=torch.long, device=self.device)
        out_lp = torch.zeros((batch, sampling.max_new_tokens), dtype=torch.float32, device=self.device)
        lengths = torch.full((batch,), sampling.max_new_tokens, dtype=torch.long, device=self.device)
        done = torch.zeros(batch, dtype=torch.bool, device=self.device)
        active = torch.arange(batch, device=self.device)  # original row of each row still decoding
        positions = positions_from_mask(mask)
        cache = None
        step_input = ids
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for step in range(sampling.max_new_tokens):
                    out = self.model(
                        input_ids=step_input,
                        attention_mask=mask,
                        position_ids=positions[:, -step_input.shape[1] :],
                        past_key_values=cache,
                        use_cache=True,
                        logits_to_keep=1,
                    )
                    cache = out.past_key_values
                    logits = out.logits[:, -1, :].float()
                    token = _sample(logits, sampling, generator)
                    out_ids[active, step] = token
                    out_lp[active, step] = torch.log_softmax(logits / lp_temperature, dim=-1).gather(-1, token[:, None]).squeeze(-1)
                    hit = torch.isin(token, stops)
                    if bool(hit.any()):
                        lengths[active[hit]] = step + 1
                        done[active[hit]] = True
                        keep = (~hit).nonzero().squeeze(-1)
                        if keep.numel() == 0:
                            break
                        # finished rows leave the batch: later steps cost only what is still decoding
                        active, token, mask, positions = active[keep], token[keep], mask[keep], positions[keep]
                        cache.batch_select_indices(keep)
                    step_input = token[:, None]
                    mask = torch.cat([mask, torch.ones((mask.shape[0], 1), dtype=mask.dtype, device=self.device)], dim=1)
                    positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        finally:
            self.model.train(was_training)
        results = []
        for i in range(batch):
            n = int(lengths[i])
            results.append(
                Generation(
                    token_ids=out_ids[i, :n].tolist(),
                    logprobs=out_lp[i, :n].tolist(),
                    finish_reason="stop" if bool(done[i]) else "length",
                )
            )
        return results

    # ------------------------------------------------------------------ logprobs
    def _autocast(self, autocast: str) -> Any:
        """torch.autocast to bf16 on this backend's device for autocast="bfloat16"; a no-op for "off"."""
        import torch

        if autocast == "off":
            return contextlib.nullcontext()
        if autocast != "bfloat16":
            raise ValueError(f"autocast must be 'bfloat16' or 'off' (resolve trainer.autocast with looprl.utils.hardware.resolve_autocast); got {autocast!r}")
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def last_hidden_state(
        self, input_ids: "torch.Tensor", attention_mask: "torch.Tensor | None" = None, *, grad: bool = True, autocast: str = "off"
    ) -> "torch.Tensor":
        """The trunk's final hidden states (B, T, H), e.g. for a PPO value head. LoRA is applied.
        `autocast` "bfloat16" runs the trunk's matmuls in bf16 (the weights stay as they are)."""
        import torch

        trunk, _ = self._trunk_and_head()
        input_ids = input_ids.to(self.device)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attention_mask = attention_mask.to(self.device)
        with torch.set_grad_enabled(grad), self._autocast(autocast):
            out = trunk(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=positions_from_mask(attention_mask),
                use_cache=False,
            )
        return out.last_hidden_state

    def token_logprobs(
        self,
        input_ids: "torch.Tensor",
        attention_mask: "torch.Tensor | None" = None,
        *,
        grad: bool = True,
        chunk_size: int = 1024,
        positions: "torch.Tensor | None" = None,
        autocast: str = "off",
    ) -> "torch.Tensor":
        """out[:, t] = log pi_tau(x_t | x_<t) in float32, shape (B, T), tau = `policy_temperature`.

        out[:, 0] = 0, and so is every position that is padding or has no real token before it.
        Padding may be on either side (positions are counted over real tokens).

        `positions` (B, T) bool: compute only there (the loss's tokens, e.g. TrainBatch.mask); every
        other position is 0, and lm_head + log-softmax never run for it. None: every position.
        `autocast` "bfloat16": the trunk's matmuls in bf16 (torch.autocast); lm_head and the log-softmax
        in the model's dtype (float32 weights: float32); "off": the model's own dtype throughout.
        """
        return self.logprobs_and_hidden(input_ids, attention_mask, grad=grad, chunk_size=chunk_size, positions=positions, autocast=autocast)[0]

    def logprobs_and_hidden(
        self,
        input_ids: "torch.Tensor",
        attention_mask: "torch.Tensor | None" = None,
        *,
        grad: bool = True,
        chunk_size: int = 1024,
        positions: "torch.Tensor | None" = None,
        autocast: str = "off",
    ) -> tuple["torch.Tensor", "torch.Tensor"]:
        """`token_logprobs` and the trunk's last hidden states (B, T, H) from one forward pass."""
        import torch
        from torch.utils.checkpoint import checkpoint

        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (B, T); got shape {tuple(input_ids.shape)}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
        if positions is not None and tuple(positions.shape) != tuple(input_ids.shape):
            raise ValueError(f"positions must be a (B, T) mask like input_ids {tuple(input_ids.shape)}; got shape {tuple(positions.shape)}")
        input_ids = input_ids.to(self.device)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attention_mask = attention_mask.to(self.device)
        was_training = self.model.training
        # train() only switches on gradient checkpointing (and dropout, 0 for LOOP) for grad passes.
        self.model.train(grad)
        try:
            hidden = self.last_hidden_state(input_ids, attention_mask, grad=grad, autocast=autocast)
            _, head = self._trunk_and_head()
            softcap = self._final_softcap()
            temperature = self.policy_temperature

            def chunk_logprobs(h: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
                # lm_head outside autocast: bf16 logits (8 bits of mantissa: steps of 0.125 at |logit| 16-32)
                # quantize the log-probabilities and so the importance ratios; a trained tiny model
                # diverged with them. Only the trunk's matmuls run in bf16.
                logits = head(h.to(head.weight.dtype)).float()
                if softcap:
                    logits = torch.tanh(logits / softcap) * softcap
                if temperature != 1.0:
                    logits = logits / temperature
                return torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None]).squeeze(-1)

            def run(h: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
                if grad and torch.is_grad_enabled():  # checkpointed: the chunk's logits are recomputed in backward
                    return checkpoint(chunk_logprobs, h, targets, use_reentrant=False)
                return chunk_logprobs(h, targets)

            batch, length = input_ids.shape
            valid = attention_mask.bool()
            valid = valid & torch.cat([torch.zeros_like(valid[:, :1]), valid[:, :-1]], dim=1)
            with torch.set_grad_enabled(grad):
                if positions is None:
                    pieces = [torch.zeros((batch, 1), dtype=torch.float32, device=self.device)]
                    for start in range(0, length - 1, chunk_size):
                        end = min(start + chunk_size, length - 1)
                        pieces.append(run(hidden[:, start:end], input_ids[:, start + 1 : end + 1]))
                    logprobs = torch.cat(pieces, dim=1).masked_fill(~valid, 0.0)
                else:
                    # only the selected tokens: position t's logit comes from the hidden state at t - 1;
                    # chunks of chunk_size x B tokens, the most the dense path above holds at once
                    rows, cols = (positions.to(self.device).bool() & valid).nonzero(as_tuple=True)
                    h_sel, targets = hidden[rows, cols - 1], input_ids[rows, cols]
                    step = chunk_size * batch
                    # no selected token still makes one (empty) call, so a grad pass keeps its graph to the trunk
                    picked = torch.cat([run(h_sel[i : i + step], targets[i : i + step]) for i in range(0, max(len(rows), 1), step)])
                    logprobs = torch.zeros((batch, length), dtype=torch.float32, device=self.device).index_put((rows, cols), picked)
        finally:
            self.model.train(was_training)
        return logprobs, hidden

    # ------------------------------------------------------------------ adapter
    def trainable_parameters(self) -> list[Any]:
        """The parameters an optimizer should update (the LoRA weights when peft-wrapped)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def save_adapter(self, path: str | os.PathLike[str], *, state_dict: dict[str, Any] | None = None) -> None:
        """Write the adapter in peft's format; atomic (temp folder in the same parent, then rename).

        `state_dict` (full tensors by the model's parameter names) replaces the live weights: an
        FSDP-sharded model passes the gathered adapter (looprl.training.distributed)."""
        if not self.is_peft:
            raise RuntimeError("save_adapter needs a LoRA adapter; this backend was built with lora=None (full fine-tuning)")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            self.model.save_pretrained(str(tmp), **({"state_dict": state_dict} if state_dict is not None else {}))
            old = None
            if target.exists():
                old = target.with_name(f".{target.name}.old.{os.getpid()}")
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def load_adapter(self, path: str | os.PathLike[str]) -> None:
        """Copy a saved adapter's weights into the live adapter in place (optimizer state stays valid)."""
        from peft.utils import set_peft_model_state_dict

        result = set_peft_model_state_dict(self.model, self.read_adapter(path))
        # why: peft does not document this return value; read it only where it is there
        missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
        if missing:
            raise ValueError(f"adapter at {path} has weights the live model has no place for: {missing[:5]}")

    def read_adapter(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """A saved adapter's weights (peft's key names), after checking it fits the live adapter."""
        from peft import PeftConfig
        from peft.utils import load_peft_weights

        if not self.is_peft:
            raise RuntimeError("load_adapter needs a LoRA adapter; this backend was built with lora=None")
        path = Path(path)
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path} is not a peft adapter folder (no adapter_config.json)")
        saved, live = PeftConfig.from_pretrained(str(path)), self.model.peft_config["default"]
        for field in ("r", "lora_alpha", "target_modules"):
            a, b = getattr(saved, field), getattr(live, field)  # why: the same named fields of two peft LoraConfigs
            if (set(a) if isinstance(a, (set, list)) else a) != (set(b) if isinstance(b, (set, list)) else b):
                raise ValueError(f"adapter at {path} has {field}={a!r} but the live adapter has {field}={b!r}")
        return load_peft_weights(str(path), device=str(self.device))

    @contextlib.contextmanager
    def disable_adapter(self) -> Iterator[None]:
        """Run the base model (the KL reference) inside the block; the adapter is back afterwards."""
        if not self.is_peft:
            raise RuntimeError("disable_adapter needs a LoRA adapter; this backend was built with lora=None")
        with self.model.disable_adapter():
            yield

    def sampling_base_model(self) -> contextlib.AbstractContextManager[None]:
        """Sample the base model inside the block: the adapter disabled, as for the KL reference."""
        return self.disable_adapter()


def _check_sampling(sampling: SamplingParams) -> None:
    if sampling.temperature < 0:
        raise ValueError(f"temperature must be >= 0; got {sampling.temperature}")
    if not 0 < sampling.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1]; got {sampling.top_p}")
    if sampling.top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0 = off); got {sampling.top_k}")
    if sampling.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1; got {sampling.max_new_tokens}")


def _sample(logits: "torch.Tensor", sampling: SamplingParams, generator: "torch.Generator") -> "torch.Tensor":
    """Draw one token per row: greedy at temperature 0, else temperature -> top-k -> top-p -> sample."""
    import torch

    if sampling.temperature == 0:
        return logits.argmax(dim=-1)
    scores = logits / sampling.temperature
    if sampling.top_k and sampling.top_k < scores.shape[-1]:
        kth = torch.topk(scores, sampling.top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if sampling.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, dim=-1, descending=True)
        probs = torch.softmax(sorted_scores, dim=-1)
        # drop a token when the mass before it already reaches top_p (the top token always stays)
        drop_sorted = (probs.cumsum(-1) - probs) >= sampling.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
