"""`looprl world ...`: explore the built-in world (apps, APIs, tasks) and check its ground truths.

    looprl world apps                      every app with its API count and description
    looprl world apis APP                  an app's APIs (name, token?, description); --json for the full docs
    looprl world tasks --split dev         a table of tasks (filter by split, difficulty, app; --instances N per scenario)
    looprl world show TASK_ID              instruction, split, difficulty, apps, ground-truth code
    looprl world solve TASK_ID             run the ground truth in-process and print the check report
    looprl world stats --json              counts: apps, APIs, scenarios, tasks per split and difficulty,
                                           distinct instances among --instances N per scenario, and each
                                           scenario's number of distinct instances (up to --limit)
    looprl world validate --instances 30   every ground truth passes all its checks, doing nothing fails at
                                           least one, instances are distinct; exit 1 on any failure

The world is imported inside each command so `looprl --help` stays fast. `world_stats()` and
`looprl.world.validation` are the plain functions behind `stats` and `validate`, for tests and scripts.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.syntax import Syntax
from rich.table import Table

from looprl.commands._common import fail

app = typer.Typer(help="Explore the built-in world: apps, APIs, tasks; run and validate ground truths.", no_args_is_help=True)
_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)

JSON_HELP = "print JSON instead of a table"


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _task_or_exit(task_id: str):
    from looprl.world.tasks import get_task

    try:
        return get_task(task_id)
    except KeyError as exc:
        fail(str(exc.args[0]))


# --------------------------------------------------------------------------------------------------
# Plain functions (used by the commands, tests and benchmarks)


def world_stats(instances: int = 3, limit: int = 100) -> dict[str, Any]:
    """Counts of the world's apps, APIs, scenarios and tasks (per split and per difficulty) over
    ``instances`` instances per scenario, with how many of those are distinct (instruction and
    outcome), and the held-out instances of the training scenarios as split ``heldout``.
    ``distinct_instances`` gives each scenario's number of distinct instances (training scenarios:
    its training and its held-out ones), a count ``n`` or a lower bound ``">= limit"``; drawing past
    a count raises `ScenarioExhausted`."""
    from looprl.world.core import all_apps
    from looprl.world.tasks import HELDOUT, SPLITS, distinct_instances, load_tasks, scenarios

    apps = all_apps()
    scens = scenarios()
    per_split: dict[str, Any] = {}
    tasks = []
    for split in SPLITS + (HELDOUT,):
        in_split = load_tasks(split, instances=instances)
        tasks += in_split
        per_split[split] = {
            "scenarios": len({t.scenario for t in in_split}),
            "tasks": len(in_split),
            "distinct_instructions": len({t.instruction for t in in_split}),
            "distinct_outcomes": len({t.outcome_key for t in in_split}),
            "worlds": len({t.world for t in in_split}),
            "by_difficulty": {str(d): sum(1 for t in in_split if t.difficulty == d) for d in (1, 2, 3)},
            "apps": sorted({a for t in in_split for a in t.apps}),
        }

    def distinct(name: str, heldout: bool = False) -> int | str:
        count, exact = distinct_instances(name, heldout=heldout, limit=limit)
        return count if exact else f">= {count}"

    per_scenario = {
        name: {"split": sdef.split, "distinct": distinct(name)} | ({"distinct_heldout": distinct(name, heldout=True)} if sdef.split == "train" else {})
        for name, sdef in sorted(scens.items())
    }
    return {
        "apps": len(apps),
        "apis": sum(len(a.apis) for a in apps.values()),
        "apis_per_app": {name: len(a.apis) for name, a in apps.items()},
        "scenarios": len(scens),
        "instances_per_scenario": instances,
        "tasks": len(tasks),
        "tasks_by_difficulty": {str(d): sum(1 for t in tasks if t.difficulty == d) for d in (1, 2, 3)},
        "splits": per_split,
        "tasks_per_app": dict(sorted(Counter(a for t in tasks for a in t.apps).items())),
        "distinct_instances": per_scenario,
    }


# --------------------------------------------------------------------------------------------------
# Commands


@app.command("apps")
def apps_command(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List every app with its number of APIs and its description."""
    from looprl.world.core import all_apps

    rows = [{"app": name, "apis": len(spec.apis), "description": spec.description} for name, spec in all_apps().items()]
    if as_json:
        _echo_json(rows)
        return
    table = Table("app", "APIs", "description", title=f"{len(rows)} apps, {sum(r['apis'] for r in rows)} APIs")
    for r in rows:
        table.add_row(r["app"], str(r["apis"]), r["description"])
    _out.print(table)


@app.command("apis")
def apis_command(
    app_name: str = typer.Argument(..., metavar="APP", help="the app, e.g. music (see `looprl world apps`)"),
    as_json: bool = typer.Option(False, "--json", help="print every API's full documentation (parameters, response) as JSON"),
) -> None:
    """List an app's APIs: name, whether it needs an access token, description."""
    from looprl.world.core import all_apps

    apps = all_apps()
    if app_name not in apps:
        fail(f"unknown app {app_name!r}; apps are: {', '.join(apps)}")
    specs = apps[app_name].apis
    if as_json:
        _echo_json([s.doc() for s in specs.values()])
        return
    table = Table("api", "token", "changes state", "description", title=f"{app_name}: {len(specs)} APIs")
    for name, s in specs.items():
        table.add_row(name, "yes" if s.protected else "no", "yes" if s.mutates else "no", s.description)
    _out.print(table)


@app.command("tasks")
def tasks_command(
    split: Optional[str] = typer.Option(
        None, "--split", help="only this split: train, dev, test_normal, test_challenge or heldout (held-out instances of the training scenarios)"
    ),
    difficulty: Optional[int] = typer.Option(None, "--difficulty", min=1, max=3, help="only tasks of this difficulty (1-3)"),
    app_name: Optional[str] = typer.Option(None, "--app", help="only tasks that use this app"),
    instances: int = typer.Option(3, "--instances", min=1, help="instances per scenario (instance numbers 1..N; held-out ones from 100001)"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List tasks with their split, difficulty, apps and instruction."""
    from looprl.world.tasks import HELDOUT, SPLITS, load_tasks

    if split is not None and split not in SPLITS + (HELDOUT,):
        fail(f"--split must be one of {', '.join(SPLITS + (HELDOUT,))}, got {split!r}")
    tasks = load_tasks(split, difficulties=[difficulty] if difficulty else None, instances=instances)
    if app_name is not None:
        tasks = [t for t in tasks if app_name in t.apps]
    if as_json:
        _echo_json([t.summary() for t in tasks])
        return
    table = Table("task", "split", "world", "diff.", "apps", "instruction", title=f"{len(tasks)} tasks")
    for t in tasks:
        table.add_row(t.id, t.split, str(t.world), str(t.difficulty), ", ".join(t.apps), t.instruction)
    _out.print(table)


@app.command("show")
def show_command(
    task_id: str = typer.Argument(..., help="the task id, e.g. todo_add_task_1 (see `looprl world tasks`)"),
    as_json: bool = typer.Option(False, "--json", help="print the task (with its ground truth and expected answer) as JSON"),
) -> None:
    """Show a task: instruction, split, difficulty, apps, expected answer and ground-truth code."""
    task = _task_or_exit(task_id)
    info = {**task.summary(), "now": task.now.isoformat(), "solution": task.solution}
    if task.is_question:
        info["answer"] = task.answer
    if as_json:
        _echo_json(info)
        return
    _out.print(f"[bold]{task.id}[/]  split={task.split}  difficulty={task.difficulty}  apps={', '.join(task.apps)}  now={info['now']}")
    _out.print(f"[bold]instruction:[/] {task.instruction}", highlight=False)
    if task.is_question:
        _out.print(f"[bold]expected answer:[/] {task.answer!r}", highlight=False)
    _out.print("[bold]ground truth:[/]")
    _out.print(Syntax(task.solution, "python", line_numbers=False, word_wrap=True))


@app.command("solve")
def solve_command(
    task_id: str = typer.Argument(..., help="the task id, e.g. todo_add_task_1"),
    as_json: bool = typer.Option(False, "--json", help="print the evaluation report as JSON"),
    show_output: bool = typer.Option(False, "--output", help="also print what the ground truth printed"),
) -> None:
    """Run a task's ground truth in a fresh world and print the check report (exit 1 if a check fails)."""
    from looprl.world.runner import solve

    task = _task_or_exit(task_id)
    world, output, ran = solve(task)
    report = world.evaluate()
    if as_json:
        _echo_json({"task_id": task.id, "ran": ran, "api_calls": len(world.call_log), **report.to_dict()})
    else:
        if show_output or not ran:
            _out.print(output, highlight=False, markup=False)
        table = Table("check", "passed", "detail", title=f"{task.id}: reward {report.reward:.2f}, success {report.success}, {len(world.call_log)} API calls")
        for c in report.checks:
            table.add_row(c.name, "[green]yes[/]" if c.passed else "[red]no[/]", c.detail)
        _out.print(table)
    if not (ran and report.success):
        raise typer.Exit(1)


@app.command("stats")
def stats_command(
    instances: int = typer.Option(3, "--instances", min=1, help="instances per scenario to count"),
    limit: int = typer.Option(100, "--limit", min=1, help="count each scenario's distinct instances up to this many (more shows as '>= limit')"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Count apps, APIs, scenarios, and tasks per split and difficulty, how many are distinct, and
    each scenario's number of distinct instances (drawing past it is an error, not a repeat)."""
    from looprl.world.tasks import ScenarioExhausted

    try:
        stats = world_stats(instances, limit)
    except ScenarioExhausted as exc:
        fail(str(exc))
    if as_json:
        _echo_json(stats)
        return
    _out.print(f"{stats['apps']} apps, {stats['apis']} APIs, {stats['scenarios']} scenarios, {stats['tasks']} tasks")
    table = Table(
        "split",
        "scenarios",
        "tasks",
        "distinct",
        "worlds",
        "d1",
        "d2",
        "d3",
        "apps",
        caption=f"{instances} instances per scenario; distinct: tasks with an instruction and an outcome of their own; d1-d3: tasks per difficulty",
    )
    for split, s in stats["splits"].items():
        d = s["by_difficulty"]
        distinct = min(s["distinct_instructions"], s["distinct_outcomes"])
        table.add_row(split, str(s["scenarios"]), str(s["tasks"]), str(distinct), str(s["worlds"]), str(d["1"]), str(d["2"]), str(d["3"]), ", ".join(s["apps"]))
    _out.print(table)
    per = Table("scenario", "split", "distinct instances", "held-out", caption=f"instances a scenario can draw before it runs out (counted up to {limit})")
    for name, s in stats["distinct_instances"].items():
        per.add_row(name, s["split"], str(s["distinct"]), str(s.get("distinct_heldout", "")))
    _out.print(per)


@app.command("validate")
def validate_command(
    split: Optional[str] = typer.Option(None, "--split", help="only this split's scenarios (default: every split)"),
    task_prefix: Optional[str] = typer.Option(None, "--prefix", help="only scenarios whose name starts with this, e.g. music_"),
    instances: int = typer.Option(3, "--instances", min=1, help="instances per scenario (and a third as many held-out ones per training scenario)"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON summary (counts and every failure)"),
) -> None:
    """Check every scenario's instances: each ground truth passes all checks, doing nothing fails at
    least one, the instruction has >= 3 phrasings, and instances are pairwise distinct in instruction
    and outcome, held-out ones disjoint from training ones (exit 1 on any failure)."""
    from looprl.world.tasks import SPLITS, split_scenarios
    from looprl.world.validation import validate_scenario

    if split is not None and split not in SPLITS:
        fail(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    names = [n for s in ([split] if split else SPLITS) for n in split_scenarios(s)]
    if task_prefix:
        names = [n for n in names if n.startswith(task_prefix)]
    if not names:
        fail("no scenario matches" + (f" --prefix {task_prefix!r}" if task_prefix else ""))
    started = time.perf_counter()
    reports = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=_err, transient=True, disable=as_json) as progress:
        bar = progress.add_task("validating", total=len(names))
        for name in names:
            progress.update(bar, description=name)
            reports.append(validate_scenario(name, instances))
            progress.advance(bar)
    failures = [
        {"scenario": r["scenario"], "problems": r["problems"] + [f"{t['task_id']}: {p}" for t in r["results"] if not t["ok"] for p in t["problems"]]}
        for r in reports
        if not r["ok"]
    ]
    summary = {
        "scenarios": len(reports),
        "tasks": sum(r["tasks"] for r in reports),
        "instances_per_scenario": instances,
        "passed": len(reports) - len(failures),
        "failed": len(failures),
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if as_json:
        _echo_json(summary)
    else:
        for f in failures:
            _out.print(f"[red]FAIL[/] {f['scenario']}: " + " | ".join(f["problems"][:6]), highlight=False)
        colour = "green" if not failures else "red"
        _out.print(f"[{colour}]{summary['passed']}/{summary['scenarios']} scenarios valid[/] ({summary['tasks']} tasks) in {summary['seconds']:.1f}s")
    if failures:
        raise typer.Exit(1)
