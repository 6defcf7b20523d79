"""The trajectory: what one episode leaves behind, token-exact.

Tokens are facts: `token_ids` are exactly the ids the sampler produced for agent turns, and the
prompt/observation ids the chat template produced between them. Nothing is re-tokenized for
training. Per token:

* `trainable[t]`  True only for tokens the policy sampled (each turn's stop token included);
* `logprobs[t]`   the sampler's logprob for sampled tokens (0.0 elsewhere; diagnostics only — the
                  trainer recomputes "old" logprobs before its first update, as the paper does);
* `turn_ids[t]`   the agent turn the token belongs to (0-based), -1 for the opening prompt.

Per episode: the policy version that sampled it (`policy_version`: the adapter after that many
updates; with overlapped sampling it may lag the trained policy, see looprl/training/pipeline.py),
the task id, reward (training: fraction of checks passed), success (all passed), the
transcript as chat messages, per-rollout stats, and a `finish_reason` (a `FinishReason` value) that
says whose doing the episode's end was: the policy's, or the infrastructure's. An infra-failed
rollout never enters advantages, losses or TGC (looprl/rollout/faults.py says how it is handled). Chat-only backends (hosted models) leave the
token fields empty; such trajectories are for evaluation and analysis, never for training.

One trajectory is one JSON line in a run's `rollouts.jsonl`; `to_dict`/`from_dict` round-trip.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator


class FinishReason(str, Enum):
    """Why an episode ended: the declared set, one value per trajectory (`Trajectory.finish_reason`).

    The policy's doing (the rollout is scored and trained on, whatever its reward):

    * TERMINATED     the agent called complete_task (a right or a wrong answer alike);
    * MAX_TURNS      the collector's turn limit cut it (scored by the env's `evaluate()`);
    * CONTEXT        the token stream filled `max_context_tokens` (scored the same way);
    * ENV_TRUNCATED  the env's own budget ended it (`StepResult.truncated` from the env itself).

    The agent's code errors (exceptions, syntax errors, a cell past its time limit, a worker that hit
    its CPU or memory limit) are the policy's too, but they end no episode: they are step records
    (`steps[i]["error"]`) and the agent is told in the observation.

    The infrastructure's (`is_infra`: left out of advantages, losses and TGC, counted per reason):

    * SAMPLER_ERROR    generate()/chat() still failed after the collector's bounded retries (a
                       sampling server unreachable, crashed, answering 5xx);
    * ENV_WORKER_DIED  the env's worker was killed from outside the agent's code (the sandbox REPL
                       by SIGKILL/SIGTERM: an operator, the OOM killer; a Ray env actor that died);
    * ENV_TIMEOUT      an env call (reset, step) did not return within `RolloutSpec.env_timeout_s`;
    * ENV_ERROR        a host-side exception in the env's reset, step or evaluate.

    Values equal the collector's older `stats["finish"]` strings, so rollouts written before this
    field existed get their reason back from their stats (`Trajectory.from_dict`).
    """

    TERMINATED = "terminated"
    MAX_TURNS = "max_turns"
    CONTEXT = "context"
    ENV_TRUNCATED = "env_truncated"
    SAMPLER_ERROR = "sampler_error"
    ENV_WORKER_DIED = "env_worker_died"
    ENV_TIMEOUT = "env_timeout"
    ENV_ERROR = "env_error"

    @property
    def is_infra(self) -> bool:
        return self in INFRA_REASONS


INFRA_REASONS = frozenset({FinishReason.SAMPLER_ERROR, FinishReason.ENV_WORKER_DIED, FinishReason.ENV_TIMEOUT, FinishReason.ENV_ERROR})


@dataclass
class Trajectory:
    task_id: str
    messages: list[dict[str, str]]  # the whole chat: system, user, assistant, user (observations), ...
    reward: float = 0.0
    success: bool = False
    terminated: bool = False  # the agent called complete_task
    truncated: bool = False  # a turn, token or context budget ran out
    token_ids: list[int] = field(default_factory=list)
    trainable: list[bool] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    turn_ids: list[int] = field(default_factory=list)
    group_id: str = ""  # rollouts of the same task in the same iteration share a group (leave-one-out)
    sample_index: int = 0
    model: str = ""  # what produced it: a model path/id, "openai:gpt-4o", a checkpoint
    split: str = ""
    difficulty: int | None = None
    scenario: str = ""
    apps: list[str] = field(default_factory=list)
    # per-step records: {"turn", "code", "output", "api_calls": [{"app","api","args","status","ok"}], "error": bool}
    steps: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # final evaluation: {"name", "passed", "detail"}
    answer: Any = None  # what the agent passed to complete_task(answer=...)
    stats: dict[str, Any] = field(default_factory=dict)  # turns, tokens, api_calls, doc_lookups, failed_calls, wall_s, ...
    finish_reason: str = ""  # a FinishReason value; "" only for trajectories not made by the collector
    # the behaviour policy: the adapter version that sampled it (v = the policy after v updates; the trainer
    # sets it); -1 for trajectories not sampled by a training run, or written before versions were recorded
    policy_version: int = -1

    @property
    def infra_failed(self) -> bool:
        """The infrastructure ended this episode (see FinishReason): not a policy outcome."""
        return self.finish_reason in _INFRA_VALUES

    @property
    def num_turns(self) -> int:
        """Agent turns taken in the episode (one step record each). Counting assistant messages
        would also count the scaffold's worked example."""
        return len(self.steps) if self.steps else int(self.stats.get("turns", 0))

    def validate(self) -> None:
        """Check the per-token arrays line up (raises ValueError naming the field)."""
        n = len(self.token_ids)
        for name in ("trainable", "logprobs", "turn_ids"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"trajectory {self.task_id}: len({name})={len(getattr(self, name))} != len(token_ids)={n}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trajectory":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "finish_reason" not in kwargs:  # written before finish reasons were recorded: the collector's stat says it
            kwargs["finish_reason"] = str((kwargs.get("stats") or {}).get("finish", ""))
        return cls(**kwargs)


_INFRA_VALUES = frozenset(r.value for r in INFRA_REASONS)


def write_jsonl(path: str | Path, trajectories: Iterable[Trajectory]) -> None:
    """Write trajectories atomically (temp file + rename): a reader never sees half a file."""
    from looprl.utils.io import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(t.to_dict()) + "\n" for t in trajectories))


def read_jsonl(path: str | Path) -> Iterator[Trajectory]:
    with open(path) as f:
        for line in f:
            if line.strip():
                yield Trajectory.from_dict(json.loads(line))
