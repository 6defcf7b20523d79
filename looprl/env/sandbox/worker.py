"""The sandboxed REPL's worker: a standalone script run in a fresh interpreter (`python -I -S`).

It imports nothing from looprl and needs nothing outside the standard library, so it can run in a
mount namespace that holds only the interpreter. The host (looprl/env/sandbox/host.py) starts it, sends
one config frame, and then one `exec` frame per cell. Frames are a 4-byte big-endian length and a
UTF-8 JSON object, over the worker's original stdin (host -> worker) and stdout (worker -> host);
fds 0-2 are then pointed at /dev/null so stray writes cannot corrupt the protocol by accident.

Before any agent code runs the worker locks itself down (order matters):
  1. no_new_privs; a network namespace of its own if the host asked for one (no bubblewrap);
  2. imports every allow-listed module (later imports may be impossible once privileges drop);
  3. drops to an unprivileged uid/gid when started as root (all capabilities go with it);
  4. parent-death signal (the worker dies with the host), rlimits on address space, CPU time,
     file size, open files, processes (0: no fork, no threads) and core dumps;
  5. moves into its own working directory;
  6. installs a seccomp filter (x86_64) that refuses fork/exec, sockets, kill, ptrace, namespaces,
     mounts and other syscalls agent code has no use for.
It then reports what took effect in a `ready` frame, before reading any agent code.

Everything after that point is untrusted and may be subverted (object-graph walks reach `os`):
the restricted builtins and import allow-list below are a first fence only. The wall is the OS
(what steps 1-6 and bubblewrap set up) and the host, which owns the world and validates every API
call the `apis` stub forwards; a worker that breaks the protocol is killed and replaced.
"""

import ast
import builtins
import io
import json
import linecache
import os
import resource
import signal
import struct
import sys
import time
import traceback
import types

_HEADER = struct.Struct(">I")
_CELL_FILE = "<cell>"
_THIS_FILE = os.path.abspath(__file__) if "__file__" in globals() else ""

# Builtins agent code does not get: file and console access, code objects from strings, interpreter
# exits. (`__import__` is replaced by the allow-list guard below.)
_DENIED_BUILTINS = (
    "open",
    "input",
    "breakpoint",
    "help",
    "exit",
    "quit",
    "compile",
    "exec",
    "eval",
    "copyright",
    "credits",
    "license",
    "__loader__",
    "__spec__",
)
# Imported by C code on the agent's behalf (datetime.strptime), through the agent's own __import__.
_IMPLICIT_IMPORTS = frozenset({"_strptime"})
# Modules that allowed modules import lazily; loaded before privileges drop.
_PRELOAD_EXTRA = ("ctypes", "_strptime", "encodings.idna", "encodings.utf_8", "encodings.latin_1", "calendar", "locale")


def _read_exact(fd, n):
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            raise EOFError("host closed the pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _Channel:
    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd

    def send(self, obj):
        data = json.dumps(obj, default=repr).encode()
        buf = _HEADER.pack(len(data)) + data
        while buf:
            buf = buf[os.write(self.wfd, buf) :]

    def recv(self):
        (size,) = _HEADER.unpack(_read_exact(self.rfd, _HEADER.size))
        return json.loads(_read_exact(self.rfd, size))


# ---------------------------------------------------------------------------------------------
# Lock-down (trusted: runs before any agent code)


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _lock_down(config):
    report = {"fresh_interpreter": True, "pid": os.getpid()}
    report["scrubbed_environment"] = sorted(os.environ)
    libc = _libc()
    PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1
    report["no_new_privs"] = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0

    if config.get("unshare_net"):
        CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
        flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
        ok = libc.unshare(flags) == 0
        report["network_namespace"] = ok
        if not ok:
            report["network_namespace_error"] = os.strerror(__import__("ctypes").get_errno())

    for name in list(config["allowed_modules"]) + list(_PRELOAD_EXTRA):
        try:
            __import__(name)
        except ImportError:
            pass

    uid, gid = config.get("uid"), config.get("gid")
    if os.geteuid() == 0 and uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    report["uid"], report["gid"] = os.getuid(), os.getgid()
    try:
        os.setuid(0)
        report["can_regain_root"] = True
    except PermissionError:
        report["can_regain_root"] = False
    # The parent-death signal is cleared by a uid change, so it is set after the drop.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1 and not config.get("pid1_parent_ok"):
        os._exit(3)  # the host is already gone

    mib = 1024 * 1024
    limits = {
        "RLIMIT_AS": config["memory_mb"] * mib,
        "RLIMIT_CPU": config["cpu_seconds"],
        "RLIMIT_FSIZE": config["file_size_mb"] * mib,
        "RLIMIT_NOFILE": config["max_open_files"],
        "RLIMIT_NPROC": 0,
        "RLIMIT_CORE": 0,
    }
    applied = {}
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))  # why: limits are named by the resource module constant
            applied[name] = value
        except (ValueError, OSError) as exc:
            applied[name] = f"failed: {exc}"
    report["rlimits"] = applied

    os.chdir(config["workdir"])
    report["cwd"] = os.getcwd()
    if config.get("seccomp", True):
        report["seccomp"] = _install_seccomp(libc)
    return report


# x86_64 syscall numbers the agent's code has no use for: new processes and programs, sockets,
# other processes' memory, namespaces and mounts, kernel keyrings, modules, BPF, io_uring, clocks.
_DENIED_SYSCALLS_X86_64 = {
    "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "execve": 59, "execveat": 322,
    "socket": 41, "socketpair": 53, "connect": 42, "accept": 43, "accept4": 288, "bind": 49, "listen": 50,
    "kill": 62, "tkill": 200, "tgkill": 234, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "pidfd_open": 434, "pidfd_getfd": 438, "unshare": 272, "setns": 308, "mount": 165,
    "umount2": 166, "pivot_root": 155, "chroot": 161, "open_by_handle_at": 304, "name_to_handle_at": 303,
    "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "settimeofday": 164, "clock_settime": 227,
    "adjtimex": 159, "personality": 135, "iopl": 172, "ioperm": 173, "modify_ldt": 154, "syslog": 103,
    "quotactl": 179, "fanotify_init": 300, "uselib": 134, "vhangup": 153,
}  # fmt: skip


def _install_seccomp(libc):
    """A seccomp filter that makes the syscalls above fail with EPERM (x86_64 only; else reported off)."""
    import ctypes
    import platform

    if platform.machine() != "x86_64":
        return False
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000  # ALLOW, ERRNO(EPERM), KILL_PROCESS
    numbers = sorted(_DENIED_SYSCALLS_X86_64.values())
    prog = [
        (ld_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, 0xC000003E),  # AUDIT_ARCH_X86_64, else kill (no other ABI's numbers apply)
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),  # seccomp_data.nr
        (jge, len(numbers) + 1, 0, 0x40000000),  # the x32 ABI: denied wholesale
    ]
    for i, nr in enumerate(numbers):
        prog.append((jeq, len(numbers) - i, 0, nr))  # match -> jump to the deny below
    prog += [(ret, 0, 0, allow), (ret, 0, 0, deny)]

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    filters = (SockFilter * len(prog))(*[SockFilter(*ins) for ins in prog])
    fprog = SockFprog(len(prog), filters)
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


# ---------------------------------------------------------------------------------------------
# The agent's namespace: restricted builtins, guarded import, module views, the `apis` stub


class ApiError(Exception):
    """An API call that failed: `.status` (HTTP-like code) and `.body` (JSON), as the host reported."""

    def __init__(self, status, body):
        self.status, self.body = status, body
        super().__init__(status, body)

    def __str__(self):
        return f"{self.status} {json.dumps(self.body, default=str)}"


class CellTimeout(BaseException):
    """Raised into agent code when a cell passes its wall-clock limit (a BaseException so that a
    bare `except Exception` in the agent's code does not swallow it)."""


def _module_view(module, allowed, cache):
    """A copy of ``module`` with its public names only; submodules outside the allow-list hidden."""
    if module.__name__ in cache:
        return cache[module.__name__]
    view = types.ModuleType(module.__name__, module.__doc__)
    cache[module.__name__] = view
    for key, value in vars(module).items():
        if key.startswith("_") and key not in ("__all__", "__version__"):
            continue
        if isinstance(value, types.ModuleType):
            if value.__name__.split(".")[0] not in allowed:
                continue
            value = _module_view(value, allowed, cache)
        setattr(view, key, value)
    return view


def _build_namespace(config, channel):
    allowed = frozenset(config["allowed_modules"])
    views = {}
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            raise ImportError("relative imports are not available in the REPL")
        top = name.split(".")[0]
        if top not in allowed and name not in _IMPLICIT_IMPORTS:
            raise ImportError(f"import of module {name!r} is not allowed in this REPL; allowed modules: {', '.join(sorted(allowed))}")
        module = real_import(name, None, None, fromlist, 0)
        if not fromlist:
            module = sys.modules[top]
        return _module_view(module, allowed, views)

    safe_builtins = {k: v for k, v in vars(builtins).items() if k not in _DENIED_BUILTINS}
    safe_builtins["__import__"] = guarded_import

    class _Api:
        __slots__ = ("_app", "_api")

        def __init__(self, app, api):
            self._app, self._api = app, api

        def __call__(self, *args, **kwargs):
            if args:
                raise TypeError(f"apis.{self._app}.{self._api}() takes keyword arguments only, e.g. page_index=0")
            for key, value in kwargs.items():
                try:
                    json.dumps(value)
                except (TypeError, ValueError):
                    raise TypeError(
                        f"apis.{self._app}.{self._api}(): argument {key!r} is a {type(value).__name__}, which cannot be "
                        "sent to an API; use str, int, float, bool, None, list or dict"
                    ) from None
            # The cell's timer must not fire mid-frame (the protocol would lose its place): SIGALRM
            # waits until the reply is in, then interrupts the agent's code as usual.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            try:
                channel.send({"op": "call", "app": self._app, "api": self._api, "kwargs": kwargs})
                reply = channel.recv()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
            if reply.get("ok"):
                return reply.get("value")
            raise ApiError(reply.get("status", 500), reply.get("body", {}))

        def __repr__(self):
            return f"<api apis.{self._app}.{self._api}>"

    class _App:
        __slots__ = ("_app",)

        def __init__(self, app):
            self._app = app

        def __getattr__(self, api):
            if api.startswith("_"):
                raise AttributeError(api)
            return _Api(self._app, api)

        def __repr__(self):
            return f"<app apis.{self._app}>"

    class _Apis:
        __slots__ = ()

        def __getattr__(self, app):
            if app.startswith("_"):
                raise AttributeError(app)
            return _App(app)

        def __repr__(self):
            return "<apis: call apis.<app>.<api>(**kwargs); see apis.api_docs>"

    return {"__name__": "__main__", "__builtins__": safe_builtins, "apis": _Apis(), "ApiError": ApiError}


# ---------------------------------------------------------------------------------------------
# Running a cell


class _CappedOutput(io.TextIOBase):
    def __init__(self, cap):
        self.cap, self.parts, self.size, self.dropped = cap, [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = self.cap - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def getvalue(self):
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[output cut: the cell printed {self.dropped} more characters than the {self.cap}-character limit]"
        return out


def _format_exception(exc):
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    frames = [f for f in te.stack if f.filename != _THIS_FILE and not f.filename.startswith("<string>")]
    te.stack = traceback.StackSummary.from_list(frames)
    te.__cause__ = te.__context__ = None
    lines = list(te.format())
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        lines = lines[1:]  # the observation already says "Execution failed. Traceback:"
    return "".join(lines)


def _compile_cell(code):
    """Compile a cell; a trailing expression statement is displayed like a notebook does."""
    tree = ast.parse(code, _CELL_FILE, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, _CELL_FILE, "exec")
    return body, (compile(last, _CELL_FILE, "eval") if last is not None else None)


def _run_cell(code, namespace, config):
    out = _CappedOutput(config["max_output_chars"])
    linecache.cache[_CELL_FILE] = (len(code), None, code.splitlines(True), _CELL_FILE)
    timeout = float(config["cell_timeout_s"])

    def on_alarm(signum, frame):
        raise CellTimeout(f"the cell ran longer than {timeout:g} s and was stopped")

    old_stdout, old_stderr = sys.stdout, sys.stderr
    error = None
    started = time.perf_counter()
    try:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        sys.stdout = sys.stderr = out
        body, last = _compile_cell(code)
        exec(body, namespace)
        if last is not None:
            value = eval(last, namespace)
            if value is not None:
                out.write(repr(value) + "\n")
    except CellTimeout as exc:
        error = ("timeout", f"Execution failed: {exc}. Variables defined earlier are kept.")
    except BaseException as exc:  # the agent's exception is the observation, never the worker's end
        kind = "syntax" if isinstance(exc, SyntaxError) else "exception"
        error = (kind, "Execution failed. Traceback:\n" + _format_exception(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = old_stdout, old_stderr
    return {
        "op": "done",
        "output": out.getvalue(),
        "error_kind": error[0] if error else None,
        "error": error[1] if error else None,
        "seconds": round(time.perf_counter() - started, 6),
    }


def main():
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    channel = _Channel(rfd, wfd)
    try:
        config = channel.recv()
    except EOFError:
        return
    report = _lock_down(config)
    sys.setrecursionlimit(int(config.get("recursion_limit", 1000)))
    namespace = _build_namespace(config, channel)
    channel.send({"op": "ready", "protections": report})
    while True:
        try:
            msg = channel.recv()
        except EOFError:
            return
        op = msg.get("op")
        if op == "exec":
            channel.send(_run_cell(msg["code"], namespace, config))
        elif op == "ping":
            channel.send({"op": "pong"})
        else:
            return


if __name__ == "__main__":
    main()
