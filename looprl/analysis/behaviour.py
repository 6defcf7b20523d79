"""Behaviour metrics: how an agent acts, as the LOOP paper compares a base model with its RL agent.

Every metric is computed from the trajectory alone (looprl/trajectory.py) and defined exactly in
docs/metrics.md. The agent's turns are the assistant messages of the transcript; its *text* is their
whole content, its *code* the fenced Python blocks in them (looprl.env.cells.extract_code_blocks,
the same parser the environment runs). Worked examples in the prompt are not the agent's turns
(see `agent_turn_indices`). A turn is an execution error when its step record says
``error``; without step records, when the observation that answers it shows a Python traceback.

`rollout_behaviour(traj)` gives the raw counts of one rollout; `behaviour_metrics(trajs)` pools them
into the reported rates. A metric whose inputs are missing in every rollout (e.g. token counts for a
chat-only backend) is ``None``, never a made-up zero.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from looprl.env.cells import extract_code_blocks
from looprl.trajectory import Trajectory

__all__ = [
    "RolloutBehaviour",
    "rollout_behaviour",
    "behaviour_metrics",
    "give_up_counts",
    "turn_endpoints",
    "count_placeholders",
    "count_assume",
    "agent_turn_indices",
    "BEHAVIOUR_METRICS",
    "rollout_table",
]

# The paper's "assume" family, as whole words.
_ASSUME = re.compile(r"\b(?:assume|assumed|assuming)\b", re.IGNORECASE)
# Made-up values an agent writes instead of looking the real one up. Alternatives are tried left to
# right at each position and matches do not overlap, so "<your_email>" counts once.
_PLACEHOLDER = re.compile(
    r"<your[^<>\n]{0,40}>"  # <your password>, <your_token>
    r"|\byour_\w+"  # your_password, YOUR_API_KEY
    r"|\bdummy\w*"  # dummy, dummy_token
    r"|\bexample\.(?:com|org|net)\b"  # john@example.com
    r"|\b[xX]{3,}\b"  # XXX, xxxx-xxxx
    r"|placeholder",
    re.IGNORECASE,
)
_DUMMY = re.compile(r"\bdummy\w*", re.IGNORECASE)
_SHOW_API_DOC = re.compile(r"\bshow_api_doc\b")
_ENDPOINT = re.compile(r"\bapis\.(\w+)\.(\w+)\s*\(")
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^Execution failed|^\w*(?:Error|Exception):", re.MULTILINE)

# key -> (label, what a higher value means: "better" | "worse" | "neutral")
BEHAVIOUR_METRICS: dict[str, tuple[str, str]] = {
    "multi_cell_turn_share": ("turns with > 1 code cell (share)", "worse"),
    "show_api_doc_per_rollout": ("show_api_doc calls / rollout", "neutral"),
    "assume_per_rollout": ("'assume' words / rollout", "worse"),
    "dummy_per_rollout": ("'dummy' / rollout", "worse"),
    "placeholders_per_rollout": ("placeholder values / rollout", "worse"),
    "give_up_rate": ("give-up rate after a failed API call", "worse"),
    "turns_per_episode": ("turns / episode", "neutral"),
    "api_calls_per_episode": ("API calls / episode", "neutral"),
    "agent_tokens_per_episode": ("agent tokens / episode", "neutral"),
    "tokens_per_episode": ("context tokens / episode", "neutral"),
    "code_chars_per_rollout": ("code characters / rollout", "neutral"),
    "errors_per_turn": ("execution errors / turn", "worse"),
    "no_complete_task_share": ("episodes ending without complete_task (share)", "worse"),
    "wrong_answer_share": ("complete_task with a wrong or missing answer (share)", "worse"),
    "failed_after_complete_share": ("complete_task called but task failed (share)", "worse"),
}


@dataclass
class RolloutBehaviour:
    turns: int
    multi_cell_turns: int
    show_api_doc: int
    assume: int
    dummy: int
    placeholders: int
    code_chars: int
    error_turns: int
    api_calls: int
    agent_tokens: int | None
    tokens: int | None
    failures: int  # give-up bookkeeping: endpoints that entered the failed set
    recoveries: int  # ... and that left it by a later successful turn
    called_complete_task: bool
    wrong_answer: bool
    success: bool

    @property
    def give_up_rate(self) -> float | None:
        return (self.failures - self.recoveries) / self.failures if self.failures else None


def count_assume(text: str) -> int:
    return len(_ASSUME.findall(text))


def count_placeholders(text: str) -> int:
    return len(_PLACEHOLDER.findall(text))


def agent_turn_indices(traj: Trajectory) -> list[int]:
    """Indices in ``traj.messages`` of the agent's own turns.

    The prompt may hold a worked example as past assistant messages (looprl/agent/scaffold.py), so
    not every assistant message is the agent's. Every agent turn is stepped in the env, so the
    agent's turns are the last ``len(steps)`` assistant messages; without step records, the last
    ``stats["turns"]``, else as many as the token stream's turn ids name; without any of these, every
    assistant message.
    """
    assistant = [i for i, m in enumerate(traj.messages) if m.get("role") == "assistant"]
    if traj.steps:
        n = len(traj.steps)
    elif isinstance(traj.stats.get("turns"), int):
        n = traj.stats["turns"]
    elif traj.turn_ids:
        n = max(traj.turn_ids) + 1
    else:
        n = len(assistant)
    return assistant[len(assistant) - min(n, len(assistant)) :]


def _agent_messages(traj: Trajectory) -> list[str]:
    return [traj.messages[i].get("content") or "" for i in agent_turn_indices(traj)]


def _observations(traj: Trajectory) -> list[str | None]:
    """For each agent turn, the next non-assistant message (the environment's answer), if any."""
    msgs = traj.messages
    out: list[str | None] = []
    for i in agent_turn_indices(traj):
        nxt = next((msgs[j] for j in range(i + 1, len(msgs)) if msgs[j].get("role") != "assistant"), None)
        out.append(nxt.get("content") if nxt is not None else None)
    return out


def _step(traj: Trajectory, turn: int) -> dict[str, Any] | None:
    return traj.steps[turn] if turn < len(traj.steps) and isinstance(traj.steps[turn], dict) else None


def turn_endpoints(step: dict[str, Any] | None, code: str) -> list[str]:
    """The "app.api" endpoints of one turn: from the step's api_calls when recorded, else the code."""
    if step is not None and isinstance(step.get("api_calls"), list):
        names = [f"{c.get('app')}.{c.get('api')}" for c in step["api_calls"] if isinstance(c, dict)]
    else:
        names = [f"{app}.{api}" for app, api in _ENDPOINT.findall(code)]
    return list(dict.fromkeys(names))


def _turn_is_error(step: dict[str, Any] | None, observation: str | None) -> bool:
    if step is not None and "error" in step:
        return bool(step["error"])
    return bool(observation and _TRACEBACK.search(observation))


def give_up_counts(turns: list[tuple[bool, list[str]]]) -> tuple[int, int]:
    """(failures, recoveries) over a rollout's turns, each given as (is_error, endpoints).

    A set holds endpoints that failed and were not yet retried. An error turn adds its endpoints
    (each one not already in the set is a failure); a non-error turn removes its endpoints (each one
    that was in the set is a recovery). The rollout's give-up rate is (failures - recoveries) / failures.
    """
    pending: set[str] = set()
    failures = recoveries = 0
    for is_error, endpoints in turns:
        for ep in endpoints:
            if is_error and ep not in pending:
                pending.add(ep)
                failures += 1
            elif not is_error and ep in pending:
                pending.discard(ep)
                recoveries += 1
    return failures, recoveries


def _is_answer_check(check: dict[str, Any]) -> bool:
    return "answer" in str(check.get("name", "")).lower()


def rollout_behaviour(traj: Trajectory) -> RolloutBehaviour:
    """The raw behaviour counts of one rollout."""
    texts = _agent_messages(traj)
    observations = _observations(traj)
    multi = doc = code_chars = errors = api_calls_text = 0
    give_up_turns: list[tuple[bool, list[str]]] = []
    recorded_calls = 0
    all_steps_recorded = bool(texts) and all(isinstance((_step(traj, i) or {}).get("api_calls"), list) for i in range(len(texts)))
    for i, text in enumerate(texts):
        blocks = extract_code_blocks(text)
        code = "\n\n".join(blocks)
        step = _step(traj, i)
        multi += len(blocks) > 1
        doc += len(_SHOW_API_DOC.findall(code))
        code_chars += sum(len(b) for b in blocks)
        is_error = _turn_is_error(step, observations[i])
        errors += is_error
        give_up_turns.append((is_error, turn_endpoints(step, code)))
        api_calls_text += len(_ENDPOINT.findall(code))
        if step is not None and isinstance(step.get("api_calls"), list):
            recorded_calls += len(step["api_calls"])
    if all_steps_recorded:
        api_calls = recorded_calls
    elif isinstance(traj.stats.get("api_calls"), int):
        api_calls = traj.stats["api_calls"]
    else:
        api_calls = api_calls_text
    failures, recoveries = give_up_counts(give_up_turns)
    joined = "\n".join(texts)
    answer_checks = [c for c in traj.checks if isinstance(c, dict) and _is_answer_check(c)]
    return RolloutBehaviour(
        turns=len(texts),
        multi_cell_turns=multi,
        show_api_doc=doc,
        assume=count_assume(joined),
        dummy=len(_DUMMY.findall(joined)),
        placeholders=count_placeholders(joined),
        code_chars=code_chars,
        error_turns=errors,
        api_calls=api_calls,
        agent_tokens=_agent_tokens(traj),
        tokens=_total_tokens(traj),
        failures=failures,
        recoveries=recoveries,
        called_complete_task=bool(traj.terminated),
        wrong_answer=bool(traj.terminated) and any(not c.get("passed") for c in answer_checks),
        success=bool(traj.success),
    )


def _stat_count(traj: Trajectory, keys: tuple[str, ...]) -> int | None:
    # A count of 0 in stats means "not measured" (chat backends keep no token stream): an episode
    # always has a prompt and at least one sampled token.
    for key in keys:
        value = traj.stats.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _agent_tokens(traj: Trajectory) -> int | None:
    if traj.token_ids and len(traj.trainable) == len(traj.token_ids):
        return sum(1 for x in traj.trainable if x)
    return _stat_count(traj, ("agent_tokens", "completion_tokens", "generated_tokens"))


def _total_tokens(traj: Trajectory) -> int | None:
    if traj.token_ids:
        return len(traj.token_ids)
    return _stat_count(traj, ("tokens", "total_tokens"))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _mean(values: list[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def behaviour_metrics(trajs: Iterable[Trajectory]) -> dict[str, Any]:
    """Pooled behaviour metrics (keys of BEHAVIOUR_METRICS) plus the counts they rest on."""
    rows = [rollout_behaviour(t) for t in trajs]
    n = len(rows)
    turns = sum(r.turns for r in rows)
    gave_up = [r.give_up_rate for r in rows if r.give_up_rate is not None]
    out: dict[str, Any] = {
        "multi_cell_turn_share": _ratio(sum(r.multi_cell_turns for r in rows), turns),
        "show_api_doc_per_rollout": _ratio(sum(r.show_api_doc for r in rows), n),
        "assume_per_rollout": _ratio(sum(r.assume for r in rows), n),
        "dummy_per_rollout": _ratio(sum(r.dummy for r in rows), n),
        "placeholders_per_rollout": _ratio(sum(r.placeholders for r in rows), n),
        "give_up_rate": _mean(gave_up),
        "turns_per_episode": _ratio(turns, n),
        "api_calls_per_episode": _ratio(sum(r.api_calls for r in rows), n),
        "agent_tokens_per_episode": _mean([r.agent_tokens for r in rows]),
        "tokens_per_episode": _mean([r.tokens for r in rows]),
        "code_chars_per_rollout": _ratio(sum(r.code_chars for r in rows), n),
        "errors_per_turn": _ratio(sum(r.error_turns for r in rows), turns),
        "no_complete_task_share": _ratio(sum(not r.called_complete_task for r in rows), n),
        "wrong_answer_share": _ratio(sum(r.wrong_answer for r in rows), n),
        # complete_task called yet some check failed: the agent believed it was done and was wrong.
        "failed_after_complete_share": _ratio(sum(r.called_complete_task and not r.success for r in rows), n),
        "n_rollouts": n,
        "n_turns": turns,
        "n_rollouts_with_failed_calls": len(gave_up),
        "api_failures": sum(r.failures for r in rows),
        "api_recoveries": sum(r.recoveries for r in rows),
    }
    return out


def rollout_table(trajs: Iterable[Trajectory]) -> list[dict[str, Any]]:
    """One dict of raw counts per rollout (for reports and debugging)."""
    return [asdict(rollout_behaviour(t)) | {"task_id": t.task_id, "success": t.success} for t in trajs]
