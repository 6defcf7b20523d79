"""LOOP's learning curve from the SFT-GT warm-up: held-out and dev TGC against rollouts, over seeds,
with intervals, and LOOP's own gain (final minus warm-up) as a paired difference on the same tasks.
This is where RL's own gain is shown or refuted (issue 24's goal: >= +10 TGC points on held-out
instances, with an interval that excludes 0); where it is not reached, the table shows where the
curve flattens.

  1. warmup     one SFT-GT warm-up, the demo's (looprl.experiments.sft_config on DemoConfig: instances
                1-20 of each of the six training scenarios, one pass, lr 1e-3), shared by every seed
  2. iteration 0  greedy evaluation of the warm-up on held-out instances of the training scenarios
                (`--heldout-per-scenario` distinct instances of each, 16 by default: 96 tasks; fewer,
                with a printed warning, where `looprl world stats` says a scenario has fewer) and on dev
                tasks (`--dev-tasks`, 18 by default: new kinds of work); evaluated once, shared by the seeds
  3. per seed   LOOP from the warm-up's adapter for `--iterations` x `--tasks` x K (`--k`) rollouts on fresh
                training instances (12 x 8 x 4 = 384 by default), stopping every `--eval-every`
                iterations (and at the end) for the same greedy evaluation of that iteration's adapter.
                The seeds advance together, one evaluation point at a time, so a partial run already
                has a curve over every seed

Resumable at every level: the warm-up is a marked stage (looprl.experiments.Stages) and a looprl run
that resumes from its checkpoints, each seed's LOOP run resumes from its last checkpoint, and each
evaluation is stored atomically as its own JSON (OUT/evals/) once it is done. Rerunning the same
command continues where it stopped and redoes nothing finished. `--budget-minutes M` stops before
starting work that would overrun M minutes (training stops at an iteration boundary), prints what is
left, and the same command continues it. OUT/state.json holds the setting; a rerun with another
setting (other than seeds, iterations, eval-every and budget) is refused: give it another --out. OUT/runs/
and OUT/state.json are not committed (checkpoints): on another machine (a fresh clone) the committed
OUT/evals/ cannot be continued, and the benchmark refuses to mix them into a new run.
Every rollout is sampled by one local vLLM server when `looprl models setup-vllm` has built its
environment (`--sampler auto`), otherwise by transformers in this process.

    .venv/bin/python benchmarks/bench_learning_curve.py --budget-minutes 170   # the full run, in sessions: rerun until complete
    .venv/bin/python benchmarks/bench_learning_curve.py --seeds 0 --iterations 3 --eval-every 3   # a first look
    .venv/bin/python benchmarks/bench_learning_curve.py --set trainer.lr=1e-4 --set rollout.sampling.temperature=1.0 \\
        --out benchmarks/results/learning_curve_lr1e-4 --warmup-from benchmarks/results/learning_curve

`--warmup-from DIR` takes DIR's warm-up and its iteration-0 evaluation (copied) instead of redoing them, after
checking that DIR's warm-up was trained with this run's warm-up config field for field and evaluated on the same
tasks: LOOP settings compared from one warm-up, paired on one evaluation, without its ~25 minutes each time.
Such a run's curve.md also pairs it with DIR's curve, point by point and seed by seed ("Against DIR").

With `--set trainer.dynamic_sampling=true` (flat groups replaced by more draws; off in the paper) an
iteration spends tasks x K rollouts or more, so an evaluation point is a number of rollouts spent (point x
tasks x K, flat groups included), evaluated at the first iteration that crosses it: against DIR's curve
that is the paper's setting and dynamic sampling at (about) equal rollouts, the last iteration's overshoot shown:

    .venv/bin/python benchmarks/bench_learning_curve.py --seeds 0 --eval-every 4 --set rollout.max_staleness=1 \
        --set trainer.dynamic_sampling=true --out benchmarks/results/learning_curve_ds --warmup-from benchmarks/results/learning_curve

`--set KEY=VALUE` overrides LOOP's training config (TrainConfig keys: `trainer.lr`, `trainer.rollouts_per_task`,
`rollout.sampling.temperature`, `lora.r`, ...; a DemoConfig key such as `sft_lr` or `train.x` is taken as is);
the JSON records them and the resulting setting. A LoRA rank changes the warm-up too (LOOP continues its adapter).

Writes OUT/curve.json (per seed and checkpoint: rollouts so far, optimizer steps so far, held-out and
dev TGC/SGC with per-task values; training reward per iteration; the pooled curve and gain with their
intervals; what is missing), OUT/curve.md (the table, the gain and its verdict, where the curve
flattens; it starts with the command and the machine, and says when the run is incomplete) and
OUT/curve.png (held-out and dev TGC against rollouts: mean over seeds with its 95% band, each seed
a thin line).

**Cost (defaults with `--eval-every 4 --set rollout.max_staleness=1`, 2 CPU cores, SmolLM2-135M on vLLM,
measured).** 179 min of recorded work in four invocations: the warm-up 18 min, ten evaluations of 114 tasks
5.0-6.0 min each (56 min), 36 LOOP iterations of 32 rollouts 174 s each on average (104 min: 663 rollouts/hour
with the one-step overlap), plus a server start and a model load per training segment. `--warmup-from` takes
the warm-up and its evaluation from a finished folder: a further setting on one seed costs about 50 min.
Every step prints what is left at the rates this run has measured so far.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import shlex
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from looprl.experiments import Marks, Stages

DEFAULT_OUT = Path("benchmarks/results/learning_curve")
DEMO_FIELDS = ("run_dir", "heldout_tasks", "dev_tasks", "dev_difficulties", "eval_samples", "sampler", "train")  # DemoConfig keys taken as is
SET_NAMES = {"heldout": "held-out", "dev": "dev"}
GOAL_POINTS = 10.0  # issue 24: LOOP's own gain on held-out instances, in TGC points

# Rates that size --budget-minutes before this run has measured its own (measured ones replace them):
PRIOR_EVAL_S_PER_EPISODE = 5.2  # the demo's warm-up evaluation on vLLM: 30 episodes in 156 s (docs/results.md)
PRIOR_ROLLOUTS_PER_HOUR = 374.0  # a whole LOOP iteration at the demo's setting on vLLM, 2 cores (benchmarks/bench_iteration.py)
PRIOR_SFT_S_PER_CHAT = 3.7  # the demo's warm-up: 120 chats in 448 s
PRIOR_SERVER_S = 90.0  # vLLM server start
PRIOR_LOAD_S = 20.0  # a trainer's model load and resume, per training segment


# ================================================================================ setting


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (runs/, evals/, state.json inside; rerun to resume)")
    p.add_argument("--model", default="smollm2", help="HF model id or folder (default: SmolLM2-135M-Instruct, materialized)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="LOOP seeds (task order, sampling, minibatch order), all from the one warm-up")
    p.add_argument("--iterations", type=int, default=12, help="LOOP iterations per seed")
    p.add_argument("--tasks", type=int, default=8, help="LOOP tasks per iteration")
    p.add_argument("--k", type=int, default=4, help="LOOP rollouts per task (K)")
    p.add_argument("--eval-every", type=int, default=3, help="evaluate every N iterations (and at the end)")
    p.add_argument("--heldout-per-scenario", type=int, default=16, help="distinct held-out instances of each training scenario evaluated")
    p.add_argument("--dev-tasks", type=int, default=18, help="dev tasks evaluated (new kinds of work)")
    p.add_argument("--budget-minutes", type=float, default=None, help="stop before starting work that would overrun this many minutes")
    p.add_argument(
        "--warmup-from",
        type=Path,
        default=None,
        metavar="DIR",
        help="take the warm-up and its evaluation from another curve folder (same warm-up config and evaluation tasks, checked) instead of redoing them",
    )
    p.add_argument("--sampler", default="auto", choices=["auto", "vllm", "transformers"], help="what samples rollouts (auto: vLLM when its environment exists)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a LOOP (TrainConfig) override, e.g. trainer.lr=1e-4, rollout.sampling.temperature=1.0, lora.r=8 (repeatable); DemoConfig keys taken as is",
    )
    args = p.parse_args(argv)
    for name in ("iterations", "tasks", "k", "eval_every", "heldout_per_scenario"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def demo_override(override: str) -> str:
    """A --set as a DemoConfig override: TrainConfig keys go under `train.`, DemoConfig's stay as they are."""
    key = override.split("=", 1)[0]
    return override if key.split(".", 1)[0] in DEMO_FIELDS or key.startswith("sft_") else f"train.{override}"


def build_config(args: argparse.Namespace):
    from looprl.config import DemoConfig, load_config

    return load_config(
        DemoConfig,
        overrides=[
            f"run_dir={args.out}",
            f"dev_tasks={args.dev_tasks}",
            f"sampler={args.sampler}",
            f"train.model.name_or_path={args.model}",
            f"train.trainer.tasks_per_iteration={args.tasks}",
            f"train.trainer.rollouts_per_task={args.k}",
            "train.trainer.eval_every=0",  # the benchmark evaluates, on its own sets
            *[demo_override(o) for o in args.overrides],
        ],
    )


def eval_points(iterations: int, every: int) -> list[int]:
    """The iterations evaluated after the warm-up's (iteration 0): every `every`-th, and the last."""
    return sorted({*range(every, iterations + 1, every), iterations})


def pick_heldout(scenarios: list[str], difficulties: list[int], per_scenario: int) -> tuple[list[str], dict[str, int], list[str]]:
    """Held-out instances of the training `scenarios`: up to `per_scenario` distinct ones of each (of
    `difficulties`), interleaved (instance 1 of every scenario, then 2, ...). Where a scenario has
    fewer distinct held-out instances (`looprl world stats`), all of them, with a warning. Returns
    (task ids, instances taken per scenario, warnings)."""
    from looprl.world.tasks import HELDOUT_START, distinct_instances, instance

    per: dict[str, list[str]] = {}
    warnings = []
    for name in scenarios:
        count, _ = distinct_instances(name, heldout=True, limit=per_scenario)
        tasks = [instance(name, HELDOUT_START + i) for i in range(min(count, per_scenario))]
        per[name] = [t.id for t in tasks if not difficulties or t.difficulty in difficulties]
        if len(per[name]) < per_scenario:
            why = f"has {count} distinct held-out instances" + (f", {len(per[name])} of difficulty {difficulties}" if len(per[name]) < count else "")
            warnings.append(f"held-out: scenario {name} {why} (`looprl world stats`): taking {len(per[name])}, not {per_scenario}")
    ids = [ids_[i] for i in range(per_scenario) for ids_ in per.values() if i < len(ids_)]
    return ids, {name: len(v) for name, v in per.items()}, warnings


def fingerprint(cfg) -> dict[str, Any]:
    """What a run's numbers depend on, minus what may change between invocations (seeds, iterations,
    sampler, paths): two invocations on one OUT must agree on it."""
    data = cfg.model_dump(mode="json")
    for key in ("run_dir", "sampler"):
        data.pop(key)
    train = data["train"]
    train.pop("run_dir"), train.pop("seed")
    train["trainer"].pop("iterations")
    train["rollout"].pop("vllm_url")
    return data


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]


# ================================================================================ budget and progress


class Clock:
    """This invocation's wall clock against `--budget-minutes`, and the rates that estimate what is left
    (measured ones once there are, the PRIOR_* ones until then)."""

    def __init__(self, budget_minutes: float | None) -> None:
        self.start = time.perf_counter()
        self.limit_s = None if budget_minutes is None else 60.0 * budget_minutes

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return math.inf if self.limit_s is None else self.limit_s - self.elapsed()

    def fits(self, seconds: float) -> bool:
        return seconds <= self.left()


def _hms(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


class BudgetExhausted(Exception):
    """The next piece of work would overrun --budget-minutes: stop before it."""


# ================================================================================ the run


class Curve:
    """One invocation of the benchmark over OUT: the warm-up, the shared evaluation, each seed's LOOP
    training and evaluations, each skipped when already done."""

    def __init__(self, args: argparse.Namespace) -> None:
        from looprl.backends import resolve_model
        from looprl.experiments import pick_dev_tasks, sampler_backend
        from looprl.world.tasks import split_scenarios

        self.args, self.out = args, args.out
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "evals").mkdir(exist_ok=True)
        self.cfg = build_config(args)
        self.marks = Marks(self.out / "state.json")
        found = sorted(p.name for p in (self.out / "evals").glob("*.json"))
        if found and not self.marks.done("setting"):  # e.g. a fresh clone: evals/ is committed, state.json and runs/ are not
            raise SystemExit(
                f"{self.out / 'evals'} holds evaluations ({', '.join(found[:4])}{', ...' if len(found) > 4 else ''}) of a run whose state and "
                f"checkpoints are not here ({self.out / 'state.json'}, {self.out / 'runs'}): continuing would put another run's adapters on "
                "the same curve. Continue on the machine that has them, or move evals/ away (or give another --out) to start over"
            )
        t = self.cfg.train
        scenarios = t.tasks.scenarios or split_scenarios("heldout")
        self.heldout, self.heldout_counts, self.warnings = pick_heldout(scenarios, t.tasks.difficulties, args.heldout_per_scenario)
        for w in self.warnings:
            print(f"WARNING: {w}", flush=True)
        self.dev = pick_dev_tasks(self.cfg)
        self.model_path = str(resolve_model(t.model.name_or_path))
        source = None if args.warmup_from is None or self.marks.done("warmup") else self.warmup_source(Path(args.warmup_from))  # (folder, its marks)
        setting = {"config": fingerprint(self.cfg), "heldout_ids": self.heldout, "dev_ids": self.dev}
        if self.marks.done("setting"):
            changed = differences(self.marks.get("setting"), setting)
            if changed:
                raise SystemExit(f"{self.out} was made with another setting ({'; '.join(changed[:5])}): rerun with its setting, or give another --out")
        else:
            self.marks.mark("setting", **setting)
        self.marks.mark("invocations", commands=[*self.marks.get("invocations").get("commands", []), command_line()])
        if source is not None:
            self.adopt_warmup(*source)
        self.backend = sampler_backend(self.cfg)
        self.points = eval_points(args.iterations, args.eval_every)
        trainer = self.cfg.train.trainer
        self.per_it = args.tasks * trainer.rollouts_per_task  # the paper's setting's rollouts per iteration
        # with dynamic sampling an iteration spends per_it rollouts or more: a point is then a number of
        # rollouts spent (point x per_it), reached at whichever iteration crosses it
        self.dynamic = trainer.dynamic_sampling
        self.clock = Clock(args.budget_minutes)
        self.stages = Stages(self.marks, "curve")
        self.server = ExitStack()
        self.url: str | None = None
        self.server_started = False
        self.done_now = {"warmup": False, "evaluations": 0, "iterations": 0}

    def warmup_source(self, source: Path) -> tuple[Path, Marks]:
        """`source`, checked as a curve folder whose warm-up this run can take (`--warmup-from`): its
        warm-up is done, was trained with this run's warm-up config field for field (its config.yaml
        against `sft_config` here, the run folder aside), and was evaluated on the same held-out and dev
        tasks. Checked before this folder records anything, so a refusal leaves it as it was."""
        from looprl.config import TrainConfig, load_config

        theirs = Marks(source / "state.json")
        if not theirs.done("warmup"):
            raise SystemExit(f"--warmup-from {source}: no finished warm-up there ({source / 'state.json'} has no 'warmup' mark)")
        for name, ours in (("heldout_ids", self.heldout), ("dev_ids", self.dev)):
            if theirs.get("setting").get(name) != ours:
                raise SystemExit(f"--warmup-from {source}: its evaluation tasks ({name}) differ from this run's, so its warm-up evaluation would not pair")
        mine = self.sft_config().model_dump(mode="json")
        made = load_config(TrainConfig, source / "runs" / "warmup" / "config.yaml").model_dump(mode="json")
        mine.pop("run_dir"), made.pop("run_dir")
        changed = differences(made, mine)
        if changed:
            raise SystemExit(f"--warmup-from {source}: its warm-up was trained with another config ({'; '.join(changed[:5])})")
        return source, theirs

    def adopt_warmup(self, source: Path, theirs: Marks) -> None:
        """Take `source`'s warm-up (its run, checkpoints and all) and its iteration-0 evaluation instead of
        training and evaluating the same thing again, so that LOOP settings (a learning rate, K, ...) are
        compared from one warm-up and paired on its evaluation. Copied, not linked: this folder stands alone."""
        import shutil

        from looprl.utils.io import atomic_write_json

        runs = self.out / "runs"
        shutil.copytree(source / "runs" / "warmup", runs / "warmup", symlinks=True, dirs_exist_ok=True)
        warm_eval = source / "evals" / "warmup.json"
        if warm_eval.is_file():  # else evaluated here, like a warm-up trained here
            shutil.copytree(source / "runs" / "warmup_eval", runs / "warmup_eval", symlinks=True, dirs_exist_ok=True)
            atomic_write_json(self.eval_path(None, 0), {**json.loads(warm_eval.read_text()), "copied_from": str(warm_eval)})
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.marks.mark("warmup", at=at, seconds=0.0, copied_from=str(source), source_seconds=theirs.seconds("warmup"))
        print(f"[curve] warm-up taken from {source} (trained there in {theirs.seconds('warmup'):.0f} s; same config and evaluation tasks)", flush=True)

    # ------------------------------------------------------------------ paths
    def loop_dir(self, seed: int) -> Path:
        return self.out / "runs" / f"seed{seed}" / "loop"

    def eval_path(self, seed: int | None, iteration: int) -> Path:
        return self.out / "evals" / ("warmup.json" if seed is None else f"seed{seed}_iter{iteration:03d}.json")

    def iteration_of(self, seed: int) -> int:
        from looprl.training.checkpoint import load_latest

        found = load_latest(self.loop_dir(seed))
        return 0 if found is None else found[1].iteration

    def spent_by(self, seed: int) -> list[tuple[int, int]]:
        """(iteration, rollouts spent so far) for each iteration seed `seed` has checkpointed."""
        last = self.iteration_of(seed)
        return [(h["iteration"], h["rollouts_so_far"]) for h in training_history(self.loop_dir(seed)) if h["iteration"] <= last]

    def progress(self, seed: int) -> float:
        """How far seed `seed` has trained, in iterations of the paper's setting (rollouts spent / per_it
        with dynamic sampling)."""
        if not self.dynamic:
            return float(self.iteration_of(seed))
        spent = self.spent_by(seed)
        return spent[-1][1] / self.per_it if spent else 0.0

    def reached(self, seed: int, point: int) -> int | None:
        """The iteration whose checkpoint stands for evaluation point `point`, once trained to it: the
        point itself, or with dynamic sampling the first iteration that had spent point x per_it rollouts."""
        if not self.dynamic:
            return point if self.iteration_of(seed) >= point else None
        return next((i for i, spent in self.spent_by(seed) if spent >= point * self.per_it), None)

    # ------------------------------------------------------------------ costs
    def _evals_done(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.out / "evals").glob("*.json"))]

    def eval_seconds(self) -> float:
        done = self._evals_done()
        episodes = sum(e["episodes"] for e in done)
        per_episode = sum(e["seconds"] for e in done) / episodes if episodes else PRIOR_EVAL_S_PER_EPISODE
        return per_episode * (len(self.heldout) + len(self.dev))

    def iteration_seconds(self) -> float:
        from looprl.training.trainer import read_metrics

        rows = [h for s in self.args.seeds for h in read_metrics(self.loop_dir(s)) if "time/iteration_s" in h]
        spent = sum(rollouts_spent(h) for h in rows)
        if rows and spent:  # per iteration of the paper's setting: per_it rollouts, at this run's seconds per rollout spent
            return sum(h["time/iteration_s"] for h in rows) / spent * self.per_it
        return 3600.0 * self.args.tasks * self.cfg.train.trainer.rollouts_per_task / PRIOR_ROLLOUTS_PER_HOUR

    def warmup_seconds(self) -> float:
        sft = self.sft_config()
        return PRIOR_SFT_S_PER_CHAT * sft.trainer.iterations * sft.trainer.tasks_per_iteration

    def server_seconds(self) -> float:
        return PRIOR_SERVER_S if self.backend == "vllm" and not self.server_started else 0.0

    def estimate_left(self) -> tuple[float, list[str]]:
        """Seconds of work left (at this run's rates so far) and what it is, in words."""
        left, what = 0.0, []
        if not self.marks.done("warmup"):
            left += self.warmup_seconds()
            what.append("the warm-up")
        evals = [(None, 0)] + [(s, p) for p in self.points for s in self.args.seeds]
        missing = [(s, p) for s, p in evals if not self.eval_path(s, p).is_file()]
        left += len(missing) * self.eval_seconds()
        iterations = {s: self.args.iterations - min(math.floor(self.progress(s)), self.args.iterations) for s in self.args.seeds}
        left += sum(iterations.values()) * self.iteration_seconds() + sum(PRIOR_LOAD_S * math.ceil(n / self.args.eval_every) for n in iterations.values())
        for s in self.args.seeds:
            evs = [p for p in self.points if (s, p) in missing]
            if iterations[s] or evs:
                what.append(f"seed {s}: {iterations[s]} iterations to train, evaluations at iterations {evs}")
        if (None, 0) in missing:
            what.append("the warm-up's evaluation (iteration 0)")
        if left > 0:
            left += self.server_seconds()
        return left, what

    def need(self, seconds: float, what: str) -> None:
        """Go on with `what` (about `seconds`) if it fits the budget; else stop before it."""
        left, _ = self.estimate_left()
        print(f"[curve] {what} (~{_hms(seconds)}); about {_hms(left)} of work left; {_hms(self.clock.elapsed())} into this invocation", flush=True)
        if not self.clock.fits(seconds + self.server_seconds()):
            raise BudgetExhausted(what)

    def sampling_url(self) -> str | None:
        """The vLLM server's URL, started on first need (a run that does no sampling starts none)."""
        if not self.server_started:
            from looprl.experiments import rollout_server

            self.url = self.server.enter_context(rollout_server(self.cfg, self.model_path, self.backend, needed=True))
            self.server_started = True
        return self.url

    # ------------------------------------------------------------------ stages
    def sft_config(self):
        from looprl.experiments import sft_config

        return sft_config(self.cfg, self.model_path, self.out / "runs" / "warmup")

    def warmup(self) -> str:
        from looprl.experiments import latest_adapter, train_stage

        if not self.marks.done("warmup"):
            sft = self.sft_config()
            chats = sft.trainer.iterations * sft.trainer.tasks_per_iteration
            self.need(self.warmup_seconds(), f"SFT-GT warm-up: {chats} ground-truth chats")
            self.stages("warmup", train_stage, sft)
            self.done_now["warmup"] = True
        return latest_adapter(self.out / "runs" / "warmup")

    def evaluate(self, seed: int | None, iteration: int, adapter: str, trained_iteration: int | None = None) -> None:
        """Greedy evaluation of `adapter` on the held-out and dev sets in one pass, stored as its own JSON
        (`trained_iteration`: the iteration the adapter is from, where it is not the point's own)."""
        from looprl.experiments import eval_numbers, evaluate_adapter
        from looprl.rollout.evaluation import EvalSet
        from looprl.utils.io import atomic_write_json
        from looprl.world.tasks import HELDOUT

        who = "the warm-up" if seed is None else f"seed {seed}, iteration {iteration}"
        self.need(self.eval_seconds(), f"evaluate {who} on {len(self.heldout)} held-out + {len(self.dev)} dev tasks")
        url = self.sampling_url()
        where = self.out / "runs" / ("warmup_eval" if seed is None else f"seed{seed}/eval_iter{iteration:03d}")
        label = "SFT-GT warm-up" if seed is None else f"LOOP seed {seed}, iteration {iteration}"
        sets = {"heldout": EvalSet(self.heldout, HELDOUT, where / "heldout", f"{label}, held-out")}
        if self.dev:
            sets["dev"] = EvalSet(self.dev, self.cfg.train.tasks.dev_split, where / "dev", f"{label}, dev")
        t0 = time.perf_counter()
        evaluate_adapter(self.cfg, self.model_path, adapter, "sft-gt" if seed is None else "loop", self.backend, url, sets, label)
        record = {
            "seed": seed,
            "iteration": iteration,
            "trained_iteration": iteration if trained_iteration is None else trained_iteration,
            "adapter": adapter,
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - t0, 1),
            "episodes": len(self.heldout) + len(self.dev),
            **{name: eval_numbers(where / name) for name in sets},
        }
        atomic_write_json(self.eval_path(seed, iteration), record)
        self.done_now["evaluations"] += 1

    def train_to(self, seed: int, target: int, warm_adapter: str) -> None:
        """Train seed `seed`'s LOOP run (resuming from its last checkpoint) up to iteration `target`,
        as many iterations as the budget allows."""
        if self.dynamic:
            return self.train_to_spent(seed, target, warm_adapter)
        now = self.iteration_of(seed)
        per = self.iteration_seconds()
        fit = int((self.clock.left() - PRIOR_LOAD_S - self.server_seconds()) // per) if self.clock.limit_s is not None else target - now
        n = min(target - now, fit)
        span = f"iterations {now + 1}-{now + n}" if n > 1 else f"iteration {now + 1}"
        self.need(PRIOR_LOAD_S + max(n, 1) * per, f"LOOP seed {seed}: {span} of {self.args.iterations}")
        with self.trainer(seed, warm_adapter) as trainer:
            trainer.train(stop_after=n)
        self.done_now["iterations"] += trainer.iteration - now
        del trainer
        gc.collect()  # the next seed's trainer loads its own model
        if n < target - now:
            raise BudgetExhausted(f"LOOP seed {seed}: iterations {now + n + 1}-{target}")

    def train_to_spent(self, seed: int, target: int, warm_adapter: str) -> None:
        """With dynamic sampling: train seed `seed` until it has spent target x per_it rollouts (its last
        iteration may overshoot), or as far towards it as the budget allows."""
        spent = self.spent_by(seed)
        done, now = (spent[-1][1], spent[-1][0]) if spent else (0, 0)
        per = self.iteration_seconds()  # seconds per per_it rollouts spent
        want = target * self.per_it - done
        fit = (self.clock.left() - PRIOR_LOAD_S - self.server_seconds()) / per * self.per_it if self.clock.limit_s is not None else want
        goal = done + min(want, max(fit, 0.0))
        what = f"LOOP seed {seed}: rollouts {done + 1}-{target * self.per_it} spent (dynamic sampling)"
        self.need(PRIOR_LOAD_S + max(goal - done, self.per_it) / self.per_it * per, what)
        total = [float(done)]

        def enough(metrics: dict[str, Any]) -> bool:
            total[0] += rollouts_spent(metrics)
            return total[0] >= goal

        with self.trainer(seed, warm_adapter) as trainer:
            trainer.train(until=enough)
        self.done_now["iterations"] += trainer.iteration - now
        del trainer
        gc.collect()
        if total[0] < target * self.per_it:
            raise BudgetExhausted(f"LOOP seed {seed}: rollouts {int(total[0]) + 1}-{target * self.per_it} (dynamic sampling)")

    def trainer(self, seed: int, warm_adapter: str):
        """Seed `seed`'s LOOP trainer from the warm-up's adapter, resuming from its last checkpoint."""
        from looprl.experiments import loop_config
        from looprl.training.checkpoint import load_latest
        from looprl.training.trainer import Trainer

        loop = loop_config(self.cfg, self.model_path, warm_adapter, self.loop_dir(seed), self.backend, self.sampling_url())
        loop.seed, loop.trainer.iterations = seed, self.args.iterations  # with dynamic sampling, a bound never reached first
        return Trainer(loop, resume=load_latest(loop.run_dir) is not None)

    def run(self) -> None:
        """Everything left, in order: the warm-up, its evaluation, then the seeds point by point."""
        from looprl.training.checkpoint import checkpoint_dir

        with self.server:
            adapter = self.warmup()
            if not self.eval_path(None, 0).is_file():
                self.evaluate(None, 0, adapter)
            for point in self.points:
                for seed in self.args.seeds:
                    if self.eval_path(seed, point).is_file():
                        continue
                    trained = self.reached(seed, point)
                    if trained is None:
                        self.train_to(seed, point, adapter)
                        trained = self.reached(seed, point)
                    found = checkpoint_dir(self.loop_dir(seed), trained) / "adapter"
                    if not found.is_dir():  # trained past it with another --eval-every: its checkpoint is gone
                        print(f"[curve] seed {seed}, iteration {point}: no checkpoint left to evaluate (kept: the newest 2); left out", flush=True)
                        continue
                    self.evaluate(seed, point, str(found), trained)


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def reproducing_command(invocations: list[str]) -> str:
    """The one command that makes this folder's run from scratch: the last invocation's, without the
    `--budget-minutes` that only split it into sessions, with the `--warmup-from` an earlier invocation
    took its warm-up with (a resumed run needs it no more, a fresh one does)."""
    if not invocations:
        return command_line()
    words = shlex.split(invocations[-1])
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w == "--budget-minutes":
            skip = True
        elif not w.startswith("--budget-minutes="):
            out.append(w)
    if "--warmup-from" not in out and not any(w.startswith("--warmup-from=") for w in out):
        for earlier in reversed(invocations[:-1]):
            ws = shlex.split(earlier)
            if "--warmup-from" in ws and ws.index("--warmup-from") + 1 < len(ws):
                out += ["--warmup-from", ws[ws.index("--warmup-from") + 1]]
                break
    return " ".join(shlex.quote(w) for w in out)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run (or continue) the benchmark; write and return curve.json, with `stopped` (what the budget
    left undone, None when nothing was) and `done_now` (the work this invocation did)."""
    curve = Curve(args)
    stopped = None
    try:
        curve.run()
    except BudgetExhausted as exc:
        left, what = curve.estimate_left()
        stopped = {"before": str(exc), "left_s": round(left), "left": what}
        print(
            f"\n[curve] stopped by --budget-minutes {args.budget_minutes:g} before: {exc}. Left (about {_hms(left)}): "
            + "; ".join(what)
            + f".\n[curve] to continue, run the same command again (with a --budget-minutes that fits): {command_line()}",
            flush=True,
        )
    result = summarize(curve, stopped)
    print(markdown(result))
    return result


# ================================================================================ numbers


def scenario_solved(per_task: dict[str, float]) -> dict[str, float]:
    """Per scenario, 1.0 when every one of its tasks was solved: the values SGC averages."""
    out: dict[str, float] = {}
    for task, v in per_task.items():
        name = task.rsplit("_", 1)[0]
        out[name] = min(out.get(name, 1.0), float(v >= 1.0))
    return out


def pooled(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    """Mean over seeds of the task means (in %) with its 95% interval over seeds, then tasks."""
    from looprl.analysis.stats import hierarchical_ci

    iv = hierarchical_ci([list(p.values()) for p in per_seed]).scaled(100.0)
    return {"mean": iv.estimate, "ci95": iv.to_list(), "seeds": len(per_seed)}


def paired_points(a, b) -> dict[str, Any]:
    """b - a in TGC points on the tasks both evaluated (one run each, or lists paired seed by seed)."""
    from looprl.analysis.stats import paired_difference

    return paired_difference(a, b).scaled(100.0).to_dict()


def rollouts_spent(metrics: dict[str, Any]) -> float:
    """An iteration's rollouts spent: with dynamic sampling every group drawn, flat ones too."""
    return metrics.get("dynamic/rollouts_spent", metrics.get("rollout/count", 0.0))


def training_history(run_dir: Path) -> list[dict[str, Any]]:
    """Per iteration: rollouts spent (with dynamic sampling every group drawn, flat ones too), training
    reward, rollouts kept, optimizer steps, and both cumulated."""
    from looprl.training.trainer import read_metrics

    rows = {int(h["iteration"]): h for h in read_metrics(run_dir)}  # the last row of an iteration redone after a resume
    out, rollouts, steps = [], 0, 0
    for i in sorted(rows):
        h = rows[i]
        spent = int(rollouts_spent(h))
        rollouts += spent
        steps += int(h.get("train/optimizer_steps", 0))
        out.append(
            {
                "iteration": i,
                "rollouts": spent,
                "reward_mean": h.get("rollout/reward_mean"),
                "kept": int(h.get("rollout/kept", 0)),
                "optimizer_steps": int(h.get("train/optimizer_steps", 0)),
                "rollouts_so_far": rollouts,
                "optimizer_steps_so_far": steps,
                "seconds": h.get("time/iteration_s"),
            }
        )
    return out


def summarize(curve: Curve, stopped: dict[str, Any] | None) -> dict[str, Any]:
    from looprl.utils.hardware import describe_hardware
    from looprl.utils.io import atomic_write_json, atomic_write_text

    args, cfg = curve.args, curve.cfg
    warm_path = curve.eval_path(None, 0)
    warm = json.loads(warm_path.read_text()) if warm_path.is_file() else None
    sets = ["heldout"] + (["dev"] if curve.dev else [])
    seeds: dict[str, Any] = {}
    missing = [] if warm else ["the warm-up's evaluation (iteration 0)"]
    for s in args.seeds:
        history = training_history(curve.loop_dir(s))
        by_it = {h["iteration"]: h for h in history}
        checkpoints = []
        for p in [0, *curve.points]:
            path = curve.eval_path(None if p == 0 else s, p)
            if not path.is_file():
                continue
            e = json.loads(path.read_text())
            trained = e.get("trained_iteration", p)
            h = by_it.get(trained, {})
            checkpoints.append(
                {
                    "iteration": p,
                    "trained_iteration": trained,
                    "rollouts": h.get("rollouts_so_far", 0),
                    "optimizer_steps": h.get("optimizer_steps_so_far", 0),
                    **{name: e[name] for name in sets},
                }
            )
        lacking = [p for p in curve.points if not curve.eval_path(s, p).is_file()]
        if lacking:
            missing.append(f"seed {s}: evaluations at iterations {lacking} (trained to iteration {curve.iteration_of(s)} of {args.iterations})")
        seeds[str(s)] = {"training": history, "checkpoints": checkpoints}

    per_it = args.tasks * cfg.train.trainer.rollouts_per_task
    table = []
    for p in [0, *curve.points]:
        have = [seeds[str(s)]["checkpoints"] for s in args.seeds]
        at = [next(c for c in cps if c["iteration"] == p) for cps in have if any(c["iteration"] == p for c in cps)]
        if p == 0:
            at = at[:1]  # one evaluation, shared by the seeds: its interval is over the tasks alone
        if not at:
            continue
        evaluated = [] if p == 0 else [s for s in args.seeds if any(c["iteration"] == p for c in seeds[str(s)]["checkpoints"])]
        rollouts = p * per_it if not curve.dynamic or p == 0 else round(sum(c["rollouts"] for c in at) / len(at))  # spent, mean over seeds
        row: dict[str, Any] = {"iteration": p, "rollouts_per_seed": rollouts, "seeds": evaluated}
        for name in sets:
            row[name] = {
                "tgc": pooled([c[name]["per_task"] for c in at]),
                "sgc": pooled([scenario_solved(c[name]["per_task"]) for c in at]),
                "per_seed_tgc": [c[name]["tgc"] for c in at],
            }
        rewards = [h["reward_mean"] for s in args.seeds for h in seeds[str(s)]["training"] if h["iteration"] == p and h["reward_mean"] is not None]
        row["training_reward_mean"] = sum(rewards) / len(rewards) if rewards else None
        table.append(row)

    steps = steps_between(curve, seeds, warm)
    result = {
        "benchmark": "learning_curve",
        "command": reproducing_command(curve.marks.get("invocations").get("commands", [])),
        "invocations": curve.marks.get("invocations").get("commands", []),
        "machine": describe_hardware(),
        "sampler": curve.backend,
        "complete": not missing,
        "missing": missing,
        "stopped": stopped,
        "done_now": curve.done_now,
        "setting": setting_summary(curve),
        "warmup": {name: warm[name] for name in sets} if warm else None,
        "seeds": seeds,
        "curve": table,
        "gain": gains(curve, warm, seeds, sets),
        "steps": steps,
        "since_last_rise": since_last_rise(curve, seeds, steps),
        "vs_source": against_source(curve, seeds),
        "cost": {
            "recorded_stage_seconds": round(sum(v.get("seconds", 0.0) for v in curve.marks.data.values() if isinstance(v, dict)), 1)
            + round(sum(e["seconds"] for e in curve._evals_done()), 1)
            + round(sum(h["seconds"] or 0.0 for s in seeds.values() for h in s["training"]), 1),
            "this_invocation_seconds": round(curve.clock.elapsed(), 1),
        },
    }
    atomic_write_json(curve.out / "curve.json", result)
    atomic_write_text(curve.out / "curve.md", markdown(result))
    if table:
        plot(result, curve.out / "curve.png")
    return result


def setting_summary(curve: Curve) -> dict[str, Any]:
    t, cfg, args = curve.cfg.train, curve.cfg, curve.args
    sft = curve.sft_config().trainer
    return {
        "model": t.model.name_or_path,
        "overrides": args.overrides,
        "warmup_from": curve.marks.get("warmup").get("copied_from"),
        "warmup": {"chats": sft.iterations * sft.tasks_per_iteration, "sft_instances": cfg.sft_instances, "sft_lr": cfg.sft_lr, "sft_epochs": cfg.sft_epochs},
        "loop": {
            "iterations": args.iterations,
            "tasks_per_iteration": t.trainer.tasks_per_iteration,
            "k": t.trainer.rollouts_per_task,
            "rollouts_per_seed": args.iterations * t.trainer.tasks_per_iteration * t.trainer.rollouts_per_task,
            "lr": t.trainer.lr,
            "dynamic_sampling": t.trainer.dynamic_sampling,
            "dynamic_sampling_max_batches": t.trainer.dynamic_sampling_max_batches if t.trainer.dynamic_sampling else None,
            "epochs": t.trainer.epochs,
            "minibatch_size": t.trainer.minibatch_size,
            "temperature": t.rollout.sampling.temperature,
            "lora_r": t.lora.r,
            "lora_alpha": t.lora.alpha,
            "max_turns": t.env.max_turns,
            "max_new_tokens": t.rollout.sampling.max_new_tokens,
            "scenarios": t.tasks.scenarios,
            "difficulties": t.tasks.difficulties,
        },
        "seeds": args.seeds,
        "eval_every": args.eval_every,
        "eval_points": curve.points,
        "heldout_tasks": len(curve.heldout),
        "heldout_per_scenario": curve.heldout_counts,
        "heldout_warnings": curve.warnings,
        "heldout_ids": curve.heldout,
        "dev_tasks": len(curve.dev),
        "dev_ids": curve.dev,
    }


def gains(curve: Curve, warm: dict[str, Any] | None, seeds: dict[str, Any], sets: list[str]) -> dict[str, Any] | None:
    """LOOP's own gain: the last evaluated point every evaluated seed reached minus the warm-up, paired
    on the same tasks, per seed and pooled (seed i's final against the one warm-up)."""
    if warm is None:
        return None
    finals = {s: v["checkpoints"][-1] for s, v in seeds.items() if len(v["checkpoints"]) > 1}
    if not finals:
        return None
    at = min(c["iteration"] for c in finals.values())
    ends = {s: next(c for c in seeds[s]["checkpoints"] if c["iteration"] == at) for s in finals}
    out: dict[str, Any] = {"iteration": at, "final": at == curve.args.iterations, "seeds": sorted(int(s) for s in ends)}
    for name in sets:
        base = warm[name]["per_task"]
        per_seed = {s: paired_points(base, c[name]["per_task"]) for s, c in ends.items()}
        both = paired_points([base] * len(ends), [c[name]["per_task"] for c in ends.values()])
        out[name] = {
            "per_seed": per_seed,
            "pooled": both,
            "excludes_zero": both["separated"],
            "goal_reached": both["separated"] and both["ci95"][0] > 0 and both["diff"] >= GOAL_POINTS,
        }
    return out


def steps_between(curve: Curve, seeds: dict[str, Any], warm: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Held-out TGC from each evaluated point to the next, paired on the same tasks, pooled over the seeds
    that have both: where no later step is separated from 0, the curve has flattened."""
    if warm is None:
        return []
    spans = (paired_span(curve, seeds, a, b) for a, b in zip([0, *curve.points], curve.points))
    return [s for s in spans if s is not None]


def against_source(curve: Curve, seeds: dict[str, Any]) -> dict[str, Any] | None:
    """A variant run from another curve's warm-up (`--warmup-from`) against that curve: held-out TGC of
    this run minus the source's at every evaluation point both have, seed by seed on the same tasks
    (same warm-up, same seeds' task draws), pooled over the seeds that have both. None for a run that
    trained its own warm-up; the source's evaluations are read where they are now, so a point the
    source gains later joins on the next summary."""
    source = curve.marks.get("warmup").get("copied_from")
    if not source:
        return None
    folder = Path(source)
    theirs = Marks(folder / "state.json") if (folder / "state.json").is_file() else None
    changed = differences(theirs.get("setting").get("config"), curve.marks.get("setting").get("config")) if theirs else None
    their_curve = json.loads((folder / "curve.json").read_text())["curve"] if (folder / "curve.json").is_file() else []
    their_rollouts = {r["iteration"]: r["rollouts_per_seed"] for r in their_curve}
    points = []
    for p in curve.points:
        pairs, used, spent = [], [], []
        for s, v in seeds.items():
            mine = next((c for c in v["checkpoints"] if c["iteration"] == p), None)
            path = folder / "evals" / f"seed{s}_iter{p:03d}.json"
            if mine is not None and path.is_file():
                pairs.append((json.loads(path.read_text())["heldout"]["per_task"], mine["heldout"]["per_task"]))
                used.append(int(s))
                spent.append(mine["rollouts"])
        if pairs:
            rollouts = {"here": round(sum(spent) / len(spent)), "source": their_rollouts.get(p)}
            points.append({"iteration": p, "seeds": used, "rollouts": rollouts, **paired_points([a for a, _ in pairs], [b for _, b in pairs])})
    return {"source": source, "found": (folder / "evals").is_dir(), "setting_changed": changed, "points": points}


def paired_span(curve: Curve, seeds: dict[str, Any], a: int, b: int) -> dict[str, Any] | None:
    """Held-out TGC from point `a` to point `b`, paired on the same tasks, pooled over the seeds that have both."""
    pairs = []
    for v in seeds.values():
        cps = {c["iteration"]: c for c in v["checkpoints"]}
        if a in cps and b in cps:
            pairs.append((cps[a]["heldout"]["per_task"], cps[b]["heldout"]["per_task"]))
    if not pairs:
        return None
    return {"from": a, "to": b, "seeds": len(pairs), **paired_points([x for x, _ in pairs], [y for _, y in pairs])}


def since_last_rise(curve: Curve, seeds: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """From the end of the last step separated upwards to the last point, as one paired span: steps too
    small to separate one by one can still add up to a rise, and then the curve has not flattened."""
    ups = [s for s in steps if s["separated"] and s["ci95"][0] > 0]
    if not ups or not steps or ups[-1] is steps[-1]:
        return None
    return paired_span(curve, seeds, ups[-1]["to"], steps[-1]["to"])


def flattening(result: dict[str, Any]) -> str:
    """Where the held-out curve flattens: the first point after which no step is separated from 0 upwards."""
    steps = result["steps"]
    if not steps:
        return "no step between evaluation points yet."
    ups = [i for i, s in enumerate(steps) if s["separated"] and s["ci95"][0] > 0]
    downs = [s for s in steps if s["separated"] and s["ci95"][1] < 0]
    best = max(result["curve"], key=lambda r: r["heldout"]["tgc"]["mean"])
    peak = f"Held-out TGC is highest at iteration {best['iteration']} ({best['rollouts_per_seed']} rollouts per seed): {best['heldout']['tgc']['mean']:.1f}%."
    if downs:
        peak += " It falls: " + ", ".join(f"iteration {d['from']} -> {d['to']} ({d['diff']:+.1f} pts)" for d in downs) + " separated from 0 downwards."
    if not ups:
        rest = "the curve does not rise" if downs else "the curve is flat within its intervals from the warm-up on"
        return f"{peak} No step between evaluation points is separated from 0 upwards: {rest}."
    last = steps[ups[-1]]
    span = result.get("since_last_rise")
    if ups[-1] == len(steps) - 1:
        tail = ": the last step measured, so the curve had not flattened when the run ended (more iterations would show where it does)"
    elif span and span["separated"] and span["ci95"][0] > 0:
        tail = (
            f"; no later step is on its own, but together they are: iteration {span['from']} -> {span['to']} is {span['diff']:+.1f} pts "
            f"[{span['ci95'][0]:.1f}, {span['ci95'][1]:.1f}], so the curve still rises, more slowly, and had not flattened when the run ended"
        )
    elif span:
        tail = (
            f"; no later step is, nor all of them together (iteration {span['from']} -> {span['to']}: {span['diff']:+.1f} pts "
            f"[{span['ci95'][0]:.1f}, {span['ci95'][1]:.1f}]), so within what this run resolves it flattens from iteration {last['to']}"
        )
    else:
        tail = f"; no later step is, so it flattens from iteration {last['to']}"
    return f"{peak} The last step separated from 0 upwards is iteration {last['from']} -> {last['to']} ({last['diff']:+.1f} pts){tail}."


# ================================================================================ table and plot


def markdown(result: dict[str, Any]) -> str:
    from looprl.analysis.tables import interval_text, paired_text
    from looprl.utils.hardware import hardware_line

    s, loop = result["setting"], result["setting"]["loop"]
    lines = [
        "# LOOP's learning curve from the SFT-GT warm-up",
        "",
        f"Command: `{result['command']}`"
        + (f" (run here in {len(result['invocations'])} invocations, each listed in curve.json's `invocations`)" if len(result["invocations"]) > 1 else ""),
        "",
        f"Machine: {hardware_line(result['machine'])}; rollouts sampled with {result['sampler']}.",
        "",
    ]
    if result["complete"]:
        lines.append("Status: complete.")
    else:
        lines.append("Status: **INCOMPLETE**: missing " + "; ".join(result["missing"]) + ". Rerun the command to continue.")
    lines += [
        "",
        f"Setting: {s['model']}; the demo's SFT-GT warm-up ({s['warmup']['chats']} chats of instances 1-{s['warmup']['sft_instances']} "
        f"of each training scenario, lr {s['warmup']['sft_lr']:g}"
        + (f"; trained and evaluated in {s['warmup_from']}, taken from there" if s.get("warmup_from") else "")
        + "), "
        f"then LOOP per seed (seeds {s['seeds']}): {loop['iterations']} iterations x {loop['tasks_per_iteration']} tasks x K={loop['k']} = "
        f"{loop['rollouts_per_seed']} rollouts; lr {loop['lr']:g}, temperature {loop['temperature']:g}, LoRA r={loop['lora_r']} alpha={loop['lora_alpha']}, "
        f"{loop['epochs']} epochs, minibatch {loop['minibatch_size']}, at most {loop['max_turns']} turns of {loop['max_new_tokens']} new tokens"
        + (
            f"; dynamic sampling (at most {loop['dynamic_sampling_max_batches']} extra batches an iteration): an evaluation point is a number of "
            "rollouts spent, flat groups included, reached at the first iteration that crosses it (it may overshoot)"
            if loop.get("dynamic_sampling")
            else ""
        )
        + (f"; overrides: {', '.join(s['overrides'])}" if s["overrides"] else "")
        + ".",
        "",
        f"Evaluation (greedy, every {s['eval_every']} iterations and at the end): {s['heldout_tasks']} held-out instances of the training scenarios "
        f"({', '.join(f'{n} of {k}' for k, n in s['heldout_per_scenario'].items())}) and {s['dev_tasks']} dev tasks (new kinds of work).",
    ]
    lines += [f"Warning: {w}." for w in s["heldout_warnings"]]
    lines += [
        "",
        "## TGC against rollouts",
        "",
        "Mean over seeds with its 95% interval (bootstrap over seeds, then tasks; iteration 0 is the one warm-up evaluation, over tasks).",
        "",
        "| iteration | rollouts per seed | seeds | held-out TGC % [95% CI] | held-out SGC % | dev TGC % [95% CI] | dev SGC % | training reward |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["curve"]:
        h, d = r["heldout"], r.get("dev")
        reward = "-" if r["training_reward_mean"] is None else f"{r['training_reward_mean']:.3f}"
        cells = [
            str(r["iteration"]),
            str(r["rollouts_per_seed"]),
            "warm-up" if r["iteration"] == 0 else str(len(r["seeds"])),
            f"{h['tgc']['mean']:.1f} {interval_text(h['tgc']['ci95'])}",
            f"{h['sgc']['mean']:.1f}",
            f"{d['tgc']['mean']:.1f} {interval_text(d['tgc']['ci95'])}" if d else "-",
            f"{d['sgc']['mean']:.1f}" if d else "-",
            reward,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if any(r[n]["tgc"]["ci95"][0] == r[n]["tgc"]["ci95"][1] for r in result["curve"] for n in ("heldout", "dev") if n in r):
        lines += ["", "An interval of one point means every task had the same value there (all solved or none): the bootstrap's degenerate case."]
    g = result["gain"]
    lines += ["", "## LOOP's own gain (LOOP - warm-up, paired on the same tasks, TGC points)", ""]
    if g is None:
        lines.append("Not measured yet: no seed has an evaluation after the warm-up's.")
    else:
        sets = [n for n in ("heldout", "dev") if n in g]
        where = f"iteration {g['iteration']}" + ("" if g["final"] else f" (not the last: {s['loop']['iterations']}; the run is incomplete)")
        lines += [f"At {where}.", "", "| seed | " + " | ".join(f"{SET_NAMES[n]} gain [95% CI]" for n in sets) + " |", "|---|" + "---|" * len(sets)]
        for seed in g[sets[0]]["per_seed"]:
            lines.append(f"| {seed} | " + " | ".join(paired_text(g[n]["per_seed"][seed], "excludes 0", "includes 0") for n in sets) + " |")
        lines.append("| pooled (seeds, then tasks) | " + " | ".join(paired_text(g[n]["pooled"], "excludes 0", "includes 0") for n in sets) + " |")
        h = g["heldout"]["pooled"]
        lines += [
            "",
            f"LOOP's own gain on held-out instances: {h['diff']:+.1f} points {interval_text(h['ci95'])}; the interval "
            + ("excludes 0." if h["separated"] else "includes 0: not separated from no gain.")
            + f" The issue's goal (>= +{GOAL_POINTS:.0f} points with an interval that excludes 0) is "
            + ("reached." if g["heldout"]["goal_reached"] else "not reached."),
        ]
    lines += ["", "## Where the curve flattens", "", flattening(result), ""]
    if result["steps"]:
        lines += ["| held-out step | seeds | change, paired [95% CI] |", "|---|---|---|"]
        lines += [f"| {st['from']} -> {st['to']} | {st['seeds']} | {paired_text(st, 'excludes 0', 'includes 0')} |" for st in result["steps"]]
    lines += against_source_text(result.get("vs_source"))
    lines += ["", "## Training reward per iteration (mean fraction of checks passed over the iteration's rollouts)", ""]
    seeds = list(result["seeds"])
    longest = max((len(v["training"]) for v in result["seeds"].values()), default=0)
    if longest:
        lines += ["| iteration | " + " | ".join(f"seed {x}" for x in seeds) + " | optimizer steps (per seed) |", "|---|" + "---|" * (len(seeds) + 1)]
        for i in range(1, longest + 1):
            rows = [next((h for h in result["seeds"][x]["training"] if h["iteration"] == i), None) for x in seeds]
            rewards = ["-" if h is None or h["reward_mean"] is None else f"{h['reward_mean']:.3f}" for h in rows]
            steps = ", ".join("-" if h is None else str(h["optimizer_steps"]) for h in rows)
            lines.append(f"| {i} | " + " | ".join(rewards) + f" | {steps} |")
    c = result["cost"]
    recorded, now = c["recorded_stage_seconds"] / 60, c["this_invocation_seconds"] / 60
    lines += ["", f"Cost: {recorded:.0f} min of recorded work (warm-up, training iterations, evaluations); this invocation {now:.1f} min.", ""]
    return "\n".join(lines)


def against_source_text(vs: dict[str, Any] | None) -> list[str]:
    from looprl.analysis.tables import paired_text

    if vs is None:
        return []
    lines = ["", f"## Against {vs['source']} (the curve this warm-up came from)", ""]
    if not vs["found"]:
        return lines + [f"Its evaluations are not here ({vs['source']}/evals): nothing to pair with."]
    if vs["setting_changed"]:
        lines += ["What differs: " + "; ".join(f"`{d}`" for d in vs["setting_changed"]) + ".", ""]
    if not vs["points"]:
        return lines + ["No evaluation point both runs have yet."]
    lines += [
        "Held-out TGC, this run minus that one, seed by seed on the same tasks, pooled over the seeds both have:",
        "",
        "| iteration | rollouts per seed, here / there | seeds | this - source, paired [95% CI] |",
        "|---|---|---|---|",
    ]
    return lines + [
        f"| {p['iteration']} | {p['rollouts']['here']} / {p['rollouts']['source'] if p['rollouts']['source'] is not None else '?'} | "
        f"{', '.join(map(str, p['seeds']))} | {paired_text(p, 'excludes 0', 'includes 0')} |"
        for p in vs["points"]
    ]


def plot(result: dict[str, Any], path: Path) -> None:
    """Held-out and dev TGC against rollouts per seed: the mean over seeds with its 95% band, each seed a thin line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [n for n in ("heldout", "dev") if n in result["curve"][0]]
    titles = {"heldout": "held-out instances of the training scenarios", "dev": "dev scenarios (new kinds of work)"}
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets):
        xs = [r["rollouts_per_seed"] for r in result["curve"]]
        ax.plot(xs, [r[name]["tgc"]["mean"] for r in result["curve"]], marker="o", color="C0", label="mean over seeds")
        low, high = [r[name]["tgc"]["ci95"][0] for r in result["curve"]], [r[name]["tgc"]["ci95"][1] for r in result["curve"]]
        ax.fill_between(xs, low, high, color="C0", alpha=0.2, label="95% interval")
        for seed, v in result["seeds"].items():
            cps = v["checkpoints"]
            ax.plot([c["rollouts"] for c in cps], [c[name]["tgc"] for c in cps], color="grey", linewidth=0.8, alpha=0.7, label=f"seed {seed}")
        top = max([r[name]["tgc"]["ci95"][1] for r in result["curve"]] + [c[name]["tgc"] for v in result["seeds"].values() for c in v["checkpoints"]])
        ax.set(xlabel="LOOP rollouts per seed (0 = after the SFT-GT warm-up)", ylabel="TGC (%)", title=titles[name], ylim=(0, min(100, top + 10)))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
