"""Long stages report progress where people read it: plain lines in a log, a bar on a terminal."""

from __future__ import annotations

import io
import re

from rich.console import Console

from looprl.utils.progress import StageProgress

LINE = re.compile(r"^train: (\d+)/5 iterations, \d+:\d\d elapsed")


def test_a_log_gets_plain_lines_with_done_total_and_elapsed_time_while_the_stage_runs():
    log = io.StringIO()  # not a terminal, as `scripts/demo.sh > log`
    with StageProgress("train", 5, unit="iterations", every_s=0.0, console=Console(file=log, width=80)) as progress:
        assert LINE.match(log.getvalue().splitlines()[0])  # the stage says it started before anything finished
        for done in range(1, 4):
            progress.update(done, f"reward {done / 10:.3f}")
            assert log.getvalue().splitlines()[-1].startswith(f"train: {done}/5 iterations") and f"reward {done / 10:.3f}" in log.getvalue()
        progress.update(5)
    lines = log.getvalue().splitlines()
    assert [int(LINE.match(line).group(1)) for line in lines] == [0, 1, 2, 3, 5]  # the end once, not twice
    assert "\x1b" not in log.getvalue() and "━" not in log.getvalue()  # no bar, no escape codes


def test_lines_come_at_most_every_every_s_seconds_and_the_end_always():
    log = io.StringIO()
    with StageProgress("rollouts", 100, every_s=3600.0, console=Console(file=log, width=80)) as progress:
        for done in range(1, 100):
            progress.update(done)
    assert [line.split(",")[0] for line in log.getvalue().splitlines()] == ["rollouts: 0/100", "rollouts: 99/100"]


def test_a_terminal_gets_a_bar_and_no_lines():
    screen = io.StringIO()
    with StageProgress("train", 2, console=Console(file=screen, width=80, force_terminal=True)) as progress:
        progress.update(2)
    assert "━" in screen.getvalue() and not LINE.match(screen.getvalue())


def test_the_training_logger_prints_its_iterations_into_a_log(tmp_path, capsys):
    from looprl.training.logger import MetricsLogger

    logger = MetricsLogger(tmp_path, tensorboard=False, total_iterations=5)
    logger._progress.every_s = 0.0  # every iteration, however fast the test's iterations are
    logger.log(1, {"rollout/reward_mean": 0.25, "loss/policy": 0.5})
    during = capsys.readouterr().out  # captured stdout is not a terminal
    assert "train: 0/5 iterations" in during and "train: 1/5 iterations" in during and "reward 0.250" in during
    logger.close()
