"""`looprl train`: train an agent with LOOP or a baseline, or resume a run.

    looprl train --config configs/tiny-cpu.yaml --method loop --set trainer.iterations=20
    looprl train --resume runs/train          # continue from the newest verified checkpoint
    accelerate launch --config_file configs/accelerate/fsdp-8gpu.yaml -m looprl train --config configs/qwen2.5-32b-8gpu.yaml
                                              # the trainer sharded with FSDP over 8 processes (docs/scaling.md)

With --resume, the run's own config.yaml is used (plus any --set overrides).

A run that cannot go on stops with one line saying what happened and how to resume, never a
traceback: SIGINT exits 130 and SIGTERM 143 (the iteration in flight is dropped, the last checkpoint
kept), a checkpoint or run file that cannot be written (disk full, folder not writable) exits 1, and
so does a sampler or env that failed past what a run survives (every rollout of an iteration
infra-failed; a managed vLLM server that did not start, or died past rollout.vllm_restarts: the line
names its log, RUN/vllm-server.log).
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Optional

import typer

from looprl.commands._common import CONFIG_HELP, SET_HELP, check_or_exit, console, fail, load_or_exit
from looprl.config import METHODS

STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)  # a run file that cannot be written: stop with one message


def train_command(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    method: Optional[str] = typer.Option(None, "--method", "-m", help="training method: " + "|".join(METHODS)),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue the run in this directory from its newest checkpoint"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no live progress display"),
) -> None:
    """Train an agent with LOOP (leave-one-out PPO) or a baseline; writes a run directory."""
    from looprl.config import TrainConfig

    overrides = list(set_ or [])
    if method is not None:  # checked with the config (trainer.method's allowed values come from the method registry)
        overrides.append(f"trainer.method={method}")
    if resume is not None:
        if config is not None:
            fail("--resume uses the run's own config.yaml; drop --config (use --set to change fields)")
        config = resume / "config.yaml"
        if not config.is_file():
            fail(f"{resume} is not a training run directory (no config.yaml)")
        overrides.append(f"run_dir={resume}")
    cfg = load_or_exit(TrainConfig, config, overrides)
    from looprl.preflight import check_train_config

    check_or_exit(check_train_config, cfg)  # model, env, splits, task ids: before the model loads or run_dir is made

    from looprl.backends.base import SamplerUnavailable
    from looprl.training.trainer import Trainer

    try:
        trainer = Trainer(cfg, resume=resume is not None, progress=not no_progress)
    except FileNotFoundError as exc:
        fail(str(exc))
    except SamplerUnavailable as exc:  # a managed sampling server that did not start: its first line names the log, which holds the cause
        again = f"looprl train --resume {resume}" if resume is not None else "the same command"
        fail(f"{str(exc).splitlines()[0]}; fix the cause, then run {again} again", 1)
    try:
        history = _train_or_exit(trainer, cfg.run_dir)
    finally:
        trainer.close()  # the sampler it built: an engine's exported files, a server it started
    trainer.dist.shutdown()  # not on an error: a barrier there could wait for a rank that is gone
    if not trainer.dist.is_main:  # under `accelerate launch`, rank 0 reports
        return
    last = history[-1] if history else {}
    console.print(
        f"done: {trainer.iteration} iterations in {cfg.run_dir}; last reward {last.get('rollout/reward_mean', float('nan')):.3f}"
        + (f"; best dev TGC {trainer.best['tgc']:.3f} (iteration {trainer.best['iteration']})" if trainer.best else ""),
        highlight=False,
    )


def _train_or_exit(trainer, run_dir: str) -> list[dict]:
    """trainer.train(), with the faults a run cannot survive turned into one message and an exit code."""
    from looprl.backends.base import SamplerUnavailable
    from looprl.rollout.collector import RolloutError
    from looprl.training.checkpoint import CheckpointWriteError
    from looprl.training.interrupt import TrainingInterrupted

    resume = f"continue with: looprl train --resume {run_dir}"
    try:
        return trainer.train()
    except TrainingInterrupted as exc:
        at = f"the last checkpoint is {trainer.last_checkpoint}" if trainer.last_checkpoint else "no checkpoint was written yet"
        console.print(f"[bold yellow]stopped:[/] {exc.signal_name} during iteration {trainer.iteration + 1}; {at}; {resume}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except (RolloutError, SamplerUnavailable) as exc:  # a sampler or env that failed past what is survived (the message names a managed server's log)
        at = f"the last checkpoint is {trainer.last_checkpoint}" if trainer.last_checkpoint else "no checkpoint was written yet"
        what = str(exc) if isinstance(exc, RolloutError) else f"iteration {trainer.iteration + 1}: {exc}"  # RolloutError names its iteration
        fail(f"{what}; {at}; fix the cause, then {resume}", 1)
    except CheckpointWriteError as exc:
        fail(f"{exc}; free space (or make the folder writable), then {resume}", 1)
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            raise
        at = f"the last checkpoint is {trainer.last_checkpoint}" if trainer.last_checkpoint else "no checkpoint was written yet"
        what = f"could not write {exc.filename or 'a run file'}: {exc.strerror}"
        fail(f"{what}; {at}; fix it, then {resume}", 1)
