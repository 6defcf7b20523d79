"""Benchmark: the real-AppWorld adapter against driving the AppWorld engine directly, and servers at scale.

Measures, on an AppWorld root (`--root`, or the self-made fixture of looprl/env/appworld/fixture.py
built into a temporary folder when none is given):

* direct: AppWorld's own `AppWorld(task_id=...)` in the AppWorld venv, in one process (no HTTP):
  reset_ms (constructing the world, i.e. loading the task's databases) and step_ms (`world.execute`)
  over the same cells the adapter runs;
* adapter: `AppWorldEnv.reset` / `.step` on a warm server (the idle pool hands it over, as in a run),
  the same cells, plus server_start_s (a cold server: interpreter, imports, app load);
* concurrency: for each N of `--concurrency`, N envs in threads, each resetting and stepping at once
  under max_servers=N (what `looprl eval` and the AppWorld recipes set): wall time, the servers alive
  at the peak (never above N), their total and per-server resident memory (RSS, from /proc via psutil).

The cells are an episode's usual first steps: list an app's APIs, read a doc, log in through the
supervisor's passwords, search. Writes JSON (`--out`, default benchmarks/results/bench_appworld.json).

    python benchmarks/bench_appworld.py --concurrency 1,4,8 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CELLS = [
    "print(apis.api_docs.show_api_descriptions(app_name='simple_note'))",
    "print(apis.api_docs.show_api_doc(app_name='simple_note', api_name='search_notes'))",
    "passwords = apis.supervisor.show_account_passwords()\n"
    "password = [p['password'] for p in passwords if p['account_name'] == 'simple_note'][0]\n"
    "token = apis.simple_note.login(username=apis.supervisor.show_profile()['email'], password=password)['access_token']",
    "print(len(apis.simple_note.search_notes(access_token=token, page_limit=20)))",
]

_DIRECT = r"""
import json, statistics, sys, time, uuid
# AppWorld freezes the clock at the task's date (freezegun patches time.perf_counter and friends), so
# time with the OS's monotonic clock, which it leaves alone
now = lambda: time.clock_gettime(time.CLOCK_MONOTONIC)
root, task_id, repeat, cells = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
from appworld import update_root
update_root(root)
from appworld.environment import AppWorld
reset, step = [], []
for i in range(repeat + 1):  # the first round warms the imports and caches up, as the adapter's warm server is
    t = now()
    world = AppWorld(task_id=task_id, experiment_name="bench-direct-" + uuid.uuid4().hex[:8])
    r = now() - t
    s = []
    for cell in cells:
        t = now()
        world.execute(cell)
        s.append(now() - t)
    world.close()
    if i:
        reset.append(r * 1000)
        step.extend(x * 1000 for x in s)
print("RESULT " + json.dumps({"reset_ms": statistics.median(reset), "step_ms": statistics.median(step)}))
"""


def _direct(python: Path, root: Path, task_id: str, repeat: int) -> dict:
    proc = subprocess.run(
        [str(python), "-c", _DIRECT, str(root), task_id, str(repeat), json.dumps(CELLS)],
        cwd=root,
        env=dict(os.environ, APPWORLD_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"direct AppWorld run failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return {k: round(v, 2) for k, v in json.loads(line[7:]).items()}


def _episode(env, task_id: str) -> tuple[float, list[float]]:
    t = time.perf_counter()
    env.reset(task_id)
    reset = time.perf_counter() - t
    steps = []
    for cell in CELLS:
        t = time.perf_counter()
        result = env.step(f"```python\n{cell}\n```")
        steps.append(time.perf_counter() - t)
        assert not result.truncated, result.observation
    return reset * 1000, [s * 1000 for s in steps]


def _adapter(root: Path, python: Path, task_id: str, repeat: int) -> dict:
    from looprl.env.appworld import AppWorldEnv, stop_idle_servers

    stop_idle_servers()
    env = AppWorldEnv(root=root, python=python)
    t = time.perf_counter()
    env._ensure_server()
    start_s = time.perf_counter() - t
    _episode(env, task_id)  # warm-up round, as in the direct measurement
    resets, steps = [], []
    for _ in range(repeat):
        r, s = _episode(env, task_id)
        resets.append(r)
        steps.extend(s)
    env.close()
    return {"server_start_s": round(start_s, 2), "reset_ms": round(statistics.median(resets), 2), "step_ms": round(statistics.median(steps), 2)}


def _server_rss_mb() -> tuple[int, float]:
    import psutil

    from looprl.env.appworld import adapter as appworld

    with appworld._IDLE_LOCK:
        servers = [s for s in appworld._LIVE_SERVERS if s.alive]
    rss = 0
    for server in servers:
        try:
            proc = psutil.Process(server.process.pid)
            rss += proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        except (psutil.Error, AttributeError):
            pass
    return len(servers), rss / 2**20


def _concurrent(root: Path, python: Path, task_ids: list[str], n: int) -> dict:
    from looprl.env.appworld import AppWorldEnv, stop_idle_servers

    stop_idle_servers()
    peak = {"servers": 0, "rss_mb": 0.0}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            servers, rss = _server_rss_mb()
            if servers > peak["servers"] or (servers == peak["servers"] and rss > peak["rss_mb"]):
                peak.update(servers=servers, rss_mb=rss)
            stop.wait(0.2)

    def one(i: int) -> tuple[float, list[float]]:
        env = AppWorldEnv(root=root, python=python, max_servers=n)
        try:
            return _episode(env, task_ids[i % len(task_ids)])
        finally:
            env.close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        cold = list(pool.map(one, range(n)))  # every env starts its server
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        warm = list(pool.map(one, range(2 * n)))  # 2N episodes on the N warm servers
    warm_s = time.perf_counter() - t
    servers, rss = _server_rss_mb()
    stop.set()
    watcher.join()
    stop_idle_servers()
    return {
        "concurrency": n,
        "cold_wall_s": round(cold_s, 2),
        "warm_episodes": 2 * n,
        "warm_wall_s": round(warm_s, 2),
        "warm_reset_ms_median": round(statistics.median(r for r, _ in warm), 2),
        "warm_step_ms_median": round(statistics.median(s for _, ss in warm for s in ss), 2),
        "peak_servers": peak["servers"],
        "servers_after": servers,
        "servers_rss_mb": round(max(rss, peak["rss_mb"]), 1),
        "rss_mb_per_server": round(max(rss, peak["rss_mb"]) / max(servers, peak["servers"], 1), 1),
        "cold_reset_ms_median": round(statistics.median(r for r, _ in cold), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="an AppWorld root; default: build the fixture in a temp folder")
    parser.add_argument("--python", type=Path, default=None, help="the AppWorld venv's python (default: looprl's)")
    parser.add_argument("--task", default="a1b2c3d_1", help="task for the latency rows")
    parser.add_argument("--repeat", type=int, default=5, help="episodes per latency row")
    parser.add_argument("--concurrency", default="1,4,8", help="comma-separated numbers of episodes at once")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_appworld.json")
    args = parser.parse_args()

    from looprl.env.appworld.install import default_venv_dir, venv_python

    python = args.python or venv_python(default_venv_dir())
    root = args.root
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="bench-appworld-"))
        fixture = Path(__file__).resolve().parents[1] / "looprl" / "env" / "appworld" / "fixture.py"
        subprocess.run([str(python), str(fixture), str(root)], check=True)
    from looprl.env.appworld import load_task_ids

    task_ids = load_task_ids(root, "train")
    result = {
        "benchmark": "bench_appworld",
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "root": "fixture (looprl/env/appworld/fixture.py)" if args.root is None else str(root),
        "cells_per_episode": len(CELLS),
        "direct_engine": _direct(python, root, args.task, args.repeat),
        "adapter": _adapter(root, python, args.task, args.repeat),
        "concurrency": [_concurrent(root, python, task_ids, int(n)) for n in args.concurrency.split(",")],
    }
    d, a = result["direct_engine"], result["adapter"]
    result["adapter_overhead"] = {"reset_ms": round(a["reset_ms"] - d["reset_ms"], 2), "step_ms": round(a["step_ms"] - d["step_ms"], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
