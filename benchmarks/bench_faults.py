"""Fault report: every fault looprl injects on purpose, and what it cost.

Each scenario runs a few collection iterations (a scripted policy: no model, so the host's fault
handling is what is measured) with one kind of fault injected, the way tests/faults/ injects it, and
counts: times injected; whether the run survived (every iteration finished); rollouts affected (ended
as infra failures and left out of the statistics, or retried in place); rollouts lost (requested but
neither returned nor recorded: goal 0); iterations lost (iterations that did not finish: goal 0).
A fault that cannot be survived by design (a sampler that stays down) must stop the run with one
`RolloutError`, which the table shows as "stopped cleanly".

Other faults (checkpoint writes on a full disk, SIGTERM/SIGINT during sampling and update) add a
scenario with `@scenario("name")` below: a function returning a `FaultResult`.

Writes benchmarks/results/bench_faults.json and .md (`--out` folder).

    python benchmarks/bench_faults.py
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

ITERATIONS = 3
TASKS = ["toy_1", "toy_2", "toy_3"]
K = 3


@dataclass
class FaultResult:
    fault: str
    injected: int
    survived: str  # "yes" | "stopped cleanly" | "no"
    rollouts_affected: int
    rollouts_lost: int
    iterations_lost: int
    note: str = ""


SCENARIOS: dict[str, Callable[[], FaultResult]] = {}


def scenario(name: str):
    def register(fn: Callable[[], FaultResult]) -> Callable[[], FaultResult]:
        SCENARIOS[name] = fn
        return fn

    return register


def _iterations(collect_once: Callable[[int], list], requested: int) -> tuple[int, int, int, str]:
    """Run ITERATIONS collections: (affected, lost, iterations lost, error of the first lost one)."""
    from looprl.rollout import RolloutError
    from looprl.rollout.faults import require_survivors

    affected = lost = iterations_lost = 0
    error = ""
    for i in range(ITERATIONS):
        try:
            trajs = collect_once(i)
            require_survivors(trajs, f"iteration {i + 1}")
        except RolloutError as exc:
            iterations_lost += 1
            error = error or str(exc)[:120]
            continue
        affected += sum(t.infra_failed for t in trajs)
        lost += requested - len(trajs)
    return affected, lost, iterations_lost, error


def _steps_env_run(plan, **spec) -> tuple[int, int, int, str]:
    from looprl.backends.base import SamplingParams
    from looprl.rollout import collect_rollouts
    from looprl.testing import FaultyEnv, ScriptedPolicy, StepsEnv

    policy, sampling = ScriptedPolicy(), SamplingParams(max_new_tokens=200)
    return _iterations(
        lambda i: collect_rollouts(policy, lambda: FaultyEnv(StepsEnv(), plan), TASKS, k=K, sampling=sampling, progress=False, **spec),
        len(TASKS) * K,
    )


@scenario("env step raises (inside a K-group)")
def env_raises() -> FaultResult:
    from looprl.testing import FaultPlan

    plan = FaultPlan(raise_on_steps={3, 20, 41})
    affected, lost, it_lost, _ = _steps_env_run(plan)
    return FaultResult("env step raises (inside a K-group)", plan.injected["raise"], "yes" if not it_lost else "no", affected, lost, it_lost)


@scenario("env step hangs past env_timeout_s")
def env_hangs() -> FaultResult:
    from looprl.testing import FaultPlan

    plan = FaultPlan(hang_on_steps={4, 30}, hang_s=10.0)
    try:
        affected, lost, it_lost, _ = _steps_env_run(plan, env_timeout_s=0.5)
    finally:
        plan.release()
    return FaultResult("env step hangs past env_timeout_s", plan.injected["hang"], "yes" if not it_lost else "no", affected, lost, it_lost)


@scenario("sandbox worker SIGKILLed mid-cell")
def worker_killed() -> FaultResult:
    from looprl.agent import Scaffold
    from looprl.backends.base import SamplingParams
    from looprl.env.appsuite import AppSuiteEnv
    from looprl.rollout import collect_rollouts
    from looprl.testing import FaultPlan, FaultyEnv, ScriptedPolicy
    from looprl.world import load_tasks

    def script(prompt: str) -> str:
        last = prompt.rsplit("<|im_start|>user\n", 1)[-1]
        if "slept" in last or "restarted" in last:
            return "```python\napis.supervisor.complete_task()\n```"
        return "```python\nimport time\ntime.sleep(0.8)\nprint('slept')\n```"

    plan = FaultPlan(kill_on_steps={3, 8})
    tasks = [t.id for t in load_tasks("train")[:2]]
    policy = ScriptedPolicy(script)
    sampling = SamplingParams(max_new_tokens=400)
    affected, lost, it_lost, _ = _iterations(
        lambda i: collect_rollouts(
            policy, lambda: FaultyEnv(AppSuiteEnv(), plan), tasks, k=K, sampling=sampling, concurrency=1, scaffold=Scaffold(), progress=False
        ),
        len(tasks) * K,
    )
    return FaultResult("sandbox worker SIGKILLed mid-cell", plan.injected["kill"], "yes" if not it_lost else "no", affected, lost, it_lost)


def _http_run(server, env_factory=None) -> tuple[int, int, int, str]:
    from looprl.agent import Scaffold
    from looprl.backends.base import SamplingParams
    from looprl.backends.openai import OpenAIChatBackend
    from looprl.rollout import collect_rollouts
    from looprl.testing import StepsEnv

    backend = OpenAIChatBackend("fault-test", base_url=server.url, max_retries=0, timeout=10.0, concurrency=4)
    sampling = SamplingParams(max_new_tokens=200)
    try:
        return _iterations(
            lambda i: collect_rollouts(backend, env_factory or StepsEnv, TASKS, k=K, sampling=sampling, scaffold=Scaffold(), progress=False),
            len(TASKS) * K,
        )
    finally:
        backend.close()


@scenario("HTTP sampler answers 500")
def sampler_500() -> FaultResult:
    from looprl.testing import ChatServer, default_script

    server = ChatServer(default_script)
    try:
        server.fail_next(4)
        affected, lost, it_lost, _ = _http_run(server)
    finally:
        server.close()
    return FaultResult("HTTP sampler answers 500", server.failed, "yes" if not it_lost else "no", affected, lost, it_lost, "retried in place")


@scenario("HTTP sampler server killed and restarted")
def sampler_restart() -> FaultResult:
    from looprl.testing import ChatServer, StepsEnv, default_script

    server = ChatServer(default_script)
    count = {"steps": 0, "kills": 0}

    def env():
        e = StepsEnv()
        step = e.step

        def stepping(action):
            count["steps"] += 1
            if count["steps"] in (5, 40):
                count["kills"] += 1
                server.stop()
                threading.Timer(0.3, server.start).start()
            return step(action)

        e.step = stepping
        return e

    try:
        affected, lost, it_lost, _ = _http_run(server, env)
    finally:
        server.close()
    return FaultResult("HTTP sampler server killed and restarted", count["kills"], "yes" if not it_lost else "no", affected, lost, it_lost, "retried in place")


@scenario("HTTP sampler server down for good")
def sampler_down() -> FaultResult:
    from looprl.testing import ChatServer, default_script

    server = ChatServer(default_script)
    server.stop()
    affected, lost, it_lost, error = _http_run(server)
    survived = "stopped cleanly" if it_lost == ITERATIONS and error.startswith("iteration 1: all") else "no"
    return FaultResult("HTTP sampler server down for good", ITERATIONS, survived, affected, lost, it_lost, "cannot be survived: one RolloutError per iteration")


# Checkpoint and signal faults (disk full while a checkpoint is written, SIGTERM/SIGINT during sampling and
# during the update) register here with @scenario, from looprl/training/checkpoint.py's own tests' helpers.


def table(results: list[FaultResult]) -> str:
    head = "| fault | times injected | survived | rollouts affected | rollouts lost | iterations lost | note |\n|---|---|---|---|---|---|---|\n"
    cells = [(r.fault, r.injected, r.survived, r.rollouts_affected, r.rollouts_lost, r.iterations_lost, r.note) for r in results]
    rows = "".join("| " + " | ".join(str(c) for c in row) + " |\n" for row in cells)
    return head + rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    from looprl.rollout import faults

    faults.SAMPLER_BACKOFF_S = (0.3, 0.6)  # the default's shape, shorter: the benchmark waits on every retry
    results = [fn() for fn in SCENARIOS.values()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = table(results)
    meta = {"iterations_per_scenario": ITERATIONS, "python": sys.version.split()[0]}
    (out / "bench_faults.json").write_text(json.dumps({**meta, "faults": [asdict(r) for r in results]}, indent=2) + "\n")
    (out / "bench_faults.md").write_text(f"Fault report ({ITERATIONS} collection iterations per fault; benchmarks/bench_faults.py)\n\n" + md)
    print(md)


if __name__ == "__main__":
    main()
