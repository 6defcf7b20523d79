"""Scenarios over the notes app (the pattern for every scenario module: read the instance's base
world through `BaseView` to choose parameters with ``view.rng`` and compute answers, word the
instruction through ``view.phrase`` (>= 3 phrasings), write the ground truth against `apis` only,
declare the checks and the changes the task allows; one `TaskSpec` per call)."""

from __future__ import annotations

from looprl.world.tasks import BaseView, TaskSpec, check, only_inserts, scenario

_LOGIN = """\
passwords = {a["account_name"]: a["password"] for a in apis.supervisor.show_account_passwords()}
email = apis.supervisor.show_profile()["email"]
token = apis.notes.login(username=email, password=passwords["notes"])["access_token"]
"""

_TAGS = ["travel", "recipe", "work", "family", "health", "money", "books", "todo", "ideas", "home"]


_FIND_NOTEBOOK = """\
notebooks = []
page_index = 0
while True:
    page = apis.notes.show_notebooks(access_token=token, page_index=page_index, page_limit=20)
    if not page:
        break
    notebooks += page
    page_index += 1
notebook_id = next(n["notebook_id"] for n in notebooks if n["name"] == "{book}")
"""


@scenario("notes_count_tag", split="train", apps=("notes",))
def notes_count_tag(view: BaseView) -> TaskSpec:
    """How many of my notes (in notebook B, or in all) carry tag X? (pagination over a tag filter)"""
    tag = view.rng.choice(_TAGS)
    books = [r["name"] for r in view.all("SELECT name FROM notes_notebooks WHERE user_id = ? ORDER BY id", (view.user_id,))]
    book = view.rng.choice(books) if view.rng.random() < 0.6 else None
    sql = "SELECT COUNT(*) FROM notes_notes WHERE user_id = ? AND (',' || tags || ',') LIKE ?"
    params: tuple = (view.user_id, f"%,{tag},%")
    if book is not None:
        sql += " AND notebook_id = (SELECT id FROM notes_notebooks WHERE user_id = ? AND name = ?)"
        params += (view.user_id, book)
    count = view.scalar(sql, params)
    find = _FIND_NOTEBOOK.format(book=book) if book else ""
    book_arg = "notebook_id=notebook_id, " if book else ""
    solution = (
        _LOGIN
        + find
        + f"""\
count = 0
page_index = 0
while True:
    page = apis.notes.show_notes(access_token=token, {book_arg}tag="{tag}", page_index=page_index, page_limit=20)
    if not page:
        break
    count += len(page)
    page_index += 1
apis.supervisor.complete_task(answer=count)
"""
    )
    if book is None:
        templates = [
            "How many of my notes are tagged '{tag}'?",
            "Count the notes I have with the tag '{tag}'.",
            "What is the number of notes in my notes app tagged '{tag}'?",
            "Tell me how many '{tag}' notes I have.",
        ]
    else:
        templates = [
            "How many notes in my '{book}' notebook are tagged '{tag}'?",
            "Count the notes tagged '{tag}' in my '{book}' notebook.",
            "In my '{book}' notebook, how many notes carry the tag '{tag}'?",
            "Tell me the number of '{tag}' notes in the '{book}' notebook.",
        ]
    instruction = view.phrase(templates, tag=tag, book=book)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1 if book is None else 2, answer=count)


_ASKS = [
    ("Groceries", "milk, eggs, spinach, rice", "home"),
    ("Flight to Lisbon", "Depart June 12, seat 14C, confirmation QX7P2", "travel"),
    ("Quarterly goals", "Ship the onboarding revamp; hire two engineers", "work"),
    ("Book club picks", "The Overstory; Piranesi; Klara and the Sun", "books"),
    ("Dentist", "Checkup on the 3rd, bring the insurance card", "health"),
    ("Pancake recipe", "2 cups flour, 2 eggs, 1.5 cups milk, pinch of salt", "recipe"),
    ("Budget June", "rent 1450, food 400, savings 600", "money"),
    ("Gift ideas", "mom: scarf; dad: chess set; Ana: headphones", "family"),
    ("Side project", "sketch the landing page and pick a name", "ideas"),
    ("Weekend chores", "fix the tap, mow the lawn, recycle bottles", "todo"),
]


@scenario("notes_create_in_notebook", split="train", apps=("notes",))
def notes_create_in_notebook(view: BaseView) -> TaskSpec:
    """Create a note with a title, content and tag in a named notebook."""
    books = [r["name"] for r in view.all("SELECT name FROM notes_notebooks WHERE user_id = ? ORDER BY id", (view.user_id,))]
    title, content, tag = view.rng.choice(_ASKS)
    book = view.rng.choice(books)
    solution = (
        _LOGIN
        + _FIND_NOTEBOOK.format(book=book)
        + f"""\
apis.notes.create_note(access_token=token, notebook_id=notebook_id, title="{title}", content="{content}", tags=["{tag}"])
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
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

    instruction = view.phrase(
        [
            "Create a note titled '{title}' in my '{book}' notebook with the text \"{content}\" and tag it '{tag}'.",
            "In my '{book}' notebook, add a note called '{title}' that says \"{content}\", with the tag '{tag}'.",
            "Please write a new note '{title}' (text: \"{content}\") in the '{book}' notebook and give it the tag '{tag}'.",
            "Add a '{tag}'-tagged note named '{title}' to my '{book}' notebook; its text is \"{content}\".",
        ],
        title=title,
        book=book,
        content=content,
        tag=tag,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, checks=checks, allowed_changes={"notes_notes": only_inserts})
