"""looprl.build: one way from a config to objects, shared by train, eval and the demo; RolloutSpec;
the one observation truncation."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from looprl.backends.base import SamplingParams
from looprl.build import build_env_factory, rollout_spec, sampling_params, write_run_files
from looprl.config import EvalConfig, TrainConfig
from looprl.env.wrappers import CHARS_PER_TOKEN, truncate_observation
from looprl.rollout import RolloutSpec, collect, evaluate
from looprl.testing import ScriptedPolicy, StepsEnv

LIBRARY = Path(__file__).resolve().parents[1] / "looprl"


def test_sampling_is_seeded_alike_for_train_and_eval_configs():
    train = TrainConfig(seed=7)
    evalc = EvalConfig(seed=7)
    assert sampling_params(train).seed == 7 and sampling_params(evalc).seed == 7
    assert sampling_params(train, seeded=False).seed is None  # a training run's own episodes: the policy's generator
    assert sampling_params(evalc).temperature == 0.0 and sampling_params(evalc, temperature=0.5).temperature == 0.5


def test_rollout_spec_reads_every_setting_from_the_config():
    cfg = EvalConfig.model_validate(
        {
            "env": {"name": "toy", "eval_max_turns": 7, "max_observation_tokens": 99},
            "rollout": {
                "concurrency": 3,
                "generation_batch_size": 2,
                "sampler_retries": 5,
                "env_timeout_s": 30.0,
                "scaffold": "env",
                "sampling": {"max_context_tokens": 2048, "max_new_tokens": 11, "temperature": 0.0},
            },
        }
    )
    spec = rollout_spec(cfg, max_turns=cfg.env.eval_max_turns, model_name="m")
    assert spec == RolloutSpec(
        sampling=SamplingParams(temperature=0.0, max_new_tokens=11, seed=0),
        scaffold=None,
        max_turns=7,
        max_context_tokens=2048,
        max_observation_tokens=99,
        concurrency=3,
        generation_batch_size=2,
        model_name="m",
        sampler_retries=5,
        env_timeout_s=30.0,
    )
    assert rollout_spec(EvalConfig.model_validate({"rollout": {"env_timeout_s": None}}), max_turns=1).env_timeout_s is None  # null: wait forever


@pytest.mark.parametrize(
    "setting,allowed",
    [
        ("rollout.sampler_retries=-1", "greater than or equal to 0"),
        ("rollout.sampler_retries=11", "less than or equal to 10"),
        ("rollout.env_timeout_s=0", "greater than 0"),
    ],
)
def test_fault_settings_are_validated_naming_the_field(setting, allowed):
    from looprl.config import ConfigError, load_config

    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, None, [setting])
    assert setting.split("=")[0] in str(err.value) and allowed in str(err.value), str(err.value)


def test_rollout_spec_checks_and_the_keyword_style_still_works():
    with pytest.raises(ValueError, match="max_turns must be >= 1, got 0"):
        RolloutSpec(sampling=SamplingParams(), max_turns=0)
    with pytest.raises(TypeError, match=r"unknown rollout setting\(s\) \['max_turn'\]"):
        collect(ScriptedPolicy(), StepsEnv, ["toy_1"], k=1, sampling=SamplingParams(), max_turn=3)
    spec = RolloutSpec(sampling=SamplingParams(max_new_tokens=200), max_turns=5, model_name="scripted")
    with_spec = evaluate(ScriptedPolicy(), StepsEnv, ["toy_1", "toy_9"], spec, progress=False)
    with_keywords = evaluate(
        ScriptedPolicy(), StepsEnv, ["toy_1", "toy_9"], sampling=SamplingParams(max_new_tokens=200), max_turns=5, model_name="scripted", progress=False
    )
    key = [(t.task_id, t.reward, t.num_turns, t.model) for t in with_spec.trajectories]
    assert key == [(t.task_id, t.reward, t.num_turns, t.model) for t in with_keywords.trajectories]
    assert with_spec.summary["model"] == "scripted" and key[1][2] == 5  # toy_9 is cut at the spec's 5 turns


def test_env_factory_and_run_files(tmp_path):
    cfg = EvalConfig.model_validate({"env": {"name": "toy"}, "split": "dev", "model": {"adapter_path": "a/b"}})
    env = build_env_factory(cfg)()
    try:
        messages, _ = env.reset("toy_1")
        assert messages
    finally:
        env.close()
    write_run_files(tmp_path / "run", cfg, kind="eval", split="dev", method="loop", command="looprl eval")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {k: run[k] for k in ("kind", "name", "model", "adapter", "method", "split", "env", "seed", "command")} == {
        "kind": "eval",
        "name": "run",
        "model": "smollm2",
        "adapter": "a/b",
        "method": "loop",
        "split": "dev",
        "env": "toy",
        "seed": 0,
        "command": "looprl eval",
    }
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["split"] == "dev"


def test_one_truncation_for_tokens_and_characters(tiny_model_dir):
    from transformers import AutoTokenizer

    from looprl.agent.tokens import ChatTokens

    assert truncate_observation("x" * 40, 10) == "x" * 40  # 10 tokens = 40 characters fit
    cut = truncate_observation("x" * 41, 10)
    assert cut.startswith("x" * 10 * CHARS_PER_TOKEN + "\n[output truncated: showing 10 of about 10 tokens")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "hello world " * 50
    assert ChatTokens(tokenizer).truncate(text, 20) == truncate_observation(text, 20, tokenizer)
    total = len(tokenizer.encode(text, add_special_tokens=False))
    assert truncate_observation(text, 20, tokenizer).endswith(f"[output truncated: showing 20 of {total} tokens]")


def test_the_library_never_imports_the_cli():
    offenders = []
    for path in LIBRARY.rglob("*.py"):
        rel = path.relative_to(LIBRARY)
        if rel.parts[0] == "commands" or rel.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in getattr(node, "names", [])]
                if isinstance(node, ast.Import)
                else []
            )
            offenders += [f"{rel}: {n}" for n in names if n == "looprl.commands" or n.startswith("looprl.commands.")]
    assert offenders == []
