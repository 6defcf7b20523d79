"""SIGINT and SIGTERM during training: abort the iteration in flight, keep the last checkpoint.

`Trainer.train` runs inside `stop_on_signals()`. A SIGINT (Ctrl-C) or SIGTERM (a scheduler's
pre-emption) raises `TrainingInterrupted` in the main thread at once, wherever it is: sampling
(the collector cancels the episodes not yet started, lets the env calls in flight return and closes
every env), the update (weights already changed in memory are simply not saved), evaluation. The
iteration in flight is lost, the previous checkpoint is the state to resume from, and because resume
is exact (looprl/training/trainer.py) `looprl train --resume RUN` ends where the uninterrupted run
would have. Aborting, rather than finishing the iteration, is the choice because an iteration can
take longer than a scheduler's grace period (Slurm's default is 30 s) and redoing it costs nothing
in the result.

The one exception is the checkpoint write itself (`deferred()`): a signal that arrives while
the checkpoint is written waits until it is complete, then interrupts; so an interrupted run always
leaves a complete newest checkpoint (the write is atomic anyway, this only saves the iteration).

`TrainingInterrupted` is a KeyboardInterrupt: code that catches `Exception` (an env wrapper, the
collector's error handling) never swallows it, and callers that stop on Ctrl-C still do. A signal
handler can be installed only from the main thread; elsewhere `stop_on_signals` changes nothing.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by a signal; `exit_code` is the shell's convention (128 + signal number)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.signal_name}")


class _State:
    installed = False
    deferring = 0
    pending: int | None = None


_state = _State()


def _handler(signum: int, frame: Any) -> None:
    if _state.deferring:
        _state.pending = signum
        return
    raise TrainingInterrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into `TrainingInterrupted` inside the block; the previous handlers after it."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _state.installed, _state.pending = True, None
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _state.installed = False


@contextmanager
def deferred() -> Iterator[None]:
    """A section a signal must not cut (the checkpoint write): the interrupt is raised when it ends."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if not _state.deferring and _state.pending is not None:
        signum, _state.pending = _state.pending, None
        raise TrainingInterrupted(signum)
