"""Progress of a long stage (training iterations, rollouts), readable wherever it is read.

On a terminal: a rich progress bar. Anywhere else (a log file, a pipe: `bash scripts/demo.sh > log`,
CI): plain lines, one when the stage starts, then at most one every `every_s` seconds while it moves,
and one when it ends, each with done/total and the elapsed time. rich draws its bars only on a
terminal; redirected, a bar prints nothing until its stage ends, so a 10-minute warm-up would leave
the log silent for 10 minutes.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["StageProgress"]


class StageProgress:
    """`with StageProgress("train", 5, unit="iterations") as p: ... p.update(done, info)`, or
    `start()` ... `stop()` where the stage outlives a block (a logger's)."""

    def __init__(self, label: str, total: int, *, unit: str = "", stderr: bool = False, eta: bool = False, every_s: float = 30.0, console: Any = None):
        from rich.console import Console

        self.label, self.total, self.unit, self.eta, self.every_s = label, total, unit, eta, every_s
        self.console = console if console is not None else Console(stderr=stderr)
        self._bar: Any = None
        self._task: Any = None
        self._start = time.perf_counter()
        self._done = 0
        self._info = ""
        self._printed: tuple[int, float] | None = None  # (done, when) of the last plain line

    def start(self) -> "StageProgress":
        self._start = time.perf_counter()
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            eta = (TextColumn("eta"), TimeRemainingColumn()) if self.eta else ()
            columns = (TextColumn(f"[bold]{self.label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), *eta, TextColumn("{task.description}"))
            self._bar = Progress(*columns, console=self.console, transient=False)
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total, completed=self._done)
        else:
            self._line()
        return self

    def update(self, done: int, info: str = "") -> None:
        """`done` of `total` finished; `info` is shown after the count (the bar's description)."""
        self._done, self._info = done, info or self._info
        if self._bar is not None:
            self._bar.update(self._task, completed=done, description=self._info)
        elif self._printed is not None and done != self._printed[0] and time.perf_counter() - self._printed[1] >= self.every_s:
            self._line()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._printed is None or self._printed[0] != self._done:
            self._line()

    def __enter__(self) -> "StageProgress":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _line(self) -> None:
        elapsed = int(time.perf_counter() - self._start)
        unit = f" {self.unit}" if self.unit else ""
        info = f"  {self._info}" if self._info else ""
        text = f"{self.label}: {self._done}/{self.total}{unit}, {elapsed // 60}:{elapsed % 60:02d} elapsed{info}"
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()
        self._printed = (self._done, time.perf_counter())
