"""The trajectory: what one episode leaves behind, token-exact.

Tokens are facts: `token_ids` are exactly the ids the sampler produced for agent turns, and the
prompt/observation ids the chat template produced between them. Nothing is re-tokenized for
training. Per token:

* `trainable[t]`  True only for tokens the policy sampled (each turn's stop token included);
* `logprobs[t]`   the sampler's logprob for sampled tokens (0.0 elsewhere; diagnostics only — the
                  trainer recomputes "old" logprobs before its first update, as the paper does);
* `turn_ids[t]`   the agent turn the token belongs to (0-based), -1 for the opening prompt.

Per episode: the task id, reward (training: fraction of checks passed), success (all passed), the
transcript as chat messages, and per-rollout stats. Chat-only backends (hosted models) leave the
token fields empty; such trajectories are for evaluation and analysis, never for training.

One trajectory is one JSON line in a run's `rollouts.jsonl`; `to_dict`/`from_dict` round-trip.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator


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
        return cls(**{k: v for k, v in data.items() if k in known})


def write_jsonl(path: str | Path, trajectories: Iterable[Trajectory]) -> None:
    """Write trajectories atomically (temp file + rename): a reader never sees half a file."""
    from looprl.utils.io import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(t.to_dict()) + "\n" for t in trajectories))


def read_jsonl(path: str | Path) -> Iterator[Trajectory]:
    with open(path) as f:
        for line in f:
            if line.strip():
                yield Trajectory.from_dict(json.loads(line))
