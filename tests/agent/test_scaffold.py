"""The ReAct scaffold: layout, placeholders, YAML loading and readable errors."""

from __future__ import annotations

from datetime import datetime

import pytest
import yaml

from looprl.agent import DEFAULT_PROMPTS, Scaffold, ScaffoldConfig

INFO = {
    "instruction": "How many songs are in my 'Road trip' playlist?",
    "supervisor": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "phone_number": "5550199"},
    "date": datetime(2024, 2, 29, 8, 15, 0),
}


def test_initial_messages_layout():
    scaffold = Scaffold()
    msgs = scaffold.initial_messages([{"role": "user", "content": "env prompt"}], INFO)
    assert msgs[0]["role"] == "system"
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant"] * ((len(msgs) - 2) // 2) + ["user"]
    first = msgs[1]["content"]
    # supervisor framing, the REPL and the three documentation APIs, then the example's task
    assert "supervisor" in first and "REPL" in first
    for api in ("show_app_descriptions", "show_api_descriptions", "show_api_doc"):
        assert api in first
    assert "notes did I tag 'travel'" in first
    # the worked example reads docs, gets the password from the supervisor app, paginates, completes
    demo_code = "\n".join(m["content"] for m in msgs if m["role"] == "assistant")
    for step in ("show_account_passwords", "page_limit=20", "complete_task(answer="):
        assert step in demo_code
    last = msgs[-1]["content"]
    assert "Read an API's documentation" in last
    assert last.rstrip().endswith("Task: How many songs are in my 'Road trip' playlist?")
    assert "Date: 2024-02-29 08:15:00" in last and "Grace Hopper" in last and "grace@example.com" in last and "5550199" in last
    assert "env prompt" not in "".join(m["content"] for m in msgs)


def test_observation_message_has_output_and_reminder():
    scaffold = Scaffold()
    msg = scaffold.observation_message("[1, 2, 3] {task}", INFO)
    assert msg["role"] == "user"
    assert msg["content"].startswith("[1, 2, 3] {task}")  # braces in REPL output are left alone
    assert "As a reminder" in msg["content"] and INFO["instruction"] in msg["content"]
    empty = scaffold.observation_message("  \n", INFO)
    assert empty["content"].startswith("Execution successful.")


def test_yaml_roundtrip_and_custom_text(tmp_path):
    data = yaml.safe_load(DEFAULT_PROMPTS.read_text())
    data["system"] = "Be brief."
    data["task"] = "{instruction} (for {first_name}, {date})"
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(data))
    scaffold = Scaffold.from_yaml(path)
    msgs = scaffold.initial_messages([], {**INFO, "date": "2024-01-01"})
    assert msgs[0]["content"] == "Be brief."
    assert msgs[-1]["content"].endswith("How many songs are in my 'Road trip' playlist? (for Grace, 2024-01-01)")


def test_bad_configs_are_rejected_with_reasons(tmp_path):
    data = yaml.safe_load(DEFAULT_PROMPTS.read_text())
    with pytest.raises(ValueError, match="must start with a user message"):
        ScaffoldConfig.model_validate({**data, "demo": data["demo"][1:]})
    with pytest.raises(ValueError, match="alternate"):
        ScaffoldConfig.model_validate({**data, "demo": [data["demo"][0], data["demo"][0]]})
    with pytest.raises(ValueError, match="systm"):
        ScaffoldConfig.model_validate({**data, "systm": "typo"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Scaffold.from_yaml(tmp_path / "missing.yaml")


def test_missing_info_names_the_keys():
    with pytest.raises(KeyError, match=r"\['supervisor', 'date'\].*scaffold=None"):
        Scaffold().initial_messages([], {"instruction": "x"})


def test_builtin_prompt_sets_by_name_and_clear_error_otherwise(tmp_path):
    from looprl.agent import builtin_scaffolds, scaffold_for

    assert {"default", "compact", "terse"} <= set(builtin_scaffolds())
    assert scaffold_for("env") is None
    compact, default = scaffold_for("compact"), scaffold_for("default")
    info = {"instruction": "Count my notes.", "date": "2026-05-18", "supervisor": {"first_name": "A", "last_name": "B", "email": "a@b.c", "phone_number": "1"}}
    short = compact.initial_messages([], info)
    long = default.initial_messages([], info)
    assert "Count my notes." in short[-1]["content"] and sum(len(m["content"]) for m in short) < sum(len(m["content"]) for m in long) / 2
    terse = scaffold_for("terse").initial_messages([], info)
    assert [m["role"] for m in terse] == ["system", "user"]  # no worked example to copy
    assert "Count my notes." in terse[-1]["content"] and "complete_task" in terse[-1]["content"]
    assert sum(len(m["content"]) for m in terse) < sum(len(m["content"]) for m in short) / 2
    with pytest.raises(FileNotFoundError, match="built-in prompt set"):
        scaffold_for(str(tmp_path / "missing.yaml"))
