"""The todo app: to-do lists of tasks with due dates, priorities and completion.

Follows the notes pattern: one typed function per API (its docstring is its documentation),
ApiError for failures (404 missing, 403 not yours, 409 conflict, 422 bad value), paginated list
APIs with explicit sort keys, and a deterministic ``seed(gen)``. Dates are ISO strings
(YYYY-MM-DD); "today" and "overdue" use the task's frozen clock, never the process clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "todo",
    "A to-do app: lists of tasks, each with a due date, a priority (low, medium, high), notes, and a done mark.",
    schema="""
CREATE TABLE todo_lists (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE(user_id, name)
);
CREATE TABLE todo_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, list_id INTEGER NOT NULL, title TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '', due_date TEXT, priority TEXT NOT NULL DEFAULT 'medium',
    completed INTEGER NOT NULL DEFAULT 0, completed_at TEXT, created_at TEXT NOT NULL
);
""",
)
APP.add_login()

Name = Annotated[str, Field(min_length=1, max_length=100)]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Date = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="a date as YYYY-MM-DD")]
Priority = Literal["low", "medium", "high"]
_PRIORITY_RANK = "CASE priority WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"
TaskSort = Literal["due_date", "-due_date", "created_at", "-created_at", "priority", "-priority", "title", "-title"]


def _order(sort_by: str) -> str:
    key = sort_by.lstrip("-")
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    expr = _PRIORITY_RANK if key == "priority" else key
    # Tasks without a due date sort after dated ones in both directions.
    nulls = "due_date IS NULL, " if key == "due_date" else ""
    return f"{nulls}{expr} {direction}, id"


def _task(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": row["id"],
        "list_id": row["list_id"],
        "title": row["title"],
        "notes": row["notes"],
        "due_date": row["due_date"],
        "priority": row["priority"],
        "completed": bool(row["completed"]),
        "completed_at": row["completed_at"],
        "created_at": row["created_at"],
    }


def _list(row: dict[str, Any]) -> dict[str, Any]:
    return {"list_id": row["id"], "name": row["name"], "created_at": row["created_at"]}


@APP.api
def show_lists(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your to-do lists, oldest first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of lists per page (at most 20).

    Returns:
        [{"list_id": integer, "name": string, "created_at": string}]
    """
    rows = paginate(ctx, "SELECT * FROM todo_lists WHERE user_id = ? ORDER BY id", (ctx.user_id,), page_index, page_limit)
    return [_list(r) for r in rows]


@APP.api
def create_list(ctx: Ctx, access_token: str, name: Name) -> dict[str, Any]:
    """Create a to-do list.

    Args:
        access_token: your access token from login.
        name: the list's name; must be unique among your lists.

    Returns:
        {"list_id": integer, "message": string}
    """
    if ctx.one("SELECT id FROM todo_lists WHERE user_id = ? AND name = ?", (ctx.user_id, name)):
        raise ApiError(409, f"You already have a list named {name!r}.")
    lid = ctx.insert("todo_lists", user_id=ctx.user_id, name=name, created_at=ctx.clock.timestamp())
    return {"list_id": lid, "message": "List created."}


@APP.api
def rename_list(ctx: Ctx, access_token: str, list_id: int, name: Name) -> dict[str, Any]:
    """Rename a to-do list.

    Args:
        access_token: your access token from login.
        list_id: the list to rename.
        name: the new name; must be unique among your lists.

    Returns:
        {"message": string}
    """
    ctx.require("todo_lists", list_id, "list")
    if ctx.one("SELECT id FROM todo_lists WHERE user_id = ? AND name = ? AND id != ?", (ctx.user_id, name, list_id)):
        raise ApiError(409, f"You already have a list named {name!r}.")
    ctx.update("todo_lists", list_id, name=name)
    return {"message": "List renamed."}


@APP.api
def delete_list(ctx: Ctx, access_token: str, list_id: int, delete_tasks: bool = False) -> dict[str, Any]:
    """Delete a to-do list. A list that still has tasks is only deleted with delete_tasks=true.

    Args:
        access_token: your access token from login.
        list_id: the list to delete.
        delete_tasks: also delete the list's tasks; without it, deleting a non-empty list is a 409.

    Returns:
        {"message": string, "deleted_tasks": integer}
    """
    ctx.require("todo_lists", list_id, "list")
    n = ctx.one("SELECT COUNT(*) AS n FROM todo_tasks WHERE list_id = ?", (list_id,))["n"]
    if n and not delete_tasks:
        raise ApiError(409, f"The list has {n} task(s); pass delete_tasks=true or move them first.")
    ctx.db.execute("DELETE FROM todo_tasks WHERE list_id = ?", (list_id,))
    ctx.delete("todo_lists", list_id)
    return {"message": "List deleted.", "deleted_tasks": n}


@APP.api
def show_tasks(
    ctx: Ctx,
    access_token: str,
    list_id: int | None = None,
    completed: bool | None = None,
    priority: Priority | None = None,
    due_after: Date | None = None,
    due_before: Date | None = None,
    sort_by: TaskSort = "due_date",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List your tasks, optionally filtered by list, done state, priority and due date range.

    Args:
        access_token: your access token from login.
        list_id: only tasks in this list.
        completed: only done (true) or not-done (false) tasks.
        priority: only tasks with this priority.
        due_after: only tasks due on or after this date (YYYY-MM-DD); tasks without a due date are excluded.
        due_before: only tasks due on or before this date (YYYY-MM-DD); tasks without a due date are excluded.
        sort_by: the sort key; a leading "-" sorts descending ("priority" ranks low < medium < high). Tasks without a due date come last when sorting by due_date.
        page_index: the page to return, starting at 0.
        page_limit: the number of tasks per page (at most 20).

    Returns:
        [{"task_id": integer, "list_id": integer, "title": string, "notes": string, "due_date": string | null, "priority": string, "completed": boolean, "completed_at": string | null, "created_at": string}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if list_id is not None:
        ctx.require("todo_lists", list_id, "list")
        where.append("list_id = ?")
        params.append(list_id)
    if completed is not None:
        where.append("completed = ?")
        params.append(int(completed))
    if priority is not None:
        where.append("priority = ?")
        params.append(priority)
    if due_after is not None:
        where.append("due_date >= ?")
        params.append(due_after)
    if due_before is not None:
        where.append("due_date <= ?")
        params.append(due_before)
    sql = f"SELECT * FROM todo_tasks WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    return [_task(r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_overdue_tasks(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your tasks that are not done and whose due date is before today, most overdue first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of tasks per page (at most 20).

    Returns:
        [{"task_id": integer, "list_id": integer, "title": string, "notes": string, "due_date": string, "priority": string, "completed": boolean, "completed_at": null, "created_at": string}]
    """
    sql = "SELECT * FROM todo_tasks WHERE user_id = ? AND completed = 0 AND due_date < ? ORDER BY due_date, id"
    return [_task(r) for r in paginate(ctx, sql, (ctx.user_id, ctx.clock.today()), page_index, page_limit)]


@APP.api
def search_tasks(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    sort_by: TaskSort = "due_date",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search your tasks whose title or notes contain the query (case-insensitive).

    Args:
        access_token: your access token from login.
        query: the text to look for.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of tasks per page (at most 20).

    Returns:
        [{"task_id": integer, "list_id": integer, "title": string, "notes": string, "due_date": string | null, "priority": string, "completed": boolean, "completed_at": string | null, "created_at": string}]
    """
    like = f"%{query.lower()}%"
    sql = f"SELECT * FROM todo_tasks WHERE user_id = ? AND (lower(title) LIKE ? OR lower(notes) LIKE ?) ORDER BY {_order(sort_by)}"
    return [_task(r) for r in paginate(ctx, sql, (ctx.user_id, like, like), page_index, page_limit)]


@APP.api
def show_task(ctx: Ctx, access_token: str, task_id: int) -> dict[str, Any]:
    """Show one task.

    Args:
        access_token: your access token from login.
        task_id: the task to show.

    Returns:
        {"task_id": integer, "list_id": integer, "title": string, "notes": string, "due_date": string | null, "priority": string, "completed": boolean, "completed_at": string | null, "created_at": string}
    """
    return _task(ctx.require("todo_tasks", task_id, "task"))


@APP.api
def create_task(
    ctx: Ctx,
    access_token: str,
    list_id: int,
    title: Title,
    notes: str = "",
    due_date: Date | None = None,
    priority: Priority = "medium",
) -> dict[str, Any]:
    """Add a task to a to-do list.

    Args:
        access_token: your access token from login.
        list_id: the list to add the task to.
        title: what is to be done.
        notes: extra details.
        due_date: when it is due (YYYY-MM-DD), or null for no due date.
        priority: low, medium or high.

    Returns:
        {"task_id": integer, "message": string}
    """
    ctx.require("todo_lists", list_id, "list")
    tid = ctx.insert(
        "todo_tasks",
        user_id=ctx.user_id,
        list_id=list_id,
        title=title,
        notes=notes,
        due_date=due_date,
        priority=priority,
        completed=0,
        completed_at=None,
        created_at=ctx.clock.timestamp(),
    )
    return {"task_id": tid, "message": "Task created."}


@APP.api
def update_task(
    ctx: Ctx,
    access_token: str,
    task_id: int,
    title: Title | None = None,
    notes: str | None = None,
    due_date: Date | None = None,
    priority: Priority | None = None,
    clear_due_date: bool = False,
) -> dict[str, Any]:
    """Change a task's title, notes, due date or priority; parameters left null are unchanged.

    Args:
        access_token: your access token from login.
        task_id: the task to change.
        title: the new title.
        notes: the new notes (replacing the old ones).
        due_date: the new due date (YYYY-MM-DD).
        priority: the new priority: low, medium or high.
        clear_due_date: remove the due date (cannot be combined with due_date).

    Returns:
        {"message": string}
    """
    ctx.require("todo_tasks", task_id, "task")
    values: dict[str, Any] = {k: v for k, v in (("title", title), ("notes", notes), ("due_date", due_date), ("priority", priority)) if v is not None}
    if clear_due_date:
        if due_date is not None:
            raise ApiError(
                422,
                "Invalid value for parameter(s): clear_due_date.",
                errors=[{"parameter": "clear_due_date", "error": "cannot be true when due_date is given"}],
            )
        values["due_date"] = None
    if not values:
        raise ApiError(
            422,
            "Invalid value for parameter(s): title, notes, due_date, priority.",
            errors=[{"parameter": "title", "error": "give at least one field to change"}],
        )
    ctx.update("todo_tasks", task_id, **values)
    return {"message": "Task updated."}


@APP.api
def mark_task_done(ctx: Ctx, access_token: str, task_id: int) -> dict[str, Any]:
    """Mark a task as done (records the completion time).

    Args:
        access_token: your access token from login.
        task_id: the task that is done.

    Returns:
        {"message": string}
    """
    row = ctx.require("todo_tasks", task_id, "task")
    if row["completed"]:
        raise ApiError(409, f"The task with id {task_id} is already done.")
    ctx.update("todo_tasks", task_id, completed=1, completed_at=ctx.clock.timestamp())
    return {"message": "Task marked done."}


@APP.api
def mark_task_not_done(ctx: Ctx, access_token: str, task_id: int) -> dict[str, Any]:
    """Mark a done task as not done again.

    Args:
        access_token: your access token from login.
        task_id: the task to reopen.

    Returns:
        {"message": string}
    """
    row = ctx.require("todo_tasks", task_id, "task")
    if not row["completed"]:
        raise ApiError(409, f"The task with id {task_id} is not done.")
    ctx.update("todo_tasks", task_id, completed=0, completed_at=None)
    return {"message": "Task marked not done."}


@APP.api
def move_task(ctx: Ctx, access_token: str, task_id: int, list_id: int) -> dict[str, Any]:
    """Move a task to another list.

    Args:
        access_token: your access token from login.
        task_id: the task to move.
        list_id: the destination list.

    Returns:
        {"message": string}
    """
    ctx.require("todo_tasks", task_id, "task")
    ctx.require("todo_lists", list_id, "list")
    ctx.update("todo_tasks", task_id, list_id=list_id)
    return {"message": "Task moved."}


@APP.api
def delete_task(ctx: Ctx, access_token: str, task_id: int) -> dict[str, Any]:
    """Delete a task.

    Args:
        access_token: your access token from login.
        task_id: the task to delete.

    Returns:
        {"message": string}
    """
    ctx.require("todo_tasks", task_id, "task")
    ctx.delete("todo_tasks", task_id)
    return {"message": "Task deleted."}


@APP.api
def count_tasks(ctx: Ctx, access_token: str, list_id: int | None = None, completed: bool | None = None) -> dict[str, Any]:
    """Count your tasks, optionally in one list and/or by done state.

    Args:
        access_token: your access token from login.
        list_id: only count tasks in this list.
        completed: only count done (true) or not-done (false) tasks.

    Returns:
        {"count": integer}
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if list_id is not None:
        ctx.require("todo_lists", list_id, "list")
        where.append("list_id = ?")
        params.append(list_id)
    if completed is not None:
        where.append("completed = ?")
        params.append(int(completed))
    return {"count": ctx.one(f"SELECT COUNT(*) AS n FROM todo_tasks WHERE {' AND '.join(where)}", params)["n"]}


# -------------------------------------------------------------------------------------------------
# Seed data

_LISTS = ["Home", "Work", "Errands", "Health", "Garden", "Travel prep"]
_TASKS = {
    "Home": [
        "Fix the leaking tap",
        "Clean the gutters",
        "Replace smoke detector batteries",
        "Sort the garage",
        "Vacuum the stairs",
        "Descale the kettle",
        "Hang the new shelves",
        "Wash the windows",
    ],
    "Work": [
        "Prepare the quarterly report",
        "Review pull requests",
        "Book the team offsite",
        "Update the roadmap slides",
        "Send invoices",
        "Plan the sprint demo",
        "Write the onboarding guide",
        "Renew the software licenses",
    ],
    "Errands": [
        "Pick up dry cleaning",
        "Return library books",
        "Buy a birthday card",
        "Mail the package",
        "Renew the car registration",
        "Get the bike serviced",
        "Drop off donations",
        "Collect the prescription",
    ],
    "Health": [
        "Book a dentist appointment",
        "Schedule the annual checkup",
        "Refill vitamins",
        "Go for a 5k run",
        "Order new contact lenses",
        "Try the yoga class",
        "Meal-prep for the week",
    ],
    "Garden": ["Plant the tomatoes", "Mow the lawn", "Prune the roses", "Fix the fence panel", "Buy compost", "Water the seedlings"],
    "Travel prep": ["Renew the passport", "Book airport parking", "Buy travel insurance", "Exchange currency", "Pack the chargers", "Check in online"],
}


def seed(gen: Gen) -> None:
    rng = gen.rng
    for person in gen.people:
        mine = person["id"] == gen.user["id"]
        names = _LISTS if mine else rng.sample(_LISTS, 2)
        for name in names:
            created = gen.now - timedelta(days=rng.randint(120, 400))
            lid = gen.insert("todo_lists", user_id=person["id"], name=name, created_at=created.isoformat(timespec="seconds"))
            titles = _TASKS[name] if mine else rng.sample(_TASKS[name], 3)
            for title in titles:
                created_t = gen.now - timedelta(days=rng.randint(5, 100), hours=rng.randint(0, 12))
                due = (gen.now + timedelta(days=rng.randint(-40, 45))).date().isoformat() if rng.random() < 0.8 else None
                done = rng.random() < 0.35
                done_at = (created_t + timedelta(days=rng.randint(1, 4))).isoformat(timespec="seconds") if done else None
                gen.insert(
                    "todo_tasks",
                    user_id=person["id"],
                    list_id=lid,
                    title=title,
                    notes=gen.fake.sentence(nb_words=8) if rng.random() < 0.4 else "",
                    due_date=due,
                    priority=rng.choice(["low", "medium", "medium", "high"]),
                    completed=int(done),
                    completed_at=done_at,
                    created_at=created_t.isoformat(timespec="seconds"),
                )
