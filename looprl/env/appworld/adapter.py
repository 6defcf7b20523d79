"""The real AppWorld as a looprl env: `make_env("appworld", root=..., python=...)`.

AppWorld (Trivedi et al. 2024; PyPI package `appworld`) pins pydantic<2, so it never runs in
looprl's interpreter. Each `AppWorldEnv` starts one AppWorld environment server
(looprl/env/appworld/server.py) with the AppWorld venv's interpreter, bound to 127.0.0.1 on a port
the kernel picks, and drives it over HTTP:

    reset(task_id)  ->  POST /initialize  (a fresh experiment name per episode)
    step(message)   ->  POST /execute     (all ```python blocks of the message, concatenated)
                        POST /task_completed
                        POST /evaluate    (once the task is completed: AppWorld's own tests)
    close()         ->  POST /close; the server goes to the idle pool (or is stopped)

One server serves one episode at a time (AppWorld keeps one world per process), so run one env per
concurrent episode. An env reuses its server across episodes, and `close()` hands a live server to a
per-process idle pool that the next env over the same root takes from (``reuse_servers=False`` stops
it instead). Every episode starts from AppWorld's /initialize, which rebuilds the task's world from
its files, so nothing carries over from one episode to the next.

Contract (looprl/env/base.py):

* `reset` returns a system and a user message with the task instruction, the supervisor's name,
  email and phone number and the task's date, and an info dict with ``instruction``,
  ``supervisor``, ``date`` (what the scaffold needs), ``difficulty`` (from the task's
  ground_truth/metadata.json), ``apps`` (ground_truth/required_apps.json; [] where the data has
  none), ``split`` (the one of AppWorld's four splits listing the task), ``splits`` (every split
  file listing it), ``scenario``, ``task_id``, ``experiment_name`` and ``episode_id`` (the same);
* `step` returns AppWorld's REPL output and ``info["api_calls"]``, one ``{app, api, args, status,
  ok}`` per API call the cell made (status inferred, see `_new_api_calls`); ``terminated`` is True
  once the agent called ``apis.supervisor.complete_task``; that step's reward is the fraction of AppWorld's tests that
  passed, ``info["success"]`` whether all did, ``info["checks"]`` one ``{"name", "passed",
  "detail"}`` per test (name = AppWorld's requirement, detail = its failure trace); every other
  step has reward 0.0;
* `evaluate()` scores the current state on demand (the training reward of an episode cut off by a
  turn limit, which never called complete_task);
* a server that fails to start raises `AppWorldServerError` naming the exit code, the last lines of
  its log and the log's path; a server that dies, hangs past the cell timeout or errors mid-episode
  ends the episode (``truncated``) with an observation that says so, and is not reused.

What this module does not do: it does not sandbox the agent's code beyond what AppWorld itself does
(its syntax safety guard and per-cell timeout). Run it in a container when the policy is untrusted.

Splits and difficulty come from AppWorld's own files: data/datasets/<split>.txt and
data/tasks/<id>/ground_truth/metadata.json (`load_task_ids`). `ground_truth_solution` reads a train or
dev task's own solution (SFT-GT). ``max_servers=N`` bounds the servers of this process, busy and idle
together: an env waits for one to be handed back rather than start an N+1-th (the engine holds one
world per process, so N episodes at once need N servers; spread them over machines with Ray).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from looprl.env.base import Message, StepResult, TaskSelectionError, register_env
from looprl.env.cells import extract_code_blocks, join_code_blocks

if TYPE_CHECKING:
    from looprl.trajectory import Trajectory

__all__ = [
    "AppWorldEnv",
    "AppWorldServer",
    "AppWorldServerError",
    "CANONICAL_SPLITS",
    "ground_truth_solution",
    "live_servers",
    "load_task_ids",
    "resolve_root",
    "stop_idle_servers",
    "task_apps",
    "task_difficulty",
    "task_splits",
]

SERVER_SCRIPT = Path(__file__).with_name("server.py")
# Servers handed back by closed envs, ready for the next env with the same root and interpreter. The
# rollout collector builds a fresh env per episode; reusing a warm server turns a 5-10 s start into a
# ~0.2 s /initialize. Idle servers stop at interpreter exit (weakref.finalize) or when looprl dies.
MAX_IDLE_SERVERS = 64
_IDLE_SERVERS: dict[tuple[str, str], list["AppWorldServer"]] = {}
_IDLE_LOCK = threading.Condition()
# Servers of this process that are alive and not stopped, busy or idle. An env given max_servers=N waits
# for one of them to come back to the idle pool rather than start an N+1-th: the collector closes a
# finished episode's env in a worker thread while the next episode's reset may already run, which
# without the bound kept concurrency + 1 servers (each ~250 MB) alive.
_LIVE_SERVERS: "weakref.WeakSet[AppWorldServer]" = weakref.WeakSet()
_STARTING = [0]  # servers being started now (counted against max_servers before they answer)
# AppWorld's four splits, in the order a task listed in several split files is assigned to one
CANONICAL_SPLITS = ("train", "dev", "test_normal", "test_challenge")

NO_CODE_OBSERVATION = "No ```python code block found in your message, so nothing was run. Put the code to run in a ```python ... ``` block."


def stop_idle_servers() -> int:
    """Stop every server in this process's idle pool (they also stop at exit); returns how many."""
    with _IDLE_LOCK:
        servers = [server for pool in _IDLE_SERVERS.values() for server in pool]
        _IDLE_SERVERS.clear()
    for server in servers:
        server.stop()
    return len(servers)


def live_servers() -> int:
    """How many AppWorld servers this process has running now (serving an episode or idle in the pool)."""
    with _IDLE_LOCK:
        return sum(1 for server in _LIVE_SERVERS if server.alive)


class AppWorldServerError(RuntimeError):
    """The AppWorld environment server could not be started or answered with an error."""


def resolve_root(root: str | os.PathLike | None) -> Path:
    """The AppWorld root: ``root`` if given, else $APPWORLD_ROOT (AppWorld's own convention)."""
    if root is None:
        root = os.environ.get("APPWORLD_ROOT")
        if not root:
            raise ValueError(
                "the appworld env needs the AppWorld root (the folder holding data/): pass root=PATH "
                "(env.options.root in a config) or set APPWORLD_ROOT; see docs/appworld.md"
            )
    path = Path(root).expanduser().absolute()
    if not (path / "data" / "tasks").is_dir():
        raise ValueError(f"AppWorld root {str(path)!r} has no data/tasks folder; see docs/appworld.md for getting the data")
    return path


def load_task_ids(root: str | os.PathLike | None, split: str, difficulty: int | Iterable[int] | None = None) -> list[str]:
    """Task ids of an AppWorld split (data/datasets/<split>.txt), optionally only some difficulties (1-3).

    ``difficulty`` is one level or several (the paper trains on difficulty 1 and 2 only).
    """
    root = resolve_root(root)
    split_file = root / "data" / "datasets" / f"{split}.txt"
    if not split_file.is_file():
        available = sorted(p.stem for p in (root / "data" / "datasets").glob("*.txt"))
        raise ValueError(f"AppWorld split {split!r} not found at {split_file}; available splits: {', '.join(available) or 'none'}")
    # AppWorld's split files may tag ids as "id:tag"; the id is the part before the colon.
    task_ids = [line.strip().split(":")[0] for line in split_file.read_text().splitlines() if line.strip()]
    if difficulty is not None:
        wanted = {difficulty} if isinstance(difficulty, int) else set(difficulty)
        if not wanted or not wanted <= {1, 2, 3}:
            raise ValueError(f"difficulty must be 1, 2 or 3 (or a list of them), got {difficulty!r}")
        task_ids = [t for t in task_ids if task_difficulty(root, t) in wanted]
    return task_ids


def task_difficulty(root: str | os.PathLike | None, task_id: str) -> int | None:
    """A task's difficulty from its ground_truth/metadata.json, or None when the task has no ground truth."""
    path = resolve_root(root) / "data" / "tasks" / task_id / "ground_truth" / "metadata.json"
    try:
        return int(json.loads(path.read_text())["difficulty"])
    except FileNotFoundError:
        return None


def task_apps(root: str | os.PathLike | None, task_id: str) -> list[str]:
    """The apps a task needs, from its ground_truth/required_apps.json (AppWorld's own list, without
    the supervisor and api_docs apps every task uses); [] when the data does not ship the file."""
    path = resolve_root(root) / "data" / "tasks" / task_id / "ground_truth" / "required_apps.json"
    try:
        return sorted(str(app) for app in json.loads(path.read_text()))
    except FileNotFoundError:
        return []


def task_splits(root: str | os.PathLike | None) -> dict[str, list[str]]:
    """Every split file's name (data/datasets/<name>.txt) for each task id listed in one, canonical
    splits (train, dev, test_normal, test_challenge) first, then other files alphabetically."""
    datasets = resolve_root(root) / "data" / "datasets"
    names = sorted((p.stem for p in datasets.glob("*.txt")), key=lambda n: (CANONICAL_SPLITS.index(n) if n in CANONICAL_SPLITS else 99, n))
    out: dict[str, list[str]] = {}
    for name in names:
        for line in (datasets / f"{name}.txt").read_text().splitlines():
            if line.strip():
                out.setdefault(line.strip().split(":")[0], []).append(name)
    return out


def ground_truth_solution(root: str | os.PathLike | None, task_id: str) -> str:
    """The task's own solution as top-level code that runs in AppWorld's REPL (for SFT-GT).

    AppWorld ships the solution of train and dev tasks in ground_truth/compiled_solution.py (or
    solution.py) as ``def solution(apis, requester): ...``; this returns that function's body,
    dedented, comments kept (they become the SFT-GT chat's "thinking"). Test tasks ship none
    ("minimal" ground truth): that is a ValueError saying so.
    """
    import ast
    import textwrap

    gt = resolve_root(root) / "data" / "tasks" / task_id / "ground_truth"
    for name in ("compiled_solution.py", "solution.py"):
        path = gt / name
        if not path.is_file():
            continue
        source = path.read_text()
        tree = ast.parse(source)
        fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "solution"), None)
        if fn is None or not fn.body:
            raise ValueError(f"AppWorld task {task_id!r}: {path} has no `def solution(apis, requester)` to take the ground truth from")
        lines = source.splitlines()
        statements = fn.body
        if isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant) and len(statements) > 1:
            statements = statements[1:]  # a docstring is not a step
        start = statements[0].lineno - 1  # 0-based; the comments right above the first statement belong to it
        while start > 0 and lines[start - 1].strip().startswith("#"):
            start -= 1
        body = textwrap.dedent("\n".join(lines[start : fn.end_lineno])).strip("\n")
        if body.rstrip().endswith("\nreturn") or body.strip() == "return":
            body = body.rstrip()[: -len("return")].rstrip()
        return body + "\n"
    splits = task_splits(root).get(task_id, [])
    raise ValueError(
        f"AppWorld task {task_id!r} ({'split ' + ', '.join(splits) if splits else 'in no split file'}) has no ground-truth "
        f"solution: {gt} holds no compiled_solution.py or solution.py. AppWorld ships solutions for train and dev tasks "
        "only (test_normal and test_challenge have 'minimal' ground truth), so SFT-GT needs tasks.train_split=train or dev"
    )


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"


class AppWorldServer:
    """One AppWorld environment server process on 127.0.0.1 (started by `start`, ended by `stop`)."""

    def __init__(self, root: Path, python: Path, log_path: Path, *, startup_timeout_s: float = 120.0):
        self.root = root
        self.python = python
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self._client = None
        self._finalizer = None
        self.remove_log_on_stop = True  # a server that died on its own keeps its log for the post-mortem

    def start(self) -> None:
        import httpx

        if not self.python.exists():
            raise AppWorldServerError(
                f"the AppWorld interpreter {self.python} does not exist; create it with `looprl env setup-appworld` "
                "or pass python=/path/to/appworld-venv/bin/python"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        port_file = Path(tempfile.mkstemp(prefix="looprl-appworld-port-")[1])
        port_file.unlink()
        env = dict(os.environ, APPWORLD_ROOT=str(self.root), PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.python),
                    str(SERVER_SCRIPT),
                    "--root",
                    str(self.root),
                    "--port-file",
                    str(port_file),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                env=env,
                start_new_session=True,  # a Ctrl-C meant for looprl reaches the server through stop(), not twice
            )
        self._finalizer = weakref.finalize(self, _stop_process, self.process, self.log_path if self.remove_log_on_stop else None)
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise AppWorldServerError(
                        f"the AppWorld server exited during start-up with code {code} (root {self.root}).\n"
                        f"Last lines of its log {self.log_path}:\n{_log_tail(self.log_path)}"
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise AppWorldServerError(
                        f"the AppWorld server did not answer within {self.startup_timeout_s:.0f} s (root {self.root}).\n"
                        f"Last lines of its log {self.log_path}:\n{_log_tail(self.log_path)}"
                    )
                if self.url is None and port_file.exists():
                    self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
                if self.url is not None:
                    try:
                        if httpx.get(self.url + "/", timeout=2.0).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                time.sleep(0.1)
        finally:
            port_file.unlink(missing_ok=True)
        self._client = httpx.Client(base_url=self.url, trust_env=False)
        with _IDLE_LOCK:
            _LIVE_SERVERS.add(self)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def call(self, method: str, timeout_s: float, **payload: Any) -> Any:
        """POST /<method> with a JSON body; return the server's ``output``."""
        import httpx

        if self._client is None or not self.alive:
            raise AppWorldServerError(self._dead_message(method))
        try:
            response = self._client.post(f"/{method}", json=payload, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise AppWorldServerError(f"AppWorld /{method} gave no answer within {timeout_s:.0f} s; log: {self.log_path}") from exc
        except httpx.TransportError as exc:
            raise AppWorldServerError(self._dead_message(method) if not self.alive else f"AppWorld /{method} failed: {exc}") from exc
        if response.status_code != 200:
            raise AppWorldServerError(
                f"AppWorld /{method} answered HTTP {response.status_code}: {response.text[:500]}\n"
                f"Last lines of the server log {self.log_path}:\n{_log_tail(self.log_path)}"
            )
        return response.json()["output"]

    def _dead_message(self, method: str) -> str:
        code = self.process.poll() if self.process is not None else None
        return (
            f"the AppWorld server is not running (exit code {code}) so /{method} cannot be called.\n"
            f"Last lines of its log {self.log_path}:\n{_log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        with _IDLE_LOCK:
            _LIVE_SERVERS.discard(self)
            _IDLE_LOCK.notify_all()  # an env waiting under max_servers may start one now
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._finalizer is not None:
            self._finalizer()  # stops the process once; later calls are no-ops
        self.process = None


def _stop_process(process: subprocess.Popen, log_path: Path | None = None) -> None:
    if process.poll() is not None:
        return
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    process.terminate()
    try:
        # The server keeps nothing worth a long graceful shutdown (episode outputs are written after
        # every cell), and its interpreter's exit hooks take seconds; don't wait long for them.
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class AppWorldEnv:
    """A looprl env over real AppWorld tasks; see the module docstring for the contract."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        python: str | os.PathLike | None = None,
        *,
        experiment_prefix: str = "looprl",
        cell_timeout_s: int = 100,
        max_api_calls_per_cell: int = 1000,
        startup_timeout_s: float = 120.0,
        keep_outputs: bool = False,
        log_dir: str | os.PathLike | None = None,
        reuse_servers: bool = True,
        max_servers: int | None = None,
        server_wait_s: float = 600.0,
    ):
        from looprl.env.appworld.install import default_venv_dir, venv_python

        self.root = resolve_root(root)
        self.python = Path(python).expanduser().absolute() if python is not None else venv_python(default_venv_dir())
        if not experiment_prefix or "/" in experiment_prefix:
            raise ValueError(f"experiment_prefix must be a non-empty name without '/', got {experiment_prefix!r}")
        if cell_timeout_s < 1:
            raise ValueError(f"cell_timeout_s must be >= 1 second, got {cell_timeout_s!r}")
        self.experiment_prefix = experiment_prefix
        self.cell_timeout_s = int(cell_timeout_s)
        self.max_api_calls_per_cell = int(max_api_calls_per_cell)
        self.startup_timeout_s = float(startup_timeout_s)
        self.keep_outputs = keep_outputs
        self.reuse_servers = reuse_servers
        if max_servers is not None and max_servers < 1:
            raise ValueError(f"max_servers must be >= 1 (or None for no bound), got {max_servers!r}")
        self.max_servers = max_servers
        self.server_wait_s = float(server_wait_s)
        self.log_dir = Path(log_dir) if log_dir is not None else self.root / "experiments" / "outputs" / "looprl-server-logs"
        self._server: AppWorldServer | None = None
        self._splits: dict[str, list[str]] | None = None  # task id -> split files listing it, read on first use
        self._router: _ApiRouter | None = None
        self._calls_seen = 0  # API calls of this episode already reported in a step's info
        self._task_id: str | None = None
        self._experiment: str | None = None
        self._done = True
        self._turn = 0

    # -- Env protocol -------------------------------------------------------------------------------

    @classmethod
    def splits(cls, options: Mapping[str, Any] | None = None) -> Sequence[str]:
        """The split files of the AppWorld root in `options` (data/datasets/<split>.txt)."""
        datasets = resolve_root((options or {}).get("root")) / "data" / "datasets"
        return sorted(p.stem for p in datasets.glob("*.txt"))

    @dataclass(frozen=True)
    class Selection:
        """The tasks of the AppWorld root `root` (None: APPWORLD_ROOT), only of `difficulties` when given."""

        root: str | None = None
        difficulties: tuple[int, ...] | None = None

    @classmethod
    def task_selection(cls, options: Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None, *, epoch: int = 0) -> AppWorldEnv.Selection:
        """The env option ``root`` and the field ``difficulties``; AppWorld's tasks are fixed (its split
        files), so no other field applies."""
        for name, value in (fields or {}).items():
            if name != "difficulties":
                raise TaskSelectionError(
                    name, value, "does not apply to env 'appworld': AppWorld's tasks are the fixed lists of its split files; it takes only difficulties"
                )
        root = (options or {}).get("root")
        difficulties = (fields or {}).get("difficulties") or None
        return cls.Selection(None if root is None else str(root), tuple(difficulties) if difficulties else None)

    @classmethod
    def task_ids(cls, split: str, selection: AppWorldEnv.Selection) -> list[str]:
        """AppWorld's own split file and difficulty metadata (`load_task_ids`)."""
        return load_task_ids(selection.root, split, difficulty=list(selection.difficulties) if selection.difficulties else None)

    @classmethod
    def check_task_ids(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        """Accepts any id: `reset` names a task the root does not hold (the root may be another machine's in Ray mode)."""
        return None

    # -- an evaluation run (EvalHooks) -------------------------------------------------------------

    @classmethod
    def prepare_evaluation(cls, options: Mapping[str, Any], *, concurrency: int | None) -> dict[str, Any]:
        """Keep each episode's AppWorld outputs for the experiment folders `finish_evaluation` writes,
        and, where the servers live in this process, never run more of them than episodes at once."""
        bound = {"max_servers": concurrency} if concurrency is not None else {}
        return {**bound, **options, "keep_outputs": True}

    @classmethod
    def finish_evaluation(
        cls, options: Mapping[str, Any], trajectories: Sequence[Trajectory], out_dir: Path, *, split: str, task_ids: Sequence[str]
    ) -> list[str]:
        """Write <out_dir>/appworld/, an AppWorld root whose experiment folders hold the episodes' end
        states, for AppWorld's own `appworld evaluate` and leaderboard tools (looprl/env/appworld/export.py)."""
        from looprl.env.appworld.export import write_experiments

        exported = write_experiments(
            trajectories,
            resolve_root(options.get("root")),
            out_dir,
            run_name=options.get("experiment_prefix") or Path(out_dir).name,
            split=split,
            task_ids=list(task_ids),
        )
        return [f"AppWorld experiment folder(s) in {exported['appworld_root']}; score them with AppWorld's own evaluation:"] + [
            f"  {command}" for command in exported["evaluate"]
        ]

    @classmethod
    def check_solutions(cls, ids: Sequence[str], options: Mapping[str, Any] | None = None) -> None:
        """Every task has a ground-truth solution (what SFT-GT trains on); a ValueError naming those without."""
        root = (options or {}).get("root")
        missing = []
        for task_id in ids:
            try:
                ground_truth_solution(root, task_id)
            except ValueError as exc:
                missing.append((task_id, exc))
        if missing:
            first_id, first = missing[0]
            names = ", ".join(t for t, _ in missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"{len(missing)} of {len(ids)} tasks have no usable ground-truth solution ({names}); {first_id}: {first}")

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        if not isinstance(task_id, str) or not task_id or "/" in task_id or task_id.startswith("."):
            raise ValueError(f"AppWorld task ids look like 'a1b2c3d_1', got {task_id!r}")
        specs_path = self.root / "data" / "tasks" / task_id / "specs.json"
        if not specs_path.is_file():
            raise ValueError(f"AppWorld task {task_id!r} not found: no {specs_path}; list tasks with looprl.env.appworld.load_task_ids(root, split)")
        self._end_episode()
        server = self._ensure_server()
        self._experiment = f"{self.experiment_prefix}-{uuid.uuid4().hex[:12]}"
        options: dict[str, Any] = {
            "task_id": task_id,
            "experiment_name": self._experiment,
            "timeout_seconds": self.cell_timeout_s,
            "max_api_calls_per_interaction": self.max_api_calls_per_cell,
        }
        if seed is not None:
            options["random_seed"] = int(seed)
        task = server.call("initialize", timeout_s=self.startup_timeout_s, **options)
        self._task_id, self._done, self._turn, self._calls_seen = task_id, False, 0, 0
        supervisor = {k: task["supervisor"][k] for k in ("first_name", "last_name", "email", "phone_number")}
        info = {
            "task_id": task_id,
            "instruction": task["instruction"],
            "supervisor": supervisor,
            "date": task["datetime"],
            "difficulty": task_difficulty(self.root, task_id),
            "apps": task_apps(self.root, task_id),
            "scenario": task_id.split("_")[0],  # AppWorld's scenario (generator) id: "<scenario>_<n>"
            **self._split_of(task_id),
            "experiment_name": self._experiment,
            "episode_id": self._experiment,  # the collector keeps it in the trajectory's stats (AppWorld export)
        }
        return _opening_messages(info), info

    def step(self, action: str) -> StepResult:
        if self._done or self._server is None:
            raise RuntimeError("the AppWorld episode is over (or never started); call reset(task_id) first")
        self._turn += 1
        info: dict[str, Any] = {"task_id": self._task_id, "turn": self._turn}
        blocks = extract_code_blocks(action)
        if not blocks:
            return StepResult(NO_CODE_OBSERVATION, 0.0, False, False, {**info, "code": "", "executed": False, "api_calls": []})
        code = join_code_blocks(blocks)
        info.update(code=code, executed=True)
        try:
            output = self._server.call("execute", timeout_s=self.cell_timeout_s + 60, task_id=self._task_id, code=code)
            completed = bool(self._server.call("task_completed", timeout_s=60, task_id=self._task_id))
        except AppWorldServerError as exc:
            # The server died, hung past the cell timeout or failed inside: end this episode (the
            # collector goes on with the others) and never hand that server to another episode.
            server, self._server = self._server, None
            if server.process is not None:
                _stop_process(server.process)  # without deleting its log, which the message points to
            server.stop()
            self._done = True
            message = f"The AppWorld environment stopped working on turn {self._turn} of task {self._task_id}, so the episode cannot go on.\n{exc}"
            return StepResult(message, 0.0, False, True, {**info, "error": str(exc), "api_calls": []})
        info["api_calls"] = self._new_api_calls(output)
        if not completed:
            return StepResult(output, 0.0, False, False, info)
        report = self.evaluate()
        self._done = True
        return StepResult(output, report["reward"], True, False, {**info, **report})

    def evaluate(self) -> dict[str, Any]:
        """Run AppWorld's tests on the current state: reward (fraction passed), success, checks, report."""
        if self._server is None or self._task_id is None:
            raise RuntimeError("no AppWorld episode to evaluate; call reset(task_id) first")
        result = self._server.call("evaluate", timeout_s=300, task_id=self._task_id, suppress_errors=True, report=False)
        passes, failures = result["passes"], result["failures"]
        num_tests = int(result["num_tests"]) or len(passes) + len(failures)
        # looprl's check records (trajectory.py): name = AppWorld's requirement text, detail = its failure trace.
        checks = [{"name": p["requirement"], "passed": True, "detail": ""} for p in passes]
        checks += [{"name": f["requirement"], "passed": False, "detail": f.get("trace", "")} for f in failures]
        return {
            "reward": len(passes) / num_tests if num_tests else 0.0,
            "success": bool(result["success"]),
            "num_tests": num_tests,
            "num_passed": len(passes),
            "checks": checks,
            "check_report": _check_report(checks),
        }

    def close(self) -> None:
        self._end_episode()
        server, self._server = self._server, None
        if server is None:
            return
        if self.reuse_servers and server.alive:
            with _IDLE_LOCK:
                idle = _IDLE_SERVERS.setdefault((str(self.root), str(self.python)), [])
                if len(idle) < MAX_IDLE_SERVERS:
                    idle.append(server)
                    _IDLE_LOCK.notify_all()
                    return
        server.stop()

    # -- internals ----------------------------------------------------------------------------------

    def _new_api_calls(self, output: str) -> list[dict[str, Any]]:
        """The API calls the last cell made, from the log AppWorld rewrites after every cell.

        AppWorld logs each call's method, URL and arguments but not its status. With AppWorld's
        raise-on-failure default, a failing call raises at once, so when the cell failed with
        "Response status code is N" its *last* call is the one that failed (status N); the others
        returned 200. (Code that catches the exception and goes on hides a failure from this.)
        """
        log = self.root / "experiments" / "outputs" / str(self._experiment) / "tasks" / str(self._task_id) / "logs" / "api_calls.jsonl"
        try:
            records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        except (OSError, ValueError):
            return []
        new, self._calls_seen = records[self._calls_seen :], len(records)
        if self._router is None:
            self._router = _ApiRouter(self.root)
        calls = []
        for record in new:
            app, api = self._router.resolve(record.get("method", ""), record.get("url", ""))
            calls.append({"app": app, "api": api, "args": record.get("data") or {}, "status": 200, "ok": True})
        failed = _FAILED_STATUS.search(output) if output.startswith("Execution failed") else None
        if failed and calls:
            calls[-1].update(status=int(failed.group(1)), ok=False)
        return calls

    def _split_of(self, task_id: str) -> dict[str, Any]:
        """``split``: the one of AppWorld's four splits listing the task (a task in two of them is a
        data error, named); else the only other split file listing it; else "". ``splits``: every file."""
        if self._splits is None:
            self._splits = task_splits(self.root)
        splits = self._splits.get(task_id, [])
        canonical = [s for s in splits if s in CANONICAL_SPLITS]
        if len(canonical) > 1:
            raise ValueError(
                f"AppWorld task {task_id!r} is listed in several splits ({', '.join(canonical)}) under "
                f"{self.root / 'data' / 'datasets'}; each task belongs to exactly one of {', '.join(CANONICAL_SPLITS)}"
            )
        split = canonical[0] if canonical else (splits[0] if len(splits) == 1 else "")
        return {"split": split, "splits": splits}

    def ground_truth_solution(self, task_id: str) -> str:
        """The task's own solution code (train/dev tasks), for SFT-GT; see `ground_truth_solution`."""
        return ground_truth_solution(self.root, task_id)

    def _ensure_server(self) -> AppWorldServer:
        if self._server is not None and self._server.alive:
            return self._server
        if self._server is not None:
            self._server.stop()
            self._server = None
        deadline = time.monotonic() + self.server_wait_s
        with _IDLE_LOCK:
            while True:
                if self.reuse_servers:
                    idle = _IDLE_SERVERS.get((str(self.root), str(self.python)), [])
                    while idle:
                        server = idle.pop()
                        if server.alive:
                            self._server = server
                            return server
                        _LIVE_SERVERS.discard(server)
                if self.max_servers is None or sum(1 for s in _LIVE_SERVERS if s.alive) + _STARTING[0] < self.max_servers:
                    _STARTING[0] += 1
                    break
                other_idle = next((pool for pool in _IDLE_SERVERS.values() if pool), None)
                if other_idle:  # an idle server of another root/interpreter gives way to this one
                    other_idle.pop().stop()
                    continue
                # at the bound: wait for an episode to hand its server back or stop one (a server that
                # died on its own sends no notice, hence the 1 s re-checks)
                if time.monotonic() >= deadline:
                    raise AppWorldServerError(
                        f"waited {self.server_wait_s:.0f} s for one of the {self.max_servers} AppWorld servers (max_servers) to be "
                        "free; run fewer episodes at once than max_servers, or close envs when their episode ends"
                    )
                _IDLE_LOCK.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        log_path = self.log_dir / f"server-{os.getpid()}-{uuid.uuid4().hex[:8]}.log"
        server = AppWorldServer(self.root, self.python, log_path, startup_timeout_s=self.startup_timeout_s)
        server.remove_log_on_stop = not self.keep_outputs
        try:
            server.start()
        finally:
            with _IDLE_LOCK:
                _STARTING[0] -= 1
                _IDLE_LOCK.notify_all()
        self._server = server
        return server

    def _end_episode(self) -> None:
        if self._task_id is not None and self._server is not None and self._server.alive:
            try:
                self._server.call("close", timeout_s=60, task_id=self._task_id)
            except AppWorldServerError:
                pass  # the world is replaced on the next /initialize anyway
        if self._experiment is not None and not self.keep_outputs:
            shutil.rmtree(self.root / "experiments" / "outputs" / self._experiment, ignore_errors=True)
        self._task_id, self._experiment, self._done = None, None, True


_FAILED_STATUS = re.compile(r"Response status code is (\d+)")


class _ApiRouter:
    """Maps a logged (method, URL) to (app, api) with AppWorld's API docs (data/api_docs/standard)."""

    def __init__(self, root: Path):
        self.routes: list[tuple[str, re.Pattern, str, str, int]] = []
        for doc_file in sorted((root / "data" / "api_docs" / "standard").glob("*.json")):
            try:
                docs = json.loads(doc_file.read_text())
            except ValueError:
                continue
            for api_name, doc in docs.items():
                path = str(doc.get("path", ""))
                pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
                literal = sum(1 for part in path.split("/") if part and not part.startswith("{"))
                self.routes.append((str(doc.get("method", "")).lower(), pattern, doc_file.stem, api_name, literal))
        self.routes.sort(key=lambda route: -route[4])  # "/notes/search" before "/notes/{id}"

    def resolve(self, method: str, url: str) -> tuple[str, str]:
        url = url.split("?")[0]
        for route_method, pattern, app, api, _ in self.routes:
            if route_method == method.lower() and pattern.match(url):
                return app, api
        parts = [p for p in url.split("/") if p]
        return (parts[0] if parts else "", parts[-1] if parts else "")


def _opening_messages(info: dict[str, Any]) -> list[Message]:
    sup = info["supervisor"]
    system = (
        "You are an AI assistant who does tasks for your supervisor by writing Python code that runs in a "
        "stateful REPL. The REPL has an `apis` object for the apps: call apis.api_docs.show_app_descriptions(), "
        "apis.api_docs.show_api_descriptions(app_name=...) and apis.api_docs.show_api_doc(app_name=..., api_name=...) "
        "to read their documentation. Put the code to run in a ```python block. When the task is done, call "
        "apis.supervisor.complete_task(), with answer=... if the task asks a question."
    )
    user = (
        f"Date: {info['date']}\n"
        f"Supervisor: {sup['first_name']} {sup['last_name']}, email {sup['email']}, phone {sup['phone_number']}\n"
        f"Task: {info['instruction']}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _check_report(checks: list[dict[str, Any]]) -> str:
    passed = sum(c["passed"] for c in checks)
    lines = [f"{passed}/{len(checks)} tests passed"]
    for c in checks:
        lines.append(f"[{'pass' if c['passed'] else 'FAIL'}] {c['name']}")
        if not c["passed"] and c["detail"]:
            lines.extend("    " + ln for ln in c["detail"].splitlines())
    return "\n".join(lines)


register_env("appworld", AppWorldEnv, env_class=AppWorldEnv)
