"""`looprl roi`: what an agent is worth, from measured runs and the user's own figures.

    looprl roi runs/demo/eval_before_heldout runs/demo/eval_after_heldout --set tasks_per_month=2000 --set minutes_per_task=20
    looprl roi --set tgc=0.713 --set n_eval_tasks=168 --set label="LOOP (paper)" --set price_per_million_tokens=0

Every formula and assumption is in looprl/analysis/roi.py's docstring; the inputs, with
their units and defaults, are listed by `looprl roi --help`. Reads run folders only: no model, no environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from looprl.analysis.roi import RoiInputs
from looprl.commands._common import console, fail, load_or_exit
from looprl.config import field_help

SET_HELP = "an input, KEY=VALUE (repeatable). Keys, with their defaults: " + "; ".join(
    f"{name} ({default}): {desc}" for name, default, desc in field_help(RoiInputs)
)
CONFIG_HELP = "YAML file of inputs (the --set keys); --set wins over it"


def _money(x: float) -> str:
    return f"{x:,.2f}" if abs(x) < 10 else f"{x:,.0f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _months(x: float | None, training: float | None) -> str:
    if training is None:
        return "unknown"
    if x is None:
        return "never"
    if x == 0:
        return "none needed"
    return "< 0.1 mo" if x < 0.1 else f"{x:.1f} mo"


def _span(est: dict[str, Any], key: str, fmt) -> str:
    lo, pt, hi = (getattr(est[k], key) for k in ("low", "point", "high"))
    if fmt(lo) == fmt(hi):
        return fmt(pt)
    return f"{fmt(pt)} [{fmt(lo)} to {fmt(hi)}]"


def roi_command(
    runs: list[Path] = typer.Argument(None, help="eval run folders (looprl eval --out), train runs with dev evaluations, or rollouts .jsonl files"),
    set_: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the inputs, the measured figures and the estimate as JSON"),
) -> None:
    """What an agent is worth: hours reclaimed, savings, serving and training cost, payback and break-even TGC,
    each as a range over the 95% interval of the measured TGC (formulas: looprl/analysis/roi.py)."""
    from looprl.analysis.roi import RoiError, apply_hand_entries, estimate, measure_run
    from looprl.analysis.runs import RunError
    from looprl.commands.report import _load_runs

    inputs = load_or_exit(RoiInputs, config, set_)
    loaded = _load_runs(list(runs or []))  # a missing or not-a-run folder: its message, exit 2
    try:
        measured = [apply_hand_entries(measure_run(r), inputs) for r in loaded] or [apply_hand_entries(None, inputs)]
        estimates = [estimate(inputs, m) for m in measured]
    except (RoiError, RunError) as exc:
        fail(str(exc))
    if as_json:
        from dataclasses import asdict

        rows = [{"measured": m.to_dict(), **{k: asdict(v) if k != "break_even_tgc" else v for k, v in e.items()}} for m, e in zip(measured, estimates)]
        typer.echo(json.dumps({"inputs": inputs.model_dump(), "runs": rows}, indent=2))
        return
    _print_table(inputs, measured, estimates)


def _print_table(inputs, measured, estimates) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="looprl roi: a year of the agent at the inputs below (point [95% interval of TGC])")
    table.add_column("")
    for m in measured:
        table.add_column(m.name, justify="right")

    def row(label: str, cells: list[str]) -> None:
        table.add_row(label, *cells)

    row("TGC (95% Wilson interval)", [f"{_pct(m.tgc)} [{_pct(m.tgc_interval[0])} to {_pct(m.tgc_interval[1])}] of {m.n_tasks}" for m in measured])
    row("context tokens / episode", ["n/a" if m.tokens_per_episode is None else f"{m.tokens_per_episode:,.0f}" for m in measured])
    row("seconds / episode (eval)", ["n/a" if m.seconds_per_episode is None else f"{m.seconds_per_episode:.2f}" for m in measured])
    row("training wall hours", ["unknown" if m.train_hours is None else f"{m.train_hours:.3g}" for m in measured])
    table.add_section()
    row("hours reclaimed / year", [_span(e, "hours_per_year", _money) for e in estimates])
    row("labour savings / year", [_span(e, "labour_savings_per_year", _money) for e in estimates])
    row("serving cost / year", [_span(e, "serving_cost_per_year", _money) for e in estimates])
    row("net savings / year", [_span(e, "net_savings_per_year", _money) for e in estimates])
    row("training cost (one time)", ["unknown" if e["point"].training_cost is None else _money(e["point"].training_cost) for e in estimates])
    row(
        "payback",
        [
            " ".join(
                [_months(e["point"].payback_months, e["point"].training_cost)]
                + (
                    [f"[{_months(e['low'].payback_months, e['low'].training_cost)} to {_months(e['high'].payback_months, e['high'].training_cost)}]"]
                    if _months(e["low"].payback_months, e["low"].training_cost) != _months(e["high"].payback_months, e["high"].training_cost)
                    else []
                )
            )
            for e in estimates
        ],
    )
    row("break-even TGC", [_pct(e["break_even_tgc"]) + (" (unreachable)" if e["break_even_tgc"] > 1 else "") for e in estimates])
    Console(soft_wrap=False, width=max(110, 34 + 40 * len(measured))).print(table)
    console.print(
        f"inputs: {inputs.tasks_per_month:g} tasks/month, {inputs.minutes_per_task:g} min/task by hand, {inputs.minutes_checking:g} min to check "
        f"each result, {inputs.hourly_cost:g}/h loaded cost, {inputs.price_per_million_tokens:g}/1M tokens, {inputs.serving_price_per_hour:g}/h "
        f"serving machine, {inputs.train_price_per_hour:g}/h training machine (change with --set KEY=VALUE; `looprl roi --help` lists them)",
        highlight=False,
    )
    for m in measured:
        console.print(f"{m.name}:", highlight=False)
        for key, where in m.sources.items():
            console.print(f"  {key}: {where}", highlight=False, markup=False)
