"""Multi-app scenarios over notes, phone, email, todo and music: each needs several logins, at least
one paginated list, and data carried from one app into another.

Each generator draws one task from the instance's base world with ``view.rng`` (the people, bills,
playlists and to-do lists it names exist there, and name exactly one thing), words it through
``view.phrase``, and writes its ground truth against the public ``apis`` only."""

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

# A group note's title and the messages its members may be sent.
_GROUP_NOTES = [
    (
        "Book club",
        [
            "Book club is on Thursday at 7pm at my place. Bring the book!",
            "Book club is postponed to next week, same time.",
            "We picked the next book: finish it by the 20th!",
        ],
    ),
    (
        "Hiking crew",
        [
            "Hike is on for Saturday, meet at the trailhead at 8am.",
            "Rain forecast, so the hike moves to Sunday at 9am.",
            "Carpool for the hike leaves my place at 7:15am.",
        ],
    ),
    (
        "Board game night",
        ["Game night moved to Friday at 6:30pm.", "Game night is at Sam's place this time, 7pm.", "Bring snacks to game night, I have the drinks."],
    ),
    ("Running club", ["Long run on Sunday, 7am at the park gate.", "No club run this week, enjoy the rest!", "Race sign-ups close Friday, don't forget."]),
    (
        "Band practice",
        ["Practice is at the studio on Wednesday at 8pm.", "Practice cancelled tonight, see you next week.", "Gig on the 12th confirmed, learn the new song!"],
    ),
    (
        "Climbing group",
        [
            "Climbing gym on Tuesday at 6pm, who's in?",
            "New bouldering wall opens Saturday, let's go at 10am.",
            "Gym is closed Tuesday, we climb Thursday instead.",
        ],
    ),
    (
        "Supper club",
        [
            "Supper club is at my place on the 30th, bring a dessert.",
            "This month's supper club theme is Thai food!",
            "Supper club starts at 7:30pm sharp this time.",
        ],
    ),
    (
        "Volunteer team",
        [
            "Food bank shift on Saturday at 9am, wear closed shoes.",
            "The park cleanup is on Sunday at 10am, gloves provided.",
            "Thanks all, we raised $640 at the bake sale!",
        ],
    ),
]


@scenario("multi_text_group_from_note", split="dev", apps=("notes", "phone"))
def multi_text_group_from_note(view: BaseView) -> TaskSpec:
    """Text everyone listed in a note (read a note, look each person up in contacts, text them)."""
    title, messages = view.rng.choice(_GROUP_NOTES)
    text = view.rng.choice(messages)
    book = view.rng.choice([r["name"] for r in view.all("SELECT name FROM notes_notebooks WHERE user_id = ? ORDER BY id", (view.user_id,))])
    members = view.rng.sample(_texted_contacts(view), view.rng.randint(2, 5))
    names = [f"{m['first_name']} {m['last_name']}" for m in members]
    numbers = frozenset(m["phone_number"] for m in members)
    content = f"{title} members:\n" + "".join(f"- {n}\n" for n in names) + "We meet once a month; hosting rotates."

    def setup(ctx):
        book_id = ctx.one("SELECT id FROM notes_notebooks WHERE user_id = ? AND name = ?", (ctx.user_id, book))["id"]
        ts = (ctx.now - timedelta(days=20)).isoformat(timespec="seconds")
        ctx.insert("notes_notes", user_id=ctx.user_id, notebook_id=book_id, title=title, content=content, tags="", pinned=0, created_at=ts, updated_at=ts)

    solution = (
        header("notes", "phone")
        + f"""\
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
    )

    def checks(ctx):
        sent = _sent_by_user(ctx, "phone_messages")
        reached = {r["other_phone_number"] for r in sent if norm(r["content"]) == norm(text)}
        return [
            check("everyone in the note got the text", numbers <= reached, f"{len(numbers - reached)} of {len(numbers)} not texted"),
            check(
                "each got it once and nobody else was texted",
                len(sent) == len(numbers) and {r["other_phone_number"] for r in sent} == set(numbers),
                f"{len(sent)} texts sent",
            ),
        ]

    instruction = view.phrase(
        [
            'Text everyone listed in my "{title}" note: "{text}"',
            'My note "{title}" lists the members of the group. Send each of them this text message: "{text}"',
            'Send the text "{text}" to every person named in my "{title}" note.',
            'Look up the people in my "{title}" note in my contacts and text each one: "{text}"',
        ],
        title=title,
        text=text,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        setup=setup,
        allowed_changes={"phone_messages": _ANY_INSERT},
    )


# ---- email + todo ---------------------------------------------------------------------------------

_PRIORITIES = ["low", "medium", "high"]


@scenario("multi_bill_email_to_todo", split="test_normal", apps=("email", "todo"))
def multi_bill_email_to_todo(view: BaseView) -> TaskSpec:
    """Turn the latest bill email into a to-do task carrying the amount due."""
    kind = view.rng.choice(["electricity", "water"])
    list_name = view.rng.choice([r["name"] for r in view.all("SELECT name FROM todo_lists WHERE user_id = ? ORDER BY id", (view.user_id,))])
    due = (view.now.date() + timedelta(days=view.rng.randint(3, 45))).isoformat()
    priority = view.rng.choice(_PRIORITIES)
    latest = view.one(
        "SELECT body FROM email_messages WHERE user_id = ? AND lower(subject) LIKE ? AND folder != 'trash' ORDER BY sent_at DESC LIMIT 1",
        (view.user_id, f"%{kind} bill%"),
    )
    amount = re.search(r"\$([\d,]+\.\d{2})", latest["body"]).group(1)
    title = f"Pay {kind} bill"
    solution = (
        header("email", "todo")
        + f"""\
import re
bills = apis.email.search_emails(access_token=email_token, query="{kind} bill", sort_by="-sent_at", page_limit=1)
body = apis.email.show_email(access_token=email_token, email_id=bills[0]["email_id"])["body"]
amount = re.search(r"\\$([\\d,]+\\.\\d{{2}})", body).group(0)
lists = collect(apis.todo.show_lists, access_token=todo_token)
list_id = next(l["list_id"] for l in lists if l["name"] == "{list_name}")
apis.todo.create_task(access_token=todo_token, list_id=list_id, title="{title}", notes="Amount due: " + amount, due_date="{due}", priority="{priority}")
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        added = ctx.diff.added.get("todo_tasks", [])
        task = added[0] if len(added) == 1 else None
        list_id = ctx.after_one("SELECT id FROM todo_lists WHERE user_id = 1 AND name = ?", (list_name,))["id"]
        return [
            check("exactly one new task", len(added) == 1, f"{len(added)} new tasks"),
            check("the task has the title", task is not None and norm(task["title"]) == norm(title), f"expected {title!r}"),
            check(
                "the task is in the right list, due date and priority",
                task is not None and (task["list_id"], task["due_date"], task["priority"]) == (list_id, due, priority),
                f"expected {list_name!r}, {due}, {priority}",
            ),
            check(
                "the notes carry the amount due", task is not None and amount in task["notes"].replace(",", ""), f"expected the amount {amount} in the notes"
            ),
        ]

    instruction = view.phrase(
        [
            "Find my latest {kind} bill email and add a task '{title}' to my '{list}' to-do list, due {due}, with {priority} "
            "priority, and put the amount due (like $12.34) in the task's notes.",
            "Check my email for the most recent {kind} bill, then create a to-do '{title}' in my '{list}' list due on {due} "
            "({priority} priority) whose notes give the amount due, written like $12.34.",
            "I need a reminder for my newest {kind} bill: in the '{list}' to-do list add '{title}', due {due}, priority {priority}, "
            "with the amount from the bill email (as $12.34) in the notes.",
            "Add '{title}' to my '{list}' to-do list ({priority} priority, due {due}); look up the amount due in my latest "
            "{kind} bill email and write it in the task's notes like $12.34.",
        ],
        kind=kind,
        title=title,
        list=list_name,
        due=due,
        priority=priority,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"todo_tasks": inserts_by()},
    )


# ---- phone + todo ---------------------------------------------------------------------------------

_LEADS = {1: "the day before", 2: "two days before", 3: "three days before", 7: "a week before"}


@scenario("multi_birthday_gift_tasks", split="test_normal", apps=("phone", "todo"))
def multi_birthday_gift_tasks(view: BaseView) -> TaskSpec:
    """A gift task per contact with a birthday in month M, due some days before (date arithmetic across apps)."""
    contacts = view.all("SELECT first_name, last_name, birthday FROM phone_contacts WHERE user_id = ? AND birthday IS NOT NULL", (view.user_id,))
    year = view.now.year
    lead = view.rng.choice(list(_LEADS))
    list_name = view.rng.choice([r["name"] for r in view.all("SELECT name FROM todo_lists WHERE user_id = ? ORDER BY id", (view.user_id,))])

    def expected_tasks(month: int) -> list[tuple[str, str]]:
        return [
            (f"buy a gift for {c['first_name']} {c['last_name']}".casefold(), (date(year, month, int(c["birthday"][8:10])) - timedelta(days=lead)).isoformat())
            for c in contacts
            if c["birthday"][5:7] == f"{month:02d}"
        ]

    # Later months of this year with 2-4 birthdays, whose gift tasks (title, due date) are all different.
    months = [m for m in range(view.now.month + 1, 13) if 2 <= len(expected_tasks(m)) <= 4 and len(set(expected_tasks(m))) == len(expected_tasks(m))]
    month = view.rng.choice(months)
    expected = frozenset(expected_tasks(month))
    solution = (
        header("phone", "todo")
        + f"""\
from datetime import date, timedelta
lists = collect(apis.todo.show_lists, access_token=todo_token)
list_id = next(l["list_id"] for l in lists if l["name"] == "{list_name}")
for c in collect(apis.phone.show_contacts, access_token=phone_token):
    if c["birthday"] and int(c["birthday"][5:7]) == {month}:
        due = date({year}, {month}, int(c["birthday"][8:10])) - timedelta(days={lead})
        apis.todo.create_task(access_token=todo_token, list_id=list_id, title="Buy a gift for " + c["first_name"] + " " + c["last_name"], due_date=due.isoformat())
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        added = ctx.diff.added.get("todo_tasks", [])
        list_id = ctx.after_one("SELECT id FROM todo_lists WHERE user_id = 1 AND name = ?", (list_name,))["id"]
        got = {(norm(r["title"]), r["due_date"]) for r in added}
        return [
            check(
                "a gift task for every birthday in the month, on the due date asked",
                expected <= got,
                f"{len(expected - got)} of {len(expected)} missing or not due {_LEADS[lead]} the birthday",
            ),
            check("no other tasks were added", len(added) == len(expected), f"{len(added)} tasks added, {len(expected)} expected"),
            check("the tasks are in the list asked", bool(added) and all(r["list_id"] == list_id for r in added), f"a task is not in {list_name!r}"),
        ]

    instruction = view.phrase(
        [
            "For each of my phone contacts whose birthday is in {month}, add a task 'Buy a gift for <first name> <last name>' "
            "to my '{list}' to-do list, due {lead} their {year} birthday.",
            "Some of my contacts have birthdays in {month}. For every one of them, put 'Buy a gift for <first name> <last name>' "
            "in my '{list}' to-do list with a due date {lead} their birthday this year ({year}).",
            "Go through my phone contacts and, for each birthday falling in {month}, create the to-do 'Buy a gift for <first name> "
            "<last name>' in my '{list}' list, due {lead} the {year} birthday.",
            "I want gift reminders for the {month} birthdays among my contacts: one task 'Buy a gift for <first name> "
            "<last name>' per person in the '{list}' to-do list, each due {lead} their birthday in {year}.",
        ],
        month=date(year, month, 1).strftime("%B"),
        list=list_name,
        lead=_LEADS[lead],
        year=year,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=3,
        checks=checks,
        allowed_changes={"todo_tasks": inserts_by()},
    )


# ---- email + phone --------------------------------------------------------------------------------

_FORWARD_NOTES = [
    "Please send me your share by Friday.",
    "Our share is split evenly as usual.",
    "FYI, this one went up a bit.",
    "I already paid it, settle up with me when you can.",
    "Let's talk about lowering this at the house meeting.",
]


@scenario("multi_forward_bill_to_roommates", split="test_normal", apps=("email", "phone"))
def multi_forward_bill_to_roommates(view: BaseView) -> TaskSpec:
    """Forward a given month's bill to the contacts marked as roommates (optionally with a note)."""
    roommates = frozenset(r["email"] for r in view.all("SELECT email FROM phone_contacts WHERE user_id = ? AND relationship = 'roommate'", (view.user_id,)))
    bills = view.all(
        "SELECT id, thread_id, subject FROM email_messages WHERE user_id = ? AND subject LIKE '%bill for %' AND folder != 'trash' ORDER BY id",
        (view.user_id,),
    )
    original = view.rng.choice(bills)
    kind = "electricity" if "electricity" in original["subject"].lower() else "water"
    month = original["subject"].rsplit(" ", 1)[1]
    note = view.rng.choice([None] + _FORWARD_NOTES)
    body_arg = f", body={note!r}" if note else ""
    solution = (
        header("email", "phone")
        + f"""\
roommates = [c["email"] for c in collect(apis.phone.show_contacts, access_token=phone_token, relationship="roommate")]
found = collect(apis.email.search_emails, access_token=email_token, query="{kind} bill for {month}")
bill = next(e for e in found if e["folder"] != "sent")
apis.email.forward_email(access_token=email_token, email_id=bill["email_id"], to_emails=roommates{body_arg})
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        sent = _sent_by_user(ctx)
        fwd = sent[0] if len(sent) == 1 else None
        out = [
            check("exactly one email was sent", len(sent) == 1, f"{len(sent)} emails sent"),
            check(
                "it forwards the right bill",
                fwd is not None and fwd["thread_id"] == original["thread_id"] and original["subject"].lower() in fwd["subject"].lower(),
                f"expected a forward of {original['subject']!r}",
            ),
            check(
                "it goes to exactly my roommates",
                fwd is not None and set(filter(None, (fwd["to_emails"] + "," + fwd["cc_emails"]).split(","))) == roommates,
                f"expected {sorted(roommates)}",
            ),
        ]
        if note:
            out.append(check("it carries my note", fwd is not None and norm(note) in norm(fwd["body"]), f"expected the note {note!r}"))
        return out

    if note:
        templates = [
            'Forward the {month} {kind} bill email to my roommates with the note "{note}"',
            'Send my roommates the {kind} bill for {month} (forward the email) and add the message "{note}"',
            'Forward my {kind} bill email for {month} to everyone marked as a roommate in my contacts, writing "{note}" above it.',
            'My roommates need the {month} {kind} bill: forward them that email with this note: "{note}"',
        ]
    else:
        templates = [
            "Forward the {month} {kind} bill email to my roommates.",
            "Send my roommates the {kind} bill for {month} by forwarding the email.",
            "Forward my {kind} bill email for {month} to everyone marked as a roommate in my contacts.",
            "My roommates need the {month} {kind} bill: forward them that email.",
        ]
    return TaskSpec(
        instruction=view.phrase(templates, month=month, kind=kind, note=note),
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"email_messages": _ANY_INSERT, "email_attachments": _ANY_INSERT},
    )


# ---- music + phone + email ------------------------------------------------------------------------

_SUBJECTS = ["{playlist} songs", "Songs from {playlist}", "My {playlist} playlist", "{playlist} tracklist"]


@scenario("multi_email_playlist_to_contact", split="test_normal", apps=("music", "email", "phone"))
def multi_email_playlist_to_contact(view: BaseView) -> TaskSpec:
    """Email a contact the song titles of a playlist (every page of the playlist, an address from contacts)."""
    playlists = view.all(
        "SELECT id, title FROM music_playlists p WHERE user_id = ? AND EXISTS (SELECT 1 FROM music_playlist_songs s WHERE s.playlist_id = p.id) "
        "AND (SELECT COUNT(*) FROM music_playlists o WHERE o.user_id = p.user_id AND o.title = p.title) = 1 ORDER BY id",
        (view.user_id,),
    )
    pl = view.rng.choice(playlists)
    c = view.rng.choice([c for c in _texted_contacts(view) if c["email"]])
    name = f"{c['first_name']} {c['last_name']}"
    titles = frozenset(
        r["title"]
        for r in view.all("SELECT s.title FROM music_playlist_songs ps JOIN music_songs s ON s.id = ps.song_id WHERE ps.playlist_id = ?", (pl["id"],))
    )
    subject = view.rng.choice(_SUBJECTS).format(playlist=pl["title"])
    solution = (
        header("music", "email", "phone")
        + f"""\
playlists = collect(apis.music.show_playlists, access_token=music_token)
playlist_id = next(p["playlist_id"] for p in playlists if p["title"] == "{pl["title"]}")
songs = collect(apis.music.show_playlist_songs, access_token=music_token, playlist_id=playlist_id)
matches = apis.phone.search_contacts(access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
body = "\\n".join(s["title"] for s in songs)
apis.email.send_email(access_token=email_token, to_emails=[contact["email"]], subject="{subject}", body=body)
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        sent = _sent_by_user(ctx)
        mail = sent[0] if len(sent) == 1 else None
        lines = {norm(line) for line in mail["body"].splitlines()} if mail else set()
        missing = [t for t in titles if norm(t) not in lines]
        return [
            check("exactly one email was sent", len(sent) == 1, f"{len(sent)} emails sent"),
            check("it goes to the contact", mail is not None and mail["to_emails"].split(",") == [c["email"]], f"expected to {c['email']}"),
            check("it has the subject", mail is not None and norm(mail["subject"]) == norm(subject), f"expected subject {subject!r}"),
            check("it lists every song title on its own line", mail is not None and not missing, f"{len(missing)} title(s) missing"),
        ]

    instruction = view.phrase(
        [
            "Email {name} the titles of all the songs in my '{playlist}' playlist, one title per line, with the subject '{subject}'.",
            "Send {name} an email with the subject '{subject}' listing every song title in my '{playlist}' playlist, one per line.",
            "{name} asked what's on my '{playlist}' playlist: email them all its song titles, each on its own line, subject '{subject}'.",
            "Write an email to {name} (subject: '{subject}') whose body lists the title of every song in my '{playlist}' playlist, one per line.",
        ],
        name=name,
        playlist=pl["title"],
        subject=subject,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"email_messages": _ANY_INSERT},
    )
