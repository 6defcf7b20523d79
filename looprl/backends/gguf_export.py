"""A transformers model folder (plus an optional peft LoRA adapter, merged) to one GGUF file that
llama.cpp serves: what `LlamaCppBackend` (looprl/backends/llamacpp.py) runs after each update.

Written with gguf-py's own API (`GGUFWriter`, `TensorNameMap`, `SpecialVocab`, `quants.quantize`):

* Architectures: `LlamaForCausalLM` (SmolLM2) and `Qwen2ForCausalLM` (the test suite's tiny model);
  anything else raises a ValueError naming it and these two.
* Weights: HF names mapped to GGUF names by gguf-py's tensor-name map for the architecture. llama.cpp's
  LLAMA graph applies rotary embeddings to interleaved pairs (rope type NORMAL) where transformers
  rotates the two halves of each head, so q_proj/k_proj rows are permuted per head (the halves
  interleaved: reshape (heads, 2, head_dim/2, ...) and swap the middle axes); QWEN2 uses the
  halves layout (NEOX) and takes them as they are. tests/backends/test_llamacpp.py checks the result
  against transformers, token for token.
* The adapter: W + (alpha / r) B A per target module (alpha / sqrt(r) with rslora), in float32, on
  the base weights held in memory by `GGUFExporter`, so publishing an update re-reads only the adapter.
* Tensor types: "f32", "f16", "bf16", "q8_0" for the 2-D matrices; norms and biases stay f32 (as
  llama.cpp's own files keep them). q8_0 (blocks of 32 int8 with an f16 scale) is a quantized sampler:
  its logprobs differ from the trainer's float ones, which the importance ratio must account for.
* Tokenizer: the byte-level BPE of tokenizer.json (tokens, types, merges), the bos/eos/pad ids and the
  chat template. llama.cpp never tokenizes text for looprl (prompts are sent as token ids), so the
  pre-tokenizer is recorded as GPT-2's ("gpt-2"). A token whose bytes are not valid UTF-8 on their own
  (a piece of a multi-byte character) is written under a placeholder text, `[looprl:ID]`: llama.cpp's
  server holds back such a piece until the text is whole again and then reports the tokens as one
  entry with one probability, which would lose the others' ids and logprobs. With the placeholders
  every token is its own entry; the text llama.cpp renders is not the model's (looprl never reads it;
  the ids are decoded with the transformers tokenizer).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from looprl.backends.lora import plain_lora_scale

TENSOR_TYPES = ("f32", "f16", "bf16", "q8_0")
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM")
Q8_0_BLOCK = 32  # values per q8_0 block: a matrix whose rows are not a multiple of it stays f16


def _arch(config: dict[str, Any]):
    import gguf

    names = config.get("architectures") or [config.get("model_type", "unknown")]
    arch = {"LlamaForCausalLM": gguf.MODEL_ARCH.LLAMA, "Qwen2ForCausalLM": gguf.MODEL_ARCH.QWEN2}.get(names[0])
    if arch is None:
        raise ValueError(f"GGUF export supports the architectures {', '.join(SUPPORTED_ARCHITECTURES)}; the model's config.json names {names[0]!r}")
    return arch


def _rope_theta(config: dict[str, Any]) -> float:
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in ("default", None):
        raise ValueError(f"GGUF export supports plain rotary embeddings; the model's config.json has rope_type {kind!r}")
    return float(rope.get("rope_theta", config.get("rope_theta", 10000.0)))


def interleave_rotary_halves(w, n_head: int):
    """Rows of a q/k projection from transformers' layout (each head: its first half of dims, then
    its second) to llama.cpp's LLAMA layout (pairs (i, i + head_dim/2) adjacent); works on weights
    (out, in) and biases (out,)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def read_adapter(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The low-rank update per base weight name of a peft LoRA folder: {name: scale * B @ A}."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} is not a peft adapter folder (no adapter_config.json)")
    scale = plain_lora_scale(json.loads(config_file.read_text()), f"GGUF export ({path})")
    weights_file = path / "adapter_model.safetensors"
    if weights_file.is_file():
        tensors = load_file(str(weights_file))
    else:
        tensors = torch.load(path / "adapter_model.bin", map_location="cpu", weights_only=True)
    deltas = {}
    for key, a in tensors.items():
        if ".lora_A." not in key:
            continue
        b = tensors[key.replace(".lora_A.", ".lora_B.")]
        module = key.split(".lora_A.")[0].removeprefix("base_model.model.")
        deltas[f"{module}.weight"] = scale * (b.float() @ a.float())
    if not deltas:
        raise ValueError(f"no LoRA weights found in {path}")
    return deltas


class GGUFExporter:
    """Writes GGUF files of one model folder, merged with any adapter: the base weights are read once
    (float32, in memory) and each `export` adds an adapter's update to a copy of the ones it touches."""

    def __init__(self, model_dir: str | os.PathLike[str]) -> None:
        import torch
        from safetensors.torch import load_file

        self.model_dir = Path(model_dir)
        self.config = json.loads((self.model_dir / "config.json").read_text())
        self.arch = _arch(self.config)
        files = sorted(self.model_dir.glob("*.safetensors"))
        if not files:
            raise FileNotFoundError(f"{self.model_dir} has no *.safetensors weights to export")
        self.weights: dict[str, torch.Tensor] = {}
        for file in files:
            self.weights.update({k: v.float() for k, v in load_file(str(file)).items()})
        self._tokenizer = self._read_tokenizer()

    def _read_tokenizer(self) -> dict[str, Any]:
        import gguf

        data = json.loads((self.model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        model = data.get("model", {})
        if model.get("type") != "BPE":
            raise ValueError(f"GGUF export supports byte-level BPE tokenizers; {self.model_dir}/tokenizer.json has {model.get('type')!r}")
        n_vocab = int(self.config["vocab_size"])
        to_byte = _gpt2_byte_decoder()
        tokens = {int(i): tok if _whole_utf8(tok, to_byte) else f"[looprl:{i}]" for tok, i in model["vocab"].items()}
        types = {i: gguf.TokenType.NORMAL for i in tokens}
        for added in data.get("added_tokens", []):
            tokens[int(added["id"])] = added["content"]
            types[int(added["id"])] = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        if max(tokens) >= n_vocab:
            raise ValueError(f"the tokenizer has id {max(tokens)} but the model's vocab_size is {n_vocab}")
        # ids the tokenizer does not use (an embedding matrix padded past the vocabulary)
        token_list = [tokens.get(i, f"[PAD{i}]") for i in range(n_vocab)]
        type_list = [types.get(i, gguf.TokenType.UNUSED) for i in range(n_vocab)]
        special = gguf.SpecialVocab(self.model_dir, load_merges=True, n_vocab=n_vocab)
        template = self.model_dir / "chat_template.jinja"
        if special.chat_template is None and template.is_file():
            special.chat_template = template.read_text()
        return {"tokens": token_list, "types": type_list, "special": special}

    def export(self, out: str | os.PathLike[str], *, adapter: str | os.PathLike[str] | None = None, tensor_type: str = "f32") -> Path:
        """Write the model (with `adapter` merged) to `out` at `tensor_type`; returns `out`."""
        import gguf

        if tensor_type not in TENSOR_TYPES:
            raise ValueError(f"tensor_type must be one of {TENSOR_TYPES}, got {tensor_type!r}")
        out = Path(out)
        deltas = read_adapter(adapter) if adapter is not None else {}
        weights = dict(self.weights)
        tied = bool(self.config.get("tie_word_embeddings"))
        if tied and "lm_head.weight" in deltas:
            # a LoRA on a tied output layer moves the head, not the embedding: the merged model is untied
            weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
            tied = False
        unknown = sorted(set(deltas) - set(weights))
        if unknown:
            raise ValueError(f"the adapter {adapter} updates weights the model {self.model_dir} lacks: {unknown[:3]}")
        cfg = self.config
        n_layer, n_head = int(cfg["num_hidden_layers"]), int(cfg["num_attention_heads"])
        n_kv = int(cfg.get("num_key_value_heads") or n_head)
        head_dim = int(cfg.get("head_dim") or cfg["hidden_size"] // n_head)
        writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[self.arch])
        writer.add_name(self.model_dir.name)
        writer.add_context_length(int(cfg.get("max_position_embeddings", 4096)))
        writer.add_embedding_length(int(cfg["hidden_size"]))
        writer.add_block_count(n_layer)
        writer.add_feed_forward_length(int(cfg["intermediate_size"]))
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_kv)
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(_rope_theta(cfg))
        writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
        writer.add_vocab_size(int(cfg["vocab_size"]))
        writer.add_file_type(_FILE_TYPES[tensor_type]())
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")
        writer.add_token_list(self._tokenizer["tokens"])
        writer.add_token_types(self._tokenizer["types"])
        self._tokenizer["special"].add_to_gguf(writer, quiet=True)
        writer.add_add_bos_token(False)  # prompts arrive as the chat template rendered them, ids and all

        names = gguf.get_tensor_name_map(self.arch, n_layer)
        for hf_name, tensor in weights.items():
            if hf_name == "lm_head.weight" and tied:
                continue  # llama.cpp reuses token_embd when output.weight is absent
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None:
                raise ValueError(f"no GGUF name for the {self.config['architectures'][0]} weight {hf_name!r}")
            if hf_name in deltas:
                tensor = tensor + deltas[hf_name]
            if self.arch == gguf.MODEL_ARCH.LLAMA and ".self_attn.q_proj." in hf_name:
                tensor = interleave_rotary_halves(tensor, n_head)
            elif self.arch == gguf.MODEL_ARCH.LLAMA and ".self_attn.k_proj." in hf_name:
                tensor = interleave_rotary_halves(tensor, n_kv)
            data, raw_type = _encode(tensor, tensor_type)
            writer.add_tensor(name, data, raw_dtype=raw_type)
        out.parent.mkdir(parents=True, exist_ok=True)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return out


def _gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, character -> byte: printable bytes stand for themselves, the others
    for the characters from U+0100 on, in byte order (the encoding of tokenizer.json's BPE vocabularies)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{chr(b): b for b in printable}, **{chr(256 + n): b for n, b in enumerate(others)}}


def _whole_utf8(token: str, to_byte: dict[str, int]) -> bool:
    """Whether a byte-level token's bytes decode as UTF-8 by themselves."""
    try:
        bytes(to_byte[c] for c in token).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return False
    return True


def _file_type(name: str):
    import gguf

    return lambda: getattr(gguf.LlamaFileType, name)


_FILE_TYPES = {"f32": _file_type("ALL_F32"), "f16": _file_type("MOSTLY_F16"), "bf16": _file_type("MOSTLY_BF16"), "q8_0": _file_type("MOSTLY_Q8_0")}


def _encode(tensor, tensor_type: str):
    """A float32 torch tensor to the numpy data and GGML type of `tensor_type` (1-D tensors stay f32)."""
    import gguf
    import torch

    if tensor.ndim < 2 or tensor_type == "f32":
        return tensor.contiguous().numpy(), None
    if tensor_type == "f16" or (tensor_type == "q8_0" and tensor.shape[-1] % Q8_0_BLOCK):
        return tensor.half().contiguous().numpy(), None
    if tensor_type == "bf16":  # torch rounds to nearest even, as gguf.quants' BF16 does, and far faster
        return tensor.bfloat16().contiguous().view(torch.int16).numpy().view("uint8"), gguf.GGMLQuantizationType.BF16
    return gguf.quants.quantize(tensor.contiguous().numpy(), gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0


def export_gguf(
    model_dir: str | os.PathLike[str], out: str | os.PathLike[str], *, adapter: str | os.PathLike[str] | None = None, tensor_type: str = "f32"
) -> Path:
    """One-off export: `GGUFExporter(model_dir).export(out, adapter=..., tensor_type=...)`."""
    return GGUFExporter(model_dir).export(out, adapter=adapter, tensor_type=tensor_type)
