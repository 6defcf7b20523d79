"""Many episodes at once: 32 concurrent appsuite episodes on this small machine, nothing leaked."""

from __future__ import annotations

import gc
import glob
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

from looprl.env import make_env
from looprl.env.cells import split_into_turns
from looprl.env.sandbox import Sandbox
from looprl.world import load_tasks


def _children() -> list[int]:
    """Pids of this process's live (or zombie) children."""
    me, kids = os.getpid(), []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            kids.append(int(stat.split("/")[2]))
    return kids


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _episode(job: tuple[str, list[str]]) -> tuple[str, float]:
    task_id, turns = job
    env = make_env("appsuite")
    try:
        env.reset(task_id)
        result = None
        for turn in turns:
            result = env.step(f"```python\n{turn}\n```")
            if result.terminated:
                break
        return task_id, result.reward
    finally:
        env.close()


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_32_concurrent_episodes_finish_and_leak_nothing():
    tasks = (load_tasks("train") + load_tasks("dev"))[:32]
    assert len(tasks) == 32
    jobs = [(task.id, [turn.code for turn in split_into_turns(task.solution)]) for task in tasks]
    gc.collect()
    fds_before, children_before = _open_fds(), _children()
    rss = []
    for _ in range(3):  # the first round warms caches (world snapshot, imports); later ones must not grow
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(_episode, jobs))
        assert [r[1] for r in results] == [1.0] * 32, [r for r in results if r[1] != 1.0]
        gc.collect()
        rss.append(_rss_mib())
        assert _children() == children_before, "sandbox workers were left running"
        assert _open_fds() == fds_before, "file descriptors leaked"
    # Thread arenas make RSS wobble by ~15 MiB; a leak of 1.25 MiB per episode would show as 40.
    assert rss[2] - rss[1] < 40, f"host memory grew by {rss[2] - rss[1]:.1f} MiB over 32 more episodes (RSS {rss})"


def test_closed_and_abandoned_sandboxes_leave_no_process_or_directory():
    before_dirs = set(glob.glob(os.path.join(tempfile.gettempdir(), "looprl-sandbox-*")))
    children_before = _children()
    boxes = [Sandbox(lambda *a: None, isolation="unshare") for _ in range(8)]
    for box in boxes:
        assert box.run("print(1)").observation == "1"
    for box in boxes[:4]:
        box.close()
    del box, boxes  # the other four are dropped without close(): their finalizer kills the worker
    gc.collect()
    assert _children() == children_before
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "looprl-sandbox-*"))) == before_dirs


def test_replacing_lost_workers_leaks_nothing():
    gc.collect()
    fds_before, children_before = _open_fds(), _children()
    box = Sandbox(lambda *a: None, limits={"cell_timeout_s": 0.2, "kill_grace_s": 0.2})
    escape = "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__"
    for _ in range(3):
        assert box.run(f"{escape}['_exit'](1)").restarted
        deaf = f"sig = {escape}['sys'].modules['signal']\nsig.signal(sig.SIGALRM, sig.SIG_IGN)\nwhile True:\n    pass"
        assert box.run(deaf).restarted  # ignores the timeout, so the host kills it
    assert box.run("print('alive')").observation == "alive" and box.restarts == 6
    box.close()
    assert _children() == children_before and _open_fds() == fds_before
