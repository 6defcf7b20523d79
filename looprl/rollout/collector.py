"""Concurrent rollout collection: N tasks x K samples, generation batched across live episodes.

One thread (the caller's) drives the policy: it gathers every episode that is waiting for its next
agent turn, whatever turn that is, and samples all of them in one `generate()` call. Env work
(`env_factory()`, `reset`, `step`, `close`) runs in a thread pool, because `Env.step` blocks on the
sandbox worker; the chat template and each observation's tokens stay on the driving thread. Every
use of the policy's tokenizer, on whichever thread, holds the driver's `tokenizer_lock` (a
transformers fast tokenizer is not safe to call from two threads at once).
A backend that serves concurrent requests itself (`concurrent_requests = True`: a vLLM server, an
OpenAI-style endpoint) is instead called once per episode turn from the pool, as soon as that
episode is ready, with a seed of its own; the server batches the requests (per-episode mode).
What the collector uses of a backend is declared by `PolicyBackend` / `ChatBackend`
(looprl/backends/base.py), never probed.

Budgets end an episode as *truncated*, never as a crash: every env runs inside `wrap_env`'s wrappers
(looprl/env/wrappers.py), `TurnLimit` for `max_turns` agent turns (it scores the cut-off episode with
the env's `evaluate()`) around `ObservationBudget`, which cuts each observation to
`max_observation_tokens` with a note, counted with the policy's tokenizer under its lock (chat-level
backends: in characters); each step record keeps the env's uncut output. `max_context_tokens` bounds
the token stream (the generation budget of a turn is what is left of it; scored the same way, by
`evaluation_report`). With `early_stop`, once every task has at least
floor(0.75 K) finished rollouts (4 of 6, as in the LOOP paper) and 90% of all rollouts are finished,
the rest are cancelled and left out of the result.

The settings shared by every episode of a collection (sampling, scaffold, budgets, concurrency) come
as one `RolloutSpec` (looprl/rollout/spec.py; looprl.build makes one from a config); the older
keyword style (`sampling=..., max_turns=...`) still works and builds one.

Token-level policies (`PolicyBackend`) yield token-exact trajectories (see looprl/agent/tokens.py);
chat-level backends (`ChatBackend`, hosted models) run the same loop on messages only, with empty
token fields.

Faults (looprl/rollout/faults.py says why they are handled this way): a failed generate()/chat() call is
retried `spec.sampler_retries` times; an episode whose sampler call still fails, whose env raises (reset,
step, evaluate), whose env reports a worker killed from outside (`info["infra_failure"]`), or whose env
call runs past `spec.env_timeout_s` ends with an infra `FinishReason` and is returned like any other, for
the caller to leave out of its statistics; the other episodes go on. A timed-out env call's thread
cannot be stopped: it is abandoned (new work goes to a fresh thread pool, and the old one is shut down
without waiting for it) and the env is closed when the call returns. A programming error (`faults.PROGRAMMING_ERRORS`) in the backend is still
re-raised as `RolloutError` naming the task, the sample and the turn; the other episodes' envs are
closed first.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from looprl.agent.tokens import ChatTokens, TokenStream
from looprl.backends.base import ChatBackend, PolicyBackend, SamplingParams, missing_members
from looprl.env.base import Env, Message, StepResult
from looprl.env.cells import extract_code_blocks, join_code_blocks
from looprl.env.wrappers import evaluation_report, wrap_env
from looprl.rollout.faults import call_with_retries, env_failure_reason, is_programming_error
from looprl.rollout.spec import RolloutSpec
from looprl.trajectory import FinishReason, Trajectory

__all__ = ["RolloutError", "CollectionStats", "Collection", "collect", "collect_rollouts", "early_stop_min_per_task"]

# How long to keep gathering finished env steps after the first one, so they share the next generate().
BATCH_GATHER_S = 0.02

log = logging.getLogger("looprl.rollout")


class RolloutError(RuntimeError):
    """An episode failed; the message names the task, the sample and the turn."""


def early_stop_min_per_task(k: int) -> int:
    """Finished rollouts every task needs before early stop may cancel the rest (paper: 4 of 6)."""
    return max(1, math.floor(0.75 * k))


@dataclass
class CollectionStats:
    requested: int = 0
    finished: int = 0
    cancelled: int = 0
    wall_s: float = 0.0
    generate_s: float = 0.0  # time inside generate()/chat(), summed over calls (they overlap in per-episode mode)
    # wall seconds with at least one generate()/chat() call in flight (<= wall_s); the rest of wall_s no
    # sampler call was running: env setup, steps and scoring, and the collector's own work
    generate_wall_s: float = 0.0
    generate_calls: int = 0
    generated_tokens: int = 0
    env_steps: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def env_steps_per_s(self) -> float:
        return self.env_steps / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["tokens_per_s"] = self.tokens_per_s
        d["env_steps_per_s"] = self.env_steps_per_s
        d["mean_batch"] = self.env_steps / self.generate_calls if self.generate_calls else 0.0
        return d


@dataclass
class Collection:
    trajectories: list[Trajectory]
    stats: CollectionStats


@dataclass
class _Episode:
    order: int
    task_id: str
    sample_index: int
    env: Env | None = None
    info: dict[str, Any] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    stream: TokenStream = field(default_factory=TokenStream)
    turn: int = 0  # agent turns taken
    steps: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    generated_tokens: int = 0
    last_action: str = ""
    last_generated: list[int] = field(default_factory=list)
    result: StepResult | None = None
    reset_done: bool = False
    generating: bool = False  # a per-episode generate() is in flight (see _Driver.per_episode)
    out_of_context: bool = False
    generation_stats: "CollectionStats | None" = None
    finish: str = ""  # a FinishReason value
    failure: tuple[FinishReason, str] | None = None  # set when the infrastructure ended the episode: (reason, error text)
    env_call_started: float = 0.0  # when the env call in flight (reset/step) began, for spec.env_timeout_s

    def where(self) -> str:
        return f"task {self.task_id!r} (sample {self.sample_index}, turn {self.turn})"


def collect_rollouts(
    policy: PolicyBackend | ChatBackend,
    env_factory: Callable[[], Env],
    task_ids: Sequence[str],
    spec: RolloutSpec | None = None,
    **options: Any,
) -> list[Trajectory]:
    """Run every task `k` times and return the finished trajectories, ordered by task then sample:
    `collect` without its throughput stats (`options`: collect's `spec` and keyword arguments)."""
    return collect(policy, env_factory, task_ids, spec, **options).trajectories


def collect(
    policy: PolicyBackend | ChatBackend,
    env_factory: Callable[[], Env],
    task_ids: Sequence[str],
    spec: RolloutSpec | None = None,
    *,
    k: int,
    early_stop: bool = False,
    group_prefix: str = "",
    progress: bool = True,
    **settings: Any,
) -> Collection:
    """Run every task `k` times as `spec` says: the finished trajectories, ordered by task then sample,
    and the collection-wide throughput stats (for logging and benchmarks).

    `settings` are RolloutSpec fields as keywords (`sampling=..., max_turns=...`), the older calling
    style: without a spec they make one, with a spec they override its fields."""
    spec = RolloutSpec.resolve(spec, settings)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if isinstance(policy, PolicyBackend):
        driver: _Driver = _TokenDriver(policy, spec.sampling, spec.max_context_tokens, spec.max_observation_tokens)
    elif isinstance(policy, ChatBackend):
        driver = _ChatDriver(policy, spec.sampling, spec.max_context_tokens, spec.max_observation_tokens)
    else:
        raise TypeError(
            f"policy must be a PolicyBackend or a ChatBackend (looprl/backends/base.py); {type(policy).__name__} lacks "
            f"{', '.join(missing_members(policy, PolicyBackend))} of the first and {', '.join(missing_members(policy, ChatBackend))} of the second"
        )
    driver.batch_size = spec.generation_batch_size
    driver.per_episode = policy.concurrent_requests
    driver.sampler_retries = spec.sampler_retries
    run = _Run(driver, env_factory, list(task_ids), k, spec.scaffold, spec.max_turns, spec.concurrency, early_stop, group_prefix, spec.model_name)
    run.env_timeout_s = spec.env_timeout_s
    return run.execute(progress)


# ----------------------------------------------------------------------------------------------------
# Drivers: how an episode's next agent message is produced and how its context grows.
# ----------------------------------------------------------------------------------------------------
class _BusyClock:
    """Wall seconds during which at least one sampler call was in flight, from any number of threads
    (calls overlap in per-episode mode, so their durations do not add up to wall time)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._in_flight = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._since = time.perf_counter()
            self._in_flight += 1

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.seconds += time.perf_counter() - self._since


class _Driver:
    def __init__(self, sampling: SamplingParams, max_context_tokens: int, max_observation_tokens: int):
        self.sampling = sampling
        self.max_context_tokens = max_context_tokens
        self.max_observation_tokens = max_observation_tokens
        # What ObservationBudget counts observation tokens with (None: characters), and the lock every
        # user of that tokenizer holds: env threads, per-episode generation threads, the driving thread.
        self.tokenizer: Any = None
        self.tokenizer_lock: threading.Lock | None = None
        self.batch_size: int | None = None  # prompts per generate() call; None = every waiting episode
        # Per-episode mode, for backends that serve many requests at once (a vLLM server, an OpenAI-style
        # endpoint: `concurrent_requests = True`): each episode's next message is requested as soon as its
        # env step returns, from a pool thread, and the server batches the requests continuously. In batch
        # mode every waiting episode goes into one generate() call, which returns when its longest
        # generation does; the episodes whose env step returns meanwhile wait for the next call.
        self.per_episode = False
        self.sampler_retries = 0  # tries after a failed call (RolloutSpec.sampler_retries)
        self.busy = _BusyClock()  # CollectionStats.generate_wall_s

    def call_sampler(self, fn: Callable[[], Any], eps: list[_Episode], what: str) -> Any:
        """`fn()` with the spec's retries; None when it still failed (every episode of the call is then
        marked as a sampler infra failure). A programming error is re-raised as RolloutError."""
        try:
            with self.busy:
                return call_with_retries(fn, self.sampler_retries, what=what)
        except Exception as exc:
            where = ", ".join(ep.where() for ep in eps[:4]) + (" ..." if len(eps) > 4 else "")
            message = f"{what} failed for {len(eps)} episodes ({where}): {type(exc).__name__}: {exc}"
            if is_programming_error(exc):
                raise RolloutError(message) from exc
            for ep in eps:
                ep.failure = (FinishReason.SAMPLER_ERROR, message)
            return None

    def seeded(self, ep: _Episode) -> SamplingParams:
        """The sampling parameters of one episode's turn in per-episode mode: a seed of its own (in batch
        mode the backend adds each prompt's index in the call), so the K samples of a task differ."""
        if self.sampling.seed is None:
            return self.sampling
        from dataclasses import replace

        return replace(self.sampling, seed=self.sampling.seed + 100_003 * ep.order + ep.turn)

    def chunks(self, eps: list[_Episode]) -> list[list[_Episode]]:
        size = self.batch_size or max(1, len(eps))
        return [eps[i : i + size] for i in range(0, len(eps), size)]

    def start(self, ep: _Episode) -> None: ...

    def generate(self, eps: list[_Episode], stats: CollectionStats, sampling: SamplingParams | None = None) -> list[_Episode]:
        """Sample the next message of every episode (with `sampling`, default the driver's); return those
        that ran out of context."""
        raise NotImplementedError

    def add_observation(self, ep: _Episode, message: Message) -> bool:
        """Append the observation; False (nothing appended) when it leaves no room to sample."""
        raise NotImplementedError


class _TokenDriver(_Driver):
    def __init__(self, policy: PolicyBackend, sampling: SamplingParams, max_context_tokens: int, max_observation_tokens: int):
        super().__init__(sampling, max_context_tokens, max_observation_tokens)
        self.policy = policy
        self.chat = ChatTokens(policy.tokenizer)
        self.tokenizer, self.tokenizer_lock = policy.tokenizer, threading.Lock()
        stops = tuple(sampling.stop_token_ids) or tuple(policy.stop_token_ids) or self.chat.stop_token_ids
        # The backend stops on these; the builder must know them all to close each turn correctly.
        self.chat.stop_token_ids = tuple(dict.fromkeys((*stops, *self.chat.stop_token_ids)))
        if not sampling.stop_token_ids:
            from dataclasses import replace

            self.sampling = replace(sampling, stop_token_ids=stops)

    def start(self, ep: _Episode) -> None:
        with self.tokenizer_lock:
            self.chat.start(ep.stream, ep.messages)

    def generate(self, eps: list[_Episode], stats: CollectionStats, sampling: SamplingParams | None = None) -> list[_Episode]:
        from dataclasses import replace

        sampling = sampling or self.sampling
        out_of_context = []
        by_budget: dict[int, list[_Episode]] = {}
        for ep in eps:
            left = self.max_context_tokens - len(ep.stream)
            if left < 1:
                out_of_context.append(ep)
            else:
                by_budget.setdefault(min(sampling.max_new_tokens, left), []).append(ep)
        for budget, group in [(b, chunk) for b, eps_b in by_budget.items() for chunk in self.chunks(eps_b)]:
            params = replace(sampling, max_new_tokens=budget)
            t0 = time.perf_counter()
            prompts = [ep.stream.token_ids for ep in group]
            gens = self.call_sampler(lambda prompts=prompts, params=params: self.policy.generate(prompts, params), group, "generate()")
            if gens is None:
                continue  # the group's episodes are marked infra-failed; the caller finishes them
            stats.generate_s += time.perf_counter() - t0
            stats.generate_calls += 1
            if len(gens) != len(group):
                raise RolloutError(f"generate() returned {len(gens)} generations for {len(group)} prompts")
            for ep, gen in zip(group, gens):
                with self.tokenizer_lock:
                    ep.last_action = self.chat.add_reply(ep.stream, ep.messages, gen.token_ids, gen.logprobs, turn=ep.turn)
                ep.generated_tokens += len(gen.token_ids)
                stats.generated_tokens += len(gen.token_ids)
                ep.last_generated = list(gen.token_ids)
                if gen.finish_reason == "length" and budget < sampling.max_new_tokens:
                    out_of_context.append(ep)  # cut by the context budget, not the per-turn limit
        return out_of_context

    def add_observation(self, ep: _Episode, message: Message) -> bool:
        # With no room left to sample the episode ends at its last sampled token, so the stream never
        # exceeds the budget (the step record keeps the output). The observation belongs to the turn
        # that caused it.
        with self.tokenizer_lock:
            return self.chat.add_observation(ep.stream, ep.messages, ep.last_generated, message, turn=ep.turn - 1, max_tokens=self.max_context_tokens)


class _ChatDriver(_Driver):
    def __init__(self, policy: ChatBackend, sampling: SamplingParams, max_context_tokens: int, max_observation_tokens: int):
        super().__init__(sampling, max_context_tokens, max_observation_tokens)
        self.policy = policy
        self.context_tokens: dict[int, int] = {}

    def generate(self, eps: list[_Episode], stats: CollectionStats, sampling: SamplingParams | None = None) -> list[_Episode]:
        out_of_context = []
        for chunk in self.chunks(eps):
            out_of_context.extend(self._generate(chunk, stats, sampling or self.sampling))
        return out_of_context

    def _generate(self, eps: list[_Episode], stats: CollectionStats, sampling: SamplingParams) -> list[_Episode]:
        t0 = time.perf_counter()
        results = self.call_sampler(lambda: self.policy.chat([list(ep.messages) for ep in eps], sampling), eps, "chat()")
        if results is None:
            return []  # the episodes are marked infra-failed; the caller finishes them
        stats.generate_s += time.perf_counter() - t0
        stats.generate_calls += 1
        if len(results) != len(eps):
            raise RolloutError(f"chat() returned {len(results)} results for {len(eps)} conversations")
        out_of_context = []
        for ep, res in zip(eps, results):
            ep.last_action = res.text
            ep.messages.append({"role": "assistant", "content": res.text})
            ep.generated_tokens += res.completion_tokens
            stats.generated_tokens += res.completion_tokens
            self.context_tokens[ep.order] = res.prompt_tokens + res.completion_tokens
            if self.context_tokens[ep.order] >= self.max_context_tokens:
                out_of_context.append(ep)
        return out_of_context

    def add_observation(self, ep: _Episode, message: Message) -> bool:
        ep.messages.append(message)
        return True


# ----------------------------------------------------------------------------------------------------
# The collection loop.
# ----------------------------------------------------------------------------------------------------
class _Run:
    def __init__(self, driver: _Driver, env_factory, task_ids, k, scaffold, max_turns, concurrency, early_stop, group_prefix, model_name):
        self.driver = driver
        self.env_factory = env_factory
        self.task_ids = task_ids
        self.k = k
        self.scaffold = scaffold
        self.max_turns = max_turns
        self.concurrency = concurrency
        self.early_stop = early_stop
        self.group_prefix = group_prefix
        self.model_name = model_name
        self.stats = CollectionStats(requested=len(task_ids) * k)
        self.done_per_task: Counter[str] = Counter()
        self.finished: list[tuple[int, Trajectory]] = []
        self.env_timeout_s: float | None = None
        self.abandoned: list[Future] = []  # env calls past their timeout, still running in the pool

    # env work, run in the pool ----------------------------------------------------------------------
    def _env_call(self, pool, fn: Callable[[_Episode], _Episode], ep: _Episode) -> Future:
        ep.env_call_started = time.monotonic()
        return pool.submit(fn, ep)

    def _reset(self, ep: _Episode) -> _Episode:
        ep.env_call_started = time.monotonic()  # the timeout counts from the call's start, not its queueing
        driver = self.driver
        ep.env = wrap_env(
            self.env_factory(),
            max_turns=self.max_turns,
            max_observation_tokens=driver.max_observation_tokens,
            tokenizer=driver.tokenizer,
            tokenizer_lock=driver.tokenizer_lock,
        )
        ep.messages, ep.info = ep.env.reset(ep.task_id)
        ep.messages = [dict(m) for m in ep.messages]  # type: ignore[misc]
        return ep

    def _step(self, ep: _Episode) -> _Episode:
        assert ep.env is not None
        ep.env_call_started = time.monotonic()
        ep.result = ep.env.step(ep.last_action)
        return ep

    def _generate_one(self, ep: _Episode) -> _Episode:
        """Per-episode mode: this episode's next message, in a pool thread. The stats of the call are
        kept on the episode and added up on the driving thread."""
        ep.generation_stats = CollectionStats()
        ep.out_of_context = bool(self.driver.generate([ep], ep.generation_stats, self.driver.seeded(ep)))
        return ep

    # driving thread ----------------------------------------------------------------------------------
    def _generated(self, fut: Future, ep: _Episode, live: dict[Future, _Episode], pool, alive: dict[int, _Episode]) -> None:
        ep.generating = False
        exc = fut.exception()
        if exc is not None:
            raise exc
        if ep.failure is not None:
            self._finish(ep, ep.failure[0].value, pool, alive)
            return
        part, ep.generation_stats = ep.generation_stats, None
        if part is not None:
            self.stats.generate_s += part.generate_s
            self.stats.generate_calls += part.generate_calls
            self.stats.generated_tokens += part.generated_tokens
        if ep.out_of_context:
            self._finish(ep, "context", pool, alive)
        else:
            live[self._env_call(pool, self._step, ep)] = ep

    def execute(self, show_progress: bool) -> Collection:
        t0 = time.perf_counter()
        pending = deque(_Episode(order=i * self.k + s, task_id=t, sample_index=s) for i, t in enumerate(self.task_ids) for s in range(self.k))
        live: dict[Future, _Episode] = {}
        ready: list[_Episode] = []
        alive: dict[int, _Episode] = {}  # every episode started and not finished, wherever it is
        pool = _Pool(self.concurrency)
        with _Progress(show_progress, self.stats.requested) as bar:
            try:
                while pending or live or ready:
                    while pending and len(alive) < self.concurrency:
                        ep = pending.popleft()
                        alive[ep.order] = ep
                        live[self._env_call(pool, self._reset, ep)] = ep
                    if ready and self.driver.per_episode:
                        for ep in ready:
                            ep.generating = True
                            live[pool.submit(self._generate_one, ep)] = ep
                        ready = []
                    elif ready:
                        batch, ready = ready, []
                        for ep in self.driver.generate(batch, self.stats):
                            self._finish(ep, "context", pool, alive)
                            batch.remove(ep)
                        for ep in batch:
                            if ep.failure is not None:
                                self._finish(ep, ep.failure[0].value, pool, alive)
                            else:
                                live[self._env_call(pool, self._step, ep)] = ep
                    elif live:
                        # Harvest only when nothing waits for generation, so that steps submitted together
                        # come back together and share the next generate() call.
                        wait(list(live), timeout=self._until_timeout(live), return_when=FIRST_COMPLETED)
                        if all(not e.reset_done for e in live.values()):
                            # only resets in flight (start-up): short, so the first turn is one batch
                            wait(list(live), timeout=self._until_timeout(live))
                        else:
                            wait(list(live), timeout=BATCH_GATHER_S)
                        self._abandon_overdue(live, pool, alive)
                        for fut in [f for f in list(live) if f.done()]:
                            ep = live.pop(fut)
                            if ep.generating:
                                self._generated(fut, ep, live, pool, alive)
                            else:
                                self._harvest(fut, ep, ready, pool, alive)
                    bar.update(self.stats, len(alive))
                    if self.early_stop and self._should_stop():
                        self.stats.cancelled = len(pending) + len(alive)
                        pending.clear()
                        break
            finally:
                # Cancel what has not started; let running env calls finish (not those past their
                # timeout: they may never return), then close every env.
                for fut in live:
                    fut.cancel()
                wait([f for f in live if not f.cancelled()])
                for ep in alive.values():
                    self._close(ep)
                pool.shutdown(wait=not self.abandoned)
        self.stats.wall_s = time.perf_counter() - t0
        self.stats.generate_wall_s = self.driver.busy.seconds
        trajectories = [t for _, t in sorted(self.finished, key=lambda pair: pair[0])]
        return Collection(trajectories, self.stats)

    def _until_timeout(self, live: dict[Future, _Episode]) -> float | None:
        """Seconds until the oldest env call in flight passes spec.env_timeout_s (None: no limit)."""
        started = [ep.env_call_started for ep in live.values() if not ep.generating]
        if self.env_timeout_s is None or not started:
            return None
        return max(0.0, min(started) + self.env_timeout_s - time.monotonic())

    def _abandon_overdue(self, live: dict[Future, _Episode], pool, alive: dict[int, _Episode]) -> None:
        """End every episode whose env call has run past spec.env_timeout_s as an infra failure. The call's
        thread cannot be stopped; its env is closed once it returns."""
        if self.env_timeout_s is None:
            return
        now = time.monotonic()
        for fut, ep in list(live.items()):
            if not ep.generating and not fut.done() and now - ep.env_call_started > self.env_timeout_s:
                del live[fut]
                self.abandoned.append(fut)
                pool.replace()  # the abandoned call keeps its thread: new work goes to fresh threads
                what = "env step" if ep.reset_done else "env reset"
                ep.failure = (FinishReason.ENV_TIMEOUT, f"{what} did not return within {self.env_timeout_s:g} s for {ep.where()}")
                self._finish(ep, ep.failure[0].value, pool, alive)
                fut.add_done_callback(lambda _f, ep=ep: self._close(ep))

    def _harvest(self, fut: Future, ep: _Episode, ready: list[_Episode], pool, alive: dict[int, _Episode]) -> None:
        exc = fut.exception()
        if exc is not None:
            what = "env step" if ep.reset_done else "env reset"
            ep.failure = (env_failure_reason(exc), f"{what} failed for {ep.where()}: {type(exc).__name__}: {exc}")
            log.warning("infra failure, left out of the statistics: %s", ep.failure[1])
            self._finish(ep, ep.failure[0].value, pool, alive)
            return
        if not ep.reset_done:
            ep.reset_done = True
            if self.scaffold is not None:
                try:
                    ep.messages = self.scaffold.initial_messages(ep.messages, ep.info)
                except KeyError as err:
                    raise RolloutError(f"{ep.where()}: {err.args[0]}") from None
            self.driver.start(ep)
            ready.append(ep)
            return
        result, ep.result = ep.result, None
        output = result.info.pop("uncut_observation", result.observation)  # what the env said, before ObservationBudget's cut
        self.stats.env_steps += 1
        ep.turn += 1
        ep.steps.append(_step_record(ep.turn - 1, ep.last_action, result, output))
        if result.info.get("infra_failure"):  # e.g. the sandbox worker was killed from outside the agent's code
            ep.failure = (_infra_reason(result.info["infra_failure"]), f"env step for {ep.where()}: {output[:300]}")
            log.warning("infra failure, left out of the statistics: %s", ep.failure[1])
            self._finish(ep, ep.failure[0].value, pool, alive)
            return
        if result.terminated or result.truncated:
            self._finish(ep, _finish_reason(result), pool, alive, result)
            return
        message = self.scaffold.observation_message(result.observation, ep.info) if self.scaffold else {"role": "user", "content": result.observation}
        if not self.driver.add_observation(ep, message):
            self._finish(ep, "context", pool, alive)
            return
        ep.result = None
        ready.append(ep)

    def _finish(self, ep: _Episode, finish: str, pool, alive: dict[int, _Episode], result: StepResult | None = None) -> None:
        ep.finish = finish
        info = dict(result.info) if result is not None and ep.failure is None else {}
        reward = result.reward if result is not None and ep.failure is None else 0.0
        if result is None and ep.env is not None and ep.failure is None:
            # Cut off by the context budget before the agent completed the task: the training reward is
            # still the fraction of checks passed (paper), as TurnLimit gives an episode it cuts off.
            try:
                evaluation = evaluation_report(ep.env)
            except Exception as exc:
                ep.failure = (env_failure_reason(exc), f"env evaluate() failed for {ep.where()}: {type(exc).__name__}: {exc}")
                finish = ep.failure[0].value
                ep.finish = finish
                evaluation = None
            if evaluation is not None:
                reward = float(evaluation.get("reward", reward))
                info = {**evaluation, **{k: v for k, v in info.items() if k not in evaluation}}
        traj = Trajectory(
            task_id=ep.task_id,
            messages=[dict(m) for m in ep.messages],
            reward=float(reward),
            success=bool(info.get("success", reward >= 1.0 - 1e-9)),
            terminated=bool(result is not None and result.terminated),
            truncated=finish != "terminated",
            token_ids=ep.stream.token_ids,
            trainable=ep.stream.trainable,
            logprobs=ep.stream.logprobs,
            turn_ids=ep.stream.turn_ids,
            group_id=f"{self.group_prefix}{ep.task_id}",
            sample_index=ep.sample_index,
            model=self.model_name,
            split=str(ep.info.get("split", "")),
            difficulty=ep.info.get("difficulty"),
            scenario=str(ep.info.get("scenario", "")),
            apps=list(ep.info.get("apps", []) or []),
            steps=ep.steps,
            checks=list(info.get("checks", []) or []),
            answer=info.get("answer"),
            stats=_episode_stats(ep),
            finish_reason=finish,
        )
        traj.validate()
        self.finished.append((ep.order, traj))
        self.stats.finished += 1
        if ep.failure is None:  # early stop waits for rollouts that count
            self.done_per_task[ep.task_id] += 1
        alive.pop(ep.order, None)
        if ep.failure is None or ep.failure[0] is not FinishReason.ENV_TIMEOUT:
            pool.submit(self._close, ep)

    @staticmethod
    def _close(ep: _Episode) -> None:
        env, ep.env = ep.env, None
        if env is not None:
            try:
                env.close()
            except Exception:  # closing is best effort; the episode's result is already recorded
                pass

    def _should_stop(self) -> bool:
        need = early_stop_min_per_task(self.k)
        if self.stats.finished >= self.stats.requested:
            return False
        return self.stats.finished >= 0.9 * self.stats.requested and all(self.done_per_task[t] >= need for t in self.task_ids)


def _infra_reason(value: Any) -> FinishReason:
    """An env's `info["infra_failure"]` as a FinishReason (an unknown or non-infra value: ENV_ERROR)."""
    try:
        reason = FinishReason(value)
    except ValueError:
        return FinishReason.ENV_ERROR
    return reason if reason.is_infra else FinishReason.ENV_ERROR


def _finish_reason(result: StepResult) -> str:
    """An ended episode's `finish` stat: the agent completed it, the collector's TurnLimit cut it, or
    the env itself truncated it (a server that died, the env's own budget)."""
    if result.terminated:
        return "terminated"
    return "max_turns" if result.info.get("truncated_by") == "turn_limit" else "env_truncated"


def _step_record(turn: int, action: str, result: StepResult, output: str) -> dict[str, Any]:
    info = result.info or {}
    code = info.get("code")
    if code is None:
        code = join_code_blocks(extract_code_blocks(action))
    # The call records as the Trajectory contract has them; results stay out (they can be large).
    calls = [{k: c.get(k) for k in ("app", "api", "args", "status", "ok")} for c in info.get("api_calls", []) or []]
    return {
        "turn": turn,
        "code": code,
        "output": output,
        "api_calls": calls,
        "error": bool(info.get("error", False)),
    }


def _episode_stats(ep: _Episode) -> dict[str, Any]:
    calls = [c for step in ep.steps for c in step["api_calls"]]
    return {
        "turns": ep.turn,
        "tokens": len(ep.stream),
        "generated_tokens": ep.generated_tokens,
        "api_calls": len(calls),
        "doc_lookups": sum(1 for c in calls if c.get("app") == "api_docs"),
        "failed_calls": sum(1 for c in calls if c.get("ok") is False),
        "errors": sum(1 for step in ep.steps if step["error"]),
        "wall_s": round(time.perf_counter() - ep.started, 4),
        "finish": ep.finish,
        **({"infra_error": ep.failure[1]} if ep.failure is not None else {}),
        # the env's own name for the episode, where it has one (AppWorld: its experiment, which
        # `looprl eval` turns into an AppWorld experiment folder)
        **({"episode_id": str(ep.info["episode_id"])} if ep.info.get("episode_id") else {}),
    }


class _Pool:
    """The collector's thread pool, replaceable: after an env call is abandoned (past its timeout) its
    thread stays busy, so new work goes to a fresh pool of `workers` threads; the old one finishes what
    it holds and is shut down without waiting."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.current = ThreadPoolExecutor(max_workers=workers)
        self.retired: list[ThreadPoolExecutor] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.current.submit(fn, *args)

    def replace(self) -> None:
        self.retired.append(self.current)
        self.current = ThreadPoolExecutor(max_workers=self.workers)

    def shutdown(self, wait: bool) -> None:
        for executor in (*self.retired, self.current):
            executor.shutdown(wait=wait)


class _Progress:
    """Finished rollouts of a collection (a no-op when disabled): a bar on a terminal, plain periodic
    lines when stderr is a log (looprl.utils.progress)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._start = time.perf_counter()

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from looprl.utils.progress import StageProgress

            self._bar = StageProgress("rollouts", self.total, stderr=True).start()
        return self

    def update(self, stats: CollectionStats, alive: int) -> None:
        if self._bar is not None:
            rate = stats.generated_tokens / max(time.perf_counter() - self._start, 1e-9)
            self._bar.update(stats.finished, f"live {alive}  steps {stats.env_steps}  gen {stats.generated_tokens} tok  {rate:.0f} tok/s")

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
