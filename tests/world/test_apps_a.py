"""The todo, phone, email and music apps behave like web services, and their scenarios' checks fail
for the right reasons (a wrong answer, a partial job, a collateral change)."""

from __future__ import annotations

import dataclasses
import re
import sqlite3

import pytest

from looprl.world import ApiError, World, get_task
from looprl.world.core import all_apps
from looprl.world.runner import run_code, solve
from looprl.world.state import build_base

MY_APPS = {"todo": 15, "phone": 25, "email": 22, "music": 35}


@pytest.fixture
def world() -> World:
    return World.base()


def login(world: World, app: str, user_id: int = 1) -> str:
    row = world.db.execute("SELECT username, password FROM accounts WHERE app = ? AND user_id = ?", (app, user_id)).fetchone()
    return world.call(app, "login", {"username": row["username"], "password": row["password"]})["access_token"]


def status_of(world: World, app: str, api: str, **kwargs) -> int:
    with pytest.raises(ApiError) as info:
        world.call(app, api, kwargs)
    return info.value.status


def collect(world: World, app: str, api: str, **kwargs) -> list:
    items, page = [], 0
    while True:
        chunk = world.call(app, api, {**kwargs, "page_index": page, "page_limit": 20})
        if not chunk:
            return items
        items += chunk
        page += 1


# ---- shape and docs ------------------------------------------------------------------------------


@pytest.mark.parametrize("app,minimum", sorted(MY_APPS.items()))
def test_app_has_documented_apis(app, minimum):
    spec = all_apps()[app]
    assert len(spec.apis) >= minimum
    for api in spec.apis.values():
        doc = api.doc()
        assert doc["description"] and doc["response"] != "null", f"{app}.{api.name} lacks a description or response shape"
        assert all(p["description"] for p in doc["parameters"])
        if api.name not in ("login",):
            assert api.protected, f"{app}.{api.name} must require an access token"
        # List APIs paginate with the standard capped parameters.
        names = [p["name"] for p in doc["parameters"]]
        if "page_limit" in names:
            limit = next(p for p in doc["parameters"] if p["name"] == "page_limit")
            assert limit["constraints"]["le"] == 20 and "page_index" in names


def test_base_world_is_deterministic_and_seed_dependent():
    a, b, c = build_base(0), build_base(0), build_base(1)
    tables = [r[0] for r in a.execute("SELECT name FROM sqlite_master WHERE type='table' AND name GLOB '[tpem]*_*' ORDER BY name")]
    mine = [t for t in tables if t.split("_")[0] in MY_APPS]
    assert len(mine) >= 15

    def rows(conn: sqlite3.Connection, table: str) -> list:
        return [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]

    for table in mine:
        assert rows(a, table) == rows(b, table), table
    assert any(rows(a, t) != rows(c, t) for t in mine)


# ---- auth and errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app,api,args",
    [("todo", "show_tasks", {}), ("phone", "show_contacts", {}), ("email", "show_emails", {}), ("music", "show_playlists", {})],
)
def test_protected_apis_need_a_valid_token_for_their_app(world, app, api, args):
    assert status_of(world, app, api, **args) == 401
    assert status_of(world, app, api, access_token="not-a-token", **args) == 401
    other_app = "notes"
    assert status_of(world, app, api, access_token=login(world, other_app), **args) == 401
    assert isinstance(world.call(app, api, {"access_token": login(world, app), **args}), list)


def test_page_limit_over_20_is_a_422_naming_it(world):
    token = login(world, "music")
    with pytest.raises(ApiError) as info:
        world.call("music", "search_songs", {"access_token": token, "page_limit": 21})
    assert info.value.status == 422 and info.value.body["errors"][0]["parameter"] == "page_limit"


def test_pagination_covers_everything_exactly_once(world):
    token = login(world, "todo")
    tasks = collect(world, "todo", "show_tasks", access_token=token)
    assert len(tasks) == world.call("todo", "count_tasks", {"access_token": token})["count"] > 20
    assert len({t["task_id"] for t in tasks}) == len(tasks)


def test_other_users_records_are_403_and_missing_ones_404(world):
    todo, phone, email, music = (login(world, a) for a in ("todo", "phone", "email", "music"))
    theirs = lambda sql: world.db.execute(sql).fetchone()[0]  # noqa: E731
    assert status_of(world, "todo", "show_task", access_token=todo, task_id=theirs("SELECT id FROM todo_tasks WHERE user_id != 1")) == 403
    assert status_of(world, "todo", "show_task", access_token=todo, task_id=10**6) == 404
    assert status_of(world, "phone", "show_text_message", access_token=phone, message_id=theirs("SELECT id FROM phone_messages WHERE user_id != 1")) == 403
    assert status_of(world, "email", "show_email", access_token=email, email_id=theirs("SELECT id FROM email_messages WHERE user_id != 1")) == 403
    private = theirs("SELECT id FROM music_playlists WHERE user_id != 1 AND is_public = 0")
    public = theirs("SELECT id FROM music_playlists WHERE user_id != 1 AND is_public = 1")
    assert status_of(world, "music", "show_playlist", access_token=music, playlist_id=private) == 403
    assert world.call("music", "show_playlist", {"access_token": music, "playlist_id": public})["playlist_id"] == public
    assert status_of(world, "music", "add_song_to_playlist", access_token=music, playlist_id=public, song_id=1) == 403
    assert status_of(world, "music", "show_song", access_token=music, song_id=10**6) == 404


def test_conflicts_are_409(world):
    todo, phone, email, music = (login(world, a) for a in ("todo", "phone", "email", "music"))
    assert status_of(world, "todo", "create_list", access_token=todo, name="Home") == 409
    contact = world.call("phone", "show_contacts", {"access_token": phone})[0]
    assert status_of(world, "phone", "add_contact", access_token=phone, first_name="A", last_name="B", phone_number=contact["phone_number"]) == 409
    assert status_of(world, "email", "create_label", access_token=email, name="Work") == 409
    liked = world.call("music", "show_liked_songs", {"access_token": music})[0]["song_id"]
    assert status_of(world, "music", "like_song", access_token=music, song_id=liked) == 409
    playlist = world.call("music", "show_playlists", {"access_token": music})[0]["playlist_id"]
    first = world.call("music", "show_playlist_songs", {"access_token": music, "playlist_id": playlist})[0]["song_id"]
    assert status_of(world, "music", "add_song_to_playlist", access_token=music, playlist_id=playlist, song_id=first) == 409


@pytest.mark.parametrize(
    "app,api,args,param",
    [
        ("phone", "send_text_message", {"phone_number": "12345678901234", "message": "hi"}, "phone_number"),
        ("phone", "create_alarm", {"time": "25:00"}, "time"),
        ("phone", "create_alarm", {"time": "07:00", "repeat_days": ["someday"]}, "repeat_days.0"),
        ("todo", "create_task", {"list_id": 1, "title": "x", "due_date": "tomorrow"}, "due_date"),
        ("email", "send_email", {"to_emails": ["not-an-address"], "subject": "s", "body": "b"}, "to_emails.0"),
        ("music", "search_songs", {"genre": "polka"}, "genre"),
        ("music", "create_playlist", {"title": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_values_are_422_naming_the_parameter(world, app, api, args, param):
    with pytest.raises(ApiError) as info:
        world.call(app, api, {"access_token": login(world, app), **args})
    assert info.value.status == 422
    assert param in [e["parameter"] for e in info.value.body["errors"]]


# ---- behaviour -----------------------------------------------------------------------------------


def test_text_message_reaches_the_recipient_and_delete_is_local(world):
    phone = login(world, "phone")
    friend = world.db.execute("SELECT id, phone_number FROM users WHERE id = 2").fetchone()
    formatted = f"+1 ({friend['phone_number'][:3]}) {friend['phone_number'][3:6]}-{friend['phone_number'][6:]}"
    mid = world.call("phone", "send_text_message", {"access_token": phone, "phone_number": formatted, "message": "hello there"})["message_id"]
    theirs = login(world, "phone", user_id=2)
    inbox = world.call("phone", "show_text_messages", {"access_token": theirs, "direction": "received", "unread": True})
    assert inbox[0]["content"] == "hello there" and inbox[0]["phone_number"] == world.supervisor["phone_number"]
    world.call("phone", "delete_text_message", {"access_token": phone, "message_id": mid})
    assert world.call("phone", "show_text_messages", {"access_token": theirs, "direction": "received"})[0]["content"] == "hello there"
    assert status_of(world, "phone", "show_text_message", access_token=phone, message_id=mid) == 404


def test_email_reply_forward_trash_and_drafts(world):
    email = login(world, "email")
    with_attachment = world.db.execute(
        "SELECT m.id FROM email_messages m JOIN email_attachments a ON a.email_id = m.id WHERE m.user_id = 1 AND m.folder = 'inbox' LIMIT 1"
    ).fetchone()[0]
    original = world.call("email", "show_email", {"access_token": email, "email_id": with_attachment})
    reply = world.call("email", "reply_to_email", {"access_token": email, "email_id": with_attachment, "body": "Got it"})
    sent = world.call("email", "show_email", {"access_token": email, "email_id": reply["email_id"]})
    assert sent["thread_id"] == original["thread_id"] and sent["subject"].startswith("Re: ") and sent["to_emails"] == [original["sender_email"]]
    fwd = world.call("email", "forward_email", {"access_token": email, "email_id": with_attachment, "to_emails": ["Someone@Example.com"]})
    forwarded = world.call("email", "show_email", {"access_token": email, "email_id": fwd["email_id"]})
    assert forwarded["to_emails"] == ["someone@example.com"] and forwarded["subject"].startswith("Fwd: ")
    assert [a["file_name"] for a in forwarded["attachments"]] == [a["file_name"] for a in original["attachments"]]
    # trash and restore keep the folder
    world.call("email", "delete_email", {"access_token": email, "email_id": with_attachment})
    assert world.call("email", "show_email", {"access_token": email, "email_id": with_attachment})["folder"] == "trash"
    assert world.call("email", "restore_email", {"access_token": email, "email_id": with_attachment})["folder"] == "inbox"
    # a draft without recipients cannot be sent; with them it leaves the drafts folder
    draft = world.call("email", "create_draft", {"access_token": email, "subject": "Hi"})["email_id"]
    assert status_of(world, "email", "send_draft", access_token=email, email_id=draft) == 422
    to = world.db.execute("SELECT email FROM users WHERE id = 3").fetchone()[0]
    world.call("email", "update_draft", {"access_token": email, "email_id": draft, "to_emails": [to]})
    assert world.call("email", "send_draft", {"access_token": email, "email_id": draft})["email_id"] == draft
    assert world.call("email", "show_email", {"access_token": email, "email_id": draft})["folder"] == "sent"
    assert status_of(world, "email", "send_draft", access_token=email, email_id=draft) == 409
    theirs = login(world, "email", user_id=3)
    assert world.call("email", "show_emails", {"access_token": theirs, "unread": True})[0]["subject"] == "Hi"


def test_playlist_positions_and_play_counts(world):
    music = login(world, "music")
    playlist = world.call("music", "show_playlists", {"access_token": music})[0]["playlist_id"]
    before = collect(world, "music", "show_playlist_songs", access_token=music, playlist_id=playlist)
    world.call("music", "remove_song_from_playlist", {"access_token": music, "playlist_id": playlist, "song_id": before[1]["song_id"]})
    after = collect(world, "music", "show_playlist_songs", access_token=music, playlist_id=playlist)
    assert [s["position"] for s in after] == list(range(1, len(before)))
    assert [s["song_id"] for s in after] == [s["song_id"] for s in before if s["song_id"] != before[1]["song_id"]]
    song = before[0]["song_id"]
    count = world.call("music", "show_song", {"access_token": music, "song_id": song})["play_count"]
    world.call("music", "play_song", {"access_token": music, "song_id": song})
    assert world.call("music", "show_song", {"access_token": music, "song_id": song})["play_count"] == count + 1
    latest = world.call("music", "show_play_history", {"access_token": music, "page_limit": 1})[0]
    assert latest["song_id"] == song and latest["played_at"] == world.clock.timestamp()


def test_overdue_follows_the_task_clock_not_the_process_clock():
    from datetime import datetime

    early, late = World.base(now=datetime(2026, 1, 1, 9, 0)), World.base(now=datetime(2026, 12, 31, 9, 0))
    n_early = len(collect(early, "todo", "show_overdue_tasks", access_token=login(early, "todo")))
    n_late = len(collect(late, "todo", "show_overdue_tasks", access_token=login(late, "todo")))
    assert n_early < n_late


# ---- scenario checks fail for the right reasons -------------------------------------------------


def _report(task, code: str):
    world = World.for_task(task)
    _, ok = run_code(world, code)
    assert ok
    return {c.name: c.passed for c in world.evaluate().checks}


def test_wrong_answer_fails_and_right_answer_passes():
    task = get_task("phone_count_relationship_1")
    assert _report(task, f"apis.supervisor.complete_task(answer={task.answer})")["answer is correct"]
    assert not _report(task, f"apis.supervisor.complete_task(answer={task.answer + 1})")["answer is correct"]


def test_a_near_miss_fails_the_specific_check():
    task = get_task("todo_add_task_1")
    right = re.search(r'priority="(\w+)"', task.solution)[1]
    wrong = next(p for p in ("high", "medium", "low") if p != right)
    wrong_priority = task.solution.replace(f'priority="{right}"', f'priority="{wrong}"')
    report = _report(task, wrong_priority)
    assert report["task has the due date"] and not report["task has the priority"]


def test_a_partial_job_fails():
    task = get_task("multi_text_group_from_note_1")
    partial = task.solution.replace("for name in names:", "for name in names[:1]:")
    report = _report(task, partial)
    assert not report["everyone in the note got the text"]


def test_collateral_changes_are_caught():
    task = get_task("music_follow_artist_of_song_1")
    extra = task.solution + "apis.music.like_song(access_token=music_token, song_id=1)\n"
    world = World.for_task(task)
    run_code(world, extra.replace("apis.supervisor.complete_task()\n", "") + "apis.supervisor.complete_task()\n")
    checks = {c.name: c for c in world.evaluate().checks}
    assert not checks["no unrequested changes"].passed and "music_song_likes" in checks["no unrequested changes"].detail


def test_ground_truth_does_not_hard_code_ids():
    """Same task, different seed-independent ids: the ground truth must still pass when a record
    it reads moves (here: the target list gets a new id by being recreated during setup)."""
    task = get_task("todo_add_task_2")
    name = re.search(r'l\["name"\] == "([^"]+)"', task.solution)[1]  # the list the instruction names

    def setup(ctx):
        row = ctx.one("SELECT * FROM todo_lists WHERE user_id = 1 AND name = ?", (name,))
        new_id = ctx.insert("todo_lists", user_id=1, name=f"{name} (moving)", created_at=row["created_at"])
        ctx.db.execute("UPDATE todo_tasks SET list_id = ? WHERE list_id = ?", (new_id, row["id"]))
        ctx.delete("todo_lists", row["id"])
        ctx.update("todo_lists", new_id, name=name)

    moved = dataclasses.replace(task, setup=setup)
    world, _, ok = solve(moved)
    assert ok and world.evaluate().success
