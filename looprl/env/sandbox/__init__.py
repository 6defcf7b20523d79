"""The sandboxed Python REPL that runs the agent's code in the built-in world.

`host.py` starts a fresh interpreter per episode that executes `worker.py` (by file path, under
bubblewrap or on its own) and talks to it over a pipe; host.py's docstring states what is and is not
protected. `worker.py` imports nothing from looprl and needs only the standard library.
"""

from looprl.env.sandbox.host import (
    ALLOWED_MODULES,
    ISOLATIONS,
    CellResult,
    Sandbox,
    SandboxError,
    SandboxLimits,
    bwrap_available,
    resolve_isolation,
    sandbox_protections,
)

__all__ = [
    "ALLOWED_MODULES",
    "ISOLATIONS",
    "CellResult",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "bwrap_available",
    "resolve_isolation",
    "sandbox_protections",
]
