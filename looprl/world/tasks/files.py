"""Scenarios over the files app (test_challenge only: no train task uses files).

Extensions, dates, folder names and parent folders are drawn with the instance's RNG from its base
world (each world has its own ~70 files of the user, with other names, sizes and dates).
"""

from __future__ import annotations

from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_where, updates_of


def user_files(view: BaseView) -> list[dict]:
    return view.all("SELECT * FROM files_files WHERE user_id = ? ORDER BY id", (view.user_id,))


def ext_of(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


def files_by_ext(view: BaseView) -> dict[str, list[dict]]:
    """The user's files per extension (files without one left out), extensions sorted."""
    by_ext: dict[str, list[dict]] = {}
    for f in user_files(view):
        if ext_of(f["name"]):
            by_ext.setdefault(ext_of(f["name"]), []).append(f)
    return dict(sorted(by_ext.items()))


@scenario("files_count_extension", split="test_challenge", apps=("files",))
def files_count_extension(view: BaseView) -> TaskSpec:
    """How many files of an extension, optionally changed since a date (search with filters +
    pagination)."""
    rng = view.rng
    by_ext = {e: fs for e, fs in files_by_ext(view).items() if len(fs) >= 2}
    ext = rng.choice(list(by_ext))
    days = sorted({f["updated_at"][:10] for f in by_ext[ext]})
    since = rng.choice(days[1:]) if len(days) > 1 and rng.random() < 0.6 else None
    if since is None:
        count, extra = len(by_ext[ext]), ""
        templates = [
            "How many .{ext} files do I have in my file storage, across all folders?",
            "Count all my .{ext} files, in every folder of my file storage.",
            "What is the total number of files ending in .{ext} in my cloud storage (all folders included)?",
            "Tell me how many {ext} files I keep in my file storage, wherever they are.",
        ]
    else:
        count, extra = sum(f["updated_at"][:10] >= since for f in by_ext[ext]), f', updated_after="{since}"'
        templates = [
            "How many .{ext} files in my file storage were last changed on or after {since}?",
            "Count my .{ext} files, in any folder, whose last update was on {since} or later.",
            "Across all folders of my file storage, how many files ending in .{ext} have been updated since {since} (that day included)?",
            "Tell me how many {ext} files I have that were modified on or after {since}.",
        ]
    solution = header("files") + (
        f'found = collect(apis.files.search_files, access_token=files_token, extension="{ext}"{extra})\napis.supervisor.complete_task(answer=len(found))\n'
    )
    instruction = view.phrase(templates, ext=ext, since=since)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=count)


_FOLDER_NAMES = ["{EXT} files", "{EXT} collection", "{EXT} archive", "All {ext} files", "Sorted {EXT}"]


@scenario("files_gather_extension", split="test_challenge", apps=("files",))
def files_gather_extension(view: BaseView) -> TaskSpec:
    """Create a folder (at the top level or in a top-level folder) and move every file of an
    extension into it."""
    rng = view.rng
    root = view.scalar("SELECT id FROM files_folders WHERE user_id = ? AND parent_id IS NULL", (view.user_id,))
    options = {
        e: fs
        for e, fs in files_by_ext(view).items()
        if 2 <= len(fs) <= 12 and len({f["name"].lower() for f in fs}) == len(fs) and any(f["folder_id"] != root for f in fs)
    }
    ext = rng.choice(list(options))
    ids = [f["id"] for f in options[ext]]
    folder = rng.choice(_FOLDER_NAMES).format(EXT=ext.upper(), ext=ext)
    tops = [r["name"] for r in view.all("SELECT name FROM files_folders WHERE parent_id = ? ORDER BY id", (root,))]
    parent = rng.choice(tops) if tops and rng.random() < 0.4 else None
    if parent is None:
        make = f'folder = apis.files.create_folder(access_token=files_token, name="{folder}")\n'
        templates = [
            'Create a folder named "{folder}" at the top level of my file storage and move all my .{ext} files into it.',
            'Make a new top-level folder "{folder}" in my files and put every .{ext} file I have in it.',
            'Gather all my .{ext} files, from every folder, into a new folder called "{folder}" at the root of my storage.',
            'I want all my {ext} files in one place: a new folder "{folder}" directly under the root. Create it and move them there.',
        ]
    else:
        make = (
            'parent = next(s for s in apis.files.show_folder(access_token=files_token)["subfolders"] if s["name"] == "' + parent + '")\n'
            f'folder = apis.files.create_folder(access_token=files_token, name="{folder}", parent_folder_id=parent["folder_id"])\n'
        )
        templates = [
            'Create a folder named "{folder}" inside my top-level "{parent}" folder and move all my .{ext} files into it.',
            'Make a new folder "{folder}" in /{parent} of my files and put every .{ext} file I have in it.',
            'Gather all my .{ext} files, from every folder, into a new folder called "{folder}" under "{parent}" (the one at the root).',
            'I want all my {ext} files in one place: a new folder "{folder}" within my "{parent}" folder. Create it and move them there.',
        ]
    solution = (
        header("files")
        + make
        + (
            f'for f in collect(apis.files.search_files, access_token=files_token, extension="{ext}"):\n'
            '    apis.files.move_file(access_token=files_token, file_id=f["file_id"], folder_id=folder["folder_id"])\n'
            "apis.supervisor.complete_task()\n"
        )
    )

    def checks(ctx):
        new = [r for r in ctx.diff.added.get("files_folders", []) if r["name"].strip().lower() == folder.lower()]
        root_id = ctx.after_one("SELECT id FROM files_folders WHERE user_id = 1 AND parent_id IS NULL")["id"]
        parent_id = (
            root_id
            if parent is None
            else ctx.after_one("SELECT id FROM files_folders WHERE user_id = 1 AND parent_id = ? AND name = ?", (root_id, parent))["id"]
        )
        fid = new[0]["id"] if len(new) == 1 else None
        where = {r["id"]: r["folder_id"] for r in ctx.after_all(f"SELECT id, folder_id FROM files_files WHERE id IN ({','.join('?' * len(ids))})", tuple(ids))}
        return [
            check(
                "the folder exists where asked",
                fid is not None and new[0]["parent_id"] == parent_id,
                f"new folders: {[r['name'] for r in ctx.diff.added.get('files_folders', [])]}, expected one in {'/' + (parent or '')}",
            ),
            check("every file of the type is in it", fid is not None and all(where.get(i) == fid for i in ids), "some files are missing or elsewhere"),
        ]

    instruction = view.phrase(templates, folder=folder, ext=ext, parent=parent)
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"files_folders": inserts_where(user_id=MAIN_USER_ID), "files_files": updates_of(ids, ["folder_id"])},
    )
