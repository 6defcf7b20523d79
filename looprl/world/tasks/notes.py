"""Scenarios over the notes app (the pattern for every scenario module: read the base world through
`BaseView` to choose parameters and compute answers, write the ground truth against `apis` only,
declare the checks and the changes the task allows)."""

from __future__ import annotations

from looprl.world.tasks import BaseView, TaskSpec, check, only_inserts, scenario

_LOGIN = """\
passwords = {a["account_name"]: a["password"] for a in apis.supervisor.show_account_passwords()}
email = apis.supervisor.show_profile()["email"]
token = apis.notes.login(username=email, password=passwords["notes"])["access_token"]
"""


@scenario("notes_count_tag", split="train", apps=("notes",))
def notes_count_tag(view: BaseView) -> list[TaskSpec]:
    """How many of my notes carry tag X? (pagination over a tag filter)"""
    uid = view.user_id
    tags = ["travel", "recipe", "work", "family", "health", "money", "books"]
    picked = view.rng.sample(tags, 3)
    specs = []
    for tag in picked:
        count = view.scalar("SELECT COUNT(*) FROM notes_notes WHERE user_id = ? AND (',' || tags || ',') LIKE ?", (uid, f"%,{tag},%"))
        solution = _LOGIN + f"""\
count = 0
page_index = 0
while True:
    page = apis.notes.show_notes(access_token=token, tag="{tag}", page_index=page_index, page_limit=20)
    if not page:
        break
    count += len(page)
    page_index += 1
apis.supervisor.complete_task(answer=count)
"""
        specs.append(TaskSpec(instruction=f"How many of my notes are tagged '{tag}'?", solution=solution, difficulty=1, answer=count))
    return specs


@scenario("notes_create_in_notebook", split="train", apps=("notes",))
def notes_create_in_notebook(view: BaseView) -> list[TaskSpec]:
    """Create a note with a title, content and tag in a named notebook."""
    uid = view.user_id
    books = [r["name"] for r in view.all("SELECT name FROM notes_notebooks WHERE user_id = ? ORDER BY id", (uid,))]
    asks = [
        ("Groceries", "milk, eggs, spinach, rice", "home"),
        ("Flight to Lisbon", "Depart June 12, seat 14C, confirmation QX7P2", "travel"),
        ("Quarterly goals", "Ship the onboarding revamp; hire two engineers", "work"),
    ]
    specs = []
    for (title, content, tag), book in zip(asks, view.rng.sample(books, 3)):
        solution = _LOGIN + f"""\
notebooks = []
page_index = 0
while True:
    page = apis.notes.show_notebooks(access_token=token, page_index=page_index, page_limit=20)
    if not page:
        break
    notebooks += page
    page_index += 1
notebook_id = next(n["notebook_id"] for n in notebooks if n["name"] == "{book}")
apis.notes.create_note(access_token=token, notebook_id=notebook_id, title="{title}", content="{content}", tags=["{tag}"])
apis.supervisor.complete_task()
"""

        def checks(ctx, title=title, content=content, tag=tag, book=book):
            added = ctx.diff.added.get("notes_notes", [])
            book_id = ctx.after_one("SELECT id FROM notes_notebooks WHERE user_id = 1 AND name = ?", (book,))["id"]
            match = [r for r in added if r["title"].strip().lower() == title.lower()]
            note = match[0] if match else None
            return [
                check("exactly one new note with the title", len(match) == 1 and len(added) == 1, f"new notes: {[r['title'] for r in added]}"),
                check("note is in the right notebook", note is not None and note["notebook_id"] == book_id, f"expected notebook {book!r}"),
                check("note has the content", note is not None and note["content"].strip() == content, "content differs"),
                check("note has the tag", note is not None and tag in note["tags"].split(","), f"expected tag {tag!r}"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Create a note titled '{title}' in my '{book}' notebook with the text \"{content}\" and tag it '{tag}'.",
                solution=solution,
                difficulty=1,
                checks=checks,
                allowed_changes={"notes_notes": only_inserts},
            )
        )
    return specs
