"""Faults on purpose: envs and a chat server that fail when told to, for tests/faults/ and
benchmarks/bench_faults.py.

* `FaultPlan`: which env calls fail, counted over every env built from one plan (so with one episode
  alive at a time, the same calls fail run after run): `raise_on_steps` (the n-th step, 1-based, raises),
  `hang_on_steps` (it blocks until `release()` or `hang_s`), `kill_on_steps` (an appsuite env's sandbox
  worker is SIGKILLed while the step's cell runs).
* `FaultyEnv(inner, plan)`: an Env wrapper that applies the plan to `inner`.
* `ChatServer`: an OpenAI-compatible /chat/completions server on 127.0.0.1 that replies
  `script(last user message)` (deterministic), and can answer the next n requests with HTTP 500
  (`fail_next`), stop (connections refused) and start again on the same port.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from looprl.env.base import Message, StepResult

__all__ = ["ChatServer", "FaultPlan", "FaultyEnv"]


@dataclass
class FaultPlan:
    raise_on_steps: set[int] = field(default_factory=set)
    hang_on_steps: set[int] = field(default_factory=set)
    kill_on_steps: set[int] = field(default_factory=set)
    hang_s: float = 30.0  # a hung step returns after this at the latest (so no thread outlives a test for long)
    kill_after_s: float = 0.3  # how far into the cell the worker is killed
    steps: int = 0
    injected: dict[str, int] = field(default_factory=lambda: {"raise": 0, "hang": 0, "kill": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    def next_step(self) -> tuple[int, str | None]:
        with self._lock:
            self.steps += 1
            n = self.steps
            fault = "raise" if n in self.raise_on_steps else "hang" if n in self.hang_on_steps else "kill" if n in self.kill_on_steps else None
            if fault:
                self.injected[fault] += 1
        return n, fault

    def release(self) -> None:
        """Let every hung step return now."""
        self._released.set()


class FaultyEnv:
    """`inner` with the faults of `plan` injected into its steps (reset, evaluate and close pass through)."""

    def __init__(self, inner: Any, plan: FaultPlan) -> None:
        self.inner = inner
        self.plan = plan
        self.closed = False

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        return self.inner.reset(task_id, seed=seed)

    def step(self, action: str) -> StepResult:
        n, fault = self.plan.next_step()
        if fault == "raise":
            raise ConnectionResetError(f"injected fault: env step {n} lost its backend")
        if fault == "hang":
            self.plan._released.wait(self.plan.hang_s)
        if fault == "kill":
            sandbox = self.inner._sandbox  # the appsuite env's REPL worker
            _ = sandbox.protections  # wait until it is up, so the kill lands inside the cell
            threading.Timer(self.plan.kill_after_s, _kill, (sandbox.pid,)).start()
        return self.inner.step(action)

    def evaluate(self) -> dict[str, Any]:
        return self.inner.evaluate()

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def _kill(pid: int | None) -> None:
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ChatServer:
    """A deterministic OpenAI-compatible chat server on 127.0.0.1 that fails when told to."""

    def __init__(self, script: Callable[[str], str]) -> None:
        self.script = script
        self.requests = 0
        self.failed = 0
        self._fail_next = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, n: int) -> None:
        """Answer the next `n` requests with HTTP 500 (an engine that crashed mid-request)."""
        with self._lock:
            self._fail_next += n

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with server._lock:
                    server.requests += 1
                    fail = server._fail_next > 0
                    server._fail_next -= int(fail)
                    server.failed += int(fail)
                if fail:
                    status, payload = 500, {"error": {"message": "EngineCore encountered an issue (injected fault)"}}
                else:
                    text = server.script("<|im_start|>user\n" + body["messages"][-1]["content"])
                    choice = {"message": {"role": "assistant", "content": text}}
                    status, payload = 200, {"choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": len(text)}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        for _ in range(50):  # the port of a server just stopped may take a moment to be free again
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise OSError(f"could not bind 127.0.0.1:{self.port} again")
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop answering: new connections are refused until `start()`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def close(self) -> None:
        self.stop()
