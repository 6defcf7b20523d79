"""Every recipe in configs/ loads through load_config(TrainConfig); the CLI trains, resumes and rejects bad input."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from looprl.config import TrainConfig, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_there_are_recipes():
    names = {p.name for p in CONFIGS}
    assert {"tiny-cpu.yaml", "smollm2-135m-cpu.yaml", "qwen2.5-7b-1gpu.yaml", "qwen2.5-32b-8gpu.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_recipe_validates(path):
    cfg = load_config(TrainConfig, path)
    assert cfg.trainer.method == "loop"
    if "qwen2.5-32b" in path.name:  # the paper's hyperparameters
        t = cfg.trainer
        assert (t.tasks_per_iteration, t.rollouts_per_task, t.epochs, t.minibatch_size) == (40, 6, 2, 32)
        assert (t.lr, t.weight_decay, t.clip_eps, t.adv_threshold) == (5e-5, 0.01, 0.1, 0.01)
        assert (cfg.lora.r, cfg.lora.alpha) == (16, 32)


def _run(args):
    from looprl.cli import app

    return CliRunner().invoke(app, args)


def test_cli_train_and_resume(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    base = [
        "--config",
        str(CONFIGS[0].parent / "tiny-cpu.yaml"),
        "--set",
        f"model.name_or_path={tiny_model_dir}",
        "--set",
        f"run_dir={run}",
        "--set",
        "trainer.iterations=2",
        "--set",
        "trainer.eval_every=2",
        "--set",
        "trainer.tasks_per_iteration=2",
        "--set",
        "logging.tensorboard=false",
        "--no-progress",
    ]
    res = _run(["train", *base, "--method", "loop-turn"])
    assert res.exit_code == 0, res.output
    assert (run / "checkpoints" / "iter_000002" / "manifest.json").is_file()
    assert (run / "best" / "adapter_config.json").is_file() and (run / "eval" / "iter_000002" / "summary.json").is_file()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    res = _run(["train", "--resume", str(run), "--set", "trainer.iterations=3", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3


def test_cli_rejects_bad_input(tmp_path):
    res = _run(["train", "--method", "dpo"])  # rejected by the config's own check: the field, the value, what is allowed
    assert res.exit_code == 2 and "trainer.method: got 'dpo'" in res.output and "'loop-turn'" in res.output
    res = _run(["train", "--set", "trainer.lr=-1", "--set", f"run_dir={tmp_path}"])
    assert res.exit_code == 2 and "trainer.lr" in res.output
    res = _run(["train", "--resume", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "not a training run directory" in res.output


def test_kl_coef_only_with_grpo_kl():
    from looprl.config import ConfigError

    with pytest.raises(ConfigError, match="only applies to method 'grpo-kl'"):
        load_config(TrainConfig, None, ["trainer.kl_coef=0.1"])
    assert load_config(TrainConfig, None, ["trainer.kl_coef=0.1", "trainer.method=grpo-kl"]).trainer.kl_coef == 0.1


@pytest.mark.parametrize(
    "setting",
    ["trainer.gae_lambda=0.9", "trainer.value_hidden_size=16", "trainer.critic_warmup_iterations=0", "trainer.sft_read_docs=true", "trainer.kl_coef=0.1"],
)
def test_settings_of_another_method_are_rejected_by_name(setting):
    from looprl.config import ConfigError

    name = setting.split("=")[0]
    with pytest.raises(ConfigError, match=rf"{name}=.* only applies to method .*\(method is 'loop'"):
        load_config(TrainConfig, None, [setting])
    owner = {"trainer.sft_read_docs": "sft-gt", "trainer.kl_coef": "grpo-kl"}.get(name, "ppo")
    load_config(TrainConfig, None, [setting, f"trainer.method={owner}"])


def test_grpo_kl_weight_is_the_configured_one():
    # "0 = none" used to read as 0.04 (`kl_coef or 0.04`); now 0.04 is the default and 0 is method grpo
    from looprl.config import ConfigError

    assert load_config(TrainConfig, None, ["trainer.method=grpo-kl"]).trainer.kl_coef == 0.04
    with pytest.raises(ConfigError, match="a KL term of weight 0 is method 'grpo'"):
        load_config(TrainConfig, None, ["trainer.method=grpo-kl", "trainer.kl_coef=0"])
    # 0, no KL term, is what every other method does: accepted (run configs written when 0 was the default load)
    assert load_config(TrainConfig, None, ["trainer.kl_coef=0"]).trainer.kl_coef == 0


def test_a_resolved_config_of_any_method_loads_again():
    # a run's config.yaml lists every field: the defaults of other methods' settings must not be rejected
    import yaml

    from looprl.config import METHODS, dump_config

    for method in METHODS:
        cfg = load_config(TrainConfig, None, [f"trainer.method={method}"])
        again = load_config(TrainConfig, None, None, base=yaml.safe_load(dump_config(cfg)))
        assert again == cfg
