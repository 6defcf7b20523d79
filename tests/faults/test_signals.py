"""SIGINT and SIGTERM during training: the iteration in flight is aborted, the last checkpoint is kept
(a signal during the checkpoint write waits for it), `looprl train` exits 130 / 143 with one line
saying how to resume, and the resumed run ends with the weights of a run never interrupted.
`FAULT_CASES` are this module's rows for the fault report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from exact_runs import EXACT, RECIPE, ROOT, adapter_of, exact_cfg

from looprl.training.checkpoint import load_latest, verify_checkpoint
from looprl.training.interrupt import TrainingInterrupted
from looprl.training.trainer import Trainer

FAULT_CASES = [
    ("SIGINT during sampling", "test_signal_mid_iteration_then_resume_is_exact[SIGINT-sampling]", "exit 130, resume exact"),
    ("SIGTERM during the update", "test_signal_mid_iteration_then_resume_is_exact[SIGTERM-update]", "exit 143, resume exact"),
    ("SIGTERM during the checkpoint write", "test_signal_during_the_checkpoint_write_waits_for_it", "checkpoint completed first"),
    ("SIGTERM/SIGINT to `looprl train`", "test_cli_exits_with_the_signal_code_and_resumes", "exit 143/130, resumed"),
]


def _signal_on_call(obj, name: str, signum: int, call: int) -> None:
    """Send `signum` to this process from inside the `call`-th call of obj.name (counting from 1)."""
    real, calls = getattr(obj, name), [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    setattr(obj, name, wrapped)


@pytest.mark.parametrize("signame,phase", [("SIGINT", "sampling"), ("SIGTERM", "update")], ids=["SIGINT-sampling", "SIGTERM-update"])
def test_signal_mid_iteration_then_resume_is_exact(signame, phase, tiny_model_dir, tmp_path, uninterrupted):
    signum = getattr(signal, signame)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN when the suite runs as a background job
    cfg = exact_cfg(tiny_model_dir, tmp_path)
    trainer = Trainer(cfg, progress=False)
    trainer.train(stop_after=1)
    if phase == "sampling":  # the 2nd episode's generation of iteration 2: mid-collection
        _signal_on_call(trainer.sampler_backend, "generate", signum, 2)
    else:  # the 2nd optimizer step from iteration 2 on (an iteration whose buffer is empty takes none): weights already moved
        _signal_on_call(trainer.optimizer, "step", signum, 2)
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    assert info.value.exit_code == 128 + signum and info.value.signal_name == signame
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are put back
    done = trainer.last_checkpoint  # the iteration in flight was dropped: its checkpoint is not there
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())[-1] == done.name
    assert trainer.iteration in (int(done.name[5:]), int(done.name[5:]) + 1)  # +1: cut after `iteration` moved, before its checkpoint
    verify_checkpoint(done)
    resumed = Trainer(cfg, resume=True, progress=False)
    assert resumed.iteration == int(done.name[5:]) < 3
    resumed.train()
    for a, b in zip(uninterrupted, adapter_of(resumed)):
        assert torch.equal(a, b)


def test_signal_during_the_checkpoint_write_waits_for_it(tiny_model_dir, tmp_path, monkeypatch):
    import looprl.training.checkpoint as ckpt

    real = ckpt.atomic_write_json

    def manifest_then_signal(path, obj, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives before the manifest is written
        return real(path, obj, **kwargs)

    monkeypatch.setattr(ckpt, "atomic_write_json", manifest_then_signal)
    trainer = Trainer(exact_cfg(tiny_model_dir, tmp_path, "rollout.concurrency=8"), progress=False)
    with pytest.raises(TrainingInterrupted):
        trainer.train()
    assert trainer.last_checkpoint.name == "iter_000001"  # completed, then interrupted
    path, state = load_latest(tmp_path)
    assert path.name == "iter_000001" and state.iteration == 1


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_cli_exits_with_the_signal_code_and_resumes(signame, tiny_model_dir, tmp_path):
    """The real command in a subprocess, signalled once its first iteration is logged (so somewhere
    in iteration 2: sampling, update or checkpoint, whichever the timing gives)."""
    signum = getattr(signal, signame)
    run = tmp_path / "run"
    args = [sys.executable, "-m", "looprl", "train", "--config", str(RECIPE), "--no-progress"]
    for s in (f"model.name_or_path={tiny_model_dir}", f"run_dir={run}", *EXACT, "trainer.iterations=30", "rollout.concurrency=8"):
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not (run / "metrics.jsonl").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, out
    assert "Traceback" not in out and f"stopped: {signame} during iteration" in out and f"looprl train --resume {run}" in out, out
    path, state = load_latest(run)
    assert state.iteration >= 1
    if signame == "SIGTERM":  # the same command with --resume finishes the run
        resume = [sys.executable, "-m", "looprl", "train", "--resume", str(run), "--no-progress", "--set", f"trainer.iterations={state.iteration + 1}"]
        done = subprocess.run(resume, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert load_latest(run)[1].iteration == state.iteration + 1
