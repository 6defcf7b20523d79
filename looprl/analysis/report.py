"""`looprl report`: one static, self-contained HTML file about one or more runs.

The page opens from disk with no server and makes no request: figures are base64 PNGs, the
trajectory viewer and the ROI calculator are plain JavaScript embedded in the page, and a
Content-Security-Policy (``default-src 'none'``) forbids the browser from fetching anything.

Agent text is untrusted. Every string placed in HTML goes through `html.escape`; the trajectory
data travels as JSON inside a ``<script type="application/json">`` block with ``<``, ``>`` and ``&``
escaped, and the viewer puts it on the page with ``textContent`` only, never as markup.

Sections: runs, leaderboard (TGC/SGC per run and split), training curves, behaviour, trajectory
viewer, ROI (looprl/analysis/roi.py's estimate: the runs' measured figures, the user's inputs on
sliders, report.js's mirror of its formulas). To keep the file small the viewer shows at most ``max_episodes`` episodes
per run, ``max_turns`` turns per episode, ``max_chars`` characters per field, and about
``max_viewer_mb`` of transcripts in all; the page says so.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from looprl.analysis.behaviour import BEHAVIOUR_METRICS, agent_turn_indices
from looprl.analysis.metrics import goal_completion, summarize
from looprl.analysis.runs import Run, read_trajectories
from looprl.env.cells import extract_code_blocks
from looprl.trajectory import Trajectory

__all__ = ["build_report", "render_report"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)  # a fenced block, for showing the reasoning without it


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{100 * value:.1f}"
    if std is not None:
        text += f" ± {100 * std:.1f}"
    return text


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def _img(b64: str | None, alt: str) -> str:
    if b64 is None:
        return f'<p class="empty">No data to plot for {_e(alt)}.</p>'
    return f'<img class="chart" alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _script_json(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _cut(text: str | None, limit: int) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [cut: {len(text) - limit} more characters]"


# ---------------------------------------------------------------- leaderboard


def _leaderboard_rows(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        if not run.trajectories:
            continue
        label = run.name
        if run.kind == "train" and run.source.startswith("eval/"):
            label += f" @ {run.source.split('/')[1]}"
        by_split: dict[str, list[Trajectory]] = {}
        for t in run.trajectories:
            by_split.setdefault(t.split or run.info.get("split") or "unknown", []).append(t)
        for split, trajs in sorted(by_split.items()):
            s = summarize(trajs)
            rows.append({"run": label, "model": run.model, "method": run.method, "split": split, "summary": s})
    rows.sort(key=lambda r: (r["split"], -(r["summary"]["tgc"] or 0.0)))
    return rows


def _leaderboard_html(rows: list[dict[str, Any]]) -> str:
    from looprl.analysis.plots import bar_chart

    if not rows:
        return '<p class="empty">No run has evaluation rollouts.</p>'
    diffs = sorted({k for r in rows for k in r["summary"]["per_difficulty"]})
    head = "".join(f"<th>TGC d{_e(d)}</th>" for d in diffs)
    body = []
    rank, split = 0, None
    for r in rows:  # sorted by split, then TGC: the rank restarts on each split
        rank, split = (rank + 1, split) if r["split"] == split else (1, r["split"])
        s = r["summary"]
        repeated = s["n_runs"] > 1  # a spread exists only over repeated runs
        cells = "".join(f"<td>{_pct(s['per_difficulty'].get(d, {}).get('tgc'))}</td>" for d in diffs)
        body.append(
            f"<tr><td>{rank}</td><td>{_e(r['run'])}</td><td>{_e(r['model'])}</td><td>{_e(r['method'])}</td><td>{_e(r['split'])}</td>"
            f"<td class=num>{_pct(s['tgc'], s['tgc_std'] if repeated else None)}</td>"
            f"<td class=num>{_pct(s['sgc'], s['sgc_std'] if repeated else None)}</td>"
            f"<td>{s['n_tasks']}</td><td>{s['n_rollouts']}</td><td>{s['n_runs']}</td>{cells}</tr>"
        )
    labels = [f"{r['run']} ({r['split']})" for r in rows]
    chart = bar_chart(
        labels,
        {"TGC": [100 * (r["summary"]["tgc"] or 0) for r in rows], "SGC": [100 * (r["summary"]["sgc"] or 0) for r in rows]},
        {"TGC": [100 * (r["summary"]["tgc_std"] or 0) for r in rows], "SGC": [100 * (r["summary"]["sgc_std"] or 0) for r in rows]},
        ylabel="%",
        title="goal completion (error bars: std over repeated runs)",
        ylim=(0, 105),
    )
    return (
        '<table id="leaderboard-table"><thead><tr><th>#</th><th>run</th><th>model</th><th>method</th><th>split</th>'
        f"<th>TGC %</th><th>SGC %</th><th>tasks</th><th>rollouts</th><th>repeats</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>" + _img(chart, "goal completion") + _per_app_html(rows)
    )


def _per_app_html(rows: list[dict[str, Any]]) -> str:
    """TGC % per app (rows) for every leaderboard entry (columns); a task counts for each of its apps."""
    apps = sorted({a for r in rows for a in r["summary"]["per_app"]})
    if not apps:
        return ""
    head = "".join(f"<th>{_e(r['run'])} ({_e(r['split'])})</th>" for r in rows)
    body = "".join(
        f"<tr><td>{_e(app)}</td>"
        + "".join(
            f"<td class=num>{_pct(g['tgc'])} <small>({g['n_tasks']})</small></td>" if (g := r["summary"]["per_app"].get(app)) else "<td>–</td>" for r in rows
        )
        + "</tr>"
        for app in apps
    )
    return (
        "<details><summary>TGC % per app (tasks evaluated in parentheses)</summary>"
        f'<table id="per-app-table"><thead><tr><th>app</th>{head}</tr></thead><tbody>{body}</tbody></table></details>'
    )


# ---------------------------------------------------------------- training curves


def _dev_tgc_from_evals(run: Run) -> list[tuple[float, float]]:
    points = []
    for it, folder in run.evals.items():
        summary_path = folder / "summary.json"
        value = None
        if summary_path.is_file():
            try:
                value = json.loads(summary_path.read_text()).get("tgc")
            except json.JSONDecodeError:
                value = None
        if value is None:
            value = goal_completion(read_trajectories(folder / "rollouts.jsonl"))["tgc"]
        if value is not None:
            points.append((it, 100 * value))
    return points


def _training_series(run: Run) -> dict[str, list[tuple[float, float]]]:
    from looprl.analysis.plots import TRAINING_PANELS

    out: dict[str, list[tuple[float, float]]] = {}
    rows = [{"iteration": i, **row} for i, row in enumerate(run.metrics)]  # a row's own iteration wins
    for title, keys, _ in TRAINING_PANELS:
        points = []
        for r in rows:
            value = next((r[k] for k in keys if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)), None)
            if value is not None:
                points.append((r["iteration"], value))
        if title == "dev TGC":
            points = [(x, 100 * y) for x, y in points] or _dev_tgc_from_evals(run)
        if title == "wall time per iteration" and not points:
            walls = [(r["iteration"], r["wall_s"]) for r in rows if isinstance(r.get("wall_s"), (int, float))]
            points = [(b[0], b[1] - a[1]) for a, b in zip(walls, walls[1:])]
        out[title] = points
    return out


def _training_html(runs: list[Run]) -> str:
    from looprl.analysis.plots import TRAINING_PANELS, training_curves

    train_runs = [r for r in runs if r.metrics]
    if not train_runs:
        return '<p class="empty">None of the runs is a training run (no metrics.jsonl).</p>'
    series = {r.name: _training_series(r) for r in train_runs}
    rows = []
    for r in train_runs:
        last = r.metrics[-1]
        cells = "".join(f"<td>{_num(series[r.name][t][-1][1]) if series[r.name][t] else 'n/a'}</td>" for t, _, _ in TRAINING_PANELS)
        rows.append(f"<tr><td>{_e(r.name)}</td><td>{_e(r.method)}</td><td>{_e(last.get('iteration'))}</td>{cells}</tr>")
    head = "".join(f"<th>{_e(t)} (last)</th>" for t, _, _ in TRAINING_PANELS)
    return (
        _img(training_curves(series), "training curves")
        + f'<table id="training-table"><thead><tr><th>run</th><th>method</th><th>iterations</th>{head}</tr></thead>'
        + f"<tbody>{''.join(rows)}</tbody></table>"
    )


# ---------------------------------------------------------------- behaviour


def _behaviour_html(runs: list[Run]) -> str:
    from looprl.analysis.plots import behaviour_chart

    runs = [r for r in runs if r.trajectories]
    if not runs:
        return '<p class="empty">No run has rollouts to analyse.</p>'
    values = {r.name: summarize(r.trajectories)["behaviour"] for r in runs}
    names = list(values)
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    ratio_head = "".join(f"<th>{_e(n)} / {_e(names[0])}</th>" for n in names[1:])
    body = []
    for key, (label, _better) in BEHAVIOUR_METRICS.items():
        vals = [values[n].get(key) for n in names]
        ratios = ["n/a" if v is None or not vals[0] else f"{v / vals[0]:.2f}×" for v in vals[1:]]
        body.append(
            f'<tr data-key="{_e(key)}"><td>{_e(label)}</td>'
            + "".join(f"<td class=num>{_num(v)}</td>" for v in vals)
            + "".join(f"<td class=num>{x}</td>" for x in ratios)
            + "</tr>"
        )
    chart = behaviour_chart(names, [(label, [values[n].get(key) for n in names]) for key, (label, _) in BEHAVIOUR_METRICS.items()])
    return (
        f'<table id="behaviour-table"><thead><tr><th>metric</th>{head}{ratio_head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        + '<p class="note">Charts show the metrics that are non-zero in some run; the table has them all.</p>'
        + _img(chart, "behaviour metrics")
    )


# ---------------------------------------------------------------- trajectory viewer data


def _pick(trajs: list[Trajectory], n: int) -> list[Trajectory]:
    """Up to n episodes, half successes and half failures where both exist, in file order."""
    if len(trajs) <= n:
        return trajs
    wins = [t for t in trajs if t.success][: n // 2]
    losses = [t for t in trajs if not t.success][: n - len(wins)]
    chosen = {id(t) for t in wins + losses}
    chosen |= {id(t) for t in [t for t in trajs if id(t) not in chosen][: n - len(chosen)]}
    return [t for t in trajs if id(t) in chosen]


def _episode(run: Run, t: Trajectory, max_turns: int, max_chars: int) -> dict[str, Any]:
    msgs = t.messages
    agent_idx = agent_turn_indices(t)
    first_agent = agent_idx[0] if agent_idx else len(msgs)
    prompt = next((m.get("content") or "" for m in reversed(msgs[:first_agent]) if m.get("role") != "assistant"), "")
    turns = []
    for n, i in enumerate(agent_idx[:max_turns]):
        text = msgs[i].get("content") or ""
        step = t.steps[n] if n < len(t.steps) and isinstance(t.steps[n], dict) else {}
        observation = next((m.get("content") for m in msgs[i + 1 :] if m.get("role") != "assistant"), None)
        output = step.get("output") if step.get("output") is not None else observation
        calls = [
            {
                "endpoint": f"{c.get('app')}.{c.get('api')}",
                "ok": c.get("ok"),
                "status": c.get("status"),
                "args": _cut(json.dumps(c.get("args"), default=str), 300),
            }
            for c in (step.get("api_calls") or [])[:50]
            if isinstance(c, dict)
        ]
        turns.append(
            {
                "reasoning": _cut(_FENCED.sub("", text).strip(), max_chars),
                "code": _cut("\n\n".join(extract_code_blocks(text)), max_chars),
                "output": _cut(output if isinstance(output, str) else json.dumps(output, default=str), max_chars),
                "error": bool(step.get("error")),
                "api_calls": calls,
            }
        )
    return {
        "run": run.name,
        "method": run.method,
        "model": run.model,
        "task_id": t.task_id,
        "sample": t.sample_index,
        "success": bool(t.success),
        "reward": t.reward,
        "terminated": bool(t.terminated),
        "truncated": bool(t.truncated),
        "n_turns": len(agent_idx),
        "turns": turns,
        "turns_cut": max(0, len(agent_idx) - max_turns),
        "task": prompt if len(prompt) <= max_chars else f"[{len(prompt) - max_chars} earlier characters not shown] …" + prompt[-max_chars:],
        "answer": _cut(json.dumps(t.answer, default=str), 500) if t.answer is not None else None,
        "checks": [
            {"name": str(c.get("name", "")), "passed": bool(c.get("passed")), "detail": _cut(str(c.get("detail") or ""), 500)}
            for c in t.checks
            if isinstance(c, dict)
        ],
    }


# ---------------------------------------------------------------- ROI


# The report's sliders: RoiInputs field -> (label, min, max, step); defaults are RoiInputs' own.
ROI_SLIDERS = {
    "tasks_per_month": ("tasks a month", 0, 20000, 100),
    "minutes_per_task": ("minutes a person spends on one task", 1, 240, 1),
    "minutes_checking": ("minutes to check one agent result", 0, 60, 0.5),
    "hourly_cost": ("loaded cost of a person-hour", 5, 300, 1),
    "price_per_million_tokens": ("price per million tokens", 0, 30, 0.1),
    "serving_price_per_hour": ("price of a serving machine-hour", 0, 100, 0.5),
    "train_price_per_hour": ("price of a training machine-hour", 0, 200, 0.5),
}


def _roi_data(runs: list[Run]) -> dict[str, Any]:
    """What the ROI panel needs: each run's measured figures with their sources (or why a run has
    none), and the sliders with RoiInputs' defaults."""
    from looprl.analysis.roi import RoiInputs, measure_run
    from looprl.analysis.runs import RunError

    defaults = RoiInputs()
    measured, skipped = [], []
    for run in runs:
        try:
            measured.append(measure_run(run).to_dict())
        except RunError as exc:
            skipped.append({"run": run.name, "why": str(exc)})
    sliders = [
        {"key": key, "label": label, "min": lo, "max": hi, "step": step, "value": getattr(defaults, key), "help": RoiInputs.model_fields[key].description}
        for key, (label, lo, hi, step) in ROI_SLIDERS.items()
    ]
    return {"runs": measured, "skipped": skipped, "sliders": sliders}


# ---------------------------------------------------------------- page


def _viewer_episodes(runs: list[Run], max_episodes: int, max_turns: int, max_chars: int, max_bytes: int) -> tuple[list[dict], list[dict]]:
    """The episodes the viewer embeds, and per run how many of how many. Beyond ``max_bytes`` of
    JSON in all, episodes are dropped from the end of whichever run shows the most, one at a time."""
    per_run = [[_episode(run, t, max_turns, max_chars) for t in _pick(run.trajectories, max_episodes)] for run in runs]
    sizes = [[len(json.dumps(e, ensure_ascii=False, default=str)) for e in eps] for eps in per_run]
    total = sum(map(sum, sizes))
    while total > max_bytes and any(per_run):
        longest = max(range(len(per_run)), key=lambda i: len(per_run[i]))
        per_run[longest].pop()
        total -= sizes[longest].pop()
    caps = [{"run": run.name, "shown": len(eps), "total": len(run.trajectories), "source": run.source} for run, eps in zip(runs, per_run)]
    return [e for eps in per_run for e in eps], caps


def render_report(
    runs: list[Run], *, title: str = "looprl report", max_episodes: int = 40, max_turns: int = 30, max_chars: int = 2000, max_viewer_mb: float = 8.0
) -> str:
    """The report as one HTML string (see the module docstring for what it holds and guarantees)."""
    if not runs:
        raise ValueError("render_report needs at least one run")
    leaderboard = _leaderboard_rows(runs)
    episodes, caps = _viewer_episodes(runs, max_episodes, max_turns, max_chars, int(max_viewer_mb * 1e6))
    data = {
        "episodes": episodes,
        "caps": caps,
        "limits": {"max_episodes": max_episodes, "max_turns": max_turns, "max_chars": max_chars, "max_viewer_mb": max_viewer_mb},
        "leaderboard": [{"run": r["run"], "method": r["method"], "model": r["model"], "split": r["split"], "tgc": r["summary"]["tgc"]} for r in leaderboard],
        "roi": _roi_data(runs),
    }
    run_rows = "".join(
        f"<tr><td>{_e(r.name)}</td><td>{_e(r.kind)}</td><td>{_e(r.model)}</td><td>{_e(r.method)}</td><td>{_e(r.split)}</td>"
        f"<td>{len(r.trajectories)}</td><td>{len(r.metrics)}</td><td><code>{_e(r.path)}</code></td><td>{_e(r.info.get('created', ''))}</td></tr>"
        for r in runs
    )
    css = resources.files("looprl.analysis").joinpath("report.css").read_text()
    js = resources.files("looprl.analysis").joinpath("report.js").read_text()
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        (
            "runs",
            "Runs",
            f'<table id="runs-table"><thead><tr><th>name</th><th>kind</th><th>model</th><th>method</th><th>split</th>'
            f"<th>rollouts</th><th>iterations</th><th>path</th><th>created</th></tr></thead><tbody>{run_rows}</tbody></table>",
        ),
        (
            "leaderboard",
            "Leaderboard",
            "<p>TGC: share of tasks whose every check passed. SGC: share of scenarios whose tasks all passed. "
            "± is the standard deviation over repeated evaluation runs (docs/metrics.md).</p>" + _leaderboard_html(leaderboard),
        ),
        ("training", "Training curves", _training_html(runs)),
        (
            "behaviour",
            "Behaviour",
            "<p>How the agents act, as the LOOP paper measures it (definitions in docs/metrics.md); "
            "ratios are relative to the first run.</p>" + _behaviour_html(runs),
        ),
        ("trajectories", "Trajectories", _VIEWER_HTML),
        ("roi", "What the agent is worth (ROI)", _ROI_HTML),
    ]
    nav = " · ".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "\n".join(f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>' for sid, name, content in sections)
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name=viewport content="width=device-width, initial-scale=1"><title>{_e(title)}</title><style>{css}</style></head>\n'
        f"<body><header><h1>{_e(title)}</h1><p class=meta>generated {generated} · {len(runs)} run(s) · {nav}</p></header>\n"
        f"{body}\n"
        f'<script type="application/json" id="looprl-data">{_script_json(data)}</script>\n'
        f"<script>{js}</script></body></html>\n"
    )


def build_report(run_paths: list[str | Path], out: str | Path, **options: Any) -> Path:
    """Load the runs, render the report and write it atomically to ``out``."""
    from looprl.analysis.runs import load_run
    from looprl.utils.io import atomic_write_text

    runs = [load_run(p) for p in run_paths]
    out = Path(out)
    atomic_write_text(out, render_report(runs, **options))
    return out


_VIEWER_HTML = """
<p id="viewer-note" class=note></p>
<div class=filters>
  <label>task <select id="f-task"><option value="">all</option></select></label>
  <label>outcome <select id="f-success"><option value="">all</option><option value="pass">success</option><option value="fail">failure</option></select></label>
  <label>method <select id="f-method"><option value="">all</option></select></label>
  <label>run <select id="f-run"><option value="">all</option></select></label>
  <span id="f-count"></span>
</div>
<div id="episodes"></div>
<noscript><p class=empty>The trajectory viewer needs JavaScript.</p></noscript>
"""

_ROI_HTML = """
<p>What each run's agent would be worth taking tasks off a person's hands. Move the sliders; the
measured figures come from the run folders (each names its file). A success saves the person the task
less the time to check it; a failure costs the check on top of doing the task by hand; every task is
served, solved or not. Each output is given at the measured TGC and, in brackets, at both ends of its
95% Wilson interval; the break-even TGC is where net savings are zero. Formulas and assumptions:
looprl/analysis/roi.py (the same as <code>looprl roi</code>).</p>
<div class="roi-inputs" id="roi-inputs"></div>
<table id="roi-measured"><thead><tr><th>run</th><th>TGC [95% interval], tasks</th><th>context tokens / episode</th>
<th>seconds / episode</th><th>training hours</th><th>where the figures come from</th></tr></thead><tbody></tbody></table>
<table id="roi-table"><thead><tr><th>run</th><th>hours reclaimed / year</th><th>labour savings / year</th><th>serving cost / year</th>
<th>net savings / year</th><th>training cost (once)</th><th>payback</th><th>break-even TGC</th></tr></thead><tbody></tbody></table>
<p class=note id="roi-skipped"></p>
<div id="roi-chart"></div>
<noscript><p class=empty>The ROI calculator needs JavaScript.</p></noscript>
"""
