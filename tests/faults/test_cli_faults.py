"""The faults `looprl train` cannot survive, end to end through the command: each ends with one line
that says what happened, where the last checkpoint is and how to resume, with its exit code (never a
traceback), and the same command with --resume then finishes. The other paths are tested where their
fault is: signals (test_signals.py, 130/143), a checkpoint that cannot be written (test_checkpoint_faults.py),
bad data and an unsupported vLLM model at preflight (test_preflight_data.py, test_vllm_faults.py, exit 2),
a managed vLLM server that died past its restarts (test_vllm_faults.py, real server). `FAULT_CASES` are
this module's rows for the fault report."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner

from looprl.env.base import register_env
from looprl.testing import DigitsEnv
from looprl.training.checkpoint import load_latest
from looprl.training.trainer import Trainer

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
SMALL = (
    "logging.tensorboard=false",
    "trainer.eval_every=0",
    "trainer.iterations=2",
    "trainer.tasks_per_iteration=2",
    "trainer.rollouts_per_task=3",
    "rollout.concurrency=6",
)

FAULT_CASES = [
    ("every rollout of an iteration fails (env down)", "test_an_iteration_whose_every_rollout_failed_stops_the_run_and_resumes", "exit 1, one line, resumed"),
    ("a run file cannot be written (disk full mid-iteration)", "test_a_run_file_that_cannot_be_written_stops_the_run_and_resumes", "exit 1, one line, resumed"),
    ("the managed vLLM server does not start", "test_a_sampling_server_that_does_not_start_is_one_line_naming_its_log", "exit 1, one line naming the log"),
]

DOWN = {"on": False}


class _EnvDown(DigitsEnv):
    """The built-in digits env whose backend goes away while DOWN["on"]: every step raises."""

    def step(self, action):
        if DOWN["on"]:
            raise ConnectionResetError("env backend lost (injected)")
        return super().step(action)


@pytest.fixture
def env_down():
    """ "env-down" registered for this test only (the registry is global: other tests list its names)."""
    import looprl.env.base as env_base

    register_env("env-down", lambda n_tasks=None, **options: _EnvDown(**options), overwrite=True, env_class=DigitsEnv)
    yield
    env_base._REGISTRY.pop("env-down", None)
    env_base._CLASSES.pop("env-down", None)


def _train(tiny_model_dir, run: Path, *extra: str, resume: bool = False):
    from looprl.cli import app

    args = ["train", "--no-progress"] + (["--resume", str(run)] if resume else ["--config", str(RECIPE)])
    if not resume:
        extra = (f"model.name_or_path={tiny_model_dir}", f"run_dir={run}", *SMALL, *extra)
    for s in extra:
        args += ["--set", s]
    return CliRunner().invoke(app, args)


def _after_first_checkpoint(monkeypatch, fault) -> None:
    real = Trainer._checkpoint

    def checkpoint(self):
        real(self)
        fault()

    monkeypatch.setattr(Trainer, "_checkpoint", checkpoint)


def _stopped_once(res, run: Path, *words: str) -> None:
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, res.output
    for word in (*words, f"the last checkpoint is {run / 'checkpoints' / 'iter_000001'}", f"continue with: looprl train --resume {run}"):
        assert word in lines[0], (word, res.output)
    assert load_latest(run)[1].iteration == 1


def test_an_iteration_whose_every_rollout_failed_stops_the_run_and_resumes(tiny_model_dir, tmp_path, monkeypatch, env_down):
    run = tmp_path / "run"
    real_checkpoint = Trainer._checkpoint
    _after_first_checkpoint(monkeypatch, lambda: DOWN.update(on=True))
    try:
        res = _train(tiny_model_dir, run, "env.name=env-down")
    finally:
        DOWN["on"] = False  # the env is back
    _stopped_once(res, run, "iteration 2: all 6 rollouts failed for infrastructure reasons (6 env_error)", "env backend lost (injected)")
    monkeypatch.setattr(Trainer, "_checkpoint", real_checkpoint)
    res = _train(tiny_model_dir, run, resume=True)
    assert res.exit_code == 0, res.output
    assert load_latest(run)[1].iteration == 2


def test_a_run_file_that_cannot_be_written_stops_the_run_and_resumes(tiny_model_dir, tmp_path, monkeypatch):
    import looprl.training.trainer as trainer_module

    run = tmp_path / "run"

    def disk_full(path, rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    _after_first_checkpoint(monkeypatch, lambda: monkeypatch.setattr(trainer_module, "write_jsonl", disk_full))
    res = _train(tiny_model_dir, run)
    _stopped_once(res, run, f"could not write {run / 'rollouts' / 'iter_000002.jsonl'}: No space left on device")
    monkeypatch.undo()  # space freed
    res = _train(tiny_model_dir, run, resume=True)
    assert res.exit_code == 0, res.output
    assert load_latest(run)[1].iteration == 2


def test_a_sampling_server_that_does_not_start_is_one_line_naming_its_log(vllm_model_dir, tmp_path, monkeypatch):
    """The real start_server with a server process that dies at once (as on an out-of-memory GPU):
    one line naming RUN/vllm-server.log, which keeps what the server printed; exit 1."""
    import looprl.backends.vllm as vllm

    server = tmp_path / "bin" / "python"
    server.parent.mkdir()
    server.write_text("#!/bin/sh\necho 'torch.OutOfMemoryError: CUDA out of memory (injected)'\nexit 1\n")
    server.chmod(0o755)
    monkeypatch.setattr(vllm, "vllm_python", lambda venv=None: server)
    run = tmp_path / "run"
    res = _train(vllm_model_dir, run, "rollout.backend=vllm", "lora.target_modules=[q_proj,v_proj]")
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit) and "Traceback" not in res.output, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "exited with code 1 during startup" in lines[0] and str(run / vllm.VLLM_SERVER_LOG) in lines[0], res.output
    assert "then run the same command again" in lines[0], res.output
    assert "CUDA out of memory (injected)" in (run / vllm.VLLM_SERVER_LOG).read_text()
