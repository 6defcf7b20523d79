"""Hand-written rollouts and run directories with known metric values, for the analysis tests.

`make_traj` builds a Trajectory the way the rollout collector does (prompt with a worked example as
past assistant messages, one step record per agent turn); `write_run` lays it out as
docs/run-layout.md describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from looprl.trajectory import Trajectory, write_jsonl

DEMO = [
    {"role": "system", "content": "You are a coding agent."},
    {"role": "user", "content": "Example task: how many playlists do I have?"},
    # The worked example: an assistant message that is NOT the agent's (assume, dummy, two cells).
    {
        "role": "assistant",
        "content": "I assume nothing.\n```python\nprint(1)\n```\n```python\nprint(apis.api_docs.show_api_doc(app_name='x', api_name='y'))\n```",
    },
    {"role": "user", "content": "1"},
    {"role": "user", "content": "Rules...\nTask: do the thing for Ann (ann@corp.test)."},
]


def call(app: str, api: str, ok: bool = True) -> dict[str, Any]:
    return {"app": app, "api": api, "args": {}, "status": 200 if ok else 401, "ok": ok}


def make_traj(
    task_id: str = "t1",
    turns: list[dict[str, Any]] | None = None,
    *,
    success: bool = False,
    terminated: bool = True,
    record_steps: bool = True,
    **fields: Any,
) -> Trajectory:
    """turns: [{"text": agent message, "output": observation, "error": bool, "calls": [...] or absent}]."""
    turns = turns if turns is not None else [{"text": "```python\napis.supervisor.complete_task()\n```", "output": "done"}]
    messages = [dict(m) for m in DEMO]
    steps = []
    for i, turn in enumerate(turns):
        messages.append({"role": "assistant", "content": turn["text"]})
        messages.append({"role": "user", "content": turn.get("output", "ok") + "\nAs a reminder, the task is ..."})
        step = {"turn": i, "code": "", "output": turn.get("output", "ok"), "error": bool(turn.get("error", False))}
        if "calls" in turn:
            step["api_calls"] = turn["calls"]
        steps.append(step)
    fields.setdefault("reward", 1.0 if success else 0.0)
    return Trajectory(
        task_id=task_id,
        messages=messages,
        success=success,
        terminated=terminated,
        steps=steps if record_steps else [],
        **fields,
    )


def write_run(
    path: Path,
    trajs: list[Trajectory] | None,
    *,
    kind: str = "eval",
    name: str | None = None,
    model: str = "tiny",
    method: str | None = None,
    split: str = "dev",
    metrics: list[dict[str, Any]] | None = None,
    evals: dict[int, list[Trajectory]] | None = None,
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    info = {
        "kind": kind,
        "name": name or path.name,
        "model": model,
        "method": method,
        "split": split,
        "env": "appsuite",
        "seed": 0,
        "created": "2026-11-24T15:00:00+00:00",
        "command": "looprl test",
    }
    (path / "run.json").write_text(json.dumps(info))
    if trajs is not None:
        write_jsonl(path / "rollouts.jsonl", trajs)
    if metrics is not None:
        (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    for it, ev in (evals or {}).items():
        write_jsonl(path / "eval" / f"iter_{it:06d}" / "rollouts.jsonl", ev)
    return path


@pytest.fixture
def rt():
    """The helpers above: rt.make(...) -> Trajectory, rt.run(path, trajs, ...) -> Path, rt.call(app, api, ok)."""
    from types import SimpleNamespace

    return SimpleNamespace(make=make_traj, run=write_run, call=call)


# Agent text that would change the page if it were ever treated as markup (the browser test looks for data-pwned).
EVIL = '</script><script>document.body.dataset.pwned=1</script><img src=x onerror="document.body.dataset.pwned=2"> & <b>bold</b>'


def _episode(task: str, scenario: str, sample: int, success: bool, model: str, difficulty: int, split: str = "dev") -> Trajectory:
    turns = [
        {
            "text": "First I read the docs.\n```python\nprint(apis.api_docs.show_api_doc(app_name='notes', api_name='login'))\n```",
            "output": "{'api_name': 'login', ...}",
            "calls": [call("api_docs", "show_api_doc")],
        },
        {
            "text": f"I assume the password is dummy. {EVIL}\n```python\ntoken = apis.notes.login(username='a', password='x')\n```",
            "output": "Traceback (most recent call last):\nException: 401 wrong password",
            "error": True,
            "calls": [call("notes", "login", ok=False)],
        },
    ]
    if success:
        turns.append(
            {
                "text": "```python\npw = apis.supervisor.show_account_passwords()\ntoken = apis.notes.login(username='a', password=pw)\n```",
                "output": "logged in",
                "calls": [call("supervisor", "show_account_passwords"), call("notes", "login")],
            }
        )
    turns.append(
        {"text": "```python\napis.supervisor.complete_task(answer=3)\n```", "output": "task completed", "calls": [call("supervisor", "complete_task")]}
    )
    checks = [
        {"name": "answer is correct", "passed": success, "detail": "" if success else f"expected 3, got {EVIL}"},
        {"name": "no other changes", "passed": True, "detail": ""},
    ]
    return make_traj(
        task,
        turns,
        success=success,
        scenario=scenario,
        sample_index=sample,
        model=model,
        difficulty=difficulty,
        split=split,
        apps=["notes"],
        checks=checks,
        answer=3 if success else EVIL,
    )


def realistic_runs(root: Path) -> list[Path]:
    """A base-model eval, an OpenAI-model eval, and a LOOP training run with two dev evaluations."""

    def episodes(model: str, solved: set[str], samples: int = 2) -> list[Trajectory]:
        out = []
        for k in range(samples):
            for s in ("s1", "s2"):
                for i in (1, 2, 3):
                    task = f"{s}_{i}"
                    out.append(_episode(task, s, k, task in solved or (k == 1 and task == "s2_3"), model, 1 + (i == 3)))
        return out

    base = write_run(root / "base", episodes("tiny-base", {"s1_1"}), name="base", model="tiny-base")
    gpt = write_run(root / "gpt", episodes("openai:gpt-4o", {"s1_1", "s1_2", "s1_3", "s2_1"}), name="gpt-4o", model="openai:gpt-4o")
    metrics = [
        {
            "iteration": i,
            "wall_s": 30.0 * (i + 1),
            "rollout/reward_mean": 0.2 + 0.05 * i,
            "ppo/clip_fraction": 0.1 / (i + 1),
            "ppo/kl_k1": 0.001 * i,
            "rollout/tokens_per_s": 100 + i,
            "time/iteration_s": 30.0 + i % 3,
            **({"eval/tgc": 0.2 + 0.04 * i} if i % 5 == 0 else {}),
        }
        for i in range(11)
    ]
    train = write_run(
        root / "loop",
        None,
        kind="train",
        name="loop",
        model="tiny-base",
        method="loop",
        metrics=metrics,
        evals={5: episodes("loop@5", {"s1_1", "s1_2"}, 1), 10: episodes("loop@10", {"s1_1", "s1_2", "s1_3", "s2_1", "s2_2"})},
    )
    return [base, gpt, train]


@pytest.fixture
def sample_runs(tmp_path) -> list[Path]:
    return realistic_runs(tmp_path / "runs")
