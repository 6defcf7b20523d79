"""`check_env(env, task_id)`: does an env keep the Env contract? Run on every env in the tests.

It drives one short episode and one finished episode and checks, naming each problem it finds:

* `reset` returns (a non-empty list of {"role", "content"} chat messages, a dict), the same
  messages for the same task twice in a row;
* `step` returns a `StepResult` with a str observation, a float reward, bool `terminated` and
  `truncated` that are never both True, and a dict info with an `api_calls` list whose records
  carry app, api, args, status and ok; a message without code gets a non-empty observation and does
  not end the episode; non-final steps carry reward 0;
* the final step (the agent calls complete_task) is terminated, its reward is in [0, 1] and equals
  `info["reward"]`, and its info holds `success` (bool) and `checks` (a list of {name, passed,
  detail});
* stepping a finished episode raises; `evaluate()` on an unfinished episode returns reward/success/checks;
  `close()` may be called twice.

The probe actions are AppWorld-style REPL messages (```python blocks calling `apis.*`), which both
built-in envs take; pass your own for an env that speaks differently.
"""

from __future__ import annotations

import json
from typing import Any

from looprl.env.base import Env, StepResult, TaskLookup
from looprl.env.wrappers import Wrapper

NO_CODE_ACTION = "Let me think about this before writing any code."
PROBE_ACTIONS = (
    "First I will look at the apps.\n```python\nprint(apis.api_docs.show_app_descriptions())\n```",
    "```python\nx = 6 * 7\nprint(x)\n```",
    "```python\nprint(x + 1)\n```",
)
FINAL_ACTION = '```python\napis.supervisor.complete_task(status="fail")\n```'
_ROLES = ("system", "user", "assistant")


class EnvCheckError(AssertionError):
    """The env breaks the Env contract; `.problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the env breaks the Env contract:\n  - " + "\n  - ".join(problems))


def _default_task_id(env: Any) -> str:
    """The first task of the env's first split (its "dev" split when it has one), asked of the env's own
    task lookup (`TaskLookup`, its class methods); ValueError when it has none to offer."""
    inner = type(env.unwrapped if isinstance(env, Wrapper) else env)
    ids: list[str] = []
    if issubclass(inner, TaskLookup):  # the lookup is optional: envs may leave tasks to their users
        splits = inner.splits()  # None: any split name does
        ids = inner.task_ids("dev" if splits is None or "dev" in splits else next(iter(splits), "dev"), inner.task_selection())
    if not ids:
        raise ValueError(f"check_env needs a task_id for a {inner.__name__}: its class names no split with tasks to take one from")
    return ids[0]


def _check_messages(messages: Any, problems: list[str]) -> None:
    if not isinstance(messages, list) or not messages:
        problems.append(f"reset() must return a non-empty list of messages first, got {type(messages).__name__}")
        return
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) < {"role", "content"}:
            problems.append(f"reset() message {i} must be a dict with 'role' and 'content', got {message!r:.80}")
        elif message["role"] not in _ROLES or not isinstance(message["content"], str):
            problems.append(f"reset() message {i}: role must be one of {_ROLES} and content a str, got {message['role']!r}")


def _check_step(result: Any, label: str, problems: list[str]) -> bool:
    if not isinstance(result, StepResult):
        problems.append(f"{label}: step() must return a StepResult, got {type(result).__name__}")
        return False
    if not isinstance(result.observation, str):
        problems.append(f"{label}: observation must be a str, got {type(result.observation).__name__}")
    if not isinstance(result.reward, float):
        problems.append(f"{label}: reward must be a float, got {type(result.reward).__name__}")
    if not isinstance(result.terminated, bool) or not isinstance(result.truncated, bool):
        problems.append(f"{label}: terminated and truncated must be bools")
    if result.terminated and result.truncated:
        problems.append(f"{label}: terminated and truncated are both True; an episode ends for one reason")
    if not isinstance(result.info, dict):
        problems.append(f"{label}: info must be a dict, got {type(result.info).__name__}")
        return False
    try:
        json.dumps(result.info, default=str)
    except (TypeError, ValueError) as exc:
        problems.append(f"{label}: info cannot be written as JSON ({exc})")
    calls = result.info.get("api_calls")
    if not isinstance(calls, list):
        problems.append(f"{label}: info['api_calls'] must be a list, got {type(calls).__name__}")
    else:
        for call in calls:
            missing = {"app", "api", "args", "status", "ok"} - set(call if isinstance(call, dict) else {})
            if missing:
                problems.append(f"{label}: an api_calls record lacks {sorted(missing)}: {call!r:.120}")
                break
    return True


def _check_report(report: Any, label: str, problems: list[str]) -> None:
    if not isinstance(report, dict):
        problems.append(f"{label} must be a dict, got {type(report).__name__}")
        return
    reward = report.get("reward")
    if not isinstance(reward, (int, float)) or not 0.0 <= float(reward) <= 1.0:
        problems.append(f"{label}: reward must be a number in [0, 1], got {reward!r}")
    if not isinstance(report.get("success"), bool):
        problems.append(f"{label}: success must be a bool, got {report.get('success')!r}")
    checks = report.get("checks")
    if not isinstance(checks, list) or not all(isinstance(c, dict) and {"name", "passed", "detail"} <= set(c) for c in checks):
        problems.append(f"{label}: checks must be a list of {{name, passed, detail}} dicts, got {checks!r:.120}")


def check_env(
    env: Env,
    task_id: str | None = None,
    *,
    probe_actions: tuple[str, ...] | list[str] = PROBE_ACTIONS,
    final_action: str = FINAL_ACTION,
) -> dict[str, Any]:
    """Check ``env`` against the Env contract; raise EnvCheckError listing every problem, else return a summary."""
    problems: list[str] = []
    task_id = task_id or _default_task_id(env)
    for method in ("reset", "step", "evaluate", "close"):
        if not callable(getattr(env, method, None)):  # why: this IS the conformance check of the declared protocol
            problems.append(f"the env has no {method}() method")
    if problems:
        raise EnvCheckError(problems)

    out = env.reset(task_id)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise EnvCheckError([f"reset() must return (messages, info), got {type(out).__name__}"])
    messages, info = out
    _check_messages(messages, problems)
    if not isinstance(info, dict):
        problems.append(f"reset() info must be a dict, got {type(info).__name__}")

    steps = 0
    result = env.step(NO_CODE_ACTION)
    steps += 1
    if _check_step(result, "a message without code", problems):
        if not result.observation.strip():
            problems.append("a message without code must get an observation saying so, got an empty one")
        if result.terminated or result.truncated:
            problems.append("a message without code must not end the episode")
    for action in probe_actions:
        result = env.step(action)
        steps += 1
        if _check_step(result, f"probe action {steps}", problems) and (result.terminated or result.truncated):
            problems.append(f"probe action {steps} ended the episode; use probes that do not")
            break
        if result.reward != 0.0:
            problems.append(f"probe action {steps}: a step that does not end the episode must have reward 0, got {result.reward}")

    _check_report(env.evaluate(), "evaluate() on an unfinished episode", problems)

    final = env.step(final_action)
    steps += 1
    if _check_step(final, "the final action", problems):
        if not final.terminated:
            problems.append(f"the final action ({final_action!r}) must terminate the episode")
        _check_report(final.info, "the final step's info", problems)
        if isinstance(final.info.get("reward"), (int, float)) and final.info["reward"] != final.reward:
            problems.append(f"the final step's reward {final.reward} differs from info['reward'] {final.info['reward']}")
    try:
        env.step(NO_CODE_ACTION)
        problems.append("step() after the episode ended must raise, but it returned")
    except Exception:
        pass

    again, _ = env.reset(task_id)
    if again != messages:
        problems.append("reset() of the same task twice gave different opening messages")
    fresh = env.step(NO_CODE_ACTION)
    if _check_step(fresh, "the first step after a second reset", problems) and (fresh.terminated or fresh.truncated):
        problems.append("a new episode must not start finished")
    env.close()
    env.close()
    if problems:
        raise EnvCheckError(problems)
    return {"task_id": task_id, "steps": steps, "final_reward": final.reward, "success": final.info.get("success")}
