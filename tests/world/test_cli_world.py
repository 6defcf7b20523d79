"""`looprl world ...` end to end through the real CLI: listings, task display, solving, stats and
validation (including a failing task making validate exit 1)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from looprl.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["world", *args])


def test_apps_lists_every_app_with_its_api_count():
    result = invoke("apps", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["app"]: r for r in json.loads(result.output)}
    for name in ("supervisor", "api_docs", "notes", "todo", "phone", "email", "music"):
        assert rows[name]["description"]
    assert rows["music"]["apis"] >= 35
    table = invoke("apps")
    assert table.exit_code == 0 and "music" in table.output


def test_apis_prints_generated_docs_and_rejects_unknown_apps():
    result = invoke("apis", "phone", "--json")
    assert result.exit_code == 0, result.output
    docs = {d["api_name"]: d for d in json.loads(result.output)}
    send = docs["send_text_message"]
    assert send["requires_access_token"] and {p["name"] for p in send["parameters"]} == {"access_token", "phone_number", "message"}
    bad = invoke("apis", "fonebook")
    assert bad.exit_code == 2 and "unknown app 'fonebook'" in bad.output and "phone" in bad.output


def test_tasks_filters_by_split_difficulty_and_app():
    result = invoke("tasks", "--split", "dev", "--difficulty", "1", "--json")
    assert result.exit_code == 0, result.output
    tasks = json.loads(result.output)
    assert tasks and all(t["split"] == "dev" and t["difficulty"] == 1 for t in tasks)
    music = json.loads(invoke("tasks", "--app", "music", "--json").output)
    assert music and all("music" in t["apps"] for t in music)
    bad = invoke("tasks", "--split", "validation")
    assert bad.exit_code == 2 and "train, dev, test_normal, test_challenge" in bad.output


def test_show_gives_instruction_answer_and_ground_truth():
    result = invoke("show", "phone_count_relationship_1", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["split"] == "train" and info["apps"] == ["phone"] and isinstance(info["answer"], int)
    assert "apis.phone.show_contacts" in info["solution"]
    text = invoke("show", "phone_count_relationship_1")
    assert text.exit_code == 0 and "ground truth" in text.output
    missing = invoke("show", "phone_count_relationshp_1")
    assert missing.exit_code == 2 and "phone_count_relationship_1" in missing.output  # suggests the close match


def test_solve_runs_the_ground_truth_and_reports_checks():
    result = invoke("solve", "multi_forward_bill_to_roommates_1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["success"] and report["reward"] == 1.0 and report["api_calls"] > 3
    assert {c["name"] for c in report["checks"]} >= {"it goes to exactly my roommates", "no unrequested changes"}


def test_stats_counts_are_consistent():
    result = invoke("stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["apps"] == len(stats["apis_per_app"]) and stats["apis"] == sum(stats["apis_per_app"].values())
    splits = stats["splits"]
    assert stats["tasks"] == sum(s["tasks"] for s in splits.values())
    assert sum(s["tasks"] for name, s in splits.items() if name != "heldout") == 3 * stats["scenarios"]
    assert splits["heldout"]["scenarios"] == splits["train"]["scenarios"]  # held-out instances of the training scenarios
    assert stats["tasks"] == sum(stats["tasks_by_difficulty"].values())
    assert not {"expenses", "files"} & set(splits["train"]["apps"])


def test_stats_counts_distinct_instances():
    stats = json.loads(invoke("stats", "--instances", "6", "--json").output)
    train = stats["splits"]["train"]
    assert stats["instances_per_scenario"] == 6 and train["tasks"] == 6 * train["scenarios"]
    assert train["distinct_instructions"] == train["distinct_outcomes"] == train["tasks"]
    assert train["worlds"] >= 4
    per = stats["distinct_instances"]
    assert len(per) == stats["scenarios"]
    assert isinstance(per["payments_count_requests"]["distinct_heldout"], int) and 16 <= per["payments_count_requests"]["distinct_heldout"] < 100
    assert per["todo_add_task"]["distinct"] == ">= 100" and "distinct_heldout" not in per["email_label_sender"]  # a dev scenario


def test_stats_says_when_instances_run_past_a_scenario():
    result = invoke("stats", "--instances", "500", "--json")
    assert result.exit_code == 2 and "distinct" in result.output and "would repeat" in result.output


def test_validate_passes_on_real_tasks():
    result = invoke("validate", "--prefix", "todo_", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["tasks"] >= 9 and summary["failed"] == 0


def _register(monkeypatch, name, generate):
    import looprl.world.tasks as tasks_mod

    monkeypatch.setattr(tasks_mod, "_DRAWN", {})
    monkeypatch.setitem(tasks_mod._SCENARIOS, name, tasks_mod.ScenarioDef(name, "dev", ("todo",), generate))


def test_validate_exits_1_and_lists_a_broken_scenario(monkeypatch):
    from looprl.world.tasks import scenarios

    real = scenarios()["todo_add_task"].generate

    def lazy(view):  # a real instance whose ground truth does nothing but complete the task
        return dataclasses.replace(real(view), solution="apis.supervisor.complete_task()\n")

    _register(monkeypatch, "zz_lazy_add_task", lazy)
    result = invoke("validate", "--prefix", "zz_", "--instances", "2", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.output)
    assert summary["failed"] == 1 and summary["failures"][0]["scenario"] == "zz_lazy_add_task"
    assert "zz_lazy_add_task_1: ground truth fails checks" in summary["failures"][0]["problems"][0]


def test_validate_names_instances_that_repeat_a_task(monkeypatch):
    from looprl.world.tasks import scenarios

    real = scenarios()["notes_count_tag"].generate

    def same(view):  # every instance the same task, whatever its RNG draws
        view.rng.seed(0)
        return real(view)

    _register(monkeypatch, "zz_same_count", same)
    result = invoke("validate", "--prefix", "zz_", "--instances", "3", "--json")
    assert result.exit_code == 1
    problems = json.loads(result.output)["failures"][0]["problems"]
    # the scenario runs out after one task: drawing a second says so instead of repeating the first
    assert any("'zz_same_count' has 1 distinct dev instances" in p and "zz_same_count_2 would repeat" in p for p in problems), problems


@pytest.mark.parametrize("args", [["solve", "no_such_task_1"], ["validate", "--split", "nope"]])
def test_bad_arguments_exit_2_with_a_message(args):
    result = invoke(*args)
    assert result.exit_code == 2 and "error" in result.output


def test_every_world_option_has_help_text():
    # Walked by duck typing: typer vendors its own click, so isinstance checks against click miss it.
    import typer

    group = typer.main.get_command(app).commands["world"]
    assert set(group.commands) == {"apps", "apis", "tasks", "show", "solve", "stats", "validate"}
    for name, cmd in group.commands.items():
        assert invoke(name, "--help").exit_code == 0
        assert cmd.help, f"`looprl world {name}` has no description"
        for param in cmd.params:
            if param.name != "help":
                assert param.help, f"`looprl world {name}` parameter {param.name} has no help text"
