"""The notes app: notebooks of notes with tags and pins.

This module is also the pattern every app follows: a schema, one typed function per API whose
docstring is its documentation, errors as ApiError (404 missing, 403 not yours, 409 conflict,
422 bad value), paginated list APIs, and a deterministic ``seed(gen)``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "notes",
    "A note-taking app: notebooks, notes with tags, pinned notes, and search.",
    schema="""
CREATE TABLE notes_notebooks (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE(user_id, name)
);
CREATE TABLE notes_notes (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, notebook_id INTEGER NOT NULL, title TEXT NOT NULL,
    content TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '', pinned INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
""",
)
APP.add_login()

Title = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")]


def _note(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "note_id": row["id"],
        "notebook_id": row["notebook_id"],
        "title": row["title"],
        "content": row["content"],
        "tags": [t for t in row["tags"].split(",") if t],
        "pinned": bool(row["pinned"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _note_brief(row: dict[str, Any]) -> dict[str, Any]:
    note = _note(row)
    note.pop("content")
    return note


def _notebook(ctx: Ctx, notebook_id: int) -> dict[str, Any]:
    return ctx.require("notes_notebooks", notebook_id, "notebook")


@APP.api
def show_notebooks(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your notebooks, oldest first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of notebooks per page (at most 20).

    Returns:
        [{"notebook_id": integer, "name": string, "created_at": string}]
    """
    rows = paginate(ctx, "SELECT * FROM notes_notebooks WHERE user_id = ? ORDER BY id", (ctx.user_id,), page_index, page_limit)
    return [{"notebook_id": r["id"], "name": r["name"], "created_at": r["created_at"]} for r in rows]


@APP.api
def create_notebook(ctx: Ctx, access_token: str, name: Title) -> dict[str, Any]:
    """Create a notebook.

    Args:
        access_token: your access token from login.
        name: the notebook's name; must be unique among your notebooks.

    Returns:
        {"notebook_id": integer, "message": string}
    """
    if ctx.one("SELECT id FROM notes_notebooks WHERE user_id = ? AND name = ?", (ctx.user_id, name)):
        raise ApiError(409, f"You already have a notebook named {name!r}.")
    nid = ctx.insert("notes_notebooks", user_id=ctx.user_id, name=name, created_at=ctx.clock.timestamp())
    return {"notebook_id": nid, "message": "Notebook created."}


@APP.api
def rename_notebook(ctx: Ctx, access_token: str, notebook_id: int, name: Title) -> dict[str, Any]:
    """Rename a notebook.

    Args:
        access_token: your access token from login.
        notebook_id: the notebook to rename.
        name: the new name; must be unique among your notebooks.

    Returns:
        {"message": string}
    """
    _notebook(ctx, notebook_id)
    clash = ctx.one("SELECT id FROM notes_notebooks WHERE user_id = ? AND name = ? AND id != ?", (ctx.user_id, name, notebook_id))
    if clash:
        raise ApiError(409, f"You already have a notebook named {name!r}.")
    ctx.update("notes_notebooks", notebook_id, name=name)
    return {"message": "Notebook renamed."}


@APP.api
def delete_notebook(ctx: Ctx, access_token: str, notebook_id: int) -> dict[str, Any]:
    """Delete an empty notebook.

    Args:
        access_token: your access token from login.
        notebook_id: the notebook to delete; it must hold no notes.

    Returns:
        {"message": string}
    """
    _notebook(ctx, notebook_id)
    if ctx.one("SELECT id FROM notes_notes WHERE notebook_id = ? LIMIT 1", (notebook_id,)):
        raise ApiError(409, "The notebook is not empty; move or delete its notes first.")
    ctx.delete("notes_notebooks", notebook_id)
    return {"message": "Notebook deleted."}


@APP.api
def show_notes(
    ctx: Ctx,
    access_token: str,
    notebook_id: int | None = None,
    tag: str | None = None,
    pinned: bool | None = None,
    sort_by: Literal["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List your notes (without their content), optionally only one notebook's, one tag's, or pinned ones.

    Args:
        access_token: your access token from login.
        notebook_id: only notes in this notebook.
        tag: only notes with this tag.
        pinned: only pinned (true) or unpinned (false) notes.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of notes per page (at most 20).

    Returns:
        [{"note_id": integer, "notebook_id": integer, "title": string, "tags": [string], "pinned": boolean, "created_at": string, "updated_at": string}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if notebook_id is not None:
        _notebook(ctx, notebook_id)
        where.append("notebook_id = ?")
        params.append(notebook_id)
    if tag is not None:
        where.append("(',' || tags || ',') LIKE ?")
        params.append(f"%,{tag},%")
    if pinned is not None:
        where.append("pinned = ?")
        params.append(int(pinned))
    order = f"{sort_by.lstrip('-')} {'DESC' if sort_by.startswith('-') else 'ASC'}, id"
    rows = paginate(ctx, f"SELECT * FROM notes_notes WHERE {' AND '.join(where)} ORDER BY {order}", params, page_index, page_limit)
    return [_note_brief(r) for r in rows]


@APP.api
def search_notes(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    sort_by: Literal["created_at", "-created_at", "title", "-title"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search your notes whose title or content contains the query (case-insensitive).

    Args:
        access_token: your access token from login.
        query: the text to look for.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of notes per page (at most 20).

    Returns:
        [{"note_id": integer, "notebook_id": integer, "title": string, "tags": [string], "pinned": boolean, "created_at": string, "updated_at": string}]
    """
    order = f"{sort_by.lstrip('-')} {'DESC' if sort_by.startswith('-') else 'ASC'}, id"
    like = f"%{query.lower()}%"
    rows = paginate(
        ctx,
        f"SELECT * FROM notes_notes WHERE user_id = ? AND (lower(title) LIKE ? OR lower(content) LIKE ?) ORDER BY {order}",
        (ctx.user_id, like, like),
        page_index,
        page_limit,
    )
    return [_note_brief(r) for r in rows]


@APP.api
def show_note(ctx: Ctx, access_token: str, note_id: int) -> dict[str, Any]:
    """Show one note with its content.

    Args:
        access_token: your access token from login.
        note_id: the note to show.

    Returns:
        {"note_id": integer, "notebook_id": integer, "title": string, "content": string, "tags": [string], "pinned": boolean, "created_at": string, "updated_at": string}
    """
    return _note(ctx.require("notes_notes", note_id, "note"))


@APP.api
def create_note(ctx: Ctx, access_token: str, notebook_id: int, title: Title, content: str = "", tags: list[Tag] = [], pinned: bool = False) -> dict[str, Any]:
    """Create a note in a notebook.

    Args:
        access_token: your access token from login.
        notebook_id: the notebook to put the note in.
        title: the note's title.
        content: the note's text.
        tags: tags for the note (lowercase letters, digits, '-' and '_').
        pinned: whether to pin the note.

    Returns:
        {"note_id": integer, "message": string}
    """
    _notebook(ctx, notebook_id)
    ts = ctx.clock.timestamp()
    nid = ctx.insert(
        "notes_notes",
        user_id=ctx.user_id,
        notebook_id=notebook_id,
        title=title,
        content=content,
        tags=",".join(dict.fromkeys(tags)),
        pinned=int(pinned),
        created_at=ts,
        updated_at=ts,
    )
    return {"note_id": nid, "message": "Note created."}


@APP.api
def update_note(ctx: Ctx, access_token: str, note_id: int, title: Title | None = None, content: str | None = None, append: bool = False) -> dict[str, Any]:
    """Change a note's title and/or content.

    Args:
        access_token: your access token from login.
        note_id: the note to change.
        title: the new title (unchanged when null).
        content: the new content (unchanged when null).
        append: add the content at the end of the existing content (on a new line) instead of replacing it.

    Returns:
        {"message": string}
    """
    row = ctx.require("notes_notes", note_id, "note")
    if title is None and content is None:
        raise ApiError(422, "Invalid value for parameter(s): title, content.", errors=[{"parameter": "title", "error": "give a title or a content to change"}])
    values: dict[str, Any] = {"updated_at": ctx.clock.timestamp()}
    if title is not None:
        values["title"] = title
    if content is not None:
        values["content"] = (row["content"] + "\n" + content) if append and row["content"] else content
    ctx.update("notes_notes", note_id, **values)
    return {"message": "Note updated."}


@APP.api
def move_note(ctx: Ctx, access_token: str, note_id: int, notebook_id: int) -> dict[str, Any]:
    """Move a note to another notebook.

    Args:
        access_token: your access token from login.
        note_id: the note to move.
        notebook_id: the destination notebook.

    Returns:
        {"message": string}
    """
    ctx.require("notes_notes", note_id, "note")
    _notebook(ctx, notebook_id)
    ctx.update("notes_notes", note_id, notebook_id=notebook_id, updated_at=ctx.clock.timestamp())
    return {"message": "Note moved."}


@APP.api
def delete_note(ctx: Ctx, access_token: str, note_id: int) -> dict[str, Any]:
    """Delete a note.

    Args:
        access_token: your access token from login.
        note_id: the note to delete.

    Returns:
        {"message": string}
    """
    ctx.require("notes_notes", note_id, "note")
    ctx.delete("notes_notes", note_id)
    return {"message": "Note deleted."}


@APP.api
def add_note_tag(ctx: Ctx, access_token: str, note_id: int, tag: Tag) -> dict[str, Any]:
    """Add a tag to a note.

    Args:
        access_token: your access token from login.
        note_id: the note to tag.
        tag: the tag to add (lowercase letters, digits, '-' and '_').

    Returns:
        {"message": string}
    """
    row = ctx.require("notes_notes", note_id, "note")
    tags = [t for t in row["tags"].split(",") if t]
    if tag in tags:
        raise ApiError(409, f"The note already has the tag {tag!r}.")
    ctx.update("notes_notes", note_id, tags=",".join(tags + [tag]), updated_at=ctx.clock.timestamp())
    return {"message": "Tag added."}


@APP.api
def remove_note_tag(ctx: Ctx, access_token: str, note_id: int, tag: str) -> dict[str, Any]:
    """Remove a tag from a note.

    Args:
        access_token: your access token from login.
        note_id: the note.
        tag: the tag to remove.

    Returns:
        {"message": string}
    """
    row = ctx.require("notes_notes", note_id, "note")
    tags = [t for t in row["tags"].split(",") if t]
    if tag not in tags:
        raise ApiError(404, f"The note has no tag {tag!r}.")
    ctx.update("notes_notes", note_id, tags=",".join(t for t in tags if t != tag), updated_at=ctx.clock.timestamp())
    return {"message": "Tag removed."}


@APP.api
def show_tags(ctx: Ctx, access_token: str) -> list[dict[str, Any]]:
    """List every tag you use, with how many notes carry it.

    Args:
        access_token: your access token from login.

    Returns:
        [{"tag": string, "note_count": integer}]
    """
    counts: dict[str, int] = {}
    for r in ctx.all("SELECT tags FROM notes_notes WHERE user_id = ?", (ctx.user_id,)):
        for t in filter(None, r["tags"].split(",")):
            counts[t] = counts.get(t, 0) + 1
    return [{"tag": t, "note_count": n} for t, n in sorted(counts.items())]


@APP.api
def pin_note(ctx: Ctx, access_token: str, note_id: int, pinned: bool = True) -> dict[str, Any]:
    """Pin or unpin a note.

    Args:
        access_token: your access token from login.
        note_id: the note.
        pinned: true to pin, false to unpin.

    Returns:
        {"message": string}
    """
    ctx.require("notes_notes", note_id, "note")
    ctx.update("notes_notes", note_id, pinned=int(pinned))
    return {"message": "Note pinned." if pinned else "Note unpinned."}


# -------------------------------------------------------------------------------------------------
# Seed data

_NOTEBOOKS = ["Personal", "Work", "Recipes", "Travel", "Finance", "Ideas"]
_TAGS = ["travel", "recipe", "work", "family", "health", "money", "books", "todo", "ideas", "home"]


def seed(gen: Gen) -> None:
    fake, rng = gen.fake, gen.rng
    for person in gen.people:
        own = _NOTEBOOKS if person["id"] == gen.user["id"] else rng.sample(_NOTEBOOKS, 2)
        book_ids = [
            gen.insert("notes_notebooks", user_id=person["id"], name=name, created_at=f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T09:00:00")
            for name in own
        ]
        n_notes = 60 if person["id"] == gen.user["id"] else rng.randint(2, 6)
        for _ in range(n_notes):
            created = fake.date_time_between(start_date=gen.now.replace(year=gen.now.year - 1), end_date=gen.now.replace(day=1))
            gen.insert(
                "notes_notes",
                user_id=person["id"],
                notebook_id=rng.choice(book_ids),
                title=fake.sentence(nb_words=rng.randint(2, 5)).rstrip("."),
                content=fake.paragraph(nb_sentences=rng.randint(1, 4)),
                tags=",".join(rng.sample(_TAGS, rng.randint(0, 3))),
                pinned=int(rng.random() < 0.1),
                created_at=created.isoformat(timespec="seconds"),
                updated_at=created.isoformat(timespec="seconds"),
            )
