"""Scenarios over the todo app: counting open tasks, adding a task, closing overdue ones."""

from __future__ import annotations

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_by, norm, updates_of

_FIND_LIST = """\
lists = collect(apis.todo.show_lists, access_token=todo_token)
list_id = next(l["list_id"] for l in lists if l["name"] == "{name}")
"""


@scenario("todo_count_open_in_list", split="train", apps=("todo",))
def todo_count_open_in_list(view: BaseView) -> list[TaskSpec]:
    """How many tasks in list X are not done? (find the list, then page through its open tasks)"""
    lists = view.all("SELECT id, name FROM todo_lists WHERE user_id = ? ORDER BY id", (view.user_id,))
    specs = []
    for row in view.rng.sample(lists, 3):
        count = view.scalar("SELECT COUNT(*) FROM todo_tasks WHERE list_id = ? AND completed = 0", (row["id"],))
        solution = header("todo") + _FIND_LIST.format(name=row["name"]) + """\
open_tasks = collect(apis.todo.show_tasks, access_token=todo_token, list_id=list_id, completed=False)
apis.supervisor.complete_task(answer=len(open_tasks))
"""
        specs.append(TaskSpec(instruction=f"How many tasks in my '{row['name']}' to-do list are still not done?", solution=solution, difficulty=1, answer=count))
    return specs


@scenario("todo_count_open_by_priority", split="dev", apps=("todo",))
def todo_count_open_by_priority(view: BaseView) -> list[TaskSpec]:
    """How many open tasks of priority P across all lists? (one filtered, paginated list)"""
    specs = []
    for priority in ("high", "medium", "low"):
        count = view.scalar("SELECT COUNT(*) FROM todo_tasks WHERE user_id = ? AND completed = 0 AND priority = ?", (view.user_id, priority))
        solution = header("todo") + f"""\
tasks = collect(apis.todo.show_tasks, access_token=todo_token, completed=False, priority="{priority}")
apis.supervisor.complete_task(answer=len(tasks))
"""
        specs.append(
            TaskSpec(
                instruction=f"Across all my to-do lists, how many {priority}-priority tasks have I not finished yet?",
                solution=solution,
                difficulty=1,
                answer=count,
            )
        )
    return specs


@scenario("todo_add_task", split="train", apps=("todo",))
def todo_add_task(view: BaseView) -> list[TaskSpec]:
    """Add a task with a due date and priority to a named list."""
    asks = [
        ("Renew the gym membership", "Health", "2026-06-01", "high"),
        ("Buy paint for the fence", "Garden", "2026-05-25", "low"),
        ("Print the boarding passes", "Travel prep", "2026-06-10", "medium"),
    ]
    specs = []
    for title, list_name, due, priority in asks:
        solution = header("todo") + _FIND_LIST.format(name=list_name) + f"""\
apis.todo.create_task(access_token=todo_token, list_id=list_id, title="{title}", due_date="{due}", priority="{priority}")
apis.supervisor.complete_task()
"""

        def checks(ctx, title=title, list_name=list_name, due=due, priority=priority):
            added = ctx.diff.added.get("todo_tasks", [])
            list_id = ctx.after_one("SELECT id FROM todo_lists WHERE user_id = 1 AND name = ?", (list_name,))["id"]
            match = [r for r in added if norm(r["title"]) == norm(title)]
            task = match[0] if len(match) == 1 else None
            return [
                check("exactly one new task with the title", len(match) == 1 and len(added) == 1, f"new tasks: {[r['title'] for r in added]}"),
                check("task is in the right list", task is not None and task["list_id"] == list_id, f"expected list {list_name!r}"),
                check("task has the due date", task is not None and task["due_date"] == due, f"expected due date {due}"),
                check("task has the priority", task is not None and task["priority"] == priority, f"expected priority {priority}"),
                check("task is not marked done", task is not None and not task["completed"], "the new task is marked done"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Add '{title}' to my '{list_name}' to-do list, due {due}, with {priority} priority.",
                solution=solution,
                difficulty=1,
                checks=checks,
                allowed_changes={"todo_tasks": inserts_by()},
            )
        )
    return specs


@scenario("todo_complete_overdue", split="train", apps=("todo",))
def todo_complete_overdue(view: BaseView) -> list[TaskSpec]:
    """Mark every overdue task of one list done (filter by list and by date, then act on each)."""
    today = view.now.date().isoformat()
    lists = view.all("SELECT id, name FROM todo_lists WHERE user_id = ? ORDER BY id", (view.user_id,))
    overdue = {
        row["name"]: [r["id"] for r in view.all("SELECT id FROM todo_tasks WHERE list_id = ? AND completed = 0 AND due_date < ?", (row["id"], today))]
        for row in lists
    }
    candidates = [name for name, ids in overdue.items() if ids]
    if len(candidates) < 3:
        raise ValueError(f"todo_complete_overdue needs 3 lists with overdue tasks, the base world has {candidates}")
    specs = []
    for name in view.rng.sample(candidates, 3):
        ids = overdue[name]
        solution = header("todo") + _FIND_LIST.format(name=name) + """\
for task in collect(apis.todo.show_overdue_tasks, access_token=todo_token):
    if task["list_id"] == list_id:
        apis.todo.mark_task_done(access_token=todo_token, task_id=task["task_id"])
apis.supervisor.complete_task()
"""

        def checks(ctx, ids=tuple(ids)):
            rows = ctx.after_all(f"SELECT id, completed FROM todo_tasks WHERE id IN ({','.join('?' * len(ids))})", ids)
            not_done = [r["id"] for r in rows if not r["completed"]]
            return [check("every overdue task of the list is done", len(rows) == len(ids) and not not_done, f"still open or deleted: {not_done}")]

        specs.append(
            TaskSpec(
                instruction=f"Mark every overdue task in my '{name}' to-do list as done.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"todo_tasks": updates_of(ids, ("completed", "completed_at"))},
            )
        )
    return specs
