"""Multi-app scenarios over notes, phone, email, todo and music: each needs several logins, at least
one paginated list, and data carried from one app into another."""

from __future__ import annotations

import re
from datetime import date, timedelta

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_by, norm
from looprl.world.tasks.phone import _texted_contacts

_ANY_INSERT = lambda b, a: b is None and a is not None  # noqa: E731


def _sent_by_user(ctx, table: str = "email_messages") -> list[dict]:
    return [r for r in ctx.diff.added.get(table, []) if r["user_id"] == 1 and (r.get("folder") == "sent" or r.get("direction") == "sent")]


# ---- notes + phone --------------------------------------------------------------------------------


@scenario("multi_text_group_from_note", split="dev", apps=("notes", "phone"))
def multi_text_group_from_note(view: BaseView) -> list[TaskSpec]:
    """Text everyone listed in a note (read a note, look each person up in contacts, text them)."""
    groups = [
        ("Book club", "Book club is on Thursday at 7pm at my place. Bring the book!"),
        ("Hiking crew", "Hike is on for Saturday, meet at the trailhead at 8am."),
        ("Board game night", "Game night moved to Friday at 6:30pm."),
    ]
    contacts = _texted_contacts(view)
    specs = []
    for (title, text), size in zip(groups, (3, 4, 3)):
        members = view.rng.sample(contacts, size)
        names = [f"{m['first_name']} {m['last_name']}" for m in members]
        numbers = frozenset(m["phone_number"] for m in members)
        content = f"{title} members:\n" + "".join(f"- {n}\n" for n in names) + "We meet once a month; hosting rotates."

        def setup(ctx, title=title, content=content):
            book = ctx.one("SELECT id FROM notes_notebooks WHERE user_id = ? AND name = 'Personal'", (ctx.user_id,))
            ts = (ctx.now - timedelta(days=20)).isoformat(timespec="seconds")
            ctx.insert("notes_notes", user_id=ctx.user_id, notebook_id=book["id"], title=title, content=content, tags="", pinned=0, created_at=ts, updated_at=ts)

        solution = header("notes", "phone") + f"""\
found = collect(apis.notes.search_notes, access_token=notes_token, query="{title}")
note_id = next(n["note_id"] for n in found if n["title"] == "{title}")
content = apis.notes.show_note(access_token=notes_token, note_id=note_id)["content"]
names = [line[2:].strip() for line in content.splitlines() if line.startswith("- ")]
for name in names:
    matches = apis.phone.search_contacts(access_token=phone_token, query=name)
    contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == name)
    apis.phone.send_text_message(access_token=phone_token, phone_number=contact["phone_number"], message={text!r})
apis.supervisor.complete_task()
"""

        def checks(ctx, numbers=numbers, text=text):
            sent = _sent_by_user(ctx, "phone_messages")
            reached = {r["other_phone_number"] for r in sent if norm(r["content"]) == norm(text)}
            return [
                check("everyone in the note got the text", numbers <= reached, f"{len(numbers - reached)} of {len(numbers)} not texted"),
                check("each got it once and nobody else was texted", len(sent) == len(numbers) and {r["other_phone_number"] for r in sent} == set(numbers), f"{len(sent)} texts sent"),
            ]

        specs.append(
            TaskSpec(
                instruction=f'Text everyone listed in my "{title}" note: "{text}"',
                solution=solution,
                difficulty=2,
                checks=checks,
                setup=setup,
                allowed_changes={"phone_messages": _ANY_INSERT},
            )
        )
    return specs


# ---- email + todo ---------------------------------------------------------------------------------


@scenario("multi_bill_email_to_todo", split="test_normal", apps=("email", "todo"))
def multi_bill_email_to_todo(view: BaseView) -> list[TaskSpec]:
    """Turn the latest bill email into a to-do task carrying the amount due."""
    asks = [("electricity", "Home", "2026-06-15", "high"), ("water", "Home", "2026-06-01", "medium"), ("water", "Errands", "2026-05-28", "low")]
    specs = []
    for kind, list_name, due, priority in asks:
        latest = view.one(
            "SELECT body FROM email_messages WHERE user_id = ? AND lower(subject) LIKE ? AND folder != 'trash' ORDER BY sent_at DESC LIMIT 1",
            (view.user_id, f"%{kind} bill%"),
        )
        amount = re.search(r"\$([\d,]+\.\d{2})", latest["body"]).group(1)
        title = f"Pay {kind} bill"
        solution = header("email", "todo") + f"""\
import re
bills = apis.email.search_emails(access_token=email_token, query="{kind} bill", sort_by="-sent_at", page_limit=1)
body = apis.email.show_email(access_token=email_token, email_id=bills[0]["email_id"])["body"]
amount = re.search(r"\\$([\\d,]+\\.\\d{{2}})", body).group(0)
lists = collect(apis.todo.show_lists, access_token=todo_token)
list_id = next(l["list_id"] for l in lists if l["name"] == "{list_name}")
apis.todo.create_task(access_token=todo_token, list_id=list_id, title="{title}", notes="Amount due: " + amount, due_date="{due}", priority="{priority}")
apis.supervisor.complete_task()
"""

        def checks(ctx, title=title, list_name=list_name, due=due, priority=priority, amount=amount):
            added = ctx.diff.added.get("todo_tasks", [])
            task = added[0] if len(added) == 1 else None
            list_id = ctx.after_one("SELECT id FROM todo_lists WHERE user_id = 1 AND name = ?", (list_name,))["id"]
            return [
                check("exactly one new task", len(added) == 1, f"{len(added)} new tasks"),
                check("the task has the title", task is not None and norm(task["title"]) == norm(title), f"expected {title!r}"),
                check("the task is in the right list, due date and priority", task is not None and (task["list_id"], task["due_date"], task["priority"]) == (list_id, due, priority), f"expected {list_name!r}, {due}, {priority}"),
                check("the notes carry the amount due", task is not None and amount in task["notes"].replace(",", ""), f"expected the amount {amount} in the notes"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"Find my latest {kind} bill email and add a task '{title}' to my '{list_name}' to-do list, due {due}, "
                    f"with {priority} priority, and put the amount due (like $12.34) in the task's notes."
                ),
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"todo_tasks": inserts_by()},
            )
        )
    return specs


# ---- phone + todo ---------------------------------------------------------------------------------


@scenario("multi_birthday_gift_tasks", split="test_normal", apps=("phone", "todo"))
def multi_birthday_gift_tasks(view: BaseView) -> list[TaskSpec]:
    """A gift task per contact with a birthday in month M, due the day before (date arithmetic across apps)."""
    contacts = view.all("SELECT first_name, last_name, birthday FROM phone_contacts WHERE user_id = ? AND birthday IS NOT NULL", (view.user_id,))
    year = view.now.year
    months = [m for m in range(view.now.month + 1, 13) if 2 <= sum(c["birthday"][5:7] == f"{m:02d}" for c in contacts) <= 4]
    if len(months) < 3:
        raise ValueError(f"multi_birthday_gift_tasks needs 3 later months with 2-4 birthdays, found {months}")
    specs = []
    for month in view.rng.sample(months, 3):
        month_name = date(year, month, 1).strftime("%B")
        expected = frozenset(
            (f"buy a gift for {c['first_name']} {c['last_name']}".casefold(), (date(year, month, int(c["birthday"][8:10])) - timedelta(days=1)).isoformat())
            for c in contacts
            if c["birthday"][5:7] == f"{month:02d}"
        )
        solution = header("phone", "todo") + f"""\
from datetime import date, timedelta
lists = collect(apis.todo.show_lists, access_token=todo_token)
list_id = next(l["list_id"] for l in lists if l["name"] == "Errands")
for c in collect(apis.phone.show_contacts, access_token=phone_token):
    if c["birthday"] and int(c["birthday"][5:7]) == {month}:
        due = date({year}, {month}, int(c["birthday"][8:10])) - timedelta(days=1)
        apis.todo.create_task(access_token=todo_token, list_id=list_id, title="Buy a gift for " + c["first_name"] + " " + c["last_name"], due_date=due.isoformat())
apis.supervisor.complete_task()
"""

        def checks(ctx, expected=expected):
            added = ctx.diff.added.get("todo_tasks", [])
            errands = ctx.after_one("SELECT id FROM todo_lists WHERE user_id = 1 AND name = 'Errands'")["id"]
            got = {(norm(r["title"]), r["due_date"]) for r in added}
            return [
                check("a gift task for every birthday in the month, due the day before", expected <= got, f"{len(expected - got)} of {len(expected)} missing or with the wrong due date"),
                check("no other tasks were added", len(added) == len(expected), f"{len(added)} tasks added, {len(expected)} expected"),
                check("the tasks are in the Errands list", bool(added) and all(r["list_id"] == errands for r in added), "a task is not in 'Errands'"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"For each of my phone contacts whose birthday is in {month_name}, add a task 'Buy a gift for <first name> <last name>' "
                    f"to my 'Errands' to-do list, due the day before their {year} birthday."
                ),
                solution=solution,
                difficulty=3,
                checks=checks,
                allowed_changes={"todo_tasks": inserts_by()},
            )
        )
    return specs


# ---- email + phone --------------------------------------------------------------------------------


@scenario("multi_forward_bill_to_roommates", split="test_normal", apps=("email", "phone"))
def multi_forward_bill_to_roommates(view: BaseView) -> list[TaskSpec]:
    """Forward a given month's bill to the contacts marked as roommates."""
    roommates = frozenset(
        r["email"] for r in view.all("SELECT email FROM phone_contacts WHERE user_id = ? AND relationship = 'roommate'", (view.user_id,))
    )
    asks = [("electricity", "April"), ("water", "March"), ("electricity", "February")]
    specs = []
    for kind, month in asks:
        original = view.one(
            "SELECT id, thread_id, subject FROM email_messages WHERE user_id = ? AND lower(subject) LIKE ? AND folder != 'trash'",
            (view.user_id, f"%{kind} bill for {month.lower()}%"),
        )
        solution = header("email", "phone") + f"""\
roommates = [c["email"] for c in collect(apis.phone.show_contacts, access_token=phone_token, relationship="roommate")]
found = collect(apis.email.search_emails, access_token=email_token, query="{kind} bill for {month}")
bill = next(e for e in found if e["folder"] != "sent")
apis.email.forward_email(access_token=email_token, email_id=bill["email_id"], to_emails=roommates)
apis.supervisor.complete_task()
"""

        def checks(ctx, original=original):
            sent = _sent_by_user(ctx)
            fwd = sent[0] if len(sent) == 1 else None
            return [
                check("exactly one email was sent", len(sent) == 1, f"{len(sent)} emails sent"),
                check("it forwards the right bill", fwd is not None and fwd["thread_id"] == original["thread_id"] and original["subject"].lower() in fwd["subject"].lower(), f"expected a forward of {original['subject']!r}"),
                check("it goes to exactly my roommates", fwd is not None and set(filter(None, (fwd["to_emails"] + "," + fwd["cc_emails"]).split(","))) == roommates, f"expected {sorted(roommates)}"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Forward the {month} {kind} bill email to my roommates.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"email_messages": _ANY_INSERT, "email_attachments": _ANY_INSERT},
            )
        )
    return specs


# ---- music + phone + email ------------------------------------------------------------------------


@scenario("multi_email_playlist_to_contact", split="test_normal", apps=("music", "email", "phone"))
def multi_email_playlist_to_contact(view: BaseView) -> list[TaskSpec]:
    """Email a contact the song titles of a playlist (every page of the playlist, an address from contacts)."""
    playlists = view.all("SELECT id, title FROM music_playlists WHERE user_id = ? ORDER BY id", (view.user_id,))
    contacts = [c for c in _texted_contacts(view) if c["email"]]
    specs = []
    for pl, c in zip(view.rng.sample(playlists, 3), view.rng.sample(contacts, 3)):
        name = f"{c['first_name']} {c['last_name']}"
        titles = frozenset(
            r["title"] for r in view.all("SELECT s.title FROM music_playlist_songs ps JOIN music_songs s ON s.id = ps.song_id WHERE ps.playlist_id = ?", (pl["id"],))
        )
        subject = f"{pl['title']} songs"
        solution = header("music", "email", "phone") + f"""\
playlists = collect(apis.music.show_playlists, access_token=music_token)
playlist_id = next(p["playlist_id"] for p in playlists if p["title"] == "{pl['title']}")
songs = collect(apis.music.show_playlist_songs, access_token=music_token, playlist_id=playlist_id)
matches = apis.phone.search_contacts(access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
body = "\\n".join(s["title"] for s in songs)
apis.email.send_email(access_token=email_token, to_emails=[contact["email"]], subject="{subject}", body=body)
apis.supervisor.complete_task()
"""

        def checks(ctx, address=c["email"], subject=subject, titles=titles):
            sent = _sent_by_user(ctx)
            mail = sent[0] if len(sent) == 1 else None
            lines = {norm(line) for line in mail["body"].splitlines()} if mail else set()
            missing = [t for t in titles if norm(t) not in lines]
            return [
                check("exactly one email was sent", len(sent) == 1, f"{len(sent)} emails sent"),
                check("it goes to the contact", mail is not None and mail["to_emails"].split(",") == [address], f"expected to {address}"),
                check("it has the subject", mail is not None and norm(mail["subject"]) == norm(subject), f"expected subject {subject!r}"),
                check("it lists every song title on its own line", mail is not None and not missing, f"{len(missing)} title(s) missing"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Email {name} the titles of all the songs in my '{pl['title']}' playlist, one title per line, with the subject '{subject}'.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"email_messages": _ANY_INSERT},
            )
        )
    return specs
