"""Bad input is caught before any work: one message naming the field or value and what is allowed,
exit code 2, no traceback, no run folder written, no model loaded (looprl/preflight.py, looprl/config/loading.py)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

# small enough that, were a check missing, the command would end quickly instead of training for long
SMALL = [
    "trainer.iterations=1",
    "trainer.tasks_per_iteration=1",
    "trainer.rollouts_per_task=1",
    "trainer.eval_every=0",
    "rollout.sampling.max_new_tokens=4",
    "env.max_turns=1",
    "logging.tensorboard=false",
]


def _run(args):
    from looprl.cli import app

    return CliRunner().invoke(app, args)


def _train(run_dir: Path, *settings: str, config: Path | None = None):
    args = ["train", "--no-progress"] + (["--config", str(config)] if config else [])
    for s in (*SMALL, f"run_dir={run_dir}", *settings):
        args += ["--set", s]
    return _run(args)


def _rejected(res, *words: str, folder: Path | None = None) -> None:
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output, res.output
    for word in words:
        assert word in res.output, (word, res.output)
    if folder is not None:
        assert not folder.exists(), f"{folder} was written"


def test_train_model_path_that_does_not_exist(tmp_path):
    run = tmp_path / "run"
    _rejected(
        _train(run, f"model.name_or_path={tmp_path / 'no' / 'such' / 'model'}"), "model.name_or_path", "no such folder", "Hugging Face model id", folder=run
    )


def test_train_model_folder_without_a_model(tmp_path):
    run, empty = tmp_path / "run", tmp_path / "empty"
    empty.mkdir()
    _rejected(_train(run, f"model.name_or_path={empty}"), "model.name_or_path", "no config.json", folder=run)


def test_eval_model_path_that_does_not_exist(tmp_path):
    out = tmp_path / "out"
    res = _run(["eval", "--model", str(tmp_path / "no" / "such" / "model"), "--out", str(out), "--no-progress"])
    _rejected(res, "model.name_or_path", "no such folder", "openai:NAME", folder=out)


def test_unknown_task_id(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    _rejected(_train(run, f"model.name_or_path={tiny_model_dir}", "tasks.task_ids=[nope_1]"), "tasks.task_ids", "'nope_1'", "<scenario>_<n>", folder=run)


def test_unknown_train_split(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    _rejected(
        _train(run, f"model.name_or_path={tiny_model_dir}", "tasks.train_split=trian"),
        "tasks.train_split='trian'",
        "train, dev, test_normal, test_challenge, heldout",
        folder=run,
    )


def test_unknown_eval_split(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    res = _run(["eval", "--model", str(tiny_model_dir), "--split", "devv", "--out", str(out), "--no-progress"])
    _rejected(res, "split='devv'", "test_normal", folder=out)


def test_unknown_env_name(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    _rejected(_train(run, f"model.name_or_path={tiny_model_dir}", "env.name=appsuit"), "env.name='appsuit'", "appsuite, appworld, toy", folder=run)


def test_env_options_that_do_not_fit_the_env(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    _rejected(
        _train(run, f"model.name_or_path={tiny_model_dir}", "env.options={n_tasks: 4}"), "env.options", "n_tasks", "isolation, sandbox, prespawn", folder=run
    )


def test_config_file_that_is_not_utf8(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"trainer:\n  lr: 1.0e-5  # caf\xe9\n")
    _rejected(_train(tmp_path / "run", config=bad), "bad.yaml", "not UTF-8", folder=tmp_path / "run")


def test_directory_as_config(tmp_path):
    _rejected(_train(tmp_path / "run", config=tmp_path), "is a directory", folder=tmp_path / "run")


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_config_file(tmp_path, text):
    empty = tmp_path / "empty.yaml"
    empty.write_text(text)
    _rejected(_train(tmp_path / "run", config=empty), "empty.yaml", "is empty", folder=tmp_path / "run")


def test_a_good_config_passes_the_checks(tiny_model_dir):
    # the checks must not reject what works: the built-in world with its default splits, explicit ids
    from looprl.config import EvalConfig, TrainConfig, load_config
    from looprl.preflight import check_eval_config, check_train_config

    check_train_config(
        load_config(TrainConfig, None, [f"model.name_or_path={tiny_model_dir}", "tasks.task_ids=[notes_count_tag_7]", "tasks.train_split=heldout"])
    )
    check_eval_config(load_config(EvalConfig, None, ["model.name_or_path=openai:gpt-4o-mini", "split=test_challenge"]))
    check_eval_config(load_config(EvalConfig, None, ["model.name_or_path=smollm2"]))
