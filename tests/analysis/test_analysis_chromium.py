"""The report in a real browser: headless Chromium loads the file, runs its JavaScript, and the
dumped DOM must hold every section, populated; a screenshot is saved for people to look at.

Chromium is Debian's `chromium` (scripts/ci-setup.d/30-chromium.sh installs it in CI). Outside CI
the test skips when it is absent; with CI=true it fails instead. Set LOOPRL_TEST_ARTIFACTS=DIR to
keep the report and the screenshot.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from looprl.analysis.report import build_report

pytestmark = pytest.mark.chromium

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed, and CI=true requires it (scripts/ci-setup.d/30-chromium.sh installs it)")
        pytest.skip(
            "chromium is not installed: a system package, added by `bash scripts/ci-setup.d/30-chromium.sh` (as root; "
            "apt-get install chromium); the browser test of the report is skipped"
        )
    return exe


def _browse(exe: str, tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"  # a fresh profile per launch
    cmd = [exe, *FLAGS, f"--user-data-dir={profile}", *extra, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def _rows(dom: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', dom, re.DOTALL)
    assert m, f"table #{table_id} is missing"
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.DOTALL)
    ]


def _section(dom: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', dom, re.DOTALL)
    assert m, f"section #{sid} is missing"
    return m.group(1)


def test_report_renders_in_headless_chromium(sample_runs, tmp_path):
    exe = _chromium()
    out = build_report(sample_runs, tmp_path / "report.html", max_episodes=8)
    url = out.resolve().as_uri()

    dom = _browse(exe, tmp_path, url, "--dump-dom", "--virtual-time-budget=5000").stdout
    assert "data-pwned" not in dom, "agent text was executed as markup"
    assert len(_rows(dom, "runs-table")) == 3
    leaderboard = _rows(dom, "leaderboard-table")
    assert [r[1] for r in leaderboard] == ["loop @ iter_000010", "gpt-4o", "base"]
    assert leaderboard[0][5].startswith("91.7") and leaderboard[2][5].startswith("25.0")
    assert 'alt="goal completion"' in _section(dom, "leaderboard")
    assert 'alt="training curves"' in _section(dom, "training") and len(_rows(dom, "training-table")) == 1
    assert len(_rows(dom, "behaviour-table")) == 15 and 'alt="behaviour metrics"' in _section(dom, "behaviour")

    # Trajectory viewer, built by the page's JavaScript: 8 episodes per run, each with turns and checks.
    viewer = _section(dom, "trajectories")
    assert viewer.count('<details class="episode') == 24
    assert "24 of 24 episodes shown" in viewer
    assert viewer.count('class="turn') >= 24 * 3 and "evaluation checks" in viewer and "PASS answer is correct" in viewer
    assert "8 of 12 episodes" in viewer  # the cap is stated
    assert "&lt;script&gt;document.body.dataset.pwned=1" in viewer  # shown as text

    # ROI panel, computed by the page (tests/analysis/test_roi_chromium.py checks its numbers against
    # looprl/analysis/roi.py): every run with an evaluation has a row, named after its measured TGC's source.
    roi = _rows(dom, "roi-table")
    assert [r[0] for r in roi] == ["base", "gpt-4o", "loop"]
    measured = _rows(dom, "roi-measured")
    assert measured[0][1] == "25.0% [6.0% to 63.5%] of 6" and "eval/iter_000010/rollouts.jsonl" in measured[2][5]
    assert "<svg" in _section(dom, "roi")

    # Filters and inputs read from the URL: only failures of the base run; 1,200 tasks a month at no token price.
    hash_ = "#run=base&success=fail&tasks_per_month=1200&price_per_million_tokens=0"
    dom2 = _browse(exe, tmp_path, url + hash_, "--dump-dom", "--virtual-time-budget=5000").stdout
    viewer2 = _section(dom2, "trajectories")
    visible = [m for m in re.findall(r'<details class="episode (pass|fail)"([^>]*)>', viewer2) if "hidden" not in m[1]]
    # base shows 8 of its 12 episodes: its 3 successes and 5 failures (the viewer keeps both kinds).
    assert len(visible) == 5 and all(kind == "fail" and 'data-run="base"' in attrs for kind, attrs in visible)
    assert "5 of 24 episodes shown" in viewer2
    # base: 25% of 1,200 tasks a month, 15 min each, 2 min to check every one: 12 * 1200 * (0.25 * 15 - 2) / 60 hours a year
    assert _rows(dom2, "roi-table")[0][1].startswith(f"{12 * 1200 * (0.25 * 15 - 2) / 60:,.0f} [")

    shot = tmp_path / "report.png"
    _browse(exe, tmp_path, url, f"--screenshot={shot}", "--window-size=1280,4200", "--hide-scrollbars", "--virtual-time-budget=5000")
    assert shot.stat().st_size > 50_000  # a real rendering, not a blank page
    keep = os.environ.get("LOOPRL_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(keep) / "report.html")
        shutil.copy(shot, Path(keep) / "report.png")


@pytest.mark.slow
def test_report_of_real_tiny_model_runs(tiny_model_dir, tmp_path):
    """A real `looprl eval` of the tiny model on the built-in world (appsuite: sandboxed REPL, the
    default scaffold with its worked example; 2 dev tasks x 2 samples, at most 2 turns) and a real
    2-iteration `looprl train` (configs/tiny-cpu.yaml, toy env), reported and rendered. The tiny
    model's output is noise, so the point is the plumbing from real run directories to the page."""
    from typer.testing import CliRunner

    from looprl.cli import app

    exe = _chromium()
    runner = CliRunner()
    eval_dir, train_dir = tmp_path / "eval-tiny", tmp_path / "train-tiny"
    res = runner.invoke(
        app,
        [
            "eval",
            "--model",
            str(tiny_model_dir),
            "--out",
            str(eval_dir),
            "--samples",
            "2",
            "--max-tasks",
            "2",
            "--no-progress",
            "--split",
            "dev",
            "--set",
            "env.name=appsuite",
            "--set",
            "env.eval_max_turns=2",
            "--set",
            "rollout.sampling.max_new_tokens=32",
        ],
    )
    assert res.exit_code == 0, res.output
    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    res = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(recipe),
            "--set",
            f"model.name_or_path={tiny_model_dir}",
            "--set",
            f"run_dir={train_dir}",
            "--set",
            "trainer.iterations=2",
            "--set",
            "trainer.eval_every=1",
            "--set",
            "trainer.tasks_per_iteration=2",
            "--set",
            "logging.tensorboard=false",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "report.html"
    res = runner.invoke(app, ["report", str(eval_dir), str(train_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output

    dom = _browse(exe, tmp_path, out.resolve().as_uri(), "--dump-dom", "--virtual-time-budget=5000").stdout
    assert [r[0] for r in _rows(dom, "runs-table")] == ["eval-tiny", "train-tiny"]
    leaderboard = _rows(dom, "leaderboard-table")
    assert {r[1] for r in leaderboard} == {"eval-tiny", "train-tiny @ iter_000002"}
    assert all(re.fullmatch(r"\d+\.\d( ± \d+\.\d)?", r[5]) for r in leaderboard)  # a measured TGC, not n/a
    training = _rows(dom, "training-table")
    assert training[0][:3] == ["train-tiny", "loop", "2"]
    assert all(cell != "n/a" for cell in training[0][3:])  # every curve of the six was logged by the real trainer
    assert 'alt="training curves"' in _section(dom, "training")
    behaviour = {r[0]: r[1:] for r in _rows(dom, "behaviour-table")}
    # The worked example's assistant messages in the prompt are not the agent's turns: 2 at most.
    assert 1 <= float(behaviour["turns / episode"][0]) <= 2 and behaviour["agent tokens / episode"][0] not in ("n/a", "0")
    viewer = _section(dom, "trajectories")
    n_eval = 4
    n_train_dev = len((train_dir / "eval" / "iter_000002" / "rollouts.jsonl").read_text().splitlines())
    assert viewer.count('<details class="episode') == n_eval + n_train_dev
    assert f"{n_eval + n_train_dev} of {n_eval + n_train_dev} episodes shown" in viewer
    assert viewer.count('class="turn') >= n_eval + n_train_dev and "evaluation checks" in viewer
    assert re.search(r"<li class=\"(pass|fail)\">(PASS|FAIL) \S", viewer)  # the world's checks, each with pass/fail
    assert [r[0] for r in _rows(dom, "roi-table")] == ["eval-tiny", "train-tiny"]

    shot = tmp_path / "report-real.png"
    _browse(exe, tmp_path, out.resolve().as_uri(), f"--screenshot={shot}", "--window-size=1280,3000", "--hide-scrollbars", "--virtual-time-budget=5000")
    assert shot.stat().st_size > 50_000
    keep = os.environ.get("LOOPRL_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(keep) / "report-real.html")
        shutil.copy(shot, Path(keep) / "report-real.png")


def test_missing_chromium_skips_outside_ci_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        _chromium()
