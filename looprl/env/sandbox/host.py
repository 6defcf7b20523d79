"""The sandboxed Python REPL that agent code runs in: one worker process per episode.

Agent code is untrusted. It runs in a separate, freshly started interpreter (never a fork of the
host, which would copy the host's memory and environment) that executes `worker.py`. The
world's database stays in the host: inside the REPL `apis` is a stub that sends (app, api, kwargs)
over a pipe, and the host runs each call through the `call_api` function it was given (for the
built-in world, `World.call`), so the only way to change the world is an API call. Variables persist
between the cells of an episode.

What is protected, and by what (``sandbox_protections()`` reports what is active on this machine,
and every env's reset info carries it):

* Python level, a first fence only: an import allow-list (a refused import names the module),
  builtins without open/exec/eval/compile/input/exit, modules seen through views without private
  names. Object-graph walks (``().__class__.__base__.__subclasses__()``, frames, tracebacks) get
  around this in a few lines; the guarantees below do not rely on it.
* Process: a fresh interpreter (``python -I -S``) with a scrubbed environment (host env vars such as
  API keys are not passed), its own working directory, a new session (no terminal), and rlimits on
  address space, CPU time, file size, open files, core dumps and processes (0: no fork, no threads).
  When the host runs as root the worker drops to an unprivileged uid/gid (65534 under bubblewrap;
  otherwise a uid of its own, so workers cannot signal one another) before any agent code runs.
* Bubblewrap (when ``bwrap`` works here, isolation "bwrap"): new mount, pid, network, ipc, uts (and
  cgroup) namespaces. The worker sees only the interpreter's files and /usr, read-only, a private
  size-limited /tmp, a fresh /proc showing only its own processes, and a minimal /dev. So: no
  network, no host files (the project, the venv, the host's /proc/<pid>/environ), no other episodes.
* Without bubblewrap (isolation "unshare"): the worker unshares a network namespace itself (as root,
  or in a user namespace where those are allowed). The file system is NOT isolated: the worker can
  read world-readable files (source code; no secrets by default, and the world's database lives only
  in the host's memory). Without user namespaces and without root there is no network isolation
  either. Isolation "none" keeps only the process-level protections (for debugging).
* Seccomp (x86_64, every mode): a filter makes the syscalls agent code has no use for fail with
  EPERM: fork/clone/exec, sockets, kill, ptrace and other processes' memory, namespaces and mounts,
  keyrings, kernel modules, BPF, io_uring, clock setting (the list is in worker.py). So even
  isolation "none" has no network, no child processes and no signals to other processes.
* Wall clock: a cell past its limit gets a ``CellTimeout`` raised into it (variables are kept); if it
  does not stop within a grace period the host kills the worker's process group.
* A worker that crashes, is killed (memory, CPU), or breaks the protocol is replaced on the next
  cell and the agent is told its variables are gone. The host, the world and other episodes go on.
  A worker killed from outside the agent's code is flagged (``CellResult.infra``): by SIGTERM, SIGINT
  or SIGHUP (seccomp refuses agent code every kill syscall), or by SIGKILL while it is younger than its
  CPU-time limit (the kernel's CPU-limit SIGKILL needs that much CPU, and the worker has one thread,
  so it cannot come sooner): an operator, the OOM killer, a node going away. The env reports it as
  an infrastructure failure (``info["infra_failure"]``), which training and evaluation leave out of
  their statistics (looprl/rollout/faults.py).

Where each applies. Linux only (prctl, namespaces, rlimits). Our CI and dev machines (Debian 12,
x86_64, tests run as root, bubblewrap installed by scripts/ci-setup.d/10-bubblewrap.sh): everything
above, isolation "bwrap". Root without bubblewrap: everything but the file-system and pid
isolation. A non-root host: no uid change (the worker runs as the host's user); with bubblewrap it is
still isolated (user namespace), but without it the worker can read that user's files and the
host's /proc/<pid>/environ, so do not run that way with secrets in the environment.

Not protected: the syscalls the filter allows (file, memory, time, signal handling) remain a kernel
attack surface (a kernel exploit is out of scope); on other architectures than x86_64 there is no
seccomp filter (reported); CPU and memory are rlimits per worker, not cgroup quotas; the host trusts
nothing the worker says except its first `ready` report, which is sent before any agent code runs.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "ALLOWED_MODULES",
    "CellResult",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "bwrap_available",
    "sandbox_protections",
]

ALLOWED_MODULES = (
    "json", "re", "math", "cmath", "datetime", "time", "calendar", "collections", "itertools",
    "functools", "operator", "statistics", "random", "string", "textwrap", "decimal", "fractions",
    "typing", "dataclasses", "zoneinfo", "enum", "copy", "pprint", "heapq", "bisect", "uuid",
    "hashlib", "base64", "difflib", "unicodedata",
)  # fmt: skip
ISOLATIONS = ("auto", "bwrap", "unshare", "none")
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
_HEADER = struct.Struct(">I")
_NOBODY = 65534
_SANDBOX_SCRIPT = "/sandbox/worker.py"
_SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}


class SandboxError(RuntimeError):
    """The sandbox could not be started here (e.g. isolation="bwrap" without a working bwrap)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-worker limits. A worker lives one episode; CPU time is for the whole episode."""

    cell_timeout_s: float = 30.0  # wall clock per cell
    kill_grace_s: float = 2.0  # after the timeout, time for the cell to stop before the worker is killed
    cpu_seconds: int = 600  # CPU time per worker (episode); past it the kernel kills the worker
    memory_mb: int = 1024  # address space of the worker
    file_size_mb: int = 16  # largest file the worker may write (in its private /tmp)
    tmp_size_mb: int = 64  # size of the private /tmp under bubblewrap
    max_open_files: int = 64
    max_output_chars: int = 100_000  # printed output kept per cell (the rest is counted and dropped)
    max_api_calls_per_cell: int = 500
    max_frame_bytes: int = 8 * 1024 * 1024  # largest message the host accepts from a worker
    startup_timeout_s: float = 30.0
    recursion_limit: int = 1000

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxLimits.{name} must be a positive number, got {value!r}")
        for name in ("cpu_seconds", "memory_mb", "file_size_mb", "tmp_size_mb", "max_open_files", "max_output_chars",
                     "max_api_calls_per_cell", "max_frame_bytes", "recursion_limit"):  # fmt: skip
            if not isinstance(getattr(self, name), int):
                raise ValueError(f"SandboxLimits.{name} must be an integer, got {getattr(self, name)!r}")
        if self.memory_mb < 64:
            raise ValueError(f"SandboxLimits.memory_mb={self.memory_mb} is too small for a Python interpreter; use >= 64")
        if self.max_open_files < 16:
            raise ValueError(f"SandboxLimits.max_open_files={self.max_open_files} is too small; use >= 16")

    @classmethod
    def from_options(cls, options: "SandboxLimits | dict[str, Any] | None") -> "SandboxLimits":
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if not isinstance(options, dict):
            raise ValueError(f"sandbox limits must be a dict or SandboxLimits, got {type(options).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown sandbox limit(s) {unknown}; known: {', '.join(sorted(known))}")
        return cls(**options)


@dataclass
class CellResult:
    """What one cell did. `observation` is the text the agent sees."""

    observation: str
    output: str  # what the cell printed (and its displayed last expression)
    error_kind: str | None = None  # None | "syntax" | "exception" | "timeout" | "killed" | "died" | "protocol"
    api_calls: list[dict[str, Any]] = field(default_factory=list)
    restarted: bool = False  # the worker was lost during this cell; the next cell starts with fresh variables
    infra: bool = False  # the worker was killed from outside the agent's code (see the module docstring)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error_kind is None


# ---------------------------------------------------------------------------------------------
# What this machine offers


def _python() -> str:
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)  # why: set only inside a venv


def _ro_tree(paths: list[str]) -> list[str]:
    """bwrap arguments that bind ``paths`` read-only at the same place, creating parents 0755."""
    args: list[str] = []
    made: set[str] = {"/"}
    for path in paths:
        parent = os.path.dirname(path)
        chain = []
        while parent not in made and parent != "/":
            chain.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(chain):
            args += ["--perms", "0755", "--dir", directory]
            made.add(directory)
        args += ["--ro-bind", path, path]
        made.add(path)
    return args


def _bwrap_argv(limits: SandboxLimits) -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bwrap (bubblewrap) is not installed; install Debian's `bubblewrap` or use isolation='unshare'")
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        argv.append("--unshare-user")  # unprivileged bwrap needs a user namespace for the rest
    argv += ["--die-with-parent", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    roots = []
    for prefix in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix), os.path.dirname(os.path.dirname(_python()))}:
        if not (prefix == "/usr" or prefix.startswith("/usr/")) and prefix not in roots:
            roots.append(prefix)
    argv += _ro_tree(sorted(roots))
    argv += ["--ro-bind", str(WORKER_SCRIPT), _SANDBOX_SCRIPT, "--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "01777", "--size", str(limits.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    argv += ["--clearenv"]
    for key, value in _SCRUBBED_ENV.items():
        argv += ["--setenv", key, value]
    return argv + ["--", _python(), "-I", "-S", _SANDBOX_SCRIPT]


_BWRAP_OK: bool | None = None
_BWRAP_LOCK = threading.Lock()


def bwrap_available() -> bool:
    """Whether bubblewrap is installed and can create the sandbox here (probed once per process)."""
    global _BWRAP_OK
    with _BWRAP_LOCK:
        if _BWRAP_OK is None:
            try:
                argv = _bwrap_argv(SandboxLimits())
                argv = argv[: argv.index("--") + 2] + ["-I", "-S", "-c", "pass"]
                _BWRAP_OK = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=_SCRUBBED_ENV).returncode == 0
            except (SandboxError, OSError, subprocess.TimeoutExpired):
                _BWRAP_OK = False
        return _BWRAP_OK


def resolve_isolation(isolation: str) -> str:
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}; got {isolation!r}")
    if isolation == "auto":
        return "bwrap" if bwrap_available() else "unshare"
    if isolation == "bwrap" and not bwrap_available():
        raise SandboxError("isolation='bwrap' was asked for, but bubblewrap is missing or cannot create namespaces here")
    return isolation


_PROTECTIONS: dict[str, dict[str, Any]] = {}


def sandbox_protections(isolation: str = "auto") -> dict[str, Any]:
    """What the sandbox protects on this machine, measured by starting one worker (cached per mode)."""
    mode = resolve_isolation(isolation)
    if mode not in _PROTECTIONS:
        box = Sandbox(lambda app, api, kwargs: None, isolation=mode)
        try:
            _PROTECTIONS[mode] = box.protections
        finally:
            box.close()
    return dict(_PROTECTIONS[mode])


def _summarize(mode: str, report: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
    rl = report.get("rlimits", {})
    return {
        "isolation": mode,
        "fresh_interpreter": bool(report.get("fresh_interpreter")),
        "scrubbed_environment": set(report.get("scrubbed_environment", [])) <= set(_SCRUBBED_ENV) | {"PWD"},  # bwrap sets PWD
        "unprivileged_user": report.get("uid") != 0 and not report.get("can_regain_root", True),
        "uid": report.get("uid"),
        "no_new_privs": bool(report.get("no_new_privs")),
        "network_isolated": mode == "bwrap" or bool(report.get("network_namespace")),
        "filesystem_isolated": mode == "bwrap",
        "pid_namespace": mode == "bwrap",
        "no_child_processes": rl.get("RLIMIT_NPROC") == 0 and report.get("uid") != 0,
        "rlimits": rl,
        "import_allow_list": list(ALLOWED_MODULES),
        "cell_timeout_s": limits.cell_timeout_s,
        "max_api_calls_per_cell": limits.max_api_calls_per_cell,
        "seccomp": bool(report.get("seccomp")),
    }


# ---------------------------------------------------------------------------------------------
# The host side of one worker

ApiHandler = Callable[[str, str, dict], Any]


class _WorkerLost(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Sandbox:
    """One sandboxed REPL. ``run(code)`` executes a cell; API calls go to ``call_api(app, api, kwargs)``.

    ``call_api`` returns a JSON-able result or raises; an exception with ``.status`` and ``.body``
    (like ``looprl.world.ApiError``) reaches the agent as ``ApiError(status, body)``, any other
    exception as a status-500 error. The worker starts in the background at construction and is
    waited for on first use. Not thread-safe: one episode drives one Sandbox.
    """

    def __init__(self, call_api: ApiHandler, *, limits: SandboxLimits | dict | None = None, isolation: str = "auto", seccomp: bool = True) -> None:
        self.call_api = call_api
        self.seccomp = bool(seccomp)  # off only to test the layers under it
        self.limits = SandboxLimits.from_options(limits)
        self.isolation = resolve_isolation(isolation)
        self._proc: subprocess.Popen | None = None
        self._workdir: str | None = None
        self._ready = False
        self._report: dict[str, Any] = {}
        self._buffer = b""
        self.restarts = 0
        self._started_at = 0.0
        self._start()

    # -- lifecycle -----------------------------------------------------------------------------

    def _start(self) -> None:
        root = os.geteuid() == 0
        config: dict[str, Any] = {
            "allowed_modules": list(ALLOWED_MODULES),
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_size_mb": self.limits.file_size_mb,
            "max_open_files": self.limits.max_open_files,
            "max_output_chars": self.limits.max_output_chars,
            "cell_timeout_s": self.limits.cell_timeout_s,
            "recursion_limit": self.limits.recursion_limit,
            "unshare_net": self.isolation == "unshare",
            "pid1_parent_ok": self.isolation == "bwrap",
            "seccomp": self.seccomp,
        }
        if self.isolation == "bwrap":
            argv = _bwrap_argv(self.limits)
            config["workdir"] = "/tmp"
            uid = _NOBODY
        else:
            argv = [_python(), "-I", "-S", str(WORKER_SCRIPT)]
            # A uid of its own: workers of concurrent episodes cannot signal or ptrace one another.
            uid = random.SystemRandom().randrange(1_000_000_000, 1_900_000_000) if root else os.getuid()
            self._workdir = tempfile.mkdtemp(prefix="looprl-sandbox-")
            if root:
                os.chown(self._workdir, uid, uid)
            os.chmod(self._workdir, 0o700)
            config["workdir"] = self._workdir
        if root:
            config["uid"] = config["gid"] = uid
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(_SCRUBBED_ENV),
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        os.set_blocking(self._proc.stdin.fileno(), False)
        self._started_at = time.monotonic()
        self._buffer = b""
        self._ready = False
        self._send(config, time.monotonic() + self.limits.startup_timeout_s)

    def _await_ready(self) -> None:
        if self._ready:
            return
        deadline = time.monotonic() + self.limits.startup_timeout_s
        try:
            msg = self._recv(deadline)
        except _WorkerLost as exc:
            raise SandboxError(f"the sandbox worker did not start ({self.isolation} isolation): {exc}") from None
        if msg.get("op") != "ready":
            raise SandboxError(f"the sandbox worker sent {msg.get('op')!r} instead of 'ready'")
        self._report = msg.get("protections", {})
        self._ready = True

    @property
    def protections(self) -> dict[str, Any]:
        """What this worker's lock-down achieved (its own report, sent before any agent code ran)."""
        self._await_ready()
        return _summarize(self.isolation, self._report, self.limits)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.returncode is None:  # once reaped, its pid (and group id) may belong to someone else
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            proc.wait()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._ready = False

    def restart(self) -> None:
        """Replace the worker with a fresh one (all variables are lost)."""
        self._kill()
        self.restarts += 1
        self._start()

    def close(self) -> None:
        self._kill()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten sandbox must not leave a process behind
        try:
            self._kill()
        except Exception:
            pass

    # -- framing -------------------------------------------------------------------------------

    def _send(self, obj: Any, deadline: float) -> None:
        data = json.dumps(obj, default=str).encode()
        buf = memoryview(_HEADER.pack(len(data)) + data)
        fd = self._proc.stdin.fileno()
        while buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerLost("timeout", "the worker stopped reading its input")
            _, writable, _ = select.select([], [fd], [], remaining)
            if not writable:
                continue
            try:
                buf = buf[os.write(fd, buf) :]
            except (BrokenPipeError, OSError):
                raise _WorkerLost("died", "the worker closed its input") from None

    def _read(self, n: int, deadline: float) -> bytes:
        fd = self._proc.stdout.fileno()
        while len(self._buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerLost("timeout", "no answer from the worker in time")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, max(65536, n - len(self._buffer)))
            if not chunk:
                raise _WorkerLost("died", "the worker exited")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _recv(self, deadline: float) -> dict[str, Any]:
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        if size > self.limits.max_frame_bytes:
            raise _WorkerLost("protocol", f"the worker sent a {size}-byte message (limit {self.limits.max_frame_bytes})")
        try:
            msg = json.loads(self._read(size, deadline))
        except (ValueError, UnicodeDecodeError):
            raise _WorkerLost("protocol", "the worker sent a message that is not JSON") from None
        if not isinstance(msg, dict):
            raise _WorkerLost("protocol", "the worker sent a message that is not a JSON object")
        return msg

    # -- cells ---------------------------------------------------------------------------------

    def run(self, code: str) -> CellResult:
        """Run one cell. Failures of any kind come back as a CellResult, never as an exception."""
        started = time.monotonic()
        calls: list[dict[str, Any]] = []
        if self._proc is None:
            self._start()
        try:
            self._await_ready()
        except SandboxError:
            # A worker that died before its first cell (e.g. a pre-spawned one killed while idle): one
            # fresh try; a second failure is the machine's problem and is raised.
            self.restart()
            self._await_ready()
        try:
            deadline = time.monotonic() + self.limits.cell_timeout_s + self.limits.kill_grace_s
            self._send({"op": "exec", "code": code}, deadline)
            while True:
                msg = self._recv(deadline)
                op = msg.get("op")
                if op == "call":
                    self._send(self._serve_call(msg, calls), deadline)
                elif op == "done":
                    return self._finished(msg, calls, time.monotonic() - started)
                else:
                    raise _WorkerLost("protocol", f"the worker sent an unknown message {str(op)[:40]!r}")
        except _WorkerLost as exc:
            return self._lost(exc, calls, time.monotonic() - started)

    def _serve_call(self, msg: dict[str, Any], calls: list[dict[str, Any]]) -> dict[str, Any]:
        app, api, kwargs = msg.get("app"), msg.get("api"), msg.get("kwargs")
        if not (isinstance(app, str) and isinstance(api, str) and isinstance(kwargs, dict)):
            raise _WorkerLost("protocol", "the worker sent a malformed API call")
        record: dict[str, Any] = {"app": app, "api": api, "args": kwargs}
        calls.append(record)
        if len(calls) > self.limits.max_api_calls_per_cell:
            body = {"message": f"API call limit reached: at most {self.limits.max_api_calls_per_cell} calls per cell"}
            record.update(status=429, ok=False, result=body)
            return {"ok": False, "status": 429, "body": body}
        try:
            value = self.call_api(app, api, kwargs)
            value = json.loads(json.dumps(value, default=str))  # what the agent gets is plain JSON
        except Exception as exc:
            # why: the handler is any callable (the world, a test fake); an error it means the agent to see
            # carries an HTTP-like status and a JSON body, anything else is an internal error
            status = getattr(exc, "status", None)
            body = getattr(exc, "body", None)
            if not isinstance(status, int) or not isinstance(body, dict):
                status, body = 500, {"message": f"internal error in apis.{app}.{api}: {type(exc).__name__}: {exc}"}
            record.update(status=status, ok=False, result=body)
            return {"ok": False, "status": status, "body": body}
        record.update(status=200, ok=True, result=value)
        return {"ok": True, "value": value}

    def _finished(self, msg: dict[str, Any], calls: list[dict[str, Any]], seconds: float) -> CellResult:
        output = str(msg.get("output", ""))[: self.limits.max_output_chars + 200]
        error = msg.get("error")
        kind = msg.get("error_kind") if error else None
        if kind not in (None, "syntax", "exception", "timeout"):
            kind = "exception"
        if error:
            observation = (output.rstrip("\n") + "\n" if output.strip() else "") + str(error)
        else:
            observation = output if output.strip() else "Execution successful."
        # Lone surrogates ('\ud800') survive JSON but not UTF-8: show them escaped, so every later
        # consumer (tokenizer, JSONL writer) gets valid text.
        observation = observation.encode("utf-8", "backslashreplace").decode("utf-8")
        output = output.encode("utf-8", "backslashreplace").decode("utf-8")
        return CellResult(observation=observation.rstrip("\n"), output=output, error_kind=kind, api_calls=calls, seconds=seconds)

    def _lost(self, exc: _WorkerLost, calls: list[dict[str, Any]], seconds: float) -> CellResult:
        proc = self._proc
        kind = exc.kind
        infra = False
        if kind == "timeout":
            why = f"the cell ran longer than {self.limits.cell_timeout_s:g} s and did not stop, so its process was killed"
        elif kind == "protocol":
            why = f"the REPL process misbehaved ({exc}) and was killed"
        else:
            code = proc.poll() if proc is not None else None
            if code is None and proc is not None:
                try:
                    code = proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    code = None
            if code is not None and code > 128 and self.isolation == "bwrap":
                code = -(code - 128)  # bwrap reports a child killed by signal N as exit status 128 + N
            why = "the REPL process died" + _describe_exit(code)
            infra = self._killed_from_outside(code)
        self._kill()
        self.restarts += 1
        observation = (
            f"Execution failed: {why}. The Python session was restarted: variables, imports and functions "
            "defined in earlier cells are gone (changes already made through the APIs are kept)."
        )
        return CellResult(observation=observation, output="", error_kind=kind, api_calls=calls, restarted=True, seconds=seconds, infra=infra)

    def _killed_from_outside(self, code: int | None) -> bool:
        """Whether exit `code` means a signal agent code cannot have caused (see the module docstring)."""
        if code is None or code >= 0:
            return False
        if -code in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            return True
        return -code == signal.SIGKILL and time.monotonic() - self._started_at < self.limits.cpu_seconds


def _describe_exit(code: int | None) -> str:
    if code is None:
        return ""
    if code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = {
            "SIGKILL": " (killed: usually a memory or CPU-time limit)",
            "SIGXCPU": " (CPU-time limit reached)",
            "SIGSEGV": " (crashed)",
            "SIGXFSZ": " (file-size limit reached)",
        }
        return f" with {name}{hint.get(name, '')}"
    return f" with exit code {code}"
