"""Run trusted code (ground-truth solutions) against a World in this process.

This is for the world's own validation (`looprl world solve/validate`) and tests, where the code is
ours. Agent code never runs here: it runs in the sandboxed REPL (looprl/env/sandbox/host.py), whose
`apis` stub forwards each call to `World.call` in the host process.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from typing import Any

from looprl.world.state import World


class _AppProxy:
    def __init__(self, world: World, app: str) -> None:
        self._world, self._app = world, app

    def __getattr__(self, api: str):
        if api.startswith("_"):
            raise AttributeError(api)
        return lambda **kwargs: self._world.call(self._app, api, kwargs)


class Apis:
    """``apis.<app>.<api>(**kwargs)`` bound to a world, in-process."""

    def __init__(self, world: World) -> None:
        self._world = world

    def __getattr__(self, app: str) -> _AppProxy:
        if app.startswith("_"):
            raise AttributeError(app)
        return _AppProxy(self._world, app)


def run_code(world: World, code: str, namespace: dict[str, Any] | None = None) -> tuple[str, bool]:
    """Execute ``code`` with ``apis`` bound to ``world``; return (printed output, ok)."""
    ns = namespace if namespace is not None else {}
    ns.setdefault("apis", Apis(world))
    out = io.StringIO()
    ok = True
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(code, "<solution>", "exec"), ns)
        except Exception:
            ok = False
            print("Execution failed. " + traceback.format_exc(limit=3))
    return out.getvalue(), ok


def solve(task: Any) -> tuple[World, str, bool]:
    """Run a task's ground truth in a fresh world; return the world (for evaluate()), output and ok."""
    world = World.for_task(task)
    output, ok = run_code(world, task.solution)
    return world, output, ok
