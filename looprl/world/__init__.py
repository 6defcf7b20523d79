"""The built-in world: an AppWorld-style world of apps over SQLite, with tasks and state-based evaluation.

from looprl.world import load_tasks, get_task, World
task = get_task("notes_count_tag_1")
world = World.for_task(task)                 # fresh state in milliseconds
world.call("notes", "login", {...})          # what `apis.notes.login(...)` does in the REPL
report = world.evaluate()                    # checks, reward (fraction passed), success
"""

from looprl.world.core import ApiError, Clock, all_apps, get_app
from looprl.world.evaluation import Check, EvalReport, answers_match, normalize_answer
from looprl.world.state import BASE_NOW, World, base_fingerprint
from looprl.world.tasks import SPLITS, Task, get_task, load_tasks

__all__ = [
    "ApiError",
    "Clock",
    "all_apps",
    "get_app",
    "Check",
    "EvalReport",
    "answers_match",
    "normalize_answer",
    "World",
    "BASE_NOW",
    "base_fingerprint",
    "SPLITS",
    "Task",
    "get_task",
    "load_tasks",
]
