"""Every behaviour metric on hand-written rollouts whose answers were counted by hand.

Each rollout's prompt carries a worked example as a past assistant message full of the very things
the metrics count (two cells, "assume", show_api_doc); none of it may be counted for the agent.
"""

from __future__ import annotations

import pytest

from looprl.analysis.behaviour import (
    agent_turn_indices,
    behaviour_metrics,
    count_assume,
    count_placeholders,
    give_up_counts,
    rollout_behaviour,
)
from looprl.env.cells import extract_code_blocks


def code(*cells: str, text: str = "") -> str:
    return text + "".join(f"\n```python\n{c}\n```\n" for c in cells)


def test_multi_cell_turn_share_counts_turns_with_more_than_one_block(rt):
    a = rt.make(turns=[{"text": code("x = 1", "y = 2")}, {"text": code("print(x)")}, {"text": "no code at all"}])
    b = rt.make(turns=[{"text": code("a = 1", "b = 2", "c = 3")}])
    m = behaviour_metrics([a, b])
    assert m["multi_cell_turn_share"] == pytest.approx(2 / 4)  # 2 multi-cell turns of 4 agent turns
    assert m["turns_per_episode"] == pytest.approx(2.0)
    assert m["n_turns"] == 4


def test_worked_example_in_the_prompt_is_not_the_agents(rt):
    t = rt.make(turns=[{"text": code("print(1)")}])
    assert len(agent_turn_indices(t)) == 1
    r = rollout_behaviour(t)
    assert (r.turns, r.multi_cell_turns, r.show_api_doc, r.assume) == (1, 0, 0, 0)
    # Without step records the agent's turn count comes from stats["turns"], else the token turn ids.
    t2 = rt.make(turns=[{"text": "a"}, {"text": "b"}], record_steps=False, stats={"turns": 2})
    assert rollout_behaviour(t2).turns == 2
    t3 = rt.make(turns=[{"text": "a"}, {"text": "b"}], record_steps=False, token_ids=[1, 2, 3], trainable=[0, 1, 1], logprobs=[0] * 3, turn_ids=[-1, 0, 1])
    assert rollout_behaviour(t3).turns == 2
    # With nothing to tell them apart, every assistant message counts (the example's too).
    assert rollout_behaviour(rt.make(turns=[{"text": "a"}], record_steps=False)).turns == 2


def test_show_api_doc_counts_occurrences_in_code_only(rt):
    t = rt.make(
        turns=[
            {
                "text": code(
                    "apis.api_docs.show_api_doc(app_name='a', api_name='b')\napis.api_docs.show_api_doc(app_name='a', api_name='c')",
                    text="I will call show_api_doc next.",
                )
            },
            {"text": code("apis.api_docs.show_api_descriptions(app_name='a')")},
        ]
    )
    u = rt.make(turns=[{"text": code("print(apis.api_docs.show_api_doc(app_name='x', api_name='y'))")}])
    assert rollout_behaviour(t).show_api_doc == 2
    assert behaviour_metrics([t, u])["show_api_doc_per_rollout"] == pytest.approx(1.5)


def test_assume_words():
    text = "I assume it is 3. Assuming the list is sorted; I ASSUMED wrongly. assumes, assumption, presumed do not count."
    assert count_assume(text) == 3


def test_placeholders_and_dummy(rt):
    text = "pw = 'dummy_password'; email = 'john@example.com'; card = 'XXXX'; token = '<your token>'; k = YOUR_API_KEY; placeholder"
    assert count_placeholders(text) == 6
    assert count_placeholders("the user's real email is ann@corp.test; x = 3") == 0
    t = rt.make(turns=[{"text": code(f"x = {text!r}")}, {"text": "a dummy value"}])
    r = rollout_behaviour(t)
    assert (r.placeholders, r.dummy) == (7, 2)
    m = behaviour_metrics([t, rt.make()])
    assert m["placeholders_per_rollout"] == pytest.approx(3.5) and m["dummy_per_rollout"] == pytest.approx(1.0)


def test_give_up_counts_follow_the_set_definition():
    turns = [
        (True, ["a.x", "b.y"]),  # two failures
        (True, ["a.x"]),  # already pending: not a new failure
        (False, ["a.x", "c.z"]),  # a.x recovered; c.z was never pending
        (False, ["a.x"]),  # no longer pending: no second recovery
        (True, ["a.x"]),  # fails again: a new failure
    ]
    assert give_up_counts(turns) == (3, 1)


def test_give_up_rate_from_recorded_calls_and_from_code(rt):
    # Recorded api_calls: login fails, then works -> 1 failure, 1 recovery -> rate 0.
    recovered = rt.make(
        turns=[
            {"text": code("apis.spotify.login()"), "error": True, "calls": [rt.call("spotify", "login", ok=False)]},
            {"text": code("apis.spotify.login()"), "calls": [rt.call("spotify", "login")]},
        ]
    )
    # Parsed from code (no api_calls recorded); the error shows only as a traceback in the observation.
    gave_up = rt.make(
        turns=[
            {"text": code("apis.venmo.send_money(x=1)\napis.venmo.login()"), "output": "Traceback (most recent call last):\nKeyError: 'x'"},
            {"text": code("apis.supervisor.complete_task()"), "output": "done"},
        ],
        record_steps=False,
        stats={"turns": 2},
    )
    no_failures = rt.make()
    assert rollout_behaviour(recovered).give_up_rate == 0.0
    r = rollout_behaviour(gave_up)
    assert (r.failures, r.recoveries, r.give_up_rate, r.error_turns) == (2, 0, 1.0, 1)
    assert rollout_behaviour(no_failures).give_up_rate is None
    m = behaviour_metrics([recovered, gave_up, no_failures])
    assert m["give_up_rate"] == pytest.approx(0.5)  # mean over the two rollouts with failures
    assert m["n_rollouts_with_failed_calls"] == 2 and m["api_failures"] == 3 and m["api_recoveries"] == 1


def test_api_calls_tokens_code_chars_and_errors(rt):
    recorded = rt.make(
        turns=[
            {"text": code("for i in range(3):\n    apis.a.b()"), "calls": [rt.call("a", "b")] * 3},
            {"text": code("apis.a.c()"), "error": True, "calls": [rt.call("a", "c", ok=False)]},
        ],
        token_ids=list(range(10)),
        trainable=[False] * 4 + [True] * 6,
        logprobs=[0.0] * 10,
        turn_ids=[-1] * 10,
    )
    from_stats = rt.make(turns=[{"text": code("apis.a.b()")}], stats={"api_calls": 7, "generated_tokens": 30, "tokens": 90})
    from_text = rt.make(turns=[{"text": code("apis.a.b()\napis.a.b()")}], record_steps=False, stats={"turns": 1})
    assert rollout_behaviour(recorded).api_calls == 4  # executed calls, not textual ones
    assert rollout_behaviour(from_stats).api_calls == 7
    assert rollout_behaviour(from_text).api_calls == 2
    assert (rollout_behaviour(recorded).agent_tokens, rollout_behaviour(recorded).tokens) == (6, 10)
    assert (rollout_behaviour(from_stats).agent_tokens, rollout_behaviour(from_stats).tokens) == (30, 90)
    assert (rollout_behaviour(from_text).agent_tokens, rollout_behaviour(from_text).tokens) == (None, None)
    assert rollout_behaviour(recorded).code_chars == len("for i in range(3):\n    apis.a.b()") + len("apis.a.c()")
    m = behaviour_metrics([recorded, from_stats])
    assert m["errors_per_turn"] == pytest.approx(1 / 3)
    assert m["agent_tokens_per_episode"] == pytest.approx(18.0) and m["tokens_per_episode"] == pytest.approx(50.0)
    assert behaviour_metrics([from_text])["agent_tokens_per_episode"] is None  # missing, not zero


def test_complete_task_outcomes(rt):
    solved = rt.make(success=True, checks=[{"name": "answer is correct", "passed": True}])
    wrong = rt.make(checks=[{"name": "answer is correct", "passed": False, "detail": "expected 3, got 4"}])
    missing = rt.make(checks=[{"name": "state change", "passed": True}, {"name": "answer is correct", "passed": False}])
    wrong_state = rt.make(checks=[{"name": "note created", "passed": False}])
    never_called = rt.make(terminated=False, checks=[{"name": "answer is correct", "passed": False}])
    m = behaviour_metrics([solved, wrong, missing, wrong_state, never_called])
    assert m["no_complete_task_share"] == pytest.approx(1 / 5)
    assert m["wrong_answer_share"] == pytest.approx(2 / 5)  # never_called is counted as "no complete_task" instead
    assert m["failed_after_complete_share"] == pytest.approx(3 / 5)


def test_empty_input_gives_none_not_zero():
    m = behaviour_metrics([])
    assert m["n_rollouts"] == 0 and m["multi_cell_turn_share"] is None and m["give_up_rate"] is None


def test_metrics_on_a_real_built_in_world_episode():
    """A scripted chat agent plays a dev task of the built-in world through the real sandbox and
    collector, so the step records (api_calls, error) are the env's own. Counted by hand:
    turn 1 reads a doc ('assume'), turn 2 logs in with made-up values and fails (401, 'dummy' and
    example.com), turn 3 has two cells, turn 4 completes the task without doing it."""
    from looprl.agent import Scaffold
    from looprl.backends.base import SamplingParams
    from looprl.env import make_env
    from looprl.rollout import evaluate
    from looprl.testing import ScriptedChat
    from looprl.world import load_tasks

    replies = [
        "I assume the docs say how.\n```python\nprint('STEP1')\nprint(apis.api_docs.show_api_doc(app_name='email', api_name='login'))\n```",
        "```python\nprint('STEP2')\ntoken = apis.email.login(username='nobody@example.com', password='dummy')\n```",
        "Two cells this time.\n```python\nx = 3\n```\n```python\nprint('STEP3', x)\n```",
        "```python\napis.supervisor.complete_task()\n```",
    ]

    def script(observation: str) -> str:  # the reply after the last STEPn the REPL printed
        return replies[max([i for i in (1, 2, 3) if f"STEP{i}" in observation], default=0)]

    task = load_tasks("dev")[0].id
    result = evaluate(
        ScriptedChat(script),
        lambda: make_env("appsuite"),
        [task],
        samples=1,
        sampling=SamplingParams(max_new_tokens=400),
        scaffold=Scaffold(),
        max_turns=6,
        progress=False,
    )
    (traj,) = result.trajectories
    assert [m["role"] for m in traj.messages].count("assistant") > 4  # the prompt's worked example is there
    m = result.summary["behaviour"]
    assert m["turns_per_episode"] == 4 and m["multi_cell_turn_share"] == pytest.approx(0.25)
    assert (m["show_api_doc_per_rollout"], m["assume_per_rollout"], m["dummy_per_rollout"], m["placeholders_per_rollout"]) == (1, 1, 1, 2)
    assert m["errors_per_turn"] == pytest.approx(0.25) and m["api_calls_per_episode"] == 3
    assert (m["api_failures"], m["api_recoveries"], m["give_up_rate"]) == (1, 0, 1.0)  # email.login never retried
    assert m["no_complete_task_share"] == 0 and m["failed_after_complete_share"] == 1.0
    assert m["code_chars_per_rollout"] == sum(len(b) for r in replies for b in extract_code_blocks(r))
    assert m["tokens_per_episode"] is None  # a chat backend keeps no token stream: unknown, not 0
