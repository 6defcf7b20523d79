"""The "appsuite" env: the built-in world (looprl.world) behind the sandboxed REPL.

`reset(task_id)` builds the task's fresh world (milliseconds) and starts a sandbox worker in the
background; its opening message holds the task (instruction, the supervisor's name, email and phone,
today's date) and `info` holds the same fields (what `looprl.agent.Scaffold` builds its prompt from)
plus the task's metadata and the sandbox's active protections. `step(message)` runs all ```python
blocks of the message, concatenated, as one cell. The world lives in this (the host) process: the
REPL's `apis.<app>.<api>(**kwargs)` is forwarded here and run by `World.call`, the only way agent
code can change the world.

Every step's info: `turn`, `code`, `api_calls` (app, api, args, status, ok: small, what rollouts
keep), `api_results` (each call's JSON result or error body, in the same order: for whoever records
episodes), `error` (the cell failed), `error_kind`, `restarted` (the REPL process was replaced), and
`infra_failure` = "env_worker_died" when it was killed from outside the agent's code. The episode
terminates once `apis.supervisor.complete_task(...)` has run; that final step's reward is the
fraction of the task's checks passed, and its info adds `reward`, `success`, `checks` and `answer`.
`evaluate()` gives the same report for the state as it stands (an unfinished episode is scored too,
as the paper's training reward is). Turn limits and observation budgets are wrappers
(looprl/env/wrappers.py).

Its tasks (`TaskLookup`): the world's splits and `heldout`; a selection (`AppSuiteEnv.Selection`)
draws `instances` instances of every scenario from instance `start` (the canonical 3 from 1), only of
`scenarios` and `difficulties` when given, the next block each pass with `fresh_instances`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from looprl.env.base import Message, StepResult, TaskSelectionError, register_env
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


# The config's task fields the built-in world takes (`tasks.<name>`), what each does in the module docstring.
_SELECTION_FIELDS = ("difficulties", "instances", "instance_start", "scenarios", "fresh_instances")


class AppSuiteEnv:
    """The built-in world as an Env (and its `TaskLookup`, every explicit id checked). Options: ``isolation`` ("auto" | "bwrap" | "unshare" | "none"),
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

    def ground_truth_solution(self, task_id: str) -> str:
        """The task's ground-truth solution code (GroundTruthSolutions: what SFT-GT trains on)."""
        from looprl.world import get_task

        return get_task(task_id).solution

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

    # -- its tasks (TaskLookup) ----------------------------------------------------------------------

    @dataclass(frozen=True)
    class Selection:
        """Instances ``start .. start + instances - 1`` of every scenario of a split (None: the canonical
        3), only `scenarios` and `difficulties` when given (None: all)."""

        instances: int | None = None
        start: int = 1
        scenarios: tuple[str, ...] | None = None
        difficulties: tuple[int, ...] | None = None

    @classmethod
    def splits(cls, options: Mapping[str, Any] | None = None) -> Sequence[str]:
        from looprl.world.tasks import HELDOUT, SPLITS

        return (*SPLITS, HELDOUT)

    @classmethod
    def task_selection(cls, options: Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None, *, epoch: int = 0) -> "AppSuiteEnv.Selection":
        """From the fields difficulties, instances, instance_start, scenarios and fresh_instances (the
        epoch-th next block of `instances` instances with fresh_instances); the scenarios must be the
        world's."""
        from looprl.world.tasks import CANONICAL_INSTANCES, scenarios as world_scenarios

        fields = dict(fields or {})
        for name, value in fields.items():
            if name not in _SELECTION_FIELDS:
                raise TaskSelectionError(name, value, f"does not apply to the built-in world (env 'appsuite'); it takes: {', '.join(_SELECTION_FIELDS)}")
        for name in ("instances", "instance_start"):
            value = fields.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise TaskSelectionError(name, value, "must be an integer >= 1")
        scenarios = fields.get("scenarios") or None
        if scenarios is not None:
            known = world_scenarios()
            unknown = [name for name in scenarios if name not in known]
            if unknown:
                raise TaskSelectionError("scenarios", list(scenarios), f"names no scenario of the built-in world: {unknown} (see `looprl world tasks`)")
        instances = fields.get("instances")
        start = fields.get("instance_start", 1)
        if fields.get("fresh_instances"):
            start += epoch * (instances or CANONICAL_INSTANCES)
        difficulties = fields.get("difficulties") or None
        return cls.Selection(instances, start, tuple(scenarios) if scenarios else None, tuple(difficulties) if difficulties else None)

    @classmethod
    def task_ids(cls, split: str, selection: "AppSuiteEnv.Selection") -> list[str]:
        """`load_tasks(split, ...)` as the selection says; a selected scenario the split does not draw from is named."""
        from looprl.world import load_tasks
        from looprl.world.tasks import CANONICAL_INSTANCES, split_scenarios

        if selection.scenarios:
            known = split_scenarios(split)
            unknown = [name for name in selection.scenarios if name not in known]
            if unknown:
                raise TaskSelectionError(
                    "scenarios", list(selection.scenarios), f"has {unknown}, not scenarios of split {split!r}; its scenarios are: {', '.join(known)}"
                )
        tasks = load_tasks(
            split,
            difficulties=list(selection.difficulties) if selection.difficulties else None,
            instances=selection.instances or CANONICAL_INSTANCES,
            start=selection.start,
            scenarios=list(selection.scenarios) if selection.scenarios else None,
        )
        return [t.id for t in tasks]

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
