"""The in-process samplers train as the transformers one does: LOOP on the toy rule learns with its
rollouts sampled by llama.cpp (f32 GGUF) or openvino-genai (fp32 IR), each publish a new export/pipeline
with the adapter. The same bar as tests/training/test_trainer.py::test_loop_learns_the_toy_rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from looprl.config import TrainConfig, load_config
from looprl.training.trainer import Trainer

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
SAMPLERS = [
    pytest.param("llamacpp", "rollout.llamacpp_tensor_type=f32", "xllamacpp", id="llamacpp-f32"),
    pytest.param("openvino", "rollout.openvino_weight_format=fp32", "openvino_genai", id="openvino-fp32"),
]


@pytest.mark.slow
@pytest.mark.parametrize("backend,weights,module", SAMPLERS)
def test_loop_learns_the_toy_rule_from_this_samplers_rollouts(backend, weights, module, tiny_model_dir, tmp_path):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install 'looprl[{backend}]')")
    cfg = load_config(
        TrainConfig,
        RECIPE,
        [
            f"model.name_or_path={tiny_model_dir}",
            f"run_dir={tmp_path}",
            "logging.tensorboard=false",
            "trainer.eval_every=0",
            "trainer.iterations=24",
            "trainer.autocast=off",  # fp32 on both sides, so the sampler-gap check below is exact
            f"rollout.backend={backend}",
            weights,
        ],
    )
    trainer = Trainer(cfg, progress=False)
    try:
        history = trainer.train()
    finally:
        trainer.sampler_backend.close()
    rewards = [h["rollout/reward_mean"] for h in history]
    print(f"{backend} reward per iteration:", [round(r, 3) for r in rewards])
    start, end = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert start < 0.2, rewards
    assert end > start + 0.4, rewards
    # the sampler's logprobs are the trainer's policy's (f32 / fp32 weights): a stale adapter would show here
    assert max(h["rollout/sampler_logprob_gap_max"] for h in history if "rollout/sampler_logprob_gap_max" in h) < 1e-3
