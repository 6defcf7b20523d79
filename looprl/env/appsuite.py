"""The "appsuite" env: the built-in world (looprl.world) behind the sandboxed REPL.

`reset(task_id)` builds the task's fresh world (milliseconds) and starts a sandbox worker in the
background; its opening message holds the task (instruction, the supervisor's name, email and phone,
today's date) and `info` holds the same fields (what `looprl.agent.Scaffold` builds its prompt from)
plus the task's metadata and the sandbox's active protections. `step(message)` runs all ```python
blocks of the message, concatenated, as one cell. The world lives in this (the host) process: the
REPL's `apis.<app>.<api>(**kwargs)` is forwarded here and run by `World.call`, the only way agent
code can change the world.

Every step's info: `turn`, `code`, `api_calls` (app, api, args, status, ok: small, what rollouts
keep), `api_results` (each call's JSON result or error body, in the same order: what RecordEpisode
writes), `error` (the cell failed), `error_kind`, `restarted` (the REPL process was replaced), and
`infra_failure` = "env_worker_died" when it was killed from outside the agent's code. The episode
terminates once `apis.supervisor.complete_task(...)` has run; that final step's reward is the
fraction of the task's checks passed, and its info adds `reward`, `success`, `checks` and `answer`.
`evaluate()` gives the same report for the state as it stands (an unfinished episode is scored too,
as the paper's training reward is). Turn limits, observation budgets and recording are wrappers
(looprl/env/wrappers.py).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from looprl.env.base import BuiltinWorldTasks, Message, StepResult, register_env
from looprl.env.cells import extract_code_blocks, join_code_blocks
from looprl.env.sandbox import Sandbox, SandboxLimits, resolve_isolation, sandbox_protections

NO_CODE_OBSERVATION = (
    "No code was run: your message has no ```python code block. To act, write the code to run in a block that starts with ```python and ends with ```."
)


class EpisodeOver(RuntimeError):
    """step() was called after the episode ended (or before reset())."""


def _task_message(instruction: str, supervisor: dict[str, Any], date: str) -> str:
    return (
        f"Today's date is {date}.\n"
        f"My name is {supervisor['first_name']} {supervisor['last_name']}. "
        f"My personal email is {supervisor['email']} and my phone number is {supervisor['phone_number']}.\n"
        f"Task: {instruction}"
    )


class AppSuiteEnv(BuiltinWorldTasks):
    """The built-in world as an Env (its tasks: `BuiltinWorldTasks`, every explicit id checked). Options: ``isolation`` ("auto" | "bwrap" | "unshare" | "none"),
    ``sandbox`` (a dict of `SandboxLimits` fields, e.g. ``{"cell_timeout_s": 10}``) and ``prespawn``
    (start the next episode's worker during this one: worth it for an env reused across many episodes,
    wasted on one built per episode; default False). Even without it the worker boots in the
    background from reset() on, while the agent writes its first message."""

    def __init__(self, *, isolation: str = "auto", sandbox: dict[str, Any] | SandboxLimits | None = None, prespawn: bool = False) -> None:
        self.limits = SandboxLimits.from_options(sandbox)
        self.isolation = resolve_isolation(isolation)
        self.prespawn = bool(prespawn)
        self.world = None
        self.task = None
        self.turn = 0
        self.done = True
        self._sandbox: Sandbox | None = None
        self._spare: Sandbox | None = None  # the next episode's worker, starting while this one runs

    # -- the protocol ----------------------------------------------------------------------------

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        """Start an episode of ``task_id``. ``seed`` is accepted for the protocol: a task's world is
        the same every time (its randomness is fixed when the task is generated)."""
        from looprl.world import World, get_task

        task = get_task(task_id)  # raises with the known ids when unknown
        self._stop_sandbox()
        self.task = task
        self.world = World.for_task(task)
        self.turn = 0
        self.done = False
        # A fresh worker per episode. With prespawn, the one started during the previous episode is
        # used and the next one starts now, so reset() does not wait for an interpreter to boot.
        self._sandbox, self._spare = self._spare, None
        if self._sandbox is None:
            self._sandbox = self._new_sandbox()
        if self.prespawn:
            self._spare = self._new_sandbox()
        supervisor = dict(self.world.supervisor)
        date = self.world.now.strftime("%Y-%m-%d %H:%M:%S")
        messages: list[Message] = [{"role": "user", "content": _task_message(task.instruction, supervisor, date)}]
        info = {
            "task_id": task.id,
            "instruction": task.instruction,
            "supervisor": supervisor,
            "date": date,
            "scenario": task.scenario,
            "split": task.split,
            "difficulty": task.difficulty,
            "apps": list(task.apps),
            # Measured once per process and isolation mode; this episode's worker is still starting.
            "sandbox": sandbox_protections(self.isolation),
        }
        return messages, info

    def step(self, action: str) -> StepResult:
        if self.done or self.world is None or self._sandbox is None:
            raise EpisodeOver("step() called on an episode that is over (or never started); call reset(task_id) first")
        if not isinstance(action, str):
            raise TypeError(f"step() takes the agent's message as a str, got {type(action).__name__}")
        self.turn += 1
        code = join_code_blocks(extract_code_blocks(action))
        info: dict[str, Any] = {"turn": self.turn, "code": code}
        if not code.strip():
            observation = NO_CODE_OBSERVATION
            info.update(api_calls=[], api_results=[], error=False, error_kind=None, restarted=False)
        else:
            cell = self._sandbox.run(code)
            observation = cell.observation
            info.update(
                api_calls=[{k: v for k, v in call.items() if k != "result"} for call in cell.api_calls],
                api_results=[call.get("result") for call in cell.api_calls],
                error=not cell.ok,
                error_kind=cell.error_kind,
                restarted=cell.restarted,
            )
            if cell.infra:  # the worker was killed from outside the agent's code: not the policy's doing
                info["infra_failure"] = "env_worker_died"
        terminated = bool(self.world.completed)
        reward = 0.0
        if terminated:
            report = self.evaluate()
            info.update(report)
            reward = float(report["reward"])
            self.done = True
            self._stop_sandbox()
        return StepResult(observation=observation, reward=reward, terminated=terminated, truncated=False, info=info)

    def evaluate(self) -> dict[str, Any]:
        """The task's checks on the world as it stands: reward (fraction passed), success, checks, answer."""
        if self.world is None:
            raise EpisodeOver("evaluate() called before reset()")
        report = self.world.evaluate()
        return {
            "reward": float(report.reward),
            "success": bool(report.success),
            "checks": [{"name": c.name, "passed": bool(c.passed), "detail": c.detail} for c in report.checks],
            "answer": self.world.answer,
        }

    def close(self) -> None:
        self._stop_sandbox()
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()
        self.done = True

    @classmethod
    def check_task_ids(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        """ValueError naming the first id that is no task of the built-in world (with the id's form)."""
        from looprl.world import get_task

        for task_id in ids:
            try:
                get_task(task_id)
            except KeyError as exc:  # a KeyError's str() would quote its message
                raise ValueError(exc.args[0] if exc.args else str(exc)) from None

    # -- internals -------------------------------------------------------------------------------

    def _new_sandbox(self) -> Sandbox:
        return Sandbox(self._call_api, limits=self.limits, isolation=self.isolation)

    def _call_api(self, app: str, api: str, kwargs: dict[str, Any]) -> Any:
        return self.world.call(app, api, kwargs)

    def _stop_sandbox(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


_OPTIONS = ("isolation", "sandbox", "prespawn")


def make_appsuite_env(**options: Any) -> AppSuiteEnv:
    """`make_env("appsuite", **options)`: unknown options are named, with the ones that exist."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"unknown appsuite env option(s) {unknown}; options are: {', '.join(_OPTIONS)}")
    return AppSuiteEnv(**options)


register_env("appsuite", make_appsuite_env, overwrite=True, env_class=AppSuiteEnv)
