"""Attacks on the sandboxed REPL, one test per guarantee.

Most attacks first climb out of the Python-level fence with an object-graph walk (ESCAPE below gets
the real `os`, `open` and `__import__` in one line, as any determined agent could), and then show
that the operating-system wall holds anyway: no host files, no host environment, no network, no
child processes, no root, no other episodes, bounded CPU, memory, output and time. Tests that need
bubblewrap's mount namespace are skipped where bwrap cannot run (CI installs it).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest

from looprl.env import make_env
from looprl.env.sandbox import Sandbox, bwrap_available

ESCAPE = (
    "g = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__\n"
    "B = g['__builtins__']\n"
    "real_import, real_open = B['__import__'], B['open']\n"
    "os = real_import('os')\n"
)
needs_bwrap = pytest.mark.skipif(
    not bwrap_available(),
    reason="bubblewrap cannot run here: a system package, added by `bash scripts/ci-setup.d/10-bubblewrap.sh` (as root; apt-get install bubblewrap)",
)
PROJECT = Path(__file__).resolve().parents[2]


def attack(box: Sandbox, code: str):
    return box.run(ESCAPE + code)


# --- the Python-level fence (first fence only) ---------------------------------------------------


@pytest.mark.parametrize(
    "statement, module",
    [
        ("import os", "os"),
        ("import subprocess", "subprocess"),
        ("import socket", "socket"),
        ("import ctypes", "ctypes"),
        ("import sys", "sys"),
        ("import importlib", "importlib"),
        ("import sqlite3", "sqlite3"),
        ("from os import path", "os"),
        ("import os.path", "os.path"),
        ("__import__('pickle')", "pickle"),
        ("import looprl.world", "looprl.world"),
    ],
)
def test_imports_outside_the_allow_list_are_refused_by_name(make_sandbox, statement, module):
    result = make_sandbox().run(statement)
    assert f"ImportError: import of module {module!r} is not allowed in this REPL" in result.observation


@pytest.mark.parametrize("name", ["open", "exec", "eval", "compile", "input", "breakpoint", "exit"])
def test_dangerous_builtins_are_absent(make_sandbox, name):
    assert f"NameError: name '{name}' is not defined" in make_sandbox().run(f"{name}").observation


def test_module_views_hide_private_names(make_sandbox):
    # random._os and datetime.sys are the usual first step out; the views do not carry them.
    result = make_sandbox().run("import random, datetime\nprint(hasattr(random, '_os'), hasattr(datetime, 'sys'))")
    assert result.observation == "False False"


def test_the_subclass_walk_does_escape_the_python_fence(make_sandbox):
    # Why the guarantees below must hold at the OS level: this walk reaches the real os module.
    result = attack(make_sandbox(), "print(type(os.getpid()).__name__, callable(real_open))")
    assert result.observation == "int True"


def test_builtins_tampering_stays_inside_its_own_episode(make_sandbox):
    first = make_sandbox()
    tamper = "B['sorted'] = __builtins__['sorted'] = lambda x: 'tampered'\nprint(sorted([2, 1]))"
    assert attack(first, tamper).observation == "tampered"
    assert sorted([2, 1]) == [1, 2]  # the host's builtins are untouched
    assert make_sandbox().run("print(sorted([2, 1]))").observation == "[1, 2]"  # and so are the next episode's


def test_tampering_with_what_the_worker_itself_needs_only_costs_the_worker(make_sandbox, world):
    box = make_sandbox()
    box.run("apis.kv.set(key='a', value=1)")
    broken = attack(box, "B['len'] = lambda x: 42\nprint('x')")  # the worker's own json encoder uses len
    assert broken.ok or broken.restarted
    assert box.run("print(apis.kv.get(key='a'))").observation == "1" and world.data == {"a": 1}


# --- files --------------------------------------------------------------------------------------


@needs_bwrap
def test_host_files_are_not_visible(make_sandbox):
    code = (
        f"for p in [{str(PROJECT / 'pyproject.toml')!r}, {str(PROJECT / 'looprl' / 'world' / '__init__.py')!r}, '/etc/passwd', '/root']:\n"
        "    try:\n        real_open(p).read(); print('READ', p)\n    except OSError as e:\n        print(type(e).__name__)\n"
        "print(sorted(os.listdir('/')))"
    )
    result = attack(make_sandbox("bwrap"), code)
    assert "READ" not in result.observation, result.observation
    assert "FileNotFoundError" in result.observation
    listing = result.observation.splitlines()[-1]
    assert "work" not in listing and "home" not in listing and "etc" not in listing


def test_host_files_cannot_be_written(make_sandbox, isolation, tmp_path):
    target = tmp_path / "planted.txt"
    tmp_path.chmod(0o755)
    code = f"try:\n    real_open({str(target)!r}, 'w').write('x')\n    print('WROTE')\nexcept OSError as e:\n    print(type(e).__name__)"
    result = attack(make_sandbox(isolation), code)
    assert result.observation in ("PermissionError", "FileNotFoundError"), result.observation
    assert not target.exists()


def test_private_tmp_is_not_shared_between_episodes(make_sandbox, isolation):
    first, second = make_sandbox(isolation), make_sandbox(isolation)
    assert attack(first, "real_open('note.txt', 'w').write('secret')\nprint(os.getcwd() != '/')").observation == "True"
    looked = attack(second, "print(os.path.exists('note.txt'), sorted(os.listdir('.')))")
    assert looked.observation == "False []"


def test_file_size_is_limited(make_sandbox, isolation):
    result = attack(make_sandbox(isolation, file_size_mb=1), "f = real_open('big', 'wb')\nf.write(b'x' * 3_000_000)\nf.flush()")
    assert "File too large" in result.observation or "OSError" in result.observation, result.observation


# --- environment, memory and privileges of the host ----------------------------------------------


def test_host_environment_secrets_are_invisible(make_sandbox, isolation, monkeypatch):
    secret = "sk-looprl-fake-secret-4242"
    monkeypatch.setenv("LOOPRL_FAKE_API_KEY", secret)
    code = (
        "found = [k for k, v in os.environ.items() if 'sk-looprl' in v]\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        for part in ('environ', 'cmdline'):\n"
        "            try:\n                data = real_open(f'/proc/{pid}/{part}', 'rb').read()\n"
        "            except OSError:\n                continue\n"
        "            if b'sk-looprl' in data:\n                found.append((pid, part))\n"
        "print(found, sorted(os.environ))"
    )
    result = attack(make_sandbox(isolation), code)
    assert secret not in result.observation and result.observation.startswith("[] ")
    assert "LOOPRL_FAKE_API_KEY" not in result.observation


def test_host_process_memory_and_environ_are_unreadable(make_sandbox, isolation):
    code = (
        f"for part in ('mem', 'environ', 'maps'):\n"
        f"    try:\n        real_open('/proc/{os.getpid()}/' + part, 'rb').read(16); print('READ', part)\n"
        "    except OSError as e:\n        print(type(e).__name__)"
    )
    result = attack(make_sandbox(isolation), code)
    assert "READ" not in result.observation, result.observation


def test_runs_unprivileged_and_cannot_regain_root(make_sandbox, isolation):
    code = "print(os.getuid() != 0, os.geteuid() != 0)\ntry:\n    os.setuid(0)\n    print('ROOT')\nexcept PermissionError:\n    print('denied')"
    assert attack(make_sandbox(isolation), code).observation == "True True\ndenied"


# --- processes, signals and other episodes ---------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "os.execv('/usr/bin/true', ['true'])",
        "ct = real_import('ctypes')\nlibc = ct.CDLL(None, use_errno=True)\nif libc.socket(2, 1, 0) < 0:\n    raise PermissionError(ct.get_errno(), 'socket')",
        "os.kill(1, 0)",
        "real_import('ctypes')\nlibc = real_import('ctypes').CDLL(None, use_errno=True)\n"
        "if libc.unshare(0x10000000) != 0:\n    raise PermissionError(real_import('ctypes').get_errno(), 'unshare')",
    ],
    ids=["execve", "socket", "kill", "new-user-namespace"],
)
def test_seccomp_refuses_dangerous_syscalls_even_without_namespaces(make_sandbox, code):
    box = make_sandbox("none")
    assert box.protections["seccomp"] is True
    result = attack(box, code)
    assert "PermissionError: [Errno 1]" in result.observation, result.observation


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "rlimit-alone"])
def test_fork_is_refused(make_sandbox, isolation, seccomp):
    code = "try:\n    pid = os.fork()\n    print('FORKED')\n    os._exit(0) if pid == 0 else None\nexcept OSError as e:\n    print(type(e).__name__)"
    # seccomp refuses clone(); without it RLIMIT_NPROC=0 under an unprivileged uid refuses it too.
    expected = "PermissionError" if seccomp else "BlockingIOError"
    assert attack(make_sandbox(isolation, seccomp=seccomp), code).observation == expected


def test_subprocesses_and_shell_commands_cannot_start(make_sandbox, isolation):
    code = (
        "try:\n    os.posix_spawn('/usr/bin/true', ['true'], {})\n    print('RAN')\nexcept OSError as e:\n    print(type(e).__name__)\n"
        "print(os.system('true') != 0)"
    )
    assert attack(make_sandbox(isolation), code).observation == "PermissionError\nTrue"


def test_threads_cannot_start(make_sandbox, isolation):
    code = "th = real_import('_thread')\ntry:\n    th.start_new_thread(print, ())\n    print('STARTED')\nexcept RuntimeError as e:\n    print(e)"
    assert attack(make_sandbox(isolation), code).observation == "can't start new thread"


def test_cannot_kill_the_host(make_sandbox, isolation):
    result = attack(make_sandbox(isolation), f"try:\n    os.kill({os.getpid()}, 9)\n    print('SENT')\nexcept OSError as e:\n    print(type(e).__name__)")
    assert result.observation in ("ProcessLookupError", "PermissionError"), result.observation


def test_kill_everything_reaches_no_other_episode(make_sandbox, isolation):
    victim, attacker = make_sandbox(isolation), make_sandbox(isolation)
    victim.run("alive = 'yes'")
    attack(attacker, "try:\n    os.kill(-1, 9)\nexcept OSError:\n    pass")
    assert victim.run("alive").observation == "'yes'"


def test_worker_sees_only_its_own_processes(make_sandbox):
    other = make_sandbox()
    other.run("pass")
    result = attack(make_sandbox(), "print(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    if bwrap_available():
        assert int(result.observation) <= 3  # bwrap's init, the worker, (a transient listdir)
    else:
        pytest.skip("without a pid namespace /proc lists the host's processes (documented)")


def test_os_exit_only_restarts_the_repl(make_sandbox, world):
    box = make_sandbox()
    box.run("apis.kv.set(key='k', value='v')\nmine = 1")
    died = attack(box, "os._exit(0)")
    assert died.restarted and "exit code 0" in died.observation
    assert box.run("print(apis.kv.get(key='k'))").observation == "v"
    assert world.data == {"k": "v"}


# --- time, CPU, memory, output, recursion ------------------------------------------------------


def test_infinite_loop_is_stopped_and_the_episode_goes_on(make_sandbox):
    box = make_sandbox(cell_timeout_s=0.5)
    box.run("kept = 1")
    assert box.run("while True:\n    pass").error_kind == "timeout"
    assert box.run("kept + 1").observation == "2"


def test_a_loop_that_swallows_the_timeout_is_killed(make_sandbox):
    box = make_sandbox(cell_timeout_s=0.3, kill_grace_s=0.5)
    code = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    result = box.run(code)
    # Almost always the worker is killed; if the one CellTimeout lands on the outer loop's back-edge
    # (outside the try) it ends the cell instead. Either way the cell is stopped and the REPL goes on.
    assert result.error_kind == "timeout" and (result.restarted or "was stopped" in result.observation)
    assert box.run("print('back')").observation == "back"


def test_ignoring_the_alarm_signal_does_not_escape_the_wall_clock(make_sandbox):
    box = make_sandbox(cell_timeout_s=0.3, kill_grace_s=0.5)
    result = attack(box, "sig = real_import('signal')\nsig.signal(sig.SIGALRM, sig.SIG_IGN)\nsig.setitimer(sig.ITIMER_REAL, 0)\nwhile True:\n    pass")
    assert result.error_kind == "timeout" and result.restarted
    assert box.run("1 + 1").observation == "2"


def test_cpu_time_is_limited(make_sandbox, isolation):
    box = make_sandbox(isolation, cpu_seconds=1, cell_timeout_s=20)
    result = attack(box, "sig = real_import('signal')\nsig.signal(sig.SIGALRM, sig.SIG_IGN)\nwhile True:\n    pass")
    assert result.error_kind == "died" and result.restarted, result.observation
    assert "CPU" in result.observation or "SIGKILL" in result.observation
    assert box.run("print('fresh')").observation == "fresh"


def test_one_huge_allocation_is_a_memory_error(make_sandbox, isolation):
    box = make_sandbox(isolation, memory_mb=256)
    box.run("kept = 'yes'")
    result = box.run("x = bytearray(4 * 1024 ** 3)")
    assert "MemoryError" in result.observation and not result.restarted
    assert box.run("kept").observation == "'yes'"


def test_memory_flood_in_small_steps_stays_in_the_worker(make_sandbox, isolation):
    box = make_sandbox(isolation, memory_mb=256)
    result = box.run("hoard = []\nwhile True:\n    hoard.append(' ' * 10_000_000)")
    assert "MemoryError" in result.observation or result.restarted
    assert box.run("hoard = None\nprint('ok')").observation == "ok"


def test_output_flood_is_capped(make_sandbox):
    result = make_sandbox(max_output_chars=10_000).run("print('x' * 50_000_000)\nfor i in range(100000):\n    print(i)")
    assert len(result.observation) < 11_000 and "[output cut:" in result.observation


def test_deep_recursion_is_an_ordinary_error(make_sandbox):
    box = make_sandbox()
    box.run("kept = 3")
    result = box.run("def f(n):\n    return f(n + 1)\nf(0)")
    assert "RecursionError" in result.observation and not result.restarted
    assert box.run("kept").observation == "3"


def test_recursion_past_the_c_stack_only_loses_the_worker(make_sandbox, world):
    box = make_sandbox(cell_timeout_s=20)
    box.run("apis.kv.set(key='a', value=1)")
    # repr() of a deeply nested list recurses in C; with the limit lifted it overflows the C stack.
    code = "real_import('sys').setrecursionlimit(10 ** 8)\nx = []\nfor i in range(300_000):\n    x = [x]\nrepr(x)"
    result = attack(box, code)
    assert result.restarted and result.error_kind == "died" and "SIGSEGV" in result.observation, result.observation
    assert box.run("print(apis.kv.get(key='a'))").observation == "1"


# --- the channel to the host, the apis stub, the world -------------------------------------------

FIND_CHANNEL = (
    "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    frame = e.__traceback__.tb_frame\n"
    "while 'channel' not in frame.f_locals:\n    frame = frame.f_back\n"
    "channel = frame.f_locals['channel']\n"
)


def test_forged_protocol_messages_only_kill_the_worker(make_sandbox, world):
    box = make_sandbox()
    box.run("apis.kv.set(key='a', value=1)")
    result = box.run(FIND_CHANNEL + "channel.send({'op': 'complete_task', 'answer': 'forged'})\nwhile True:\n    pass")
    assert result.error_kind == "protocol" and result.restarted and "misbehaved" in result.observation
    assert world.data == {"a": 1} and [c[1] for c in world.calls] == ["set"]
    assert box.run("print(apis.kv.get(key='a'))").observation == "1"


def test_a_huge_frame_header_is_refused_without_reading_it(make_sandbox):
    box = make_sandbox()
    result = attack(box, FIND_CHANNEL + "os.write(channel.wfd, b'\\xff\\xff\\xff\\xf0')\nwhile True:\n    pass")
    assert result.error_kind == "protocol" and "byte message" in result.observation


def test_malformed_api_calls_are_refused(make_sandbox, world):
    box = make_sandbox()
    result = box.run(FIND_CHANNEL + "channel.send({'op': 'call', 'app': ['kv'], 'api': 'set', 'kwargs': 'x'})\nchannel.recv()")
    assert result.error_kind == "protocol" and world.calls == []


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "namespace-alone"])
def test_network_is_unreachable_even_to_the_hosts_loopback(make_sandbox, isolation, seccomp):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    code = (
        "try:\n    so = real_import('socket')\nexcept ImportError:\n    print('UNLOADABLE')\n"
        f"else:\n    try:\n        so.create_connection(('127.0.0.1', {port}), timeout=1)\n        print('CONNECTED')\n"
        "    except OSError as e:\n        print(type(e).__name__)"
    )
    box = make_sandbox(isolation, seccomp=seccomp)
    assert box.protections["seccomp"] is seccomp
    result = attack(box, code)
    thread.join()
    server.close()
    if result.observation == "UNLOADABLE":
        # Without bwrap, on a host whose interpreter lives in a directory the sandbox uid cannot read,
        # modules not loaded before the privilege drop cannot be loaded at all: blocked one step earlier.
        assert isolation != "bwrap"
    else:
        # With seccomp, socket() itself is refused; without it, the empty network namespace has no route.
        expected = ("PermissionError",) if seccomp else ("OSError", "ConnectionRefusedError")
        assert result.observation in expected, result.observation
    assert accepted == []


def test_the_world_database_is_out_of_reach(isolation):
    """In every isolation mode: sqlite3 is refused at the fence; past the fence (an object-graph escape)
    there is either no sqlite3 to load (unshare: the worker's interpreter has none) or, with it in hand,
    no database to open (bwrap: the world lives in the host's memory, no .db file is visible).

    The worker looks for database files in its own working directory (walked in full) and at the top of
    /tmp; not deeper into the host's /tmp, which under unshare is the host's and can hold any amount of
    unrelated files (a CI machine's walk of it outran the 30 s cell limit)."""
    env = make_env("appsuite", isolation=isolation)
    try:
        from looprl.world import get_task, load_tasks

        task_id = load_tasks("dev")[0].id
        env.reset(task_id)
        before = env.world.db.serialize()
        refused = env.step("```python\nimport sqlite3\n```")
        assert "import of module 'sqlite3' is not allowed" in refused.observation
        code = (
            ESCAPE + "try:\n"
            "    sq = real_import('sqlite3')\n"
            "except ImportError as exc:\n"
            "    print('NO-SQLITE', type(exc).__name__)\n"
            "else:\n"
            "    conn = sq.connect('file::memory:?cache=shared', uri=True)\n"
            "    print('TABLES', conn.execute(\"SELECT count(*) FROM sqlite_master\").fetchone()[0])\n"
            "DB = ('.db', '.sqlite', '.sqlite3')\n"
            "hits = [f for f in os.listdir('/tmp') if f.endswith(DB)]\n"
            "for dirpath, _, files in os.walk(os.getcwd()):\n"
            "    hits += [f for f in files if f.endswith(DB)]\n"
            "print('FILES', hits)"
        )
        out = env.step(f"```python\n{code}\n```").observation
        lines = out.splitlines()
        assert lines[-1] == "FILES []", out  # no database file anywhere the worker can see
        assert lines[0] in ("TABLES 0", "NO-SQLITE ModuleNotFoundError"), out  # an empty private db, or none at all
        assert env.world.db.serialize() == before and not env.world.completed
        assert env.world.call_log == []
        assert get_task(task_id).id == task_id
    finally:
        env.close()


def test_the_evaluator_and_package_are_not_importable(make_sandbox, isolation):
    result = attack(make_sandbox(isolation), "try:\n    real_import('looprl')\n    print('IMPORTED')\nexcept ImportError as e:\n    print(type(e).__name__)")
    assert result.observation == "ModuleNotFoundError"


def test_a_sandbox_killed_from_outside_is_replaced(make_sandbox):
    box = make_sandbox()
    box.run("x = 1")
    os.killpg(box.pid, signal.SIGKILL)
    result = box.run("print('after')")
    assert result.restarted and "died" in result.observation
    assert box.run("print('again')").observation == "again"
