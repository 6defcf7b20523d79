"""Scenarios over the todo app: counting open tasks (in a list, or by priority), adding a task,
closing overdue ones.

Every list, date, priority and title is drawn with the instance's RNG from its base world (the main
user has the same six list names in every world, with other tasks, due dates and priorities); the
ground truths find lists by the name the instruction states, never by id.
"""

from __future__ import annotations

from datetime import date, timedelta

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_by, norm, updates_of

PRIORITIES = ("high", "medium", "low")

_FIND_LIST = """\
lists = collect(apis.todo.show_lists, access_token=todo_token)
list_id = next(l["list_id"] for l in lists if l["name"] == "{name}")
"""


def long_date(iso: str) -> str:
    """2026-06-01 -> June 1, 2026."""
    d = date.fromisoformat(iso)
    return f"{d:%B} {d.day}, {d.year}"


def user_lists(view: BaseView) -> list[dict]:
    return view.all("SELECT id, name FROM todo_lists WHERE user_id = ? ORDER BY id", (view.user_id,))


def open_tasks(view: BaseView, list_id: int) -> list[dict]:
    return view.all("SELECT * FROM todo_tasks WHERE list_id = ? AND completed = 0 ORDER BY id", (list_id,))


@scenario("todo_count_open_in_list", split="train", apps=("todo",))
def todo_count_open_in_list(view: BaseView) -> TaskSpec:
    """How many tasks in list X are not done (optionally: due by / from a date)? (find the list, then
    page through its open tasks)"""
    rng = view.rng
    row = rng.choice(user_lists(view))
    tasks = open_tasks(view, row["id"])
    dates = sorted({t["due_date"] for t in tasks if t["due_date"]})
    bound = rng.choice(["none", "by", "from"]) if dates else "none"
    day = rng.choice(dates) if bound != "none" else None
    if bound == "by":
        count = sum(t["due_date"] is not None and t["due_date"] <= day for t in tasks)
        extra = f', due_before="{day}"'
        templates = [
            "How many tasks in my '{name}' to-do list are still not done and due on or before {day}?",
            "Count the unfinished tasks in my '{name}' list that are due by {long} (that day included).",
            "In my '{name}' to-do list, how many open tasks have a due date no later than {day}?",
            "Tell me how many not-yet-done tasks in '{name}' are due on {long} or earlier.",
        ]
    elif bound == "from":
        count = sum(t["due_date"] is not None and t["due_date"] >= day for t in tasks)
        extra = f', due_after="{day}"'
        templates = [
            "How many tasks in my '{name}' to-do list are still not done and due on or after {day}?",
            "Count the unfinished tasks in my '{name}' list that are due {long} or later.",
            "In my '{name}' to-do list, how many open tasks have a due date no earlier than {day}?",
            "Tell me how many not-yet-done tasks in '{name}' are due from {long} onwards (that day included).",
        ]
    else:
        count = len(tasks)
        extra = ""
        templates = [
            "How many tasks in my '{name}' to-do list are still not done?",
            "Count the unfinished tasks in my '{name}' list.",
            "In my '{name}' to-do list, how many tasks are still open?",
            "Tell me how many tasks I haven't completed yet in my '{name}' list.",
        ]
    solution = (
        header("todo")
        + _FIND_LIST.format(name=row["name"])
        + f"""\
open_tasks = collect(apis.todo.show_tasks, access_token=todo_token, list_id=list_id, completed=False{extra})
apis.supervisor.complete_task(answer=len(open_tasks))
"""
    )
    instruction = view.phrase(templates, name=row["name"], day=day, long=long_date(day) if day else None)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=count)


@scenario("todo_count_open_by_priority", split="dev", apps=("todo",))
def todo_count_open_by_priority(view: BaseView) -> TaskSpec:
    """How many open tasks of priority P, across all lists or in two named lists? (filtered,
    paginated lists, summed)"""
    rng = view.rng
    priority = rng.choice(PRIORITIES)
    lists = user_lists(view)
    if rng.random() < 0.3:
        count = view.scalar("SELECT COUNT(*) FROM todo_tasks WHERE user_id = ? AND completed = 0 AND priority = ?", (view.user_id, priority))
        solution = (
            header("todo")
            + f"""\
tasks = collect(apis.todo.show_tasks, access_token=todo_token, completed=False, priority="{priority}")
apis.supervisor.complete_task(answer=len(tasks))
"""
        )
        templates = [
            "Across all my to-do lists, how many {priority}-priority tasks have I not finished yet?",
            "How many open {priority}-priority tasks do I have in total, over every to-do list?",
            "Count every unfinished task with {priority} priority in all of my to-do lists.",
            "Tell me the number of not-done tasks marked {priority} priority, whatever list they are in.",
        ]
        instruction = view.phrase(templates, priority=priority)
    else:
        pair = sorted(rng.sample(lists, 2), key=lambda r: r["id"])
        first, second = (r["name"] for r in pair)
        count = view.scalar(
            "SELECT COUNT(*) FROM todo_tasks WHERE list_id IN (?, ?) AND completed = 0 AND priority = ?", (pair[0]["id"], pair[1]["id"], priority)
        )
        solution = (
            header("todo")
            + f"""\
lists = collect(apis.todo.show_lists, access_token=todo_token)
count = 0
for name in ["{first}", "{second}"]:
    list_id = next(l["list_id"] for l in lists if l["name"] == name)
    count += len(collect(apis.todo.show_tasks, access_token=todo_token, list_id=list_id, completed=False, priority="{priority}"))
apis.supervisor.complete_task(answer=count)
"""
        )
        templates = [
            "How many {priority}-priority tasks are still not done in my '{first}' and '{second}' to-do lists together?",
            "Count the unfinished {priority}-priority tasks in my '{first}' list plus those in my '{second}' list.",
            "Taking my '{first}' and '{second}' lists together, how many open tasks have {priority} priority?",
            "Tell me the total number of not-done tasks with {priority} priority in the '{first}' and '{second}' to-do lists.",
        ]
        instruction = view.phrase(templates, priority=priority, first=first, second=second)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=count)


# New tasks to add, per list (none of them is in the seeded lists).
_NEW_TASKS = {
    "Home": ["Bleed the radiators", "Change the air filter", "Oil the squeaky door", "Reseal the bathtub", "Defrost the freezer", "Paint the hallway"],
    "Work": [
        "Draft the hiring plan",
        "File the expense report",
        "Prepare the client demo",
        "Archive old project files",
        "Set up the team retro",
        "Renew the conference badge",
    ],
    "Errands": [
        "Pick up the new glasses",
        "Return the rental car",
        "Drop off the dry-cleaning tickets",
        "Buy stamps",
        "Get spare keys cut",
        "Pay the parking fine",
    ],
    "Health": ["Renew the gym membership", "Book a physio session", "Buy a new toothbrush", "Get a flu shot", "Book an eye test", "Sign up for the swim class"],
    "Garden": ["Buy paint for the fence", "Sharpen the mower blades", "Plant the bulbs", "Clean the bird bath", "Rake the leaves", "Repot the lemon tree"],
    "Travel prep": [
        "Print the boarding passes",
        "Buy a travel adapter",
        "Book the airport taxi",
        "Download offline maps",
        "Arrange the pet sitter",
        "Order a new suitcase",
    ],
}


@scenario("todo_add_task", split="train", apps=("todo",))
def todo_add_task(view: BaseView) -> TaskSpec:
    """Add a task with a due date and priority to a named list."""
    rng = view.rng
    lists = [r["name"] for r in user_lists(view) if r["name"] in _NEW_TASKS]
    list_name = rng.choice(lists)
    existing = {norm(r["title"]) for r in view.all("SELECT title FROM todo_tasks WHERE user_id = ?", (view.user_id,))}
    title = rng.choice([t for t in _NEW_TASKS[list_name] if norm(t) not in existing] or _NEW_TASKS[list_name])
    due = (view.now.date() + timedelta(days=rng.randint(1, 60))).isoformat()
    priority = rng.choice(PRIORITIES)
    solution = (
        header("todo")
        + _FIND_LIST.format(name=list_name)
        + f"""\
apis.todo.create_task(access_token=todo_token, list_id=list_id, title="{title}", due_date="{due}", priority="{priority}")
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
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

    instruction = view.phrase(
        [
            "Add '{title}' to my '{list_name}' to-do list, due {due}, with {priority} priority.",
            "In my '{list_name}' list, create a {priority}-priority task '{title}' that is due on {long}.",
            "Please put a new task \"{title}\" on my '{list_name}' to-do list: priority {priority}, due date {due}.",
            "I need to remember to do this: '{title}'. Add it to the '{list_name}' list with a due date of {long} and {priority} priority.",
        ],
        title=title,
        list_name=list_name,
        due=due,
        long=long_date(due),
        priority=priority,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, checks=checks, allowed_changes={"todo_tasks": inserts_by()})


@scenario("todo_complete_overdue", split="train", apps=("todo",))
def todo_complete_overdue(view: BaseView) -> TaskSpec:
    """Mark the overdue tasks of one list done: all of them, only those of a priority, or only those
    due before / since a date (filter by list and by date, then act on each)."""
    rng = view.rng
    today = view.now.date().isoformat()
    asks = []  # (list name, kind, value, ids): every filtered ask keeps some overdue task of the list open
    for row in user_lists(view):
        overdue = [t for t in open_tasks(view, row["id"]) if t["due_date"] and t["due_date"] < today]
        if not overdue:
            continue
        asks.append((row["name"], "all", None, [t["id"] for t in overdue]))
        for priority in PRIORITIES:
            ids = [t["id"] for t in overdue if t["priority"] == priority]
            if 0 < len(ids) < len(overdue):
                asks.append((row["name"], "priority", priority, ids))
        for day in sorted({t["due_date"] for t in overdue})[1:]:
            asks.append((row["name"], "before", day, [t["id"] for t in overdue if t["due_date"] < day]))
            asks.append((row["name"], "since", day, [t["id"] for t in overdue if t["due_date"] >= day]))
    name, kind, value, ids = rng.choice(asks)  # every base world has overdue tasks in some list
    find = header("todo") + _FIND_LIST.format(name=name)
    if kind == "before":
        solution = (
            find
            + f"""\
for task in collect(apis.todo.show_tasks, access_token=todo_token, list_id=list_id, completed=False, due_before="{value}"):
    if task["due_date"] < "{value}":
        apis.todo.mark_task_done(access_token=todo_token, task_id=task["task_id"])
apis.supervisor.complete_task()
"""
        )
        templates = [
            "In my '{name}' to-do list, mark as done every open task that was due before {value}.",
            "Close out the unfinished tasks in my '{name}' list whose due date is earlier than {long}.",
            "Everything in my '{name}' to-do list that was due before {long} and isn't done yet: mark it done.",
            "Please tick off the tasks in '{name}' that are still open and were due before {value} (not the ones due that day or later).",
        ]
    else:
        condition = {"all": "", "priority": f' and task["priority"] == "{value}"', "since": f' and task["due_date"] >= "{value}"'}[kind]
        solution = (
            find
            + f"""\
for task in collect(apis.todo.show_overdue_tasks, access_token=todo_token):
    if task["list_id"] == list_id{condition}:
        apis.todo.mark_task_done(access_token=todo_token, task_id=task["task_id"])
apis.supervisor.complete_task()
"""
        )
        if kind == "all":
            templates = [
                "Mark every overdue task in my '{name}' to-do list as done.",
                "Close all the overdue tasks in my '{name}' list.",
                "Everything that is overdue in my '{name}' to-do list: mark it as done, please.",
                "Tick off each task in '{name}' that is past its due date and still open.",
            ]
        elif kind == "since":
            templates = [
                "Mark the overdue tasks in my '{name}' to-do list that were due on or after {value} as done (leave the older ones open).",
                "Close the tasks in my '{name}' list that became overdue from {long} on (due that day or later, but before today).",
                "In my '{name}' to-do list, tick off the open tasks that are past due but were due no earlier than {value}.",
                "Only the recently overdue ones: in '{name}', mark done every open task due between {long} (included) and today (excluded).",
            ]
        else:
            templates = [
                "Mark every overdue {value}-priority task in my '{name}' to-do list as done.",
                "Close the overdue tasks with {value} priority in my '{name}' list (leave the other overdue ones open).",
                "In my '{name}' to-do list, mark the {value}-priority tasks that are past due as done.",
                "Tick off each overdue task in '{name}' whose priority is {value}.",
            ]

    def checks(ctx):
        rows = ctx.after_all(f"SELECT id, completed FROM todo_tasks WHERE id IN ({','.join('?' * len(ids))})", tuple(ids))
        not_done = [r["id"] for r in rows if not r["completed"]]
        return [check("every task asked for is done", len(rows) == len(ids) and not not_done, f"still open or deleted: {not_done}")]

    instruction = view.phrase(templates, name=name, value=value, long=long_date(value) if kind in ("before", "since") else None)
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"todo_tasks": updates_of(ids, ("completed", "completed_at"))},
    )
