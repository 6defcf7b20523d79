"""What a trained agent is worth: a cost-and-benefit estimate grounded in measured runs.

`looprl roi` and the report's ROI panel both use this module (report.js mirrors `outcome` and
`break_even_tgc` line by line; a browser test checks they agree). The person's side of the ledger
is what the user types (`RoiInputs`); the agent's side is what a run measured (`Measured`).

Symbols: N tasks a month, m minutes a person spends doing one task by hand, c minutes a person
spends checking one agent result, h loaded cost of a person-hour, p the agent's TGC (a task counts as
done only when every check passed), k context tokens per episode, P price per million tokens, s
measured seconds per episode, G price of an hour of the serving machine, H training wall hours, R
price of an hour of the training machine.

    minutes saved a month   = N * (p * m - c)
                              (without the agent: N * m; with it: every result checked, N * c, and
                              every failure done by hand, N * (1 - p) * m. So a success saves m - c
                              and a failure costs c on top of the work itself.)
    hours reclaimed a year  = 12 * N * (p * m - c) / 60            (negative: the agent costs time)
    labour savings a year   = hours reclaimed a year * h
    serving cost per task   = k / 1e6 * P + s / 3600 * G           (every task is attempted, solved or not)
    serving cost a year     = 12 * N * serving cost per task
    net savings a year      = labour savings a year - serving cost a year
    training cost           = H * R                                (one time)
    payback (months)        = training cost / (net savings a year / 12), when net savings > 0; else never
    break-even TGC          = (c + 60 * serving cost per task / h) / m
                              (the p at which net savings are 0; it does not depend on N; above 1: unreachable)

Assumptions, stated once:

* A partly done task is worth nothing: the person does it again from the start. TGC, not the mean
  reward, is the share of tasks the agent takes off the person's hands.
* The person checks every result, and checking finds every failure (no failure slips through).
* k counts each context token once (`tokens_per_episode` in docs/metrics.md: the episode's final
  context), as a server with prefix caching processes it. An API that bills the whole context again on
  every turn charges up to `turns` times that: raise P by that factor.
* s is the eval run's wall time per finished episode (`rollout.wall_s / rollout.finished` in
  summary.json), at the eval's concurrency and on the machine it ran on, which may not be the serving one.
* H is the sum of `time/iteration_s` over the training run's metrics.jsonl rows (model loading and
  pauses between resumed runs excluded), over every run in the adapter's lineage: an eval of
  loop/checkpoints/.../adapter counts loop/ and, when loop/ started from sft/'s adapter, sft/ too.
  Each training run's run.json names its hardware (CPU model and flags, GPUs: looprl.utils.hardware);
  the output repeats it so R can be the price of that machine, which the user gives.
* The range of every output comes from the 95% interval of p alone: a Wilson score interval with
  n = the number of distinct tasks evaluated (repeated samples of a task are not independent
  tasks), computed from summary.json's `tgc` and `n_tasks`. Every other input is taken as exact.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from looprl.analysis.runs import Run, RunError, read_metrics
from looprl.analysis.stats import wilson_interval  # the one Wilson interval; re-exported for ROI's users
from looprl.config import StrictModel
from looprl.utils.hardware import hardware_line

__all__ = ["RoiInputs", "Measured", "Outcome", "RoiError", "wilson_interval", "outcome", "break_even_tgc", "estimate", "measure_run"]


class RoiError(ValueError):
    """A run or an input the estimate cannot use; the message names it and what to do."""


class RoiInputs(StrictModel):
    """The user's side of the estimate (`looprl roi --set KEY=VALUE`, the report's sliders)."""

    tasks_per_month: float = Field(1000.0, ge=0, description="tasks a month the agent would be given (tasks / month)")
    minutes_per_task: float = Field(15.0, gt=0, description="minutes a person spends doing one task by hand (min / task)")
    minutes_checking: float = Field(2.0, ge=0, description="minutes a person spends checking one agent result, success or failure (min / task)")
    hourly_cost: float = Field(50.0, gt=0, description="loaded cost of one hour of a person's time (currency / h)")
    price_per_million_tokens: float = Field(1.0, ge=0, description="serving price of one million context tokens (currency / 1M tokens)")
    serving_price_per_hour: float = Field(
        0.0, ge=0, description="price of an hour of the machine serving the agent, charged for the measured seconds per episode (currency / h)"
    )
    train_price_per_hour: float = Field(2.0, ge=0, description="price of an hour of the whole machine the training ran on (currency / h)")
    # Measured figures entered by hand (a published result, a model trained elsewhere); each replaces the run's.
    tgc: float | None = Field(None, ge=0, le=1, description="a TGC entered by hand, as a fraction (e.g. a published figure); replaces the run's")
    n_eval_tasks: int | None = Field(None, ge=1, description="how many tasks the hand-entered TGC was measured on (for its 95% interval)")
    tokens_per_episode: float | None = Field(None, ge=0, description="context tokens per episode entered by hand; replaces the run's")
    seconds_per_episode: float | None = Field(None, ge=0, description="serving seconds per episode entered by hand; replaces the run's")
    train_hours: float | None = Field(None, ge=0, description="training wall hours entered by hand; replaces what the training run recorded")
    label: str = Field("entered by hand", description="name of the column when no run folder is given")


@dataclass
class Measured:
    """The agent's side: what a run measured, and for each figure the file it came from."""

    name: str
    tgc: float
    n_tasks: int
    tokens_per_episode: float | None
    turns_per_episode: float | None
    seconds_per_episode: float | None
    train_hours: float | None  # None: trained, but the training run was not found
    rollouts: int = 0  # training rollouts sampled, over the lineage
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def tgc_interval(self) -> tuple[float, float]:
        return wilson_interval(self.tgc, self.n_tasks)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.tgc_interval
        return {**asdict(self), "tgc_low": low, "tgc_high": high}


@dataclass(frozen=True)
class Outcome:
    """The estimate at one TGC (currency per year unless named otherwise)."""

    tgc: float
    hours_per_year: float
    labour_savings_per_year: float
    serving_cost_per_year: float
    net_savings_per_year: float
    training_cost: float | None  # None: training hours unknown
    payback_months: float | None  # None: never (net savings <= 0) or unknown (training cost unknown)


def serving_cost_per_task(inputs: RoiInputs, tokens: float | None, seconds: float | None) -> float:
    """k / 1e6 * P + s / 3600 * G; a price of 0 needs no measurement."""
    cost = 0.0
    if inputs.price_per_million_tokens > 0:
        if tokens is None:
            raise RoiError(
                "tokens per episode were not measured (a chat backend that reports none?); give --set tokens_per_episode=N or --set price_per_million_tokens=0"
            )
        cost += tokens / 1e6 * inputs.price_per_million_tokens
    if inputs.serving_price_per_hour > 0:
        if seconds is None:
            raise RoiError(
                "seconds per episode were not measured (summary.json has no rollout.wall_s); give --set seconds_per_episode=S or --set serving_price_per_hour=0"
            )
        cost += seconds / 3600 * inputs.serving_price_per_hour
    return cost


def outcome(inputs: RoiInputs, tgc: float, tokens: float | None, seconds: float | None, train_hours: float | None) -> Outcome:
    """Every output of the module docstring's formulas at one TGC."""
    n_year = 12 * inputs.tasks_per_month
    hours = n_year * (tgc * inputs.minutes_per_task - inputs.minutes_checking) / 60
    labour = hours * inputs.hourly_cost
    serving = n_year * serving_cost_per_task(inputs, tokens, seconds)
    net = labour - serving
    training = None if train_hours is None else train_hours * inputs.train_price_per_hour
    payback = None
    if training is not None and net > 0:
        payback = training / (net / 12)
    return Outcome(tgc, hours, labour, serving, net, training, payback)


def break_even_tgc(inputs: RoiInputs, tokens: float | None, seconds: float | None) -> float:
    """The TGC at which net savings are 0: (c + 60 * serving cost per task / h) / m (may exceed 1)."""
    return (inputs.minutes_checking + 60 * serving_cost_per_task(inputs, tokens, seconds) / inputs.hourly_cost) / inputs.minutes_per_task


def estimate(inputs: RoiInputs, m: Measured) -> dict[str, Any]:
    """The outcome at the low end, the point and the high end of the TGC interval, and the break-even TGC."""
    low, high = m.tgc_interval
    try:
        serving_cost_per_task(inputs, m.tokens_per_episode, m.seconds_per_episode)
    except RoiError as exc:
        raise RoiError(f"{m.name}: {exc}") from None
    at = {name: outcome(inputs, p, m.tokens_per_episode, m.seconds_per_episode, m.train_hours) for name, p in (("low", low), ("point", m.tgc), ("high", high))}
    return {**at, "break_even_tgc": break_even_tgc(inputs, m.tokens_per_episode, m.seconds_per_episode)}


# ---------------------------------------------------------------- reading runs


def _summary(run: Run) -> tuple[dict[str, Any], str]:
    """The summary that represents the run, and the file it came from (computed from the rollouts
    when the run has no summary.json beside them)."""
    from looprl.analysis.metrics import summarize

    if run.path.is_file():  # a bare rollouts .jsonl
        folder, path = run.path, None
    else:
        folder = run.path / run.source
        path = folder.parent / "summary.json"
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text()), str(path)
        except json.JSONDecodeError as exc:
            raise RunError(f"{path}: not valid JSON ({exc.msg})") from None
    if not run.trajectories:
        raise RunError(f"{run.path} has no evaluation: a training run without eval/iter_*/ (set trainer.eval_every) cannot say how many tasks its agent solves")
    return summarize(run.trajectories), str(folder)


def _train_run_of(adapter: str, near: Path) -> Path | None:
    """The training run folder that wrote `adapter` (RUN/checkpoints/iter_N/adapter, RUN/best, ...):
    the nearest ancestor of the path with a metrics.jsonl or, when the folders were moved, the folder
    of that name beside `near` (the demo keeps its eval and training runs side by side)."""
    path = Path(adapter)
    for folder in [path, *path.parents][:4]:
        if (folder / "metrics.jsonl").is_file():
            return folder
    for marker in ("checkpoints", "best", "adapter_latest"):
        if marker in path.parts[1:]:
            name = path.parts[path.parts.index(marker) - 1]
            if (near / name / "metrics.jsonl").is_file():
                return near / name
    return None


def _adapter_of(folder: Path, info: dict[str, Any]) -> str | None:
    if info.get("adapter"):
        return str(info["adapter"])
    import yaml

    cfg_path = folder / "config.yaml"
    if cfg_path.is_file():
        try:
            cfg = yaml.safe_load(cfg_path.read_text()) or {}
        except yaml.YAMLError:
            return None
        return ((cfg.get("model") or {}) if isinstance(cfg, dict) else {}).get("adapter_path")
    return None


def _training(run: Run) -> tuple[float | None, int, str, list[str]]:
    """Training wall hours and rollouts over the lineage of the run's adapter, where they came from, and
    the hardware each training run's run.json names."""
    hours, rollouts, used, machines = 0.0, 0, [], []
    folder: Path | None = run.path if run.metrics else None
    adapter = None if run.metrics else _adapter_of(run.path, run.info)
    if folder is None and adapter is None:
        return 0.0, 0, "no adapter: the base model, nothing trained", []
    if folder is None:
        folder = _train_run_of(adapter, run.path.parent)
        if folder is None:
            return None, 0, f"trained adapter {adapter}: its training run was not found; give --set train_hours=H", []
    seen: set[Path] = set()
    while folder is not None and folder.resolve() not in seen:
        seen.add(folder.resolve())
        rows = read_metrics(folder / "metrics.jsonl")
        hours += sum(float(r.get("time/iteration_s", 0.0)) for r in rows) / 3600
        rollouts += int(sum(float(r.get("rollout/count", 0.0)) for r in rows))
        used.append(f"{folder / 'metrics.jsonl'} ({len(rows)} iterations)")
        info = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
        machines.append(f"{folder.name}: {hardware_line(info.get('hardware'))}")
        parent = _adapter_of(folder, info)
        folder = _train_run_of(parent, folder.parent) if parent else None
    return hours, rollouts, "sum of time/iteration_s in " + " + ".join(used), machines


def measure_run(run: Run) -> Measured:
    """The figures the estimate needs from one run folder (an eval run, a train run with dev
    evaluations, or a bare rollouts .jsonl), each labelled with its source."""
    summary, source = _summary(run)
    if summary.get("tgc") is None or not summary.get("n_tasks"):
        raise RunError(f"{source}: no TGC measured (no rollouts?)")
    behaviour = summary.get("behaviour") or {}
    stats = summary.get("rollout") or {}
    seconds = stats["wall_s"] / stats["finished"] if stats.get("wall_s") and stats.get("finished") else None
    train_hours, rollouts, train_source, machines = _training(run)
    sources = {
        "tgc": f"{source} (tgc over n_tasks = {summary['n_tasks']}; 95% Wilson interval)",
        "tokens_per_episode": f"{source} (behaviour.tokens_per_episode)" if behaviour.get("tokens_per_episode") is not None else "not measured",
        "seconds_per_episode": f"{source} (rollout.wall_s / rollout.finished)" if seconds is not None else "not measured",
        "train_hours": train_source,
        "hardware": ("trained on " + "; ".join(machines) + " (run.json): train_price_per_hour prices that machine")
        if machines
        else "no training run: nothing to price",
    }
    return Measured(
        name=run.name,
        tgc=float(summary["tgc"]),
        n_tasks=int(summary["n_tasks"]),
        tokens_per_episode=behaviour.get("tokens_per_episode"),
        turns_per_episode=behaviour.get("turns_per_episode"),
        seconds_per_episode=seconds,
        train_hours=train_hours,
        rollouts=rollouts,
        sources=sources,
    )


def apply_hand_entries(m: Measured | None, inputs: RoiInputs) -> Measured:
    """The run's figures with those the user entered by hand laid over them (each source then says so);
    with no run, the hand-entered figures alone (TGC required)."""
    if m is None:
        if inputs.tgc is None:
            raise RoiError("give a run folder (looprl eval --out DIR, looprl train's run_dir) or a TGC by hand: --set tgc=0.713 --set n_eval_tasks=168")
        m = Measured(name=inputs.label, tgc=inputs.tgc, n_tasks=1, tokens_per_episode=None, turns_per_episode=None, seconds_per_episode=None, train_hours=None)
        m.sources = {"train_hours": "not entered (give --set train_hours=H for the training cost and payback)"}
    for key in ("tgc", "tokens_per_episode", "seconds_per_episode", "train_hours"):
        value = getattr(inputs, key)
        if value is not None:
            setattr(m, key, value)
            m.sources[key] = f"entered by hand (--set {key}={value})"
    if inputs.n_eval_tasks is not None:
        m.n_tasks = inputs.n_eval_tasks
        m.sources["tgc"] = m.sources.get("tgc", "") + f"; interval over n_eval_tasks = {inputs.n_eval_tasks} (entered by hand)"
    elif inputs.tgc is not None and m.sources.get("tgc", "").startswith("entered"):
        raise RoiError(f"a TGC entered by hand needs the number of tasks it was measured on, for its interval: add --set n_eval_tasks=N (tgc={inputs.tgc})")
    return m
