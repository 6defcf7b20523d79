"""Typed configs fail loudly, naming the field, the value and what is allowed."""

from __future__ import annotations

import pytest
import yaml

from looprl.config import ConfigError, EvalConfig, TrainConfig, apply_overrides, dump_config, load_config


def test_defaults_follow_the_paper():
    cfg = load_config(TrainConfig)
    t = cfg.trainer
    assert (t.rollouts_per_task, t.tasks_per_iteration, t.epochs, t.minibatch_size) == (6, 40, 2, 32)
    assert (t.lr, t.weight_decay, t.clip_eps, t.adv_threshold) == (5e-5, 0.01, 0.1, 0.01)
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (16, 32, 0.0)
    assert cfg.rollout.sampling.temperature == 1.0 and cfg.rollout.sampling.top_k == 0
    assert cfg.env.max_turns == 40 and cfg.env.eval_max_turns == 50


def test_bad_value_names_field_value_and_what_is_allowed():
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, overrides=["trainer.lr=-1"])
    msg = str(err.value)
    assert "trainer.lr" in msg and "-1" in msg and "greater than 0" in msg


def test_wrong_type_is_named():
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, overrides=["trainer.epochs=many"])
    assert "trainer.epochs" in str(err.value) and "'many'" in str(err.value)


def test_unknown_key_is_rejected_with_suggestion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"trainer": {"learning_rate": 1e-4}}))
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, path)
    msg = str(err.value)
    assert "trainer.learning_rate" in msg and "unknown key" in msg and "Allowed here" in msg and "lr" in msg
    assert str(path) in msg


def test_unknown_top_level_section():
    with pytest.raises(ConfigError, match="trainr: unknown key. Did you mean 'trainer'"):
        load_config(TrainConfig, overrides=["trainr.lr=1e-5"])


def test_literal_choice_lists_allowed_values():
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, overrides=["trainer.method=ppo2"])
    msg = str(err.value)
    assert "trainer.method" in msg and "'ppo2'" in msg and "'loop'" in msg and "'grpo'" in msg


def test_overrides_parse_yaml_scalars_and_round_trip(tmp_path):
    cfg = load_config(TrainConfig, overrides=["trainer.lr=1e-5", "tasks.difficulties=[1]", "logging.wandb=true"])
    assert cfg.trainer.lr == 1e-5 and cfg.tasks.difficulties == [1] and cfg.logging.wandb is True
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(TrainConfig, path) == cfg


def test_override_into_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])


def test_missing_file_and_malformed_override():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(EvalConfig, "/nonexistent/x.yaml")
    with pytest.raises(ConfigError, match="key.path=value"):
        load_config(EvalConfig, overrides=["samples"])


def test_file_sections_merge_into_the_base_instead_of_replacing_it(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump({"rollout": {"concurrency": 4}}))
    cfg = load_config(EvalConfig, path, base={"rollout": {"sampling": {"temperature": 0.0}}})
    assert cfg.rollout.concurrency == 4 and cfg.rollout.sampling.temperature == 0.0


def test_overriding_one_field_keeps_the_rest_of_a_factory_built_section():
    from looprl.config import DemoConfig

    # the demo's `train` section is a scaled-down TrainConfig built by a factory, not TrainConfig()
    cfg = load_config(DemoConfig, None, ["train.trainer.iterations=8", "train.rollout.sampling.max_new_tokens=64"])
    default = DemoConfig()
    assert cfg.train.trainer.iterations == 8 and cfg.train.rollout.sampling.max_new_tokens == 64
    assert cfg.train.trainer.tasks_per_iteration == default.train.trainer.tasks_per_iteration
    assert cfg.train.rollout.sampling.max_context_tokens == default.train.rollout.sampling.max_context_tokens
    assert cfg.train.env == default.train.env and cfg.train.rollout.scaffold == default.train.rollout.scaffold


def test_training_sampling_must_give_the_trainer_its_probabilities():
    """A method that learns from its own samples needs T > 0 and no top-p/top-k truncation; methods
    that fit fixed data do not sample from the policy, so any setting passes."""
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, overrides=["rollout.sampling.temperature=0"])
    assert "rollout.sampling.temperature=0" in str(err.value) and "'loop'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, overrides=["trainer.method=grpo", "rollout.sampling.top_p=0.9"])
    assert "top_p=0.9" in str(err.value) and "top_p=1.0 and top_k=0" in str(err.value)
    assert load_config(TrainConfig, overrides=["rollout.sampling.temperature=0.7"]).rollout.sampling.temperature == 0.7
    assert load_config(TrainConfig, overrides=["trainer.method=sft-gt", "rollout.sampling.temperature=0"])


def test_fixed_data_methods_are_those_that_do_not_sample_the_policy():
    from looprl.config import FIXED_DATA_METHODS, METHODS
    from looprl.training.methods import get_method

    assert set(FIXED_DATA_METHODS) == {m for m in METHODS if get_method(m).data.fixed}
