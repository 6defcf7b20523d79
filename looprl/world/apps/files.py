"""The files app: cloud file storage — a folder tree, files with sizes and text contents, sharing.

Every user has a root folder (path "/"). A file's path is its folder's path plus its name; names are
unique within a folder (409 otherwise), and a name's extension is the part after its last dot. Text
files (txt, md, csv, json) have contents that show_file_content returns; other files are binary and
only have a size. Sharing gives another person view or edit access to one file. Errors: 404 missing
record, 403 another user's file or folder, 409 conflict, 422 bad value.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "files",
    "Cloud file storage: a tree of folders, files (text files can be read and edited), move, copy, "
    "rename, search by name, extension, size and date, share files with people, and storage usage.",
    schema="""
CREATE TABLE files_folders (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, parent_id INTEGER, name TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE files_files (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, folder_id INTEGER NOT NULL, name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, content TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE files_shares (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, user_id INTEGER NOT NULL, permission TEXT NOT NULL,
    shared_at TEXT NOT NULL, UNIQUE(file_id, user_id)
);
""",
)
APP.add_login()

QUOTA_BYTES = 5 * 1024**3
TEXT_EXTENSIONS = ("txt", "md", "csv", "json")
Name = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^/\\]+$")]
DateStr = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


def _root_id(ctx: Ctx) -> int:
    row = ctx.one("SELECT id FROM files_folders WHERE user_id = ? AND parent_id IS NULL", (ctx.user_id,))
    if row is None:  # a user without a root yet gets one on first use
        return ctx.insert("files_folders", user_id=ctx.user_id, parent_id=None, name="", created_at=ctx.clock.timestamp())
    return int(row["id"])


def _folder_row(ctx: Ctx, folder_id: int | None) -> dict[str, Any]:
    if folder_id is None:
        folder_id = _root_id(ctx)
    return ctx.require("files_folders", folder_id, "folder")


def _path(ctx: Ctx, folder_id: int) -> str:
    parts = []
    row = ctx.one("SELECT * FROM files_folders WHERE id = ?", (folder_id,))
    while row is not None and row["parent_id"] is not None:
        parts.append(row["name"])
        row = ctx.one("SELECT * FROM files_folders WHERE id = ?", (row["parent_id"],))
    return "/" + "/".join(reversed(parts))


def _file_path(ctx: Ctx, row: dict[str, Any]) -> str:
    base = _path(ctx, row["folder_id"])
    return f"{base.rstrip('/')}/{row['name']}"


def _file(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_id": row["id"],
        "name": row["name"],
        "extension": _ext(row["name"]),
        "folder_id": row["folder_id"],
        "path": _file_path(ctx, row),
        "size_bytes": row["size_bytes"],
        "is_text": row["content"] is not None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _folder(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    return {"folder_id": row["id"], "name": row["name"] or "/", "parent_id": row["parent_id"], "path": _path(ctx, row["id"]), "created_at": row["created_at"]}


def _file_row(ctx: Ctx, file_id: int) -> dict[str, Any]:
    return ctx.require("files_files", file_id, "file")


def _name_free(ctx: Ctx, folder_id: int, name: str, table: str, exclude: int | None = None) -> None:
    cond = "folder_id" if table == "files_files" else "parent_id"
    row = ctx.one(f"SELECT id FROM {table} WHERE {cond} = ? AND lower(name) = lower(?) AND id != ?", (folder_id, name, exclude or -1))
    if row is not None:
        raise ApiError(409, f"Folder {folder_id} already has a {'file' if table == 'files_files' else 'folder'} named {name!r}.")


def _size(content: str) -> int:
    return len(content.encode("utf-8"))


# -------------------------------------------------------------------------------------------------
# Folders


@APP.api
def show_folder_tree(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show your whole folder tree (folders only, with how many files each holds directly).

    Args:
        access_token: your access token from login.

    Returns:
        {"folder_id": integer, "name": string, "path": string, "file_count": integer, "subfolders": [ ...same shape... ]}
    """
    root = _root_id(ctx)
    rows = ctx.all("SELECT * FROM files_folders WHERE user_id = ? ORDER BY name, id", (ctx.user_id,))
    counts = {r["folder_id"]: r["n"] for r in ctx.all("SELECT folder_id, COUNT(*) AS n FROM files_files WHERE user_id = ? GROUP BY folder_id", (ctx.user_id,))}

    def node(row: dict[str, Any]) -> dict[str, Any]:
        children = [node(r) for r in rows if r["parent_id"] == row["id"]]
        return {
            "folder_id": row["id"],
            "name": row["name"] or "/",
            "path": _path(ctx, row["id"]),
            "file_count": counts.get(row["id"], 0),
            "subfolders": children,
        }

    return node(next(r for r in rows if r["id"] == root))


@APP.api
def show_folder(ctx: Ctx, access_token: str, folder_id: int | None = None, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> dict[str, Any]:
    """Show a folder: its subfolders (all of them) and one page of its files, sorted by name.

    Args:
        access_token: your access token from login.
        folder_id: the folder to show; null for your root folder "/".
        page_index: the page of files to return, starting at 0.
        page_limit: the number of files per page (at most 20).

    Returns:
        {"folder_id": integer, "name": string, "parent_id": integer | null, "path": string, "created_at": string, "subfolders": [{"folder_id": integer, "name": string, "path": string}], "files": [{"file_id": integer, "name": string, "extension": string, "folder_id": integer, "path": string, "size_bytes": integer, "is_text": boolean, "created_at": string, "updated_at": string}], "total_files": integer}
    """
    row = _folder_row(ctx, folder_id)
    subs = ctx.all("SELECT * FROM files_folders WHERE parent_id = ? ORDER BY name, id", (row["id"],))
    files = paginate(ctx, "SELECT * FROM files_files WHERE folder_id = ? ORDER BY name, id", (row["id"],), page_index, page_limit)
    total = ctx.one("SELECT COUNT(*) AS n FROM files_files WHERE folder_id = ?", (row["id"],))["n"]
    return {
        **_folder(ctx, row),
        "subfolders": [{"folder_id": s["id"], "name": s["name"], "path": _path(ctx, s["id"])} for s in subs],
        "files": [_file(ctx, f) for f in files],
        "total_files": total,
    }


@APP.api
def create_folder(ctx: Ctx, access_token: str, name: Name, parent_folder_id: int | None = None) -> dict[str, Any]:
    """Create a folder.

    Args:
        access_token: your access token from login.
        name: the folder's name; unique within its parent.
        parent_folder_id: the folder to create it in; null for your root folder.

    Returns:
        {"folder_id": integer, "path": string, "message": string}
    """
    parent = _folder_row(ctx, parent_folder_id)
    _name_free(ctx, parent["id"], name, "files_folders")
    fid = ctx.insert("files_folders", user_id=ctx.user_id, parent_id=parent["id"], name=name, created_at=ctx.clock.timestamp())
    return {"folder_id": fid, "path": _path(ctx, fid), "message": "Folder created."}


@APP.api
def rename_folder(ctx: Ctx, access_token: str, folder_id: int, name: Name) -> dict[str, Any]:
    """Rename a folder (not the root).

    Args:
        access_token: your access token from login.
        folder_id: the folder to rename.
        name: the new name; unique within its parent.

    Returns:
        {"message": string}
    """
    row = _folder_row(ctx, folder_id)
    if row["parent_id"] is None:
        raise ApiError(409, "The root folder cannot be renamed.")
    _name_free(ctx, row["parent_id"], name, "files_folders", exclude=folder_id)
    ctx.update("files_folders", folder_id, name=name)
    return {"message": "Folder renamed."}


@APP.api
def move_folder(ctx: Ctx, access_token: str, folder_id: int, new_parent_folder_id: int) -> dict[str, Any]:
    """Move a folder (with everything in it) into another folder.

    Args:
        access_token: your access token from login.
        folder_id: the folder to move.
        new_parent_folder_id: the folder to move it into; not the folder itself or one inside it.

    Returns:
        {"message": string}
    """
    row = _folder_row(ctx, folder_id)
    if row["parent_id"] is None:
        raise ApiError(409, "The root folder cannot be moved.")
    target = _folder_row(ctx, new_parent_folder_id)
    walk: dict[str, Any] | None = target
    while walk is not None:
        if walk["id"] == folder_id:
            raise ApiError(409, f"Folder {folder_id} cannot be moved inside itself.")
        walk = ctx.one("SELECT * FROM files_folders WHERE id = ?", (walk["parent_id"],)) if walk["parent_id"] else None
    _name_free(ctx, target["id"], row["name"], "files_folders", exclude=folder_id)
    ctx.update("files_folders", folder_id, parent_id=target["id"])
    return {"message": "Folder moved."}


@APP.api
def delete_folder(ctx: Ctx, access_token: str, folder_id: int, recursive: bool = False) -> dict[str, Any]:
    """Delete a folder (not the root). A folder that is not empty needs recursive=true (409 otherwise).

    Args:
        access_token: your access token from login.
        folder_id: the folder to delete.
        recursive: also delete everything inside it.

    Returns:
        {"message": string, "deleted_files": integer, "deleted_folders": integer}
    """
    row = _folder_row(ctx, folder_id)
    if row["parent_id"] is None:
        raise ApiError(409, "The root folder cannot be deleted.")
    ids, frontier = [folder_id], [folder_id]
    while frontier:
        kids = [r["id"] for r in ctx.all(f"SELECT id FROM files_folders WHERE parent_id IN ({','.join('?' * len(frontier))})", frontier)]
        ids += kids
        frontier = kids
    marks = ",".join("?" * len(ids))
    n_files = ctx.one(f"SELECT COUNT(*) AS n FROM files_files WHERE folder_id IN ({marks})", ids)["n"]
    if (n_files or len(ids) > 1) and not recursive:
        raise ApiError(409, f"Folder {folder_id} is not empty ({n_files} files, {len(ids) - 1} subfolders); pass recursive=true.")
    file_ids = [r["id"] for r in ctx.all(f"SELECT id FROM files_files WHERE folder_id IN ({marks})", ids)]
    if file_ids:
        ctx.db.execute(f"DELETE FROM files_shares WHERE file_id IN ({','.join('?' * len(file_ids))})", file_ids)
    ctx.db.execute(f"DELETE FROM files_files WHERE folder_id IN ({marks})", ids)
    ctx.db.execute(f"DELETE FROM files_folders WHERE id IN ({marks})", ids)
    return {"message": "Folder deleted.", "deleted_files": n_files, "deleted_folders": len(ids)}


# -------------------------------------------------------------------------------------------------
# Files


@APP.api
def show_file(ctx: Ctx, access_token: str, file_id: int) -> dict[str, Any]:
    """Show a file's details (not its content). Files shared with you can be shown too.

    Args:
        access_token: your access token from login.
        file_id: the file to show.

    Returns:
        {"file_id": integer, "name": string, "extension": string, "folder_id": integer, "path": string, "size_bytes": integer, "is_text": boolean, "created_at": string, "updated_at": string, "owner_email": string}
    """
    row = _readable(ctx, file_id)
    owner = ctx.one("SELECT email FROM users WHERE id = ?", (row["user_id"],))
    return {**_file(ctx, row), "owner_email": owner["email"]}


def _readable(ctx: Ctx, file_id: int, need_edit: bool = False) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM files_files WHERE id = ?", (file_id,))
    if row is None:
        raise ApiError(404, f"No file found with id {file_id}.")
    if row["user_id"] != ctx.user_id:
        share = ctx.one("SELECT permission FROM files_shares WHERE file_id = ? AND user_id = ?", (file_id, ctx.user_id))
        if share is None or (need_edit and share["permission"] != "edit"):
            raise ApiError(403, f"The file with id {file_id} does not belong to you" + (" and is not shared with you for editing." if share else "."))
    return row


@APP.api
def show_file_content(ctx: Ctx, access_token: str, file_id: int) -> dict[str, Any]:
    """Show the text content of a text file (txt, md, csv, json) that is yours or shared with you; 409 for a binary file.

    Args:
        access_token: your access token from login.
        file_id: the file to read.

    Returns:
        {"file_id": integer, "name": string, "content": string}
    """
    row = _readable(ctx, file_id)
    if row["content"] is None:
        raise ApiError(409, f"File {file_id} ({row['name']}) is not a text file; it has no readable content.")
    return {"file_id": row["id"], "name": row["name"], "content": row["content"]}


@APP.api
def create_file(ctx: Ctx, access_token: str, name: Name, content: str = "", folder_id: int | None = None) -> dict[str, Any]:
    """Create a text file with the given content.

    Args:
        access_token: your access token from login.
        name: the file's name with a text extension (.txt, .md, .csv or .json); unique within the folder.
        content: the file's text.
        folder_id: the folder to create it in; null for your root folder.

    Returns:
        {"file_id": integer, "path": string, "message": string}
    """
    if _ext(name) not in TEXT_EXTENSIONS:
        raise ApiError(
            422,
            "Invalid value for parameter(s): name.",
            errors=[{"parameter": "name", "error": f"must end in one of .{', .'.join(TEXT_EXTENSIONS)}", "given": name}],
        )
    folder = _folder_row(ctx, folder_id)
    _name_free(ctx, folder["id"], name, "files_files")
    ts = ctx.clock.timestamp()
    fid = ctx.insert(
        "files_files", user_id=ctx.user_id, folder_id=folder["id"], name=name, size_bytes=_size(content), content=content, created_at=ts, updated_at=ts
    )
    return {"file_id": fid, "path": _file_path(ctx, {"folder_id": folder["id"], "name": name}), "message": "File created."}


@APP.api
def update_file_content(ctx: Ctx, access_token: str, file_id: int, content: str, append: bool = False) -> dict[str, Any]:
    """Replace (or append to) the content of a text file that is yours or shared with you for editing.

    Args:
        access_token: your access token from login.
        file_id: the text file to change.
        content: the new text.
        append: add the text at the end (on a new line) instead of replacing the content.

    Returns:
        {"size_bytes": integer, "message": string}
    """
    row = _readable(ctx, file_id, need_edit=True)
    if row["content"] is None:
        raise ApiError(409, f"File {file_id} ({row['name']}) is not a text file.")
    new = (row["content"] + "\n" + content) if append and row["content"] else content
    ctx.update("files_files", file_id, content=new, size_bytes=_size(new), updated_at=ctx.clock.timestamp())
    return {"size_bytes": _size(new), "message": "File updated."}


@APP.api
def rename_file(ctx: Ctx, access_token: str, file_id: int, name: Name) -> dict[str, Any]:
    """Rename one of your files.

    Args:
        access_token: your access token from login.
        file_id: the file to rename.
        name: the new name; unique within the folder.

    Returns:
        {"message": string}
    """
    row = _file_row(ctx, file_id)
    _name_free(ctx, row["folder_id"], name, "files_files", exclude=file_id)
    ctx.update("files_files", file_id, name=name, updated_at=ctx.clock.timestamp())
    return {"message": "File renamed."}


@APP.api
def move_file(ctx: Ctx, access_token: str, file_id: int, folder_id: int) -> dict[str, Any]:
    """Move one of your files to another folder.

    Args:
        access_token: your access token from login.
        file_id: the file to move.
        folder_id: the destination folder.

    Returns:
        {"message": string}
    """
    row = _file_row(ctx, file_id)
    target = _folder_row(ctx, folder_id)
    _name_free(ctx, target["id"], row["name"], "files_files", exclude=file_id)
    ctx.update("files_files", file_id, folder_id=target["id"])
    return {"message": "File moved."}


@APP.api
def copy_file(ctx: Ctx, access_token: str, file_id: int, folder_id: int | None = None, name: Name | None = None) -> dict[str, Any]:
    """Copy a file (yours or shared with you) into one of your folders.

    Args:
        access_token: your access token from login.
        file_id: the file to copy.
        folder_id: the destination folder; null for your root folder.
        name: the copy's name (default the original's name).

    Returns:
        {"file_id": integer, "path": string, "message": string}
    """
    row = _readable(ctx, file_id)
    target = _folder_row(ctx, folder_id)
    new_name = name or row["name"]
    _name_free(ctx, target["id"], new_name, "files_files")
    ts = ctx.clock.timestamp()
    fid = ctx.insert(
        "files_files",
        user_id=ctx.user_id,
        folder_id=target["id"],
        name=new_name,
        size_bytes=row["size_bytes"],
        content=row["content"],
        created_at=ts,
        updated_at=ts,
    )
    return {"file_id": fid, "path": _file_path(ctx, {"folder_id": target["id"], "name": new_name}), "message": "File copied."}


@APP.api
def delete_file(ctx: Ctx, access_token: str, file_id: int) -> dict[str, Any]:
    """Delete one of your files (and its shares).

    Args:
        access_token: your access token from login.
        file_id: the file to delete.

    Returns:
        {"message": string}
    """
    _file_row(ctx, file_id)
    ctx.db.execute("DELETE FROM files_shares WHERE file_id = ?", (file_id,))
    ctx.delete("files_files", file_id)
    return {"message": "File deleted."}


@APP.api
def search_files(
    ctx: Ctx,
    access_token: str,
    query: str | None = None,
    extension: str | None = None,
    folder_id: int | None = None,
    min_size_bytes: Annotated[int, Field(ge=0)] | None = None,
    max_size_bytes: Annotated[int, Field(ge=0)] | None = None,
    updated_after: DateStr | None = None,
    updated_before: DateStr | None = None,
    sort_by: Literal["name", "-name", "size_bytes", "-size_bytes", "updated_at", "-updated_at", "created_at", "-created_at"] = "name",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search all your files (in every folder) by name, extension, folder, size and date.

    Args:
        access_token: your access token from login.
        query: text to look for in the file name (case-insensitive).
        extension: only files with this extension, without the dot (e.g. "pdf").
        folder_id: only files directly in this folder.
        min_size_bytes: only files of at least this size.
        max_size_bytes: only files of at most this size.
        updated_after: only files last changed on or after this date (YYYY-MM-DD).
        updated_before: only files last changed on or before this date (YYYY-MM-DD).
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of files per page (at most 20).

    Returns:
        [{"file_id": integer, "name": string, "extension": string, "folder_id": integer, "path": string, "size_bytes": integer, "is_text": boolean, "created_at": string, "updated_at": string}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if query:
        where.append("lower(name) LIKE ?")
        params.append(f"%{query.lower()}%")
    if extension:
        where.append("lower(name) LIKE ?")
        params.append(f"%.{extension.lower().lstrip('.')}")
    if folder_id is not None:
        _folder_row(ctx, folder_id)
        where.append("folder_id = ?")
        params.append(folder_id)
    if min_size_bytes is not None:
        where.append("size_bytes >= ?")
        params.append(min_size_bytes)
    if max_size_bytes is not None:
        where.append("size_bytes <= ?")
        params.append(max_size_bytes)
    if updated_after:
        where.append("substr(updated_at, 1, 10) >= ?")
        params.append(updated_after)
    if updated_before:
        where.append("substr(updated_at, 1, 10) <= ?")
        params.append(updated_before)
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    sql = f"SELECT * FROM files_files WHERE {' AND '.join(where)} ORDER BY {sort_by.lstrip('-')} {direction}, id {direction}"
    return [_file(ctx, r) for r in paginate(ctx, sql, params, page_index, page_limit)]


# -------------------------------------------------------------------------------------------------
# Sharing and usage


@APP.api
def share_file(ctx: Ctx, access_token: str, file_id: int, email: str, permission: Literal["view", "edit"] = "view") -> dict[str, Any]:
    """Share one of your files with a person, or change the permission of an existing share.

    Args:
        access_token: your access token from login.
        file_id: the file to share.
        email: the person's email.
        permission: "view" to let them read it, "edit" to let them change it too.

    Returns:
        {"message": string}
    """
    _file_row(ctx, file_id)
    other = ctx.one("SELECT id FROM users WHERE lower(email) = lower(?)", (email.strip(),))
    if other is None:
        raise ApiError(404, f"No user with email {email!r} (parameter email).")
    if other["id"] == ctx.user_id:
        raise ApiError(
            422, "Invalid value for parameter(s): email.", errors=[{"parameter": "email", "error": "you cannot share a file with yourself", "given": email}]
        )
    row = ctx.one("SELECT * FROM files_shares WHERE file_id = ? AND user_id = ?", (file_id, other["id"]))
    if row is not None:
        if row["permission"] == permission:
            raise ApiError(409, f"File {file_id} is already shared with {email} ({permission}).")
        ctx.update("files_shares", row["id"], permission=permission)
        return {"message": "Share permission changed."}
    ctx.insert("files_shares", file_id=file_id, user_id=other["id"], permission=permission, shared_at=ctx.clock.timestamp())
    return {"message": "File shared."}


@APP.api
def unshare_file(ctx: Ctx, access_token: str, file_id: int, email: str) -> dict[str, Any]:
    """Stop sharing one of your files with a person.

    Args:
        access_token: your access token from login.
        file_id: the file.
        email: the person's email.

    Returns:
        {"message": string}
    """
    _file_row(ctx, file_id)
    row = ctx.one(
        "SELECT s.id FROM files_shares s JOIN users u ON u.id = s.user_id WHERE s.file_id = ? AND lower(u.email) = lower(?)", (file_id, email.strip())
    )
    if row is None:
        raise ApiError(404, f"File {file_id} is not shared with {email}.")
    ctx.delete("files_shares", row["id"])
    return {"message": "Share removed."}


@APP.api
def show_file_shares(ctx: Ctx, access_token: str, file_id: int) -> list[dict[str, Any]]:
    """List the people one of your files is shared with.

    Args:
        access_token: your access token from login.
        file_id: the file.

    Returns:
        [{"name": string, "email": string, "permission": string, "shared_at": string}]
    """
    _file_row(ctx, file_id)
    rows = ctx.all(
        "SELECT s.*, u.first_name, u.last_name, u.email FROM files_shares s JOIN users u ON u.id = s.user_id WHERE s.file_id = ? ORDER BY s.id", (file_id,)
    )
    return [{"name": f"{r['first_name']} {r['last_name']}", "email": r["email"], "permission": r["permission"], "shared_at": r["shared_at"]} for r in rows]


@APP.api
def show_shared_with_me(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List files other people shared with you, most recently shared first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of files per page (at most 20).

    Returns:
        [{"file_id": integer, "name": string, "extension": string, "size_bytes": integer, "is_text": boolean, "owner_email": string, "permission": string, "shared_at": string}]
    """
    rows = paginate(
        ctx,
        "SELECT f.*, s.permission, s.shared_at, u.email AS owner_email FROM files_shares s JOIN files_files f ON f.id = s.file_id JOIN users u ON u.id = f.user_id WHERE s.user_id = ? ORDER BY s.shared_at DESC, s.id DESC",
        (ctx.user_id,),
        page_index,
        page_limit,
    )
    return [
        {
            "file_id": r["id"],
            "name": r["name"],
            "extension": _ext(r["name"]),
            "size_bytes": r["size_bytes"],
            "is_text": r["content"] is not None,
            "owner_email": r["owner_email"],
            "permission": r["permission"],
            "shared_at": r["shared_at"],
        }
        for r in rows
    ]


@APP.api
def show_storage_usage(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show how much storage your files use, in total and per extension, against your 5 GiB quota.

    Args:
        access_token: your access token from login.

    Returns:
        {"used_bytes": integer, "quota_bytes": integer, "file_count": integer, "by_extension": [{"extension": string, "file_count": integer, "size_bytes": integer}]}
    """
    rows = ctx.all("SELECT name, size_bytes FROM files_files WHERE user_id = ?", (ctx.user_id,))
    by: dict[str, list[int]] = {}
    for r in rows:
        entry = by.setdefault(_ext(r["name"]), [0, 0])
        entry[0] += 1
        entry[1] += r["size_bytes"]
    return {
        "used_bytes": sum(r["size_bytes"] for r in rows),
        "quota_bytes": QUOTA_BYTES,
        "file_count": len(rows),
        "by_extension": [{"extension": e, "file_count": n, "size_bytes": s} for e, (n, s) in sorted(by.items(), key=lambda kv: -kv[1][1])],
    }


# -------------------------------------------------------------------------------------------------
# Seed data

_TREE = {
    "Documents": {"Taxes": {}, "Receipts": {}, "Work": {"Reports": {}}},
    "Photos": {"2025 Summer": {}, "Family": {}},
    "Music": {},
    "Projects": {"Garden Plan": {}, "Website": {}},
    "Backups": {},
}
_BINARY = {
    "Photos": ["jpg", "png", "heic"],
    "Music": ["mp3", "flac"],
    "Backups": ["zip"],
    "Taxes": ["pdf"],
    "Receipts": ["pdf", "jpg"],
    "Reports": ["pdf", "xlsx"],
    "Website": ["png", "html"],
}


def _text_content(gen: Gen, ext: str) -> str:
    fake, rng = gen.fake, gen.rng
    if ext == "csv":
        rows = ["date,item,amount"] + [
            f"{(gen.now - timedelta(days=rng.randint(1, 120))).date().isoformat()},{fake.word()},{rng.uniform(3, 200):.2f}" for _ in range(rng.randint(3, 8))
        ]
        return "\n".join(rows)
    if ext == "json":
        return json.dumps({"name": fake.word(), "tags": [fake.word(), fake.word()], "version": rng.randint(1, 9)})
    return "\n".join(fake.paragraph(nb_sentences=rng.randint(2, 5)) for _ in range(rng.randint(1, 3)))


def seed(gen: Gen) -> None:
    rng, fake, now = gen.rng, gen.fake, gen.now

    def stamp(max_days: int = 300) -> str:
        return (now - timedelta(days=rng.randint(1, max_days), seconds=rng.randint(0, 86000))).isoformat(timespec="seconds")

    for person in gen.people:
        is_user = person["id"] == gen.user["id"]
        root = gen.insert("files_folders", user_id=person["id"], parent_id=None, name="", created_at="2024-01-01T00:00:00")
        folders: list[tuple[int, str]] = [(root, "")]
        # Walk the template tree; other people keep about half of each level.
        stack = [(root, name, sub) for name, sub in _TREE.items()]
        while stack:
            parent, name, sub = stack.pop(0)
            if not is_user and rng.random() < 0.5:
                continue
            fid = gen.insert("files_folders", user_id=person["id"], parent_id=parent, name=name, created_at=stamp(500))
            folders.append((fid, name))
            stack[:0] = [(fid, n, s) for n, s in sub.items()]
        used: set[tuple[int, str]] = set()
        for _ in range(70 if is_user else rng.randint(3, 10)):
            folder_id, folder_name = rng.choice(folders)
            if folder_name in _BINARY and rng.random() < 0.8:
                ext = rng.choice(_BINARY[folder_name])
                content = None
                size = rng.randint(40_000, 9_000_000) if ext not in ("html",) else rng.randint(2_000, 40_000)
            else:
                ext = rng.choice(["txt", "md", "csv", "json", "pdf", "docx"])
                content = _text_content(gen, ext) if ext in TEXT_EXTENSIONS else None
                size = len(content.encode()) if content is not None else rng.randint(20_000, 2_000_000)
            name = f"{fake.word()}_{fake.word()}.{ext}" if rng.random() < 0.5 else f"{fake.word().capitalize()} {rng.randint(1, 99)}.{ext}"
            if (folder_id, name.lower()) in used:
                continue
            used.add((folder_id, name.lower()))
            created = stamp()
            gen.insert(
                "files_files", user_id=person["id"], folder_id=folder_id, name=name, size_bytes=size, content=content, created_at=created, updated_at=created
            )
    # Shares: a few of others' files are shared with the user and vice versa.
    user_files = [r[0] for r in gen.db.execute("SELECT id FROM files_files WHERE user_id = ? ORDER BY id", (gen.user["id"],))]
    other_files = [r[0] for r in gen.db.execute("SELECT id FROM files_files WHERE user_id != ? ORDER BY id", (gen.user["id"],))]
    circle = [p["id"] for p in gen.friends]
    for fid in rng.sample(user_files, 8):
        for uid in rng.sample(circle, rng.randint(1, 2)):
            gen.insert("files_shares", file_id=fid, user_id=uid, permission=rng.choice(["view", "edit"]), shared_at=stamp(100))
    for fid in rng.sample(other_files, 6):
        gen.insert("files_shares", file_id=fid, user_id=gen.user["id"], permission=rng.choice(["view", "edit"]), shared_at=stamp(100))
