"""The "no unrequested changes" check catches collateral damage: a ground truth followed by one
change nobody asked for (a new note, a new alarm, a song dropped from the library, an unfriended
friend, ...) made through the public APIs fails it, for a sample of tasks from every app. Also: the
SQLite-side state diff agrees with a plain Python row-by-row diff."""

from __future__ import annotations

import pytest

from looprl.world.evaluation import StateDiff
from looprl.world.runner import run_code, solve
from looprl.world.tasks import load_tasks

LOGIN = """\
passwords = {a["account_name"]: a["password"] for a in apis.supervisor.show_account_passwords()}
my_email = apis.supervisor.show_profile()["email"]
token = getattr(apis, APP).login(username=my_email, password=passwords[APP])["access_token"]
"""

# app -> (tables the stray change touches, code making it through the APIs).
STRAYS: dict[str, tuple[set[str], str]] = {
    "notes": (
        {"notes_notes"},
        "book = apis.notes.show_notebooks(access_token=token)[0]\n"
        'apis.notes.create_note(access_token=token, notebook_id=book["notebook_id"], title="Stray thought")',
    ),
    "todo": (
        {"todo_tasks"},
        'lst = apis.todo.show_lists(access_token=token)[0]\napis.todo.create_task(access_token=token, list_id=lst["list_id"], title="Stray task")',
    ),
    "phone": ({"phone_alarms"}, 'apis.phone.create_alarm(access_token=token, time="04:44")'),
    "email": ({"email_labels"}, 'apis.email.create_label(access_token=token, name="stray-label")'),
    "music": (
        {"music_library_songs"},
        'song = apis.music.show_song_library(access_token=token)[0]\napis.music.remove_song_from_library(access_token=token, song_id=song["song_id"])',
    ),
    "payments": (
        {"payments_friends"},
        'friend = apis.payments.show_friends(access_token=token)[0]\napis.payments.remove_friend(access_token=token, email=friend["email"])',
    ),
    "shopping": (
        {"shopping_wishlist"},
        'item = apis.shopping.show_wishlist(access_token=token)[0]\napis.shopping.remove_from_wishlist(access_token=token, product_id=item["product_id"])',
    ),
    "expenses": (
        {"expenses_groups"},
        "group = apis.expenses.show_groups(access_token=token)[0]\n"
        'apis.expenses.rename_group(access_token=token, group_id=group["group_id"], name="Stray name")',
    ),
    "files": ({"files_folders"}, 'apis.files.create_folder(access_token=token, name="Stray folder")'),
}


def _sample() -> list:
    """Up to three tasks per app (state changes first, then questions), in id order."""
    tasks = sorted(load_tasks(), key=lambda t: (t.is_question, t.id))
    picked: dict[str, object] = {}
    for app in STRAYS:
        users = [t for t in tasks if app in t.apps][:3]
        for t in users:
            picked.setdefault(t.id, t)
    return list(picked.values())


SAMPLE = _sample()


def _stray_for(task) -> tuple[str, str]:
    """A stray change in one of the task's own apps if one is not allowed by the task, else in another app."""
    order = [a for a in task.apps if a in STRAYS] + [a for a in STRAYS if a not in task.apps]
    for app in order:
        tables, code = STRAYS[app]
        if not tables & set(task.allowed_changes):
            return app, code
    raise AssertionError(f"{task.id}: every stray change is allowed by the task")


def test_the_sample_covers_every_app():
    covered = {a for t in SAMPLE for a in t.apps}
    missing = [a for a in STRAYS if a not in covered and any(a in t.apps for t in load_tasks())]
    assert not missing, f"no sampled task uses {missing}"


@pytest.mark.parametrize("task", SAMPLE, ids=[t.id for t in SAMPLE])
def test_an_unrequested_change_fails_the_collateral_check(task):
    world, output, ran = solve(task)
    assert ran, output
    clean = {c.name: c.passed for c in world.evaluate().checks}
    assert clean["no unrequested changes"], f"{task.id}: the ground truth alone already fails"
    app, code = _stray_for(task)
    out, ok = run_code(world, LOGIN + code, {"APP": app})
    assert ok, out
    report = world.evaluate()
    collateral = next(c for c in report.checks if c.name == "no unrequested changes")
    assert not collateral.passed, f"{task.id}: a stray {app} change went unnoticed"
    assert not report.success


def _naive_diff(before, after) -> dict:
    out = {}
    tables = [r[0] for r in after.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        b = {r["rowid"]: dict(r) for r in before.execute(f"SELECT rowid AS rowid, * FROM {table}")}
        a = {r["rowid"]: dict(r) for r in after.execute(f"SELECT rowid AS rowid, * FROM {table}")}
        out[table] = (
            sorted(k for k in a if k not in b),
            sorted(k for k in b if k not in a),
            sorted(k for k in a if k in b and a[k] != b[k]),
        )
    return out


@pytest.mark.parametrize("task_id", ["payments_pay_friend_requests_1", "shopping_buy_top_rated_1", "files_gather_extension_1", "multi_utility_bill_split_1"])
def test_state_diff_matches_a_plain_python_diff(task_id):
    task = next(t for t in load_tasks() if t.id == task_id)
    world, output, ran = solve(task)
    assert ran, output
    # Deletions too, beyond the inserts and updates the ground truth makes.
    out, ok = run_code(world, LOGIN + STRAYS["music"][1], {"APP": "music"})
    assert ok, out
    before = world.initial_state()
    diff = StateDiff.between(before, world.db)
    naive = _naive_diff(before, world.db)
    for table, (added, removed, changed) in naive.items():
        if table == "supervisor_task":
            continue
        assert [r["rowid"] for r in diff.added.get(table, [])] == added, table
        assert [r["rowid"] for r in diff.removed.get(table, [])] == removed, table
        assert [b["rowid"] for b, _ in diff.changed.get(table, [])] == changed, table
    assert not diff.is_empty()
    assert diff.removed.get("music_library_songs"), "the removals were not seen"
