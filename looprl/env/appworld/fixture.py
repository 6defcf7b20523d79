"""Build a tiny AppWorld task set of our own, in AppWorld's on-disk format, for tests and smoke runs.

AppWorld's real task data cannot be downloaded everywhere (CI has no internet), and its files may
not be committed. This script writes a small, self-made stand-in into a fresh APPWORLD_ROOT using
only what the installed `appworld` package can create from its own model code:

    data/base_dbs/<app>.db          empty SQLite databases for every app, built from AppWorld's models,
                                    plus our records: the api_docs app's documentation (generated from
                                    the package's API definitions), one admin main user, one SimpleNote
                                    account with three notes
    data/api_docs/standard/<app>.json   the same documentation as JSON (AppWorld's Task loads it)
    data/tasks/<task_id>/specs.json     instruction, supervisor, date, db version
    data/tasks/<task_id>/dbs/*.jsonl    per-task changes on top of base_dbs (the supervisor's profile,
                                    account password and the active task), recorded by AppWorld's
                                    own change tracker
    data/tasks/<task_id>/ground_truth/  evaluation.py (our checks), test_data.json, answer.json,
                                    metadata.json (difficulty), public/private_data.json; train and
                                    dev tasks also their solution as AppWorld ships it ("full" mode:
                                    solution.py, compiled_solution.py, required_apps.json), test
                                    tasks none ("minimal" mode), as in AppWorld's release
    data/datasets/<split>.txt           task ids per split

It runs under the AppWorld virtual environment's interpreter (it imports `appworld`, which needs
pydantic<2) and never imports looprl:

    <appworld-venv>/bin/python looprl/env/appworld/fixture.py ROOT

The tasks (scenario a1b2c3d in train, c4d5e6f in dev, b7e8f9a in test_normal):

* a1b2c3d_1 (difficulty 1): "How many notes do I have in my SimpleNote account?" -> 3
* a1b2c3d_2 (difficulty 2): create a note titled "Groceries" with content "milk, eggs"
* c4d5e6f_1 (difficulty 1): "What is the content of my SimpleNote note titled Books?" -> Dune, Piranesi
* c4d5e6f_2 (difficulty 2): "What is the title of my SimpleNote note about a rooftop garden?" -> Ideas
* b7e8f9a_1 (difficulty 1): "What is the title of my SimpleNote note about Oslo?" -> Trips

`TASKS` below holds these facts; the tests check the env against what it wrote (specs.json,
ground_truth/answer.json) and use the task ids, the login and the note count directly.
"""

from __future__ import annotations

import json
import os
import sys

# This file sits in looprl/env/appworld/ next to looprl's own modules (install.py, export.py, ...); run as
# a script, its folder would come first on sys.path and those names would shadow the AppWorld venv's.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

SUPERVISOR = {"first_name": "Ada", "last_name": "Quill", "email": "ada.quill@example.com", "phone_number": "5550100"}
PASSWORD = "notes-pass-42"
NOTES = [("Books", "Dune, Piranesi"), ("Trips", "Oslo in June"), ("Ideas", "a rooftop garden")]
DATETIME = "2023-05-18T12:00:00"

_QUESTION_EVAL = '''
import json


def evaluate(test, public_data, private_data, main_user, models, ground_truth_answer):
    with test("""The answer given to complete_task is right."""):
        task = models.end.supervisor.Task.all()[0]
        test.answer(json.loads(task.answer), ground_truth_answer)
    with test("""Nothing in any app changed."""):
        test.case(models.changed_model_names(ignore=["simple_note.User"]), "==", set())
'''

_CREATE_NOTE_EVAL = '''
def evaluate(test, public_data, private_data, main_user, models, ground_truth_answer):
    with test("""Exactly one note was added and none was removed."""):
        added, _, removed = models.changed_records("simple_note.Note")
        test.case(len(added), "==", 1)
        test.case(len(removed), "==", 0)
    with test("""The new note has the requested title and content."""):
        added, _, _ = models.changed_records("simple_note.Note")
        test.case([note.title for note in added], "==", [private_data.title])
        test.case([note.content.strip() for note in added], "==", [private_data.content])
    with test("""Nothing but SimpleNote notes changed."""):
        test.case(models.changed_model_names(ignore=["simple_note.User", "simple_note.Note"]), "==", set())
'''

_LOGIN = """
    # the SimpleNote password is kept by the supervisor app
    passwords = apis.supervisor.show_account_passwords()
    password = [p["password"] for p in passwords if p["account_name"] == "simple_note"][0]
    # log in with the supervisor's email
    email = apis.supervisor.show_profile()["email"]
    token = apis.simple_note.login(username=email, password=password)["access_token"]
"""
_ALL_NOTES = """
    # notes come in pages: read every page at the largest page size
    notes = []
    page_index = 0
    while True:
        page = apis.simple_note.search_notes(access_token=token, page_index=page_index, page_limit=20)
        if not page:
            break
        notes.extend(page)
        page_index += 1
"""


def _solution(*parts: str) -> str:
    """A solution in AppWorld's format: a `solution(apis, requester)` function whose body is the steps."""
    return "def solution(apis, requester) -> None:" + "".join(parts)


TASKS = {
    "a1b2c3d_1": {
        "split": "train",
        "difficulty": 1,
        "instruction": "How many notes do I have in my SimpleNote account?",
        "answer": 3,
        "private_data": {},
        "evaluation": _QUESTION_EVAL,
        "solution": _solution(_LOGIN, _ALL_NOTES, "    apis.supervisor.complete_task(answer=len(notes))\n"),
        "tests": [
            ("The answer given to complete_task is right.", "no_op_fail"),
            ("Nothing in any app changed.", "no_op_pass"),
        ],
    },
    "a1b2c3d_2": {
        "split": "train",
        "difficulty": 2,
        "instruction": 'Create a SimpleNote note titled "Groceries" whose content is "milk, eggs".',
        "answer": None,
        "private_data": {"title": "Groceries", "content": "milk, eggs"},
        "evaluation": _CREATE_NOTE_EVAL,
        "solution": _solution(
            _LOGIN,
            """
    # create the note
    apis.simple_note.create_note(access_token=token, title="Groceries", content="milk, eggs")
    apis.supervisor.complete_task()
""",
        ),
        "tests": [
            ("Exactly one note was added and none was removed.", "no_op_fail"),
            ("The new note has the requested title and content.", "no_op_fail"),
            ("Nothing but SimpleNote notes changed.", "no_op_pass"),
        ],
    },
    "c4d5e6f_1": {
        "split": "dev",
        "difficulty": 1,
        "instruction": "What is the content of my SimpleNote note titled Books?",
        "answer": "Dune, Piranesi",
        "private_data": {},
        "evaluation": _QUESTION_EVAL,
        "solution": _solution(
            _LOGIN,
            _ALL_NOTES,
            """
    # open the note titled Books and answer with its content
    note_id = [n["note_id"] for n in notes if n["title"] == "Books"][0]
    content = apis.simple_note.show_note(access_token=token, note_id=note_id)["content"]
    apis.supervisor.complete_task(answer=content)
""",
        ),
        "tests": [
            ("The answer given to complete_task is right.", "no_op_fail"),
            ("Nothing in any app changed.", "no_op_pass"),
        ],
    },
    "c4d5e6f_2": {
        "split": "dev",
        "difficulty": 2,
        "instruction": "What is the title of my SimpleNote note about a rooftop garden?",
        "answer": "Ideas",
        "private_data": {},
        "evaluation": _QUESTION_EVAL,
        "solution": _solution(
            _LOGIN,
            _ALL_NOTES,
            """
    # find the note whose content mentions the rooftop garden
    for note in notes:
        content = apis.simple_note.show_note(access_token=token, note_id=note["note_id"])["content"]
        if "rooftop garden" in content:
            title = note["title"]
    apis.supervisor.complete_task(answer=title)
""",
        ),
        "tests": [
            ("The answer given to complete_task is right.", "no_op_fail"),
            ("Nothing in any app changed.", "no_op_pass"),
        ],
    },
    "b7e8f9a_1": {
        "split": "test_normal",
        "difficulty": 1,
        "instruction": "What is the title of my SimpleNote note about Oslo?",
        "answer": "Trips",
        "private_data": {},
        "evaluation": _QUESTION_EVAL,
        "tests": [
            ("The answer given to complete_task is right.", "no_op_fail"),
            ("Nothing in any app changed.", "no_op_pass"),
        ],
    },
}


def _write_json(path: str, obj: object) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def build_base(data: str) -> None:
    from appworld.api_docs import prepare_api_docs
    from appworld.apps import get_all_apps
    from appworld.collections.models import ModelCollection
    from appworld.common.constants import CANARY_STRING

    base = os.path.join(data, "base_dbs")
    os.makedirs(base, exist_ok=True)
    models = ModelCollection.load(to_db_home_path=base, from_db_home_path=base, load_apps=list(get_all_apps()), create_db=True)

    for app_name in get_all_apps(skip_admin=True):
        docs = prepare_api_docs(app_name)
        _write_json(
            os.path.join(data, "api_docs", "standard", app_name + ".json"),
            {doc["api_name"]: {**doc, "canary_string": CANARY_STRING} for doc in docs},
        )
        rows = []
        for doc in docs:
            doc = dict(doc)
            doc["app_name_"] = doc.pop("app_name")  # the model's field (app_name clashes with SQLModel)
            rows.append(models.api_docs.ApiDoc(**doc))
        models.api_docs.ApiDoc.save_all(rows)

    models.admin.MainUser.save_all([models.admin.MainUser(**SUPERVISOR, birthday="1990-04-02", sex="female")])
    user = models.simple_note.User(
        first_name=SUPERVISOR["first_name"],
        last_name=SUPERVISOR["last_name"],
        email=SUPERVISOR["email"],
        password=PASSWORD,
        verified=True,
    )
    models.simple_note.User.save_all([user])
    models.simple_note.Note.save_all([models.simple_note.Note(user_id=user.id, title=t, content=c) for t, c in NOTES])
    models.close()


def build_task(data: str, task_id: str, spec: dict) -> None:
    from appworld.apps import get_all_apps
    from appworld.collections.models import ModelCollection
    from appworld.common.constants import CANARY_STRING, DB_VERSION

    apps = list(get_all_apps())
    models = ModelCollection.load(to_db_home_path=f":memory:looprl-fixture-{task_id}", from_db_home_path=os.path.join(data, "base_dbs"), load_apps=apps)
    models.restart_db_tracker()  # record only what this task adds on top of base_dbs
    supervisor = models.supervisor.Supervisor(**SUPERVISOR, birthday="1990-04-02", sex="female")
    models.supervisor.Supervisor.save_all([supervisor])
    models.supervisor.AccountPassword.save_all([models.supervisor.AccountPassword(supervisor_id=supervisor.id, account_name="simple_note", password=PASSWORD)])
    models.supervisor.Task.save_all([models.supervisor.Task(supervisor_id=supervisor.id, instruction=spec["instruction"])])
    task_dir = os.path.join(data, "tasks", task_id)
    models.save(db_home_path=os.path.join(task_dir, "dbs"), format="changes", app_names=apps, delete_if_exists=True, save_model_hashes=True)
    models.close()

    _write_json(
        os.path.join(task_dir, "specs.json"),
        {
            "instruction": spec["instruction"],
            "supervisor": SUPERVISOR,
            "datetime": DATETIME,
            "db_version": DB_VERSION,
            "canary_string": CANARY_STRING,
        },
    )
    ground_truth = os.path.join(task_dir, "ground_truth")
    os.makedirs(ground_truth, exist_ok=True)
    with open(os.path.join(ground_truth, "evaluation.py"), "w") as f:
        f.write(spec["evaluation"].lstrip())
    _write_json(os.path.join(ground_truth, "test_data.json"), [{"requirement": r, "label": label} for r, label in spec["tests"]])
    _write_json(os.path.join(ground_truth, "answer.json"), spec["answer"])
    _write_json(os.path.join(ground_truth, "public_data.json"), {})
    _write_json(os.path.join(ground_truth, "private_data.json"), spec["private_data"])
    if spec.get("solution"):  # "full" ground truth, as AppWorld ships it for train and dev tasks
        for name in ("solution.py", "compiled_solution.py"):
            with open(os.path.join(ground_truth, name), "w") as f:
                f.write(spec["solution"])
        _write_json(os.path.join(ground_truth, "required_apps.json"), ["simple_note"])
        metadata = {"difficulty": spec["difficulty"], "mode": "full"}
    else:  # "minimal" (test tasks: no solution); the num_* keys are required when solution code is absent
        metadata = {"difficulty": spec["difficulty"], "mode": "minimal"}
    _write_json(
        os.path.join(ground_truth, "metadata.json"),
        {**metadata, "num_apps": 1, "num_apis": 4, "num_api_calls": 4, "num_solution_code_lines": 6},
    )


def build(root: str) -> None:
    root = os.path.abspath(root)
    if os.path.exists(os.path.join(root, "data")):
        raise SystemExit(f"{root}/data already exists; build the fixture into an empty folder")
    os.environ["APPWORLD_ROOT"] = root
    from appworld.common.path_store import path_store

    path_store.update_root(root)
    data = os.path.join(root, "data")
    build_base(data)
    for task_id, spec in TASKS.items():
        build_task(data, task_id, spec)
    splits: dict[str, list[str]] = {"train": [], "dev": [], "test_normal": [], "test_challenge": []}
    for task_id, spec in TASKS.items():
        splits[spec["split"]].append(task_id)
    for split, task_ids in splits.items():
        os.makedirs(os.path.join(data, "datasets"), exist_ok=True)
        with open(os.path.join(data, "datasets", split + ".txt"), "w") as f:
            f.write("".join(t + "\n" for t in task_ids))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} EMPTY_APPWORLD_ROOT")
    build(sys.argv[1])
