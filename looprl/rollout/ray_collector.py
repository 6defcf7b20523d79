"""Ray mode: the same collection, with environments and rollout workers as Ray actors.

Two pieces, usable separately:

* `RayEnvFactory(env, options)` is a picklable zero-argument env factory for `collect_rollouts`:
  each env lives in a Ray actor (one process, anywhere in the cluster), and the collector talks to
  it through a local proxy with the Env protocol. Actors are pooled: an episode's `close()` hands
  its actor back for the next episode instead of killing it (an env is reset per episode anyway);
  `shutdown()` kills them all.
* `collect_rollouts_ray(policy_factory, env_factory, task_ids, k=..., num_workers=...)` spreads the
  tasks over `num_workers` RolloutWorker actors (e.g. one per GPU node, each with its own vLLM
  engine built by `policy_factory()` on the worker). All K samples of a task go to the same worker,
  so groups stay whole; each worker runs the ordinary collector on its shard, and the results come
  back in task order. Early stop, when asked for, applies within each worker's shard.

Needs `pip install "looprl[ray]"`. Failures inside an actor surface as `RolloutError` with the
task id and turn (the collector's message), wrapped by Ray's error type.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from looprl.backends.base import ChatBackend, PolicyBackend, SamplingParams
from looprl.env.base import Env, Message, StepResult
from looprl.trajectory import Trajectory

__all__ = ["RayEnvFactory", "RemoteEnv", "collect_rollouts_ray"]


def _ray():
    try:
        import ray
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise ImportError('Ray mode needs Ray: pip install "looprl[ray]" (or rollout.mode=local)') from exc
    return ray


def _make_env(env: str | Callable[..., Env], options: dict[str, Any]) -> Env:
    if callable(env):
        return env(**options)
    from looprl.env import make_env

    return make_env(env, **options)


class _EnvActorImpl:
    """Holds one env in an actor process."""

    def __init__(self, env: str | Callable[..., Env], options: dict[str, Any]):
        self.env = _make_env(env, options)

    def reset(self, task_id: str, seed: int | None) -> tuple[list[Message], dict[str, Any]]:
        return self.env.reset(task_id, seed=seed)

    def step(self, action: str) -> StepResult:
        return self.env.step(action)

    def evaluate(self) -> Any:
        return self.env.evaluate()  # part of the Env protocol

    def close(self) -> None:
        self.env.close()


class RemoteEnv:
    """Env protocol proxy for an env in a Ray actor; `close()` returns the actor to its pool."""

    def __init__(self, actor: Any, factory: "RayEnvFactory"):
        self._actor = actor
        self._factory = factory

    def reset(self, task_id: str, *, seed: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        return _ray().get(self._actor.reset.remote(task_id, seed))

    def step(self, action: str) -> StepResult:
        return _ray().get(self._actor.step.remote(action))

    def evaluate(self) -> Any:
        return _ray().get(self._actor.evaluate.remote())

    def close(self) -> None:
        actor, self._actor = self._actor, None
        if actor is not None:
            self._factory._release(actor)


class RayEnvFactory:
    """Picklable env factory whose envs run in pooled Ray actors (see module docstring)."""

    # Env actors reserve no CPU by default: the collector keeps `concurrency` of them alive at once,
    # and a per-actor reservation would leave a small cluster waiting forever for actors it cannot
    # place (their work is short REPL cells). Reserve CPUs (and spread them) on a real cluster.
    def __init__(self, env: str | Callable[..., Env], options: dict[str, Any] | None = None, *, num_cpus: float = 0.0):
        self.env = env
        self.options = dict(options or {})
        self.num_cpus = num_cpus
        self._idle: list[Any] = []
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # ship the recipe, not the actors or the lock
        return {"env": self.env, "options": self.options, "num_cpus": self.num_cpus}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["env"], state["options"], num_cpus=state["num_cpus"])

    def __call__(self) -> RemoteEnv:
        with self._lock:
            actor = self._idle.pop() if self._idle else None
        if actor is None:
            ray = _ray()
            actor = ray.remote(num_cpus=self.num_cpus)(_EnvActorImpl).remote(self.env, self.options)
            with self._lock:
                self._all.append(actor)
        return RemoteEnv(actor, self)

    def _release(self, actor: Any) -> None:
        with self._lock:
            self._idle.append(actor)

    @property
    def num_actors(self) -> int:
        return len(self._all)

    def shutdown(self) -> None:
        """Close every env and kill its actor."""
        ray = _ray()
        with self._lock:
            actors, self._all, self._idle = self._all, [], []
        for actor in actors:
            try:
                ray.get(actor.close.remote())
            except Exception:  # a dead actor has nothing left to close
                pass
            ray.kill(actor)


class _RolloutWorkerImpl:
    """Owns one policy backend and runs the ordinary collector on a shard of tasks."""

    def __init__(self, policy_factory: Callable[[], PolicyBackend | ChatBackend]):
        self.policy = policy_factory()

    def collect(self, env_factory: Callable[[], Env], task_ids: list[str], kwargs: dict[str, Any]) -> tuple[list[dict], dict]:
        from looprl.rollout.collector import collect

        result = collect(self.policy, env_factory, task_ids, **kwargs)
        return [t.to_dict() for t in result.trajectories], result.stats.to_dict()


def collect_rollouts_ray(
    policy_factory: Callable[[], PolicyBackend | ChatBackend],
    env_factory: Callable[[], Env],
    task_ids: Sequence[str],
    *,
    k: int,
    sampling: SamplingParams,
    num_workers: int = 1,
    worker_num_cpus: float = 1.0,
    worker_num_gpus: float = 0.0,
    **collect_kwargs: Any,
) -> list[Trajectory]:
    """Collect on `num_workers` Ray actors; the remaining keyword arguments go to `collect_rollouts`."""
    ray = _ray()
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    tasks = list(task_ids)
    unique = list(dict.fromkeys(tasks))
    shards = [unique[i::num_workers] for i in range(num_workers)]
    shards = [s for s in shards if s]
    worker_cls = ray.remote(num_cpus=worker_num_cpus, num_gpus=worker_num_gpus)(_RolloutWorkerImpl)
    workers = [worker_cls.remote(policy_factory) for _ in shards]
    kwargs = {"k": k, "sampling": sampling, "progress": False, **collect_kwargs}
    try:
        futures = [w.collect.remote(env_factory, [t for t in tasks if t in set(shard)], kwargs) for w, shard in zip(workers, shards)]
        results = ray.get(futures)
    finally:
        for w in workers:
            ray.kill(w)
    order = {t: i for i, t in enumerate(unique)}
    trajectories = [Trajectory.from_dict(d) for dicts, _ in results for d in dicts]
    trajectories.sort(key=lambda t: (order[t.task_id], t.sample_index))
    return trajectories
