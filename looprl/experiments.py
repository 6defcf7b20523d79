"""Resumable multi-stage experiments on the built-in world: what the demo (looprl/demo.py, a script on
this module) and the benchmarks (benchmarks/reproduce.py, benchmarks/bench_generalization.py) share.

An experiment is a list of stages (a warm-up, a training run, a greedy evaluation, ...), each a
looprl run directory that itself resumes from its last checkpoint. `Marks` records in one state file
which stages are done (written atomically after each), and `Stages` runs a stage only when it is not
marked, recording when it finished and its wall seconds, so a killed experiment continues where it
stopped and a rerun of a finished one redoes nothing.

The stages themselves: the SFT-GT warm-up's and LOOP's training configs (`sft_config`, `loop_config`)
trained by `train_stage`, and greedy evaluations (`eval_config`, `evaluate_adapter`) that go through
the one evaluation path, looprl.rollout.evaluate(), built as `looprl eval` builds it
(`evaluate_config`). Every rollout is sampled by one local vLLM server (`rollout_server`) or by
transformers in this process (`sampler_backend`).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

if TYPE_CHECKING:
    from rich.console import Console

    from looprl.config import DemoConfig, EvalConfig, RolloutConfig, TrainConfig
    from looprl.rollout.evaluation import EvalResult, EvalSet

__all__ = [
    "Marks",
    "Stages",
    "pick_tasks",
    "pick_heldout_tasks",
    "pick_dev_tasks",
    "task_sequence",
    "sampler_backend",
    "rollout_server",
    "sft_config",
    "loop_config",
    "eval_config",
    "train_stage",
    "latest_adapter",
    "evaluate_config",
    "evaluate_adapter",
    "eval_sets",
    "tgc_and_reward",
    "eval_numbers",
    "mean_sd",
]


# ================================================================================ resumable stages


class Marks:
    """Which stages are done (a JSON file, written atomically after each): stage key -> what was recorded.

    A state file in the demo's earlier layout (`{"done": {stage: ...}}`, demo_state.json before the
    demo ran on this class) is read as the same marks and written back flat at the next mark."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        if set(data) == {"done"} and isinstance(data["done"], dict):
            data = dict(data["done"])
        self.data = data

    def done(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> dict[str, Any]:
        return self.data.get(key, {})

    def mark(self, key: str, **info: Any) -> None:
        from looprl.utils.io import atomic_write_json

        self.data[key] = info
        atomic_write_json(self.path, self.data)

    def seconds(self, key: str) -> float:
        return float(self.get(key).get("seconds", 0.0))


class Stages:
    """Run stages once: `stages(key, fn, *args)` calls fn(*args) unless `key` is marked done, then
    marks it with the time it finished, its wall seconds and, when fn returns a dict, that dict (what
    a stage wants remembered, e.g. the model's path), and prints `[tag] key: N s`. With a `title`,
    a stage announces itself (a rule on `console`) or says it is already done."""

    def __init__(self, marks: Marks, tag: str, console: Console | None = None) -> None:
        self.marks, self.tag, self.console = marks, tag, console

    def __call__(self, key: str, fn: Callable[..., Any], *args: Any, title: str | None = None) -> bool:
        """True when the stage ran now, False when it was already done."""
        if self.marks.done(key):
            if title is not None:
                self._say(f"- {title}: already done ({self.marks.get(key).get('at', 'earlier')})", style="dim")
            return False
        if title is not None:
            if self.console is not None:
                self.console.rule(f"[bold]{title}")
            else:
                print(f"== {title}", flush=True)
        t0 = time.perf_counter()
        result = fn(*args)
        recorded = result if isinstance(result, dict) else {}
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.marks.mark(key, at=at, seconds=round(time.perf_counter() - t0, 1), **recorded)
        print(f"[{self.tag}] {key}: {self.marks.seconds(key):.0f} s", flush=True)
        return True

    def pending(self, keys: list[str]) -> bool:
        return any(not self.marks.done(k) for k in keys)

    def _say(self, text: str, style: str) -> None:
        if self.console is not None:
            self.console.print(text, style=style, markup=False, highlight=False)
        else:
            print(text, flush=True)


# ================================================================================ tasks


def pick_tasks(split: str, difficulties: list[int] | None, n: int, scenarios: list[str] | None = None) -> list[str]:
    """A deterministic subset of `n` tasks of `split` that spreads over its scenarios (or `scenarios`):
    instance 1 of each scenario first (of the wanted difficulties), then instance 2, and so on."""
    from looprl.world.tasks import instance, instance_numbers, split_scenarios

    names = [name for name in split_scenarios(split) if scenarios is None or name in scenarios]
    picked: list[str] = []
    for k, number in enumerate(instance_numbers(split, 10_000)):
        for name in names:
            task = instance(name, number)
            if not difficulties or task.difficulty in difficulties:
                picked.append(task.id)
                if len(picked) == n:
                    return picked
        if k >= 50 and not picked:
            break
    if len(picked) < n:
        raise ValueError(f"{split}: found {len(picked)} tasks with difficulties {difficulties}, wanted {n}")
    return picked


def pick_heldout_tasks(cfg: DemoConfig) -> list[str]:
    """Held-out instances of the training scenarios (those LOOP trains on), of the difficulties it trains on."""
    from looprl.world.tasks import HELDOUT

    return pick_tasks(HELDOUT, cfg.train.tasks.difficulties, cfg.heldout_tasks, cfg.train.tasks.scenarios)


def pick_dev_tasks(cfg: DemoConfig) -> list[str]:
    return pick_tasks(cfg.train.tasks.dev_split, cfg.dev_difficulties, cfg.dev_tasks) if cfg.dev_tasks else []


def task_sequence(cfg: TrainConfig, n: int) -> list[str]:
    """The first `n` training tasks a run of `cfg` draws, in order: the trainer's own sampler
    (looprl.training.sampler), so runs of other methods can be given exactly these tasks."""
    from looprl.training.sampler import TaskSampler
    from looprl.training.trainer import resolve_task_ids

    split = cfg.tasks.train_split
    fresh = (lambda epoch: resolve_task_ids(cfg, split, epoch=epoch)) if cfg.tasks.fresh_instances else None
    return TaskSampler(resolve_task_ids(cfg, split), cfg.seed, fresh=fresh).sample(n)


# ================================================================================ the sampler


def sampler_backend(cfg: DemoConfig) -> str:
    """The backend that samples every rollout of an experiment (evaluations and training collection).

    "auto" picks vLLM when its environment exists (`looprl models setup-vllm`, which
    scripts/demo.sh runs). Measured here (docs/results.md): with the adapter merged into the served
    weights and each episode's turn requested on its own, 12 dev episodes of the warmed-up model took
    68 s (57 tok/s), against 250 s with the LoRA hot-swapped in and batched turns.
    """
    from looprl.backends.vllm import vllm_python, vllm_ready

    if cfg.sampler == "vllm":
        vllm_python()  # raises, naming `looprl models setup-vllm`, when the environment is missing
    if cfg.sampler != "auto":
        return cfg.sampler
    return "vllm" if vllm_ready() else "transformers"


@contextmanager
def rollout_server(cfg: DemoConfig, model_path: str, backend: str, needed: bool) -> Iterator[str | None]:
    """One vLLM server shared by every stage (started only when a sampling stage is left to run); the
    trained adapter reaches it as `train.rollout.adapter_sync` says. Yields its URL, or None when
    sampling stays in this process."""
    if backend != "vllm" or not needed:
        yield None
        return
    if cfg.train.rollout.vllm_url:  # the user's own server
        yield cfg.train.rollout.vllm_url
        return
    from looprl.backends.vllm import server_kwargs_for, start_server

    t = cfg.train
    log = Path(cfg.run_dir) / "vllm_server.log"
    # the trainer's dtype (float32 by default): on a CPU without bf16 instructions (AVX2 only, as CI's
    # machine) vLLM's bf16 matmuls fall back to a path ~10x slower than float32
    with start_server(
        model_path,
        max_lora_rank=t.lora.r,
        max_model_len=t.rollout.sampling.max_context_tokens,  # the longest token stream an episode can reach
        max_num_seqs=t.rollout.concurrency,  # the most requests the collector has in flight
        dtype=t.model.dtype,
        seed=t.seed,
        log_path=log,
        **server_kwargs_for(t.rollout.adapter_sync),
    ) as server:
        yield server.url


def _with_sampler(rollout: RolloutConfig, backend: str, url: str | None) -> RolloutConfig:
    return rollout.model_copy(update={"backend": backend, "vllm_url": url}) if backend == "vllm" else rollout


# ================================================================================ training stages


def sft_config(cfg: DemoConfig, model_path: str, run_dir: Path) -> TrainConfig:
    """The SFT-GT warm-up's training config: one iteration = one pass over the ground-truth chats of
    every training task of `sft_difficulties`."""
    from looprl.training.trainer import resolve_task_ids

    sft = cfg.train.model_copy(deep=True)
    sft.run_dir = str(run_dir)
    sft.model.name_or_path = model_path
    sft.tasks.difficulties = list(cfg.sft_difficulties)
    sft.tasks.instances, sft.tasks.instance_start, sft.tasks.fresh_instances = cfg.sft_instances, 1, False
    t = sft.trainer
    chats = cfg.sft_epochs * len(resolve_task_ids(sft, sft.tasks.train_split))
    t.method, t.epochs = "sft-gt", 1
    # iterations of at most sft_chats_per_iteration chats, as even as can be (the task sampler goes pass by
    # pass, each a fresh permutation, so the warm-up sees every chat sft_epochs times, give or take one iteration's rounding)
    t.iterations = max(1, math.ceil(chats / cfg.sft_chats_per_iteration))
    t.tasks_per_iteration = max(1, math.ceil(chats / t.iterations))
    t.minibatch_size, t.lr, t.sft_read_docs = cfg.sft_minibatch_size, cfg.sft_lr, cfg.sft_read_docs
    # it fits stored chats: nothing is sampled, so nothing overlaps and nothing is oversampled (a LOOP
    # stage's max_staleness and dynamic sampling are its own)
    from looprl.config import TrainConfig, TrainerConfig

    sft.rollout.max_staleness, t.behaviour_weight_cap = 0, TrainerConfig.model_fields["behaviour_weight_cap"].default
    t.dynamic_sampling, t.dynamic_sampling_max_batches = False, TrainerConfig.model_fields["dynamic_sampling_max_batches"].default
    return TrainConfig.model_validate(sft.model_dump())


def loop_config(cfg: DemoConfig, model_path: str, start_adapter: str | None, run_dir: Path, backend: str, url: str | None) -> TrainConfig:
    """The LOOP stage's training config, starting from `start_adapter` (the warm-up's, or None), on
    training instances after the warm-up's."""
    loop = cfg.train.model_copy(deep=True)
    if cfg.sft_epochs > 0 and loop.tasks.instances is not None and loop.tasks.instance_start == 1:
        loop.tasks.instance_start = cfg.sft_instances + 1
    loop.run_dir = str(run_dir)
    loop.model.name_or_path = model_path
    loop.model.adapter_path = start_adapter
    loop.rollout = _with_sampler(loop.rollout, backend, url)
    return loop


def train_stage(cfg: TrainConfig) -> None:
    """Train `cfg`, resuming from its run directory's last checkpoint when there is one."""
    from looprl.training.checkpoint import load_latest
    from looprl.training.trainer import Trainer

    resume = load_latest(cfg.run_dir) is not None
    with Trainer(cfg, resume=resume) as trainer:
        trainer.train()


def latest_adapter(run_dir: Path) -> str:
    from looprl.training.checkpoint import load_latest

    found = load_latest(run_dir)
    if found is None:
        raise FileNotFoundError(f"no usable checkpoint under {Path(run_dir) / 'checkpoints'}")
    return str(found[0] / "adapter")


# ================================================================================ evaluation


def evaluate_config(
    cfg: EvalConfig,
    sets: Mapping[str, EvalSet],
    *,
    method: str | None = None,
    label: str | None = None,
    command: str | None = None,
    progress: bool = True,
    build_policy: Callable[[Any], Any] | None = None,
) -> dict[str, EvalResult]:
    """Evaluate as `cfg` says (built by looprl.build, as `looprl eval` builds it) on the labelled
    `sets`, sampled in one pass by looprl.rollout.evaluate(); returns label -> that set's result.

    Every set's folder gets its identity first (run.json and config.yaml, with the set's split, the
    method that trained the adapter, the set's model name as the run's name, `command`), then its
    rollouts.jsonl and summary.json. `label` is the model's name in every trajectory (default: its
    path); `build_policy(cfg)` builds the sampler (default looprl.build.build_sampling_backend),
    after the cheap checks, so a bad config fails before the model loads."""
    from looprl.build import build_env_factory, build_sampling_backend, rollout_spec, write_run_files
    from looprl.rollout import evaluate

    for part in sets.values():
        if part.out_dir is not None:
            own = cfg.model_copy(update={"split": part.split}) if part.split != cfg.split else cfg
            write_run_files(part.out_dir, own, kind="eval", split=part.split, method=method, name=part.model_name, command=command)
    spec = rollout_spec(cfg, max_turns=cfg.env.eval_max_turns, model_name=label)
    env_factory = build_env_factory(cfg)
    policy = (build_policy or build_sampling_backend)(cfg)
    return evaluate(policy, env_factory, dict(sets), spec, samples=cfg.samples, progress=progress).sets


def eval_config(
    cfg: DemoConfig, model_path: str, adapter: str | None, backend: str = "transformers", url: str | None = None, split: str | None = None
) -> EvalConfig:
    """The greedy evaluation config of an experiment's model with `adapter` (None: the base model)."""
    from looprl.config import EvalConfig, RolloutConfig, SamplingConfig

    t = cfg.train
    sampling = SamplingConfig(**{**t.rollout.sampling.model_dump(), "temperature": 0.0})
    rollout = _with_sampler(RolloutConfig(**{**t.rollout.model_dump(), "sampling": sampling}), backend, url)
    model = t.model.model_copy(update={"name_or_path": model_path, "adapter_path": adapter})
    return EvalConfig(seed=t.seed, model=model, env=t.env, split=split or t.tasks.dev_split, samples=cfg.eval_samples, rollout=rollout)


def eval_sets(cfg: DemoConfig, task_sets: Mapping[str, list[str]], out: Path, when: str, label: str) -> dict[str, EvalSet]:
    """The demo's evaluation sets (suffix "heldout" | "dev" -> task ids; empty ones left out), each
    written as the eval run directory OUT/eval_WHEN_SUFFIX and named "LABEL, SUFFIX"."""
    from looprl.rollout.evaluation import EvalSet
    from looprl.world.tasks import HELDOUT

    split = {"heldout": HELDOUT, "dev": cfg.train.tasks.dev_split}
    return {suffix: EvalSet(ids, split[suffix], out / f"eval_{when}_{suffix}", f"{label}, {suffix}") for suffix, ids in task_sets.items() if ids}


def evaluate_adapter(
    cfg: DemoConfig,
    model_path: str,
    adapter: str | None,
    method: str | None,
    backend: str,
    url: str | None,
    sets: Mapping[str, EvalSet],
    label: str,
    command: str | None = None,
) -> None:
    """Greedy evaluation of `adapter` (trained by `method`; None: the base model) on every set of
    `sets` in one pass (one collection, one adapter load), each its own eval run directory; prints
    each set's summary. Returns nothing, so that it can be a stage of `Stages` as it is. `command`,
    recorded in each eval run's run.json, defaults to this process's command line (the demo's or a
    benchmark's, whichever is running)."""
    import shlex
    import sys

    from looprl.analysis.tables import print_summary

    first = next(iter(sets.values()))
    config = eval_config(cfg, model_path, adapter, backend, url, split=first.split)
    results = evaluate_config(config, sets, method=method, label=label, command=command or shlex.join(sys.argv))
    for result in results.values():
        print_summary(result.summary)


# ================================================================================ numbers


def tgc_and_reward(eval_dir: Path) -> dict[str, float]:
    """TGC (in %), mean reward and task count of an eval run directory, from its rollouts."""
    from looprl.analysis import load_run

    trajectories = load_run(eval_dir).trajectories
    n = max(len(trajectories), 1)
    return {"tgc": 100.0 * sum(bool(t.success) for t in trajectories) / n, "reward": sum(t.reward for t in trajectories) / n, "tasks": len(trajectories)}


def eval_numbers(eval_dir: Path) -> dict[str, Any]:
    """TGC and SGC (in %) with their 95% intervals (bootstrap over tasks, scenarios), mean reward,
    counts and each task's share solved (``per_task``, for paired comparisons: looprl.analysis.stats)
    of an eval run directory, as its summary.json (looprl.rollout.evaluate) records them, with that
    file's path. Summaries written before intervals existed give None for them and no ``per_task``."""
    path = Path(eval_dir) / "summary.json"
    s = json.loads(path.read_text())

    def pct(interval: list[float] | None) -> list[float] | None:
        return None if interval is None else [100.0 * v for v in interval]

    return {
        "tgc": 100.0 * s["tgc"],
        "tgc_ci95": pct(s.get("tgc_ci95")),
        "sgc": 100.0 * s["sgc"],
        "sgc_ci95": pct(s.get("sgc_ci95")),
        "reward": s.get("reward_mean"),
        "reward_ci95": s.get("reward_ci95"),
        "per_task": {task: v["success"] for task, v in (s.get("per_task") or {}).items()},
        "tasks": s["n_tasks"],
        "scenarios": s["n_scenarios"],
        "source": str(path),
    }


def mean_sd(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), count, min and max."""
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
        "min": min(values),
        "max": max(values),
    }
