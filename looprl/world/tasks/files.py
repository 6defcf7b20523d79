"""Scenarios over the files app (test_challenge only: no train task uses files)."""

from __future__ import annotations

from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_where, updates_of


def user_files(view: BaseView) -> list[dict]:
    return view.all("SELECT * FROM files_files WHERE user_id = 1 ORDER BY id")


def ext_of(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


@scenario("files_count_extension", split="test_challenge", apps=("files",))
def files_count_extension(view: BaseView) -> list[TaskSpec]:
    """How many files of an extension (search with a filter + pagination)."""
    counts: dict[str, int] = {}
    for f in user_files(view):
        counts[ext_of(f["name"])] = counts.get(ext_of(f["name"]), 0) + 1
    options = sorted(e for e, n in counts.items() if n >= 3 and e)
    specs = []
    for ext in view.rng.sample(options, 3):
        solution = header("files") + (
            f'found = collect(apis.files.search_files, access_token=files_token, extension="{ext}")\n'
            "apis.supervisor.complete_task(answer=len(found))\n"
        )
        specs.append(TaskSpec(instruction=f"How many .{ext} files do I have in my file storage, across all folders?", solution=solution, difficulty=1, answer=counts[ext]))
    return specs


@scenario("files_gather_extension", split="test_challenge", apps=("files",))
def files_gather_extension(view: BaseView) -> list[TaskSpec]:
    """Create a folder at the root and move every file of an extension into it."""
    by_ext: dict[str, list[dict]] = {}
    for f in user_files(view):
        by_ext.setdefault(ext_of(f["name"]), []).append(f)
    root = view.scalar("SELECT id FROM files_folders WHERE user_id = 1 AND parent_id IS NULL")
    options = [e for e, fs in sorted(by_ext.items()) if e and 2 <= len(fs) <= 12 and len({f["name"].lower() for f in fs}) == len(fs) and any(f["folder_id"] != root for f in fs)]
    specs = []
    for ext, label in zip(view.rng.sample(options, 3), ["files", "collection", "archive"]):
        folder = f"{ext.upper()} {label}"
        ids = [f["id"] for f in by_ext[ext]]
        solution = header("files") + (
            f'folder = apis.files.create_folder(access_token=files_token, name="{folder}")\n'
            f'for f in collect(apis.files.search_files, access_token=files_token, extension="{ext}"):\n'
            '    apis.files.move_file(access_token=files_token, file_id=f["file_id"], folder_id=folder["folder_id"])\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, ids=ids, folder=folder):
            new = [r for r in ctx.diff.added.get("files_folders", []) if r["name"].strip().lower() == folder.lower()]
            root_id = ctx.after_one("SELECT id FROM files_folders WHERE user_id = 1 AND parent_id IS NULL")["id"]
            fid = new[0]["id"] if len(new) == 1 else None
            where = {r["id"]: r["folder_id"] for r in ctx.after_all(f"SELECT id, folder_id FROM files_files WHERE id IN ({','.join('?' * len(ids))})", tuple(ids))}
            return [
                check("the folder exists at the root", fid is not None and new[0]["parent_id"] == root_id, f"new folders: {[r['name'] for r in ctx.diff.added.get('files_folders', [])]}"),
                check("every file of the type is in it", fid is not None and all(where.get(i) == fid for i in ids), "some files are missing or elsewhere"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Create a folder named \"{folder}\" at the top level of my file storage and move all my .{ext} files into it.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"files_folders": inserts_where(user_id=MAIN_USER_ID), "files_files": updates_of(ids, ["folder_id"])},
            )
        )
    return specs
