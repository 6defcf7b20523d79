"""The LoRA facts the self-applying samplers share (looprl/backends/lora.py): the GGUF export refuses
what one scale cannot merge, as the OpenVINO backend does (tests/backends/test_openvino.py)."""

from __future__ import annotations

import json

import pytest

from looprl.backends.gguf_export import read_adapter


@pytest.mark.parametrize("extra", [{"rank_pattern": {"q_proj": 8}}, {"alpha_pattern": {"q_proj": 32}}, {"use_dora": True}, {"bias": "lora_only"}])
def test_the_gguf_export_refuses_an_adapter_one_scale_cannot_merge(extra, tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8, **extra}))
    with pytest.raises(ValueError, match=f"GGUF export .* plain LoRA adapters only; this one sets {next(iter(extra))}"):
        read_adapter(tmp_path)
