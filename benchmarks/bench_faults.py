"""Fault report: every fault looprl injects on purpose, and what it cost.

Each scenario runs a few collection iterations (a scripted policy: no model, so the host's fault
handling is what is measured) with one kind of fault injected, the way tests/faults/ injects it, and
counts: times injected; whether the run survived (every iteration finished); rollouts affected (ended
as infra failures and left out of the statistics, or retried in place); rollouts lost (requested but
neither returned nor recorded: goal 0); iterations lost (iterations that did not finish: goal 0).
A fault that cannot be survived by design (a sampler that stays down) must stop the run with one
`RolloutError`, which the table shows as "stopped cleanly".

The faults that need a model, a training run or a real server (corrupt and unwritable checkpoints,
SIGINT/SIGTERM, bad data at preflight, the vLLM server killed mid-iteration, `looprl train`'s exits)
are the tests in tests/faults/ that list them in their module's `FAULT_CASES` (fault, test name, what
surviving means). This reads those lists from the files (`ast`, no import: tests/ is not a package),
runs each module's cases in one pytest process and counts each test item (a parametrized test is one
item per case) as one injection, survived when it passed: the test asserts what surviving means. Those
tests assert the outcome (resume exact, one message, the previous checkpoint intact), not rollout
counts, so their rollout and iteration columns read "-" except where a test asserts none was lost.

Writes benchmarks/results/bench_faults.json and .md (`--out` folder). `--no-tests` runs the scripted
scenarios alone (seconds); the tests take minutes (the real vLLM server starts four times).

    nice python benchmarks/bench_faults.py
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
FAULT_TESTS = ROOT / "tests" / "faults"
# the test modules whose FAULT_CASES are rows of the report (the scripted scenarios below cover the rest of tests/faults/)
FAULT_TEST_FILES = (
    "test_checkpoint_faults.py",
    "test_signals.py",
    "test_preflight_data.py",
    "test_vllm_faults.py",
    "test_cli_faults.py",
    "test_training_faults.py",
)
ITERATIONS = 3
TASKS = ["toy_1", "toy_2", "toy_3"]
K = 3


@dataclass
class FaultResult:
    fault: str
    injected: int
    survived: str  # "yes" | "stopped cleanly" | "no"
    rollouts_affected: int | str  # "-" where the test asserts the outcome, not a count
    rollouts_lost: int | str
    iterations_lost: int | str
    note: str = ""
    detail: str = ""  # for a row that failed: the end of pytest's report (JSON only)


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


# ------------------------------------------------------------------ the faults tests/faults/ injects with a model


def fault_cases(path: Path) -> list[tuple[str, str, str]]:
    """The module's FAULT_CASES, read from its source: (fault, test name, what surviving means)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FAULT_CASES" for t in node.targets):
            return [tuple(case) for case in ast.literal_eval(node.value)]
    raise ValueError(f"{path} has no FAULT_CASES list")


# rows whose test asserts that nothing was lost (every rollout counted, the run finished): what it asserts, as counts
ASSERTED_NOTHING_LOST = {"real vLLM server SIGKILLed mid-iteration (`looprl train`)": (0, 0)}


def run_fault_tests(path: Path, timeout_s: float = 3600) -> list[FaultResult]:
    """Run every case of one module in one pytest process; one FaultResult per case."""
    import tempfile

    cases = fault_cases(path)
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        ids = [f"{path}::{test}" for _, test, _ in cases]
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *ids]
        report = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout_s)
        items = ET.parse(junit).getroot().iter("testcase") if junit.is_file() else []
        outcome = {}
        for item in items:
            kind = next((child.tag for child in item if child.tag in ("failure", "error", "skipped")), "passed")
            if outcome.get(item.get("name"), "passed") == "passed":  # a teardown error after a pass is a failure still
                outcome[item.get("name")] = kind
    results = []
    for fault, test, means in cases:
        ran = {name: kind for name, kind in outcome.items() if name == test or name.startswith(test + "[")}
        done = [k for k in ran.values() if k != "skipped"]
        failed = sum(k != "passed" for k in done)
        survived = "skipped" if not done else "yes" if not failed else f"no ({failed} of {len(done)} failed)"
        lost, iterations = ASSERTED_NOTHING_LOST.get(fault, ("-", "-")) if survived == "yes" else ("-", "-")
        detail = "" if survived in ("yes", "skipped") else (report.stdout + report.stderr)[-3000:]
        results.append(FaultResult(fault, len(done), survived, "-", lost, iterations, f"{means} ({path.name})", detail))
    return results


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


def table(results: list[FaultResult]) -> str:
    head = "| fault | times injected | survived | rollouts affected | rollouts lost | iterations lost | note |\n|---|---|---|---|---|---|---|\n"
    cells = [(r.fault, r.injected, r.survived, r.rollouts_affected, r.rollouts_lost, r.iterations_lost, r.note) for r in results]  # detail: JSON only
    rows = "".join("| " + " | ".join(str(c) for c in row) + " |\n" for row in cells)
    return head + rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--no-tests", action="store_true", help="the scripted scenarios only, not tests/faults/'s FAULT_CASES")
    args = ap.parse_args()
    from looprl.rollout import faults

    faults.SAMPLER_BACKOFF_S = (0.3, 0.6)  # the default's shape, shorter: the benchmark waits on every retry
    t0 = time.perf_counter()
    results = [fn() for fn in SCENARIOS.values()]
    if not args.no_tests:
        for name in FAULT_TEST_FILES:
            results += run_fault_tests(FAULT_TESTS / name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = table(results)
    meta = {"iterations_per_scenario": ITERATIONS, "python": sys.version.split()[0], "seconds": round(time.perf_counter() - t0, 1)}
    (out / "bench_faults.json").write_text(json.dumps({**meta, "faults": [asdict(r) for r in results]}, indent=2) + "\n")
    head = (
        f"Fault report (benchmarks/bench_faults.py, {meta['seconds']:.0f} s): the scripted scenarios run {ITERATIONS} collection iterations "
        "per fault; the rows naming a test file are tests/faults/ cases, one injection per test item, survived = passed; "
        '"-": that test asserts the outcome, not a count.\n\n'
    )
    (out / "bench_faults.md").write_text(head + md)
    print(md)


if __name__ == "__main__":
    main()
