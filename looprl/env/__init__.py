"""Environments: the Env protocol, the registry, the conformance checker and the wrappers (base.py,
checker.py, wrappers.py, cells.py, task_ids.py); the sandboxed REPL (sandbox/); the built-in suite over
looprl.world (appsuite.py); the real AppWorld (appworld/); the "toy" digits env (toy.py).

from looprl.env import make_env, check_env, wrap_env, sandbox_protections
env = wrap_env(make_env("appsuite"), max_turns=40, max_observation_tokens=3000)
"""

from looprl.env.base import Env, EvalHooks, Message, StepResult, TaskLookup, TaskSelectionError, make_env, register_env, registered_envs
from looprl.utils.lazy import lazy_exports

__all__ = [
    "Env",
    "EvalHooks",
    "Message",
    "StepResult",
    "TaskLookup",
    "TaskSelectionError",
    "make_env",
    "register_env",
    "registered_envs",
    "check_env",
    "wrap_env",
    "TurnLimit",
    "ObservationBudget",
    "sandbox_protections",
]

# implementations import on first use, so `import looprl.env` stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "check_env": "looprl.env.checker",
        "wrap_env": "looprl.env.wrappers",
        "TurnLimit": "looprl.env.wrappers",
        "ObservationBudget": "looprl.env.wrappers",
        "sandbox_protections": "looprl.env.sandbox",
    },
)
