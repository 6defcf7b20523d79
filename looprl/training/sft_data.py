"""SFT-GT data: each training task's ground-truth solution turned into an agent chat (the paper's
SFT-GT baseline). Every top-level statement or loop of the solution becomes one agent message (its
comments above it as the "thinking", then the code in a ```python block), answered "Execution
successful."; the opening prompt is exactly what rollouts see (the env's reset + the scaffold).

With `read_docs` (not in the paper) the chat also looks the APIs up: it prints an app's API names
before the app's first API, and each API's doc the turn before its first use; the whole chat is
replayed through the env, so every observation is the env's own (the names, the doc, a printed value,
"Execution successful."), cut to `max_observation_tokens` as rollouts cut it. A model warmed up on
plain ground truths only ever sees API names used, never looked up, and on a task that needs an API
it has not seen it guesses one; these chats show it where names and parameters come from
(docs/results.md, section 2, has what this did for SmolLM2-135M).

The agent messages are tokenized once here (they were never sampled) and the chat is then grown by
the collector's own code (`ChatTokens.start`, `add_reply`, `add_observation` in looprl.agent.tokens):
the same ids, trainable mask, turn ids and messages a rollout whose sampler returned these ids would
have, so SFT-GT trains on exactly the token layout of RL (tests/training/test_sft_data.py checks it
against the collector).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from looprl.trajectory import Trajectory

EXECUTION_OK = "Execution successful."

# Apps every ground truth opens with (the supervisor's passwords, the docs themselves) and the login
# call of its header: looking these up on every task would teach nothing but length.
_NO_DOC_APPS = frozenset({"supervisor", "api_docs"})
_NO_DOC_APIS = frozenset({"login"})
_API_REF = re.compile(r"\bapis\.(\w+)\.(\w+)")


def solution_message(thought: str, code: str) -> str:
    return (thought.strip() + "\n\n" if thought.strip() else "") + f"```python\n{code}\n```"


def api_names_message(app: str) -> str:
    return solution_message("", f'print([a["name"] for a in apis.api_docs.show_api_descriptions(app_name="{app}")])')


def doc_message(app: str, api: str) -> str:
    return solution_message("", f'print(apis.api_docs.show_api_doc(app_name="{app}", api_name="{api}"))')


def with_doc_reads(replies_code: Sequence[tuple[str, str]]) -> list[str]:
    """The solution's (thought, code) turns as agent messages, with the lookups a careful agent makes
    first: the names of an app's APIs before its first API is read, each API's doc the turn before
    its first use (in the order they first appear; the header's apps and login excepted)."""
    out, apps, read = [], set(), set()
    for thought, code in replies_code:
        for app, api in _API_REF.findall(code):
            if app in _NO_DOC_APPS or api in _NO_DOC_APIS or (app, api) in read:
                continue
            if app not in apps:
                apps.add(app)
                out.append(api_names_message(app))
            read.add((app, api))
            out.append(doc_message(app, api))
        out.append(solution_message(thought, code))
    return out


def ground_truth_trajectories(
    task_ids: Sequence[str],
    env_factory: Callable[[], Any],
    scaffold: Any,
    tokenizer: Any,
    solution_for: Callable[[str], str] | None = None,
    *,
    read_docs: bool = False,
    max_observation_tokens: int | None = None,
) -> list[Trajectory]:
    """One trainable trajectory per task from its ground-truth solution (see module docstring)."""
    from looprl.agent.tokens import ChatTokens, TokenStream
    from looprl.env.base import GroundTruthReplies, GroundTruthSolutions
    from looprl.env.cells import split_into_turns

    use_env_ground_truth = solution_for is None  # an explicit solution_for wins over the env's own
    if solution_for is None:

        def solution_for(task_id: str) -> str:
            # the env reads the task's solution from its own data (the built-in world's tasks, AppWorld's files)
            if not isinstance(env, GroundTruthSolutions):
                raise ValueError(f"env {type(env).__name__} has no ground-truth solutions (GroundTruthSolutions); SFT-GT needs one per training task")
            return env.ground_truth_solution(task_id)

    chat = ChatTokens(tokenizer)
    stop = chat.stop_token_ids[-1]
    out = []
    for task_id in task_ids:
        env = env_factory()
        try:
            messages, info = env.reset(task_id)
            # An env may carry its own ground truth as agent messages (the toy env does); it is replayed
            # through the env so the observations between turns are the env's own.
            own = use_env_ground_truth and isinstance(env, GroundTruthReplies)
            if own:
                replies = list(env.ground_truth_messages(task_id))
            else:
                solution = solution_for(task_id)
                if not solution:
                    raise ValueError(f"task {task_id!r} has no ground-truth solution; SFT-GT needs one per training task")
                turns = [(t.thought, t.code) for t in split_into_turns(solution)]
                replies = with_doc_reads(turns) if read_docs else [solution_message(t, c) for t, c in turns]
            if own or read_docs:
                observations = _replay(env, replies, task_id, check=read_docs)
            else:  # the paper's SFT-GT: every turn answered "Execution successful."
                observations = [EXECUTION_OK] * len(replies)
        finally:
            env.close()
        if max_observation_tokens is not None:
            observations = [chat.truncate(o, max_observation_tokens) for o in observations]
        messages = [dict(m) for m in (scaffold.initial_messages(messages, info) if scaffold is not None else messages)]
        stream = TokenStream()
        chat.start(stream, messages)  # the collector's own assembly (looprl.agent.tokens), turn by turn
        for i, text in enumerate(replies):
            ids = chat.encode(text) + [stop]
            chat.add_reply(stream, messages, ids, [0.0] * len(ids), turn=i)
            if i + 1 < len(replies):
                obs = scaffold.observation_message(observations[i], info) if scaffold is not None else {"role": "user", "content": observations[i]}
                chat.add_observation(stream, messages, ids, obs, turn=i)
        out.append(
            Trajectory(
                task_id=task_id,
                messages=messages,
                reward=1.0,
                success=True,
                terminated=True,
                token_ids=stream.token_ids,
                trainable=stream.trainable,
                logprobs=stream.logprobs,
                turn_ids=stream.turn_ids,
                group_id=f"sft-gt/{task_id}",
                model="ground-truth",
                split=str(info.get("split", "")),
                difficulty=info.get("difficulty"),
            )
        )
    return out


def _replay(env: Any, replies: Sequence[str], task_id: str, *, check: bool) -> list[str]:
    """The env's observation of each reply, in order; with `check`, the episode must end solved (a
    ground truth with doc reads added that fails is a bug in the chat, not data to train on)."""
    results = [env.step(reply) for reply in replies]
    if check and not (results and results[-1].terminated and results[-1].info.get("success", results[-1].reward >= 1.0)):
        last = results[-1] if results else None
        raise ValueError(
            f"task {task_id!r}: its ground truth replayed with doc reads did not solve it (last observation: {last.observation[:200] if last else None!r})"
        )
    return [r.observation for r in results]
