"""A tiny model that needs no model hub: a Qwen2-architecture causal LM with a byte-level BPE
tokenizer trained locally by `tokenizers` and a ChatML chat template, saved as a normal HF folder.

Used by the test suite, the benchmarks and the learning test. Built once per folder: a second call
with the same folder and settings returns at once.
"""

from __future__ import annotations

import json
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS_SNIPPETS = [
    "print(apis.api_docs.show_app_descriptions())",
    "print(apis.api_docs.show_api_descriptions(app_name='notes'))",
    "print(apis.api_docs.show_api_doc(app_name='notes', api_name='login'))",
    "password = apis.supervisor.show_account_passwords()",
    "token = apis.notes.login(username=email, password=pw)['access_token']",
    "for page_index in range(10):\n    page = apis.music.show_playlists(access_token=token, page_index=page_index, page_limit=20)\n"
    "    if not page:\n        break",
    "apis.supervisor.complete_task(answer=42)",
    "```python\nprint('hello world')\n```",
    "Execution successful. Traceback (most recent call last): NameError: name 'x' is not defined",
    "I will first look at the documentation of the app, then log in and list the items.",
    "The answer is 7. The task is done. Let me check the result and complete the task.",
    "You are a helpful assistant that writes Python code to operate the user's apps.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 yes no true false None True False",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?()[]{}<>=+-*/%'\"#_@&|^~`$\\",
]


def tiny_model_config(vocab_size: int, architecture: str = "qwen2", **overrides):
    """The tiny model's transformers config: a Qwen2 (the default) or, with architecture="llama", the
    same shape as a Llama (whose rotary layout some exporters must permute: llama.cpp's GGUF)."""
    from transformers import LlamaConfig, Qwen2Config

    classes = {"qwen2": Qwen2Config, "llama": LlamaConfig}
    if architecture not in classes:
        raise ValueError(f"architecture must be one of {', '.join(classes)}; got {architecture!r}")
    cfg = dict(
        vocab_size=vocab_size,
        hidden_size=96,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        rope_theta=10000.0,
    )
    cfg.update(overrides)
    return classes[architecture](**cfg)


def build_tokenizer(vocab_size: int = 1024):
    """A byte-level BPE tokenizer trained on a small built-in corpus, with ChatML specials and template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS_SNIPPETS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_model(out_dir: str | Path, *, seed: int = 0, vocab_size: int = 1024, architecture: str = "qwen2", **config_overrides) -> Path:
    """Build (once) the tiny model + tokenizer in ``out_dir`` and return the folder (`architecture`:
    see tiny_model_config)."""
    import torch
    from transformers import AutoModelForCausalLM

    out = Path(out_dir)
    stamp = out / "looprl_tiny.json"
    spec = {"seed": seed, "vocab_size": vocab_size, **({"architecture": architecture} if architecture != "qwen2" else {}), **config_overrides}
    if stamp.is_file() and json.loads(stamp.read_text()) == spec:
        return out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vocab_size)
    config = tiny_model_config(len(tokenizer), architecture, **config_overrides)
    config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config.pad_token_id = tokenizer.pad_token_id
    config.bos_token_id = None
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    stamp.write_text(json.dumps(spec))
    return out
