"""A policy backend in a process of its own: `ProcessBackend` builds an in-process sampler (OpenVINO's
pipeline, llama.cpp's server) in a child Python process and forwards `generate`, `load_adapter`,
`sampling_base_model` and `close` to it over a socket.

Why: openvino-genai's `step()` holds the GIL for a whole forward of the batch, so in the trainer's
process a sampler thread stepping it leaves the trainer's thread (rollout.max_staleness >= 1: the
update overlapped with the next iteration's sampling) waiting for the GIL; in a child process the two
compute at once, each on its own cores (`cores`: the child pins itself to them, the CPU affinity the
trainer leaves the sampler, `looprl.training.pipeline.sampler_cores`). While a call is in flight the
parent only waits on the socket, without the GIL.

Contract: one call at a time (`concurrent_requests` False: the collector sends every waiting episode
in one `generate`), `generator` None (the child's sampling state is not checkpointed; the inner
backends seed each request themselves), `tokenizer` and `stop_token_ids` copied from the child once.
An exception the child raises is raised here again, same type and message, with the child's traceback
as a note; a child that dies (killed, out of memory) raises `SamplerUnavailable` naming its exit
status. The inner backend's public plain attributes (`publish_s`, `export_s`, `adapter_path`, ...) are
mirrored after every call.

The child is `python -m looprl.backends.process FD` (not multiprocessing's spawn, which imports the
parent's main module again): it ignores SIGINT (Ctrl-C reaches the whole process group; the parent
decides when the sampler stops), exits when its socket closes, and within a second of its parent's
death (a watch on the parent's pid; PR_SET_PDEATHSIG would fire when the creating *thread* exits).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Iterator, Sequence

from looprl.backends.base import Generation, SamplerUnavailable, SamplingParams

_PLAIN = (bool, int, float, str, Path, type(None))


def _mirrored(backend: Any) -> dict[str, Any]:
    """The backend's public attributes that are plain values (numbers, strings, paths, None)."""
    return {k: v for k, v in vars(backend).items() if not k.startswith("_") and isinstance(v, _PLAIN)}


def _portable(exc: BaseException) -> tuple[BaseException, str]:
    """`exc` if it pickles (else a RuntimeError with its type and message), and its traceback."""
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc, text


class ProcessBackend:
    """The PolicyBackend `target` ("module:Class") built with `kwargs` in a child process (see the
    module docstring); `cores`: the CPU cores the child computes on (None: this process's affinity)."""

    concurrent_requests = False
    generator = None

    def __init__(self, target: str, kwargs: dict[str, Any] | None = None, *, cores: Sequence[int] | None = None) -> None:
        self.target, self.cores = target, list(cores) if cores else None
        parent, child = socket.socketpair()
        self._proc = subprocess.Popen([sys.executable, "-m", "looprl.backends.process", str(child.fileno())], pass_fds=(child.fileno(),))
        child.close()
        self._conn = Connection(parent.detach())
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}
        try:
            # what the collector reads of a sampler: its tokenizer (to build prompts) and default stops, copied once
            self.tokenizer, self.stop_token_ids = self._call("__init__", target, dict(kwargs or {}), self.cores)
        except BaseException:
            self.close()
            raise

    def __getattr__(self, name: str) -> Any:  # only for names not set on self: the inner backend's mirrored attributes
        state = self.__dict__.get("_state", {})
        if name in state:
            return state[name]
        raise AttributeError(f"{type(self).__name__} ({self.__dict__.get('target')}) has no attribute {name!r}")

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            if self._conn.closed:
                raise RuntimeError(f"the {self.target} sampler process is closed")
            try:
                self._conn.send((method, args))
                status, payload, state = self._conn.recv()
            except (EOFError, OSError) as exc:
                code = self._proc.wait(timeout=30)
                raise SamplerUnavailable(
                    f"the {self.target} sampler process died (exit status {code}) during {method}(); its output is in this process's stderr"
                ) from exc
        self._state = state
        if status == "error":
            error, text = payload
            error.add_note(f"raised in the {self.target} sampler process:\n{text}")
            raise error
        return payload

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        if not prompts:
            return []
        return self._call("generate", [list(map(int, p)) for p in prompts], sampling)

    def load_adapter(self, path: str | os.PathLike[str]) -> Any:
        return self._call("load_adapter", str(path))

    @contextlib.contextmanager
    def sampling_base_model(self) -> Iterator[None]:
        self._call("enter_base")
        try:
            yield
        finally:
            self._call("exit_base")

    def close(self) -> None:
        """Close the inner backend and end the child (killed if it does not exit within 30 s)."""
        if self._conn.closed:
            return
        with contextlib.suppress(Exception):
            self._call("close")
        self._conn.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> "ProcessBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if not self._conn.closed:
                self._conn.close()  # the child exits when its socket closes


# ---------------------------------------------------------------------------------------------------
# the child
# ---------------------------------------------------------------------------------------------------
def _exit_with_parent(interval_s: float = 1.0) -> None:
    """End this process once its parent is gone (a parent killed with -9 leaves no sampler behind): a
    thread that watches the parent's pid, between the inner backend's GIL-holding steps."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os._exit(0)

    threading.Thread(target=watch, name="looprl-parent-watch", daemon=True).start()


def _serve(conn: Connection) -> None:
    backend: Any = None
    bases: list[Any] = []  # the sampling_base_model() blocks entered, innermost last
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):  # the parent closed its end or died: close what it can no longer close
            if backend is not None and hasattr(backend, "close"):
                with contextlib.suppress(Exception):
                    backend.close()
            break
        try:
            if method == "__init__":
                target, kwargs, cores = args
                if cores:
                    os.sched_setaffinity(0, cores)
                module, _, name = target.partition(":")
                backend = getattr(importlib.import_module(module), name)(**kwargs)
                result = (backend.tokenizer, tuple(backend.stop_token_ids))
            elif method == "enter_base":
                block = backend.sampling_base_model()
                block.__enter__()
                bases.append(block)
                result = None
            elif method == "exit_base":
                bases.pop().__exit__(None, None, None)
                result = None
            elif method == "close":
                result = backend.close() if backend is not None and hasattr(backend, "close") else None
            else:
                result = getattr(backend, method)(*args)
            reply = ("ok", result, _mirrored(backend) if backend is not None else {})
        except Exception as exc:
            reply = ("error", _portable(exc), _mirrored(backend) if backend is not None else {})
        conn.send(reply)
        if method == "close":
            break


def main(argv: Sequence[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    conn = Connection(int(argv[0]))
    try:
        _serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
