"""`looprl report` (a static HTML report of runs) and `looprl compare` (every metric side by side).

Both read run directories as docs/run-layout.md describes them (or bare rollouts .jsonl files) and
need nothing else: no model, no environment, no network. Heavy work lives in looprl.analysis and is
imported inside the commands so `looprl --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from looprl.commands._common import console, fail


def _load_runs(paths: list[Path]):
    from looprl.analysis.runs import RunError, load_run

    runs = []
    for p in paths:
        try:
            runs.append(load_run(p))
        except RunError as exc:
            fail(str(exc))
    return runs


def report_command(
    runs: list[Path] = typer.Argument(..., help="run directories (looprl eval --out / looprl train) or rollouts .jsonl files"),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write"),
    title: str = typer.Option("looprl report", help="title shown at the top of the page"),
    max_episodes: int = typer.Option(40, min=0, help="episodes per run shown in the trajectory viewer"),
    max_turns: int = typer.Option(30, min=1, help="turns per episode shown in the trajectory viewer"),
    max_chars: int = typer.Option(2000, min=100, help="characters per text field shown (longer ones are cut, with a note)"),
    max_viewer_mb: float = typer.Option(8.0, min=0.1, help="about this many MB of transcripts in all; beyond it, episodes are dropped"),
) -> None:
    """Write ONE self-contained HTML file: leaderboard, training curves, behaviour, trajectories, ROI calculator."""
    from looprl.analysis.report import render_report
    from looprl.utils.io import atomic_write_text

    loaded = _load_runs(runs)
    atomic_write_text(out, render_report(loaded, title=title, max_episodes=max_episodes, max_turns=max_turns, max_chars=max_chars, max_viewer_mb=max_viewer_mb))
    size_kb = out.stat().st_size / 1024
    console.print(f"wrote {out} ({size_kb:.0f} KiB, {len(loaded)} run(s)); open it in a browser, no server needed")


def _fmt(value, key: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, list):  # an interval
        return "[" + ", ".join(_fmt(v, key.removesuffix("_ci95")) for v in value) + "]"
    if key.endswith("tgc") or key.endswith("sgc") or key.endswith("_std") or key.endswith("_share") or key == "behaviour/give_up_rate":
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def _paired_line(a: str, b: str, paired: dict | None) -> str:
    """One line per later run: B - A on the shared tasks, with its interval and the tasks each side won."""
    if paired is None:
        return f"{b} - {a}: no task in common, so no paired comparison"
    t, r = paired["tgc"], paired["reward"]
    verdict = f"{b if t['diff'] > 0 else a} is better" if t["separated"] else "not separated (the interval includes 0)"
    return (
        f"{b} - {a} on {paired['n_shared']} shared tasks: TGC {100 * t['diff']:+.1f} points, 95% CI [{100 * t['ci95'][0]:+.1f}, {100 * t['ci95'][1]:+.1f}] "
        f"({b} better on {t['b_better']} tasks, {a} on {t['a_better']}); reward {r['diff']:+.3f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]; "
        f"{verdict}"
    )


def compare_command(
    runs: list[Path] = typer.Argument(..., help="two or more run directories (or rollouts .jsonl files); ratios are relative to the first"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON instead of a table"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="also write the JSON comparison to this file"),
) -> None:
    """Compare runs side by side: every metric, with each run's ratio to the first (B/A, as the paper compares base and LOOP)."""
    from looprl.analysis.compare import compare_runs

    if len(runs) < 2:
        fail(f"compare needs at least two runs; got {len(runs)}")
    result = compare_runs(_load_runs(runs))
    if out is not None:
        from looprl.utils.io import atomic_write_json

        atomic_write_json(out, result)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    names = [r["name"] for r in result["runs"]]
    table = Table(title="looprl compare", show_lines=False)
    table.add_column("metric")
    for n in names:
        table.add_column(n, justify="right")
    for n in names[1:]:
        table.add_column(f"{n} / {names[0]}", justify="right")
    group = None
    for row in result["metrics"]:
        if row["group"] != group:
            group = row["group"]
            table.add_section()
        ratios = ["n/a" if r is None else f"{r:.2f}x" for r in row["ratios"]]
        table.add_row(row["label"], *[_fmt(v, row["key"]) for v in row["values"]], *ratios)
    Console(soft_wrap=False, width=max(100, 40 + 22 * (2 * len(names) - 1))).print(table)
    for r, paired in zip(result["runs"][1:], result["paired"]):
        console.print(_paired_line(names[0], r["name"], paired), highlight=False)
    for r in result["runs"]:
        console.print(
            f"{r['name']}: {r['kind']} run, model {r['model']}, method {r['method']}, split {r['split']}, rollouts from {r['source'] or '-'} ({r['path']})",
            highlight=False,
        )
