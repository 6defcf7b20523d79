"""SFT-GT data: each training task's ground-truth solution turned into an agent chat (the paper's
SFT-GT baseline). Every top-level statement or loop of the solution becomes one agent message (its
comments above it as the "thinking", then the code in a ```python block), answered "Execution
successful."; the opening prompt is exactly what rollouts see (the env's reset + the scaffold).

The agent messages are tokenized once here (they were never sampled), marked trainable, and the
template's text between turns is built by the same `ChatTokens` the collector uses, so SFT-GT
trains on the same token layout as RL.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from looprl.trajectory import Trajectory

EXECUTION_OK = "Execution successful."


def solution_message(thought: str, code: str) -> str:
    return (thought.strip() + "\n\n" if thought.strip() else "") + f"```python\n{code}\n```"


def ground_truth_trajectories(task_ids: Sequence[str], env_factory: Callable[[], Any], scaffold: Any, tokenizer: Any,
                              solution_for: Callable[[str], str] | None = None) -> list[Trajectory]:
    """One trainable trajectory per task from its ground-truth solution (see module docstring)."""
    from looprl.agent.tokens import ChatTokens, TokenStream
    from looprl.env.cells import split_into_turns

    use_env_ground_truth = solution_for is None  # an explicit solution_for wins over the env's own
    if solution_for is None:

        def solution_for(task_id: str) -> str:
            from looprl.world import get_task

            return get_task(task_id).solution

    chat = ChatTokens(tokenizer)
    stop = chat.stop_token_ids[-1]
    out = []
    for task_id in task_ids:
        env = env_factory()
        try:
            messages, info = env.reset(task_id)
            # An env may carry its own ground truth as agent messages (the toy env does); it is replayed
            # through the env so the observations between turns are the env's own.
            own = getattr(env, "ground_truth_messages", None) if use_env_ground_truth else None
            replies, observations = ([], []) if own is None else (list(own(task_id)), [])
            for reply in replies:
                observations.append(env.step(reply).observation)
        finally:
            env.close()
        if own is None:
            solution = solution_for(task_id)
            if not solution:
                raise ValueError(f"task {task_id!r} has no ground-truth solution; SFT-GT needs one per training task")
            replies = [solution_message(t.thought, t.code) for t in split_into_turns(solution)]
            observations = [EXECUTION_OK] * len(replies)
        messages = [dict(m) for m in (scaffold.initial_messages(messages, info) if scaffold is not None else messages)]
        stream = TokenStream()
        stream.add_context(chat.prompt_ids(messages), turn=-1)
        for i, text in enumerate(replies):
            ids = chat.encode(text) + [stop]
            stream.add_sampled(ids, [0.0] * len(ids), turn=i)
            messages.append({"role": "assistant", "content": text})
            if i + 1 < len(replies):
                obs = scaffold.observation_message(observations[i], info) if scaffold is not None else {"role": "user", "content": observations[i]}
                stream.add_context(chat.between_turns_ids(messages, ids, obs), turn=i)
                messages.append(obs)
        out.append(Trajectory(task_id=task_id, messages=messages, reward=1.0, success=True, terminated=True,
                              token_ids=stream.token_ids, trainable=stream.trainable, logprobs=stream.logprobs,
                              turn_ids=stream.turn_ids, group_id=f"sft-gt/{task_id}", model="ground-truth",
                              split=str(info.get("split", "")), difficulty=info.get("difficulty")))
    return out
