"""The email app: folders (inbox, sent, drafts, archive, trash), threads, labels, stars and
attachments (as metadata: name, size, type).

Follows the notes pattern (typed APIs documented by their docstrings, ApiError statuses, paginated
lists with sort keys, deterministic seed). Like real mail, every mailbox holds its own copy of a
message: sending writes a copy in your "sent" folder and one in the inbox of every recipient who
has an account here; replies stay in the original's thread. Moving, labelling or deleting a message
only affects your copy. Email addresses are compared case-insensitively and stored lowercased.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "email",
    "Your email: inbox, sent, drafts, archive and trash folders; threads; sending, replying and forwarding; "
    "labels, stars, read marks; attachments (name, size and type only).",
    schema="""
CREATE TABLE email_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, thread_id INTEGER NOT NULL, folder TEXT NOT NULL,
    previous_folder TEXT, sender_email TEXT NOT NULL, to_emails TEXT NOT NULL, cc_emails TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL, body TEXT NOT NULL, sent_at TEXT, read INTEGER NOT NULL DEFAULT 1,
    starred INTEGER NOT NULL DEFAULT 0, labels TEXT NOT NULL DEFAULT ''
);
CREATE TABLE email_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, email_id INTEGER NOT NULL, file_name TEXT NOT NULL, size_bytes INTEGER NOT NULL,
    content_type TEXT NOT NULL
);
CREATE TABLE email_labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE(user_id, name)
);
""",
)
APP.add_login()

Folder = Literal["inbox", "sent", "drafts", "archive", "trash"]
EmailAddress = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=120, description="an email address")]
Subject = Annotated[str, Field(max_length=200)]
LabelName = Annotated[str, Field(min_length=1, max_length=40)]
EmailSort = Literal["sent_at", "-sent_at", "subject", "-subject", "sender_email", "-sender_email"]


def _order(sort_by: str) -> str:
    key = sort_by.lstrip("-")
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    return f"{key} {direction}, id {direction}"


def _split(csv: str) -> list[str]:
    return [x for x in csv.split(",") if x]


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "email_id": row["id"],
        "thread_id": row["thread_id"],
        "folder": row["folder"],
        "sender_email": row["sender_email"],
        "to_emails": _split(row["to_emails"]),
        "cc_emails": _split(row["cc_emails"]),
        "subject": row["subject"],
        "sent_at": row["sent_at"],
        "read": bool(row["read"]),
        "starred": bool(row["starred"]),
        "labels": _split(row["labels"]),
    }


def _attachments(ctx: Ctx, email_id: int) -> list[dict[str, Any]]:
    rows = ctx.all("SELECT * FROM email_attachments WHERE email_id = ? ORDER BY id", (email_id,))
    return [{"attachment_id": r["id"], "file_name": r["file_name"], "size_bytes": r["size_bytes"], "content_type": r["content_type"]} for r in rows]


def _full(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    return {**_brief(row), "body": row["body"], "attachments": _attachments(ctx, row["id"])}


def _me(ctx: Ctx) -> str:
    return ctx.one("SELECT email FROM users WHERE id = ?", (ctx.user_id,))["email"]


def _mine(ctx: Ctx, email_id: int) -> dict[str, Any]:
    return ctx.require("email_messages", email_id, "email")


def _new_thread(ctx: Ctx) -> int:
    return int(ctx.one("SELECT COALESCE(MAX(thread_id), 0) + 1 AS t FROM email_messages")["t"])


def _deliver(
    ctx: Ctx, *, thread_id: int, to: list[str], cc: list[str], subject: str, body: str, attachments: list[dict[str, Any]] = (), draft_id: int | None = None
) -> int:
    """Write the sender's "sent" copy (a draft becomes it in place, keeping its id) and each
    account-holding recipient's inbox copy; return the sent copy's id."""
    me = _me(ctx)
    ts = ctx.clock.timestamp()
    common = dict(
        thread_id=thread_id, sender_email=me, to_emails=",".join(to), cc_emails=",".join(cc), subject=subject, body=body, sent_at=ts, starred=0, labels=""
    )
    if draft_id is None:
        sent_id = ctx.insert("email_messages", user_id=ctx.user_id, folder="sent", read=1, **common)
    else:
        sent_id = draft_id
        ctx.update("email_messages", draft_id, folder="sent", read=1, **common)
    copies = [sent_id]
    for address in dict.fromkeys(to + cc):
        user = ctx.one("SELECT id FROM users WHERE lower(email) = ?", (address,))
        if user is not None and user["id"] != ctx.user_id:
            copies.append(ctx.insert("email_messages", user_id=user["id"], folder="inbox", read=0, **common))
    for copy_id in copies:
        for a in attachments:
            ctx.insert("email_attachments", email_id=copy_id, file_name=a["file_name"], size_bytes=a["size_bytes"], content_type=a["content_type"])
    return sent_id


def _addresses(values: list[str], parameter: str, required: bool) -> list[str]:
    out = list(dict.fromkeys(v.strip().lower() for v in values))
    if required and not out:
        raise ApiError(422, f"Invalid value for parameter(s): {parameter}.", errors=[{"parameter": parameter, "error": "give at least one recipient"}])
    return out


# ---- reading --------------------------------------------------------------------------------------


@APP.api
def show_emails(
    ctx: Ctx,
    access_token: str,
    folder: Folder = "inbox",
    unread: bool | None = None,
    starred: bool | None = None,
    label: str | None = None,
    sender_email: str | None = None,
    sent_after: str | None = None,
    sent_before: str | None = None,
    sort_by: EmailSort = "-sent_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List the emails in one of your folders (without bodies), with optional filters.

    Args:
        access_token: your access token from login.
        folder: inbox, sent, drafts, archive or trash.
        unread: only unread (true) or read (false) emails.
        starred: only starred (true) or unstarred (false) emails.
        label: only emails with this label.
        sender_email: only emails from this address.
        sent_after: only emails sent at or after this date or datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).
        sent_before: only emails sent before this date or datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of emails per page (at most 20).

    Returns:
        [{"email_id": integer, "thread_id": integer, "folder": string, "sender_email": string, "to_emails": [string], "cc_emails": [string], "subject": string, "sent_at": string | null, "read": boolean, "starred": boolean, "labels": [string]}]
    """
    where, params = ["user_id = ?", "folder = ?"], [ctx.user_id, folder]
    if unread is not None:
        where.append("read = ?")
        params.append(0 if unread else 1)
    if starred is not None:
        where.append("starred = ?")
        params.append(int(starred))
    if label is not None:
        where.append("(',' || labels || ',') LIKE ?")
        params.append(f"%,{label},%")
    if sender_email is not None:
        where.append("sender_email = ?")
        params.append(sender_email.strip().lower())
    if sent_after is not None:
        where.append("sent_at >= ?")
        params.append(sent_after)
    if sent_before is not None:
        where.append("sent_at < ?")
        params.append(sent_before)
    sql = f"SELECT * FROM email_messages WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    return [_brief(r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def search_emails(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    folder: Folder | None = None,
    sort_by: EmailSort = "-sent_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search your emails whose subject, body or sender contains the query (case-insensitive).

    Args:
        access_token: your access token from login.
        query: the text to look for.
        folder: only search this folder (all folders except trash when null).
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of emails per page (at most 20).

    Returns:
        [{"email_id": integer, "thread_id": integer, "folder": string, "sender_email": string, "to_emails": [string], "cc_emails": [string], "subject": string, "sent_at": string | null, "read": boolean, "starred": boolean, "labels": [string]}]
    """
    like = f"%{query.lower()}%"
    where = ["user_id = ?", "(lower(subject) LIKE ? OR lower(body) LIKE ? OR sender_email LIKE ?)"]
    params: list[Any] = [ctx.user_id, like, like, like]
    if folder is None:
        where.append("folder != 'trash'")
    else:
        where.append("folder = ?")
        params.append(folder)
    sql = f"SELECT * FROM email_messages WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    return [_brief(r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_email(ctx: Ctx, access_token: str, email_id: int) -> dict[str, Any]:
    """Show one email with its body and attachments. Reading does not mark it read; use mark_email_read.

    Args:
        access_token: your access token from login.
        email_id: the email to show.

    Returns:
        {"email_id": integer, "thread_id": integer, "folder": string, "sender_email": string, "to_emails": [string], "cc_emails": [string], "subject": string, "sent_at": string | null, "read": boolean, "starred": boolean, "labels": [string], "body": string, "attachments": [{"attachment_id": integer, "file_name": string, "size_bytes": integer, "content_type": string}]}
    """
    return _full(ctx, _mine(ctx, email_id))


@APP.api
def show_thread(ctx: Ctx, access_token: str, thread_id: int, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """Show your emails in a thread (a message and its replies and forwards), oldest first, with bodies.

    Args:
        access_token: your access token from login.
        thread_id: the thread, from an email's thread_id.
        page_index: the page to return, starting at 0.
        page_limit: the number of emails per page (at most 20).

    Returns:
        [{"email_id": integer, "thread_id": integer, "folder": string, "sender_email": string, "to_emails": [string], "cc_emails": [string], "subject": string, "sent_at": string | null, "read": boolean, "starred": boolean, "labels": [string], "body": string, "attachments": [object]}]
    """
    if not ctx.one("SELECT id FROM email_messages WHERE user_id = ? AND thread_id = ? LIMIT 1", (ctx.user_id, thread_id)):
        raise ApiError(404, f"No thread with id {thread_id} in your mailbox.")
    sql = "SELECT * FROM email_messages WHERE user_id = ? AND thread_id = ? ORDER BY sent_at IS NULL, sent_at, id"
    return [_full(ctx, r) for r in paginate(ctx, sql, (ctx.user_id, thread_id), page_index, page_limit)]


@APP.api
def show_attachments(ctx: Ctx, access_token: str, email_id: int) -> list[dict[str, Any]]:
    """List an email's attachments.

    Args:
        access_token: your access token from login.
        email_id: the email.

    Returns:
        [{"attachment_id": integer, "file_name": string, "size_bytes": integer, "content_type": string}]
    """
    _mine(ctx, email_id)
    return _attachments(ctx, email_id)


@APP.api
def show_folder_counts(ctx: Ctx, access_token: str) -> list[dict[str, Any]]:
    """Count your emails per folder, with how many are unread.

    Args:
        access_token: your access token from login.

    Returns:
        [{"folder": string, "email_count": integer, "unread_count": integer}]
    """
    rows = {
        r["folder"]: r
        for r in ctx.all("SELECT folder, COUNT(*) AS n, SUM(1 - read) AS u FROM email_messages WHERE user_id = ? GROUP BY folder", (ctx.user_id,))
    }
    return [
        {"folder": f, "email_count": rows[f]["n"] if f in rows else 0, "unread_count": rows[f]["u"] if f in rows else 0}
        for f in ("inbox", "sent", "drafts", "archive", "trash")
    ]


# ---- writing --------------------------------------------------------------------------------------


@APP.api
def send_email(
    ctx: Ctx,
    access_token: str,
    to_emails: list[EmailAddress],
    subject: Subject,
    body: str,
    cc_emails: list[EmailAddress] = [],
) -> dict[str, Any]:
    """Send a new email (it starts a new thread).

    Args:
        access_token: your access token from login.
        to_emails: the recipients' email addresses (at least one).
        subject: the subject line.
        body: the message text.
        cc_emails: addresses to copy.

    Returns:
        {"email_id": integer, "thread_id": integer, "message": string}
    """
    to = _addresses(to_emails, "to_emails", True)
    cc = _addresses(cc_emails, "cc_emails", False)
    thread = _new_thread(ctx)
    eid = _deliver(ctx, thread_id=thread, to=to, cc=cc, subject=subject, body=body)
    return {"email_id": eid, "thread_id": thread, "message": "Email sent."}


def _reply_subject(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix} {subject}"


@APP.api
def reply_to_email(ctx: Ctx, access_token: str, email_id: int, body: str, reply_all: bool = False) -> dict[str, Any]:
    """Reply to an email, in its thread. The subject becomes "Re: <subject>".

    Args:
        access_token: your access token from login.
        email_id: the email to reply to.
        body: the reply's text.
        reply_all: also send to everyone else in the original's to and cc lists.

    Returns:
        {"email_id": integer, "thread_id": integer, "message": string}
    """
    row = _mine(ctx, email_id)
    if row["folder"] == "drafts":
        raise ApiError(409, "You cannot reply to a draft; send it first.")
    me = _me(ctx)
    to = [row["sender_email"]] if row["sender_email"] != me else _split(row["to_emails"])
    cc: list[str] = []
    if reply_all:
        others = [a for a in _split(row["to_emails"]) + _split(row["cc_emails"]) if a != me and a not in to]
        cc = list(dict.fromkeys(others))
    eid = _deliver(ctx, thread_id=row["thread_id"], to=to, cc=cc, subject=_reply_subject("Re:", row["subject"]), body=body)
    return {"email_id": eid, "thread_id": row["thread_id"], "message": "Reply sent."}


@APP.api
def forward_email(ctx: Ctx, access_token: str, email_id: int, to_emails: list[EmailAddress], body: str = "") -> dict[str, Any]:
    """Forward an email with its attachments. The subject becomes "Fwd: <subject>" and your text comes before the original.

    Args:
        access_token: your access token from login.
        email_id: the email to forward.
        to_emails: the recipients' email addresses (at least one).
        body: your note above the forwarded message.

    Returns:
        {"email_id": integer, "thread_id": integer, "message": string}
    """
    row = _mine(ctx, email_id)
    to = _addresses(to_emails, "to_emails", True)
    quoted = f"{body}\n\n---------- Forwarded message ----------\nFrom: {row['sender_email']}\nSubject: {row['subject']}\n\n{row['body']}".lstrip("\n")
    attachments = ctx.all("SELECT file_name, size_bytes, content_type FROM email_attachments WHERE email_id = ? ORDER BY id", (email_id,))
    eid = _deliver(ctx, thread_id=row["thread_id"], to=to, cc=[], subject=_reply_subject("Fwd:", row["subject"]), body=quoted, attachments=attachments)
    return {"email_id": eid, "thread_id": row["thread_id"], "message": "Email forwarded."}


@APP.api
def create_draft(
    ctx: Ctx, access_token: str, subject: Subject = "", body: str = "", to_emails: list[EmailAddress] = [], cc_emails: list[EmailAddress] = []
) -> dict[str, Any]:
    """Save a draft email in your drafts folder (nothing is sent).

    Args:
        access_token: your access token from login.
        subject: the subject line.
        body: the message text.
        to_emails: the recipients' email addresses.
        cc_emails: addresses to copy.

    Returns:
        {"email_id": integer, "message": string}
    """
    eid = ctx.insert(
        "email_messages",
        user_id=ctx.user_id,
        thread_id=_new_thread(ctx),
        folder="drafts",
        sender_email=_me(ctx),
        to_emails=",".join(_addresses(to_emails, "to_emails", False)),
        cc_emails=",".join(_addresses(cc_emails, "cc_emails", False)),
        subject=subject,
        body=body,
        sent_at=None,
        read=1,
        starred=0,
        labels="",
    )
    return {"email_id": eid, "message": "Draft saved."}


@APP.api
def update_draft(
    ctx: Ctx,
    access_token: str,
    email_id: int,
    subject: Subject | None = None,
    body: str | None = None,
    to_emails: list[EmailAddress] | None = None,
    cc_emails: list[EmailAddress] | None = None,
) -> dict[str, Any]:
    """Change a draft; parameters left null are unchanged.

    Args:
        access_token: your access token from login.
        email_id: the draft to change.
        subject: the new subject line.
        body: the new message text.
        to_emails: the new recipients (replacing the old ones).
        cc_emails: the new cc addresses (replacing the old ones).

    Returns:
        {"message": string}
    """
    row = _mine(ctx, email_id)
    if row["folder"] != "drafts":
        raise ApiError(409, f"The email with id {email_id} is not a draft (it is in {row['folder']}).")
    values: dict[str, Any] = {k: v for k, v in (("subject", subject), ("body", body)) if v is not None}
    if to_emails is not None:
        values["to_emails"] = ",".join(_addresses(to_emails, "to_emails", False))
    if cc_emails is not None:
        values["cc_emails"] = ",".join(_addresses(cc_emails, "cc_emails", False))
    if not values:
        raise ApiError(422, "Invalid value for parameter(s): subject.", errors=[{"parameter": "subject", "error": "give at least one field to change"}])
    ctx.update("email_messages", email_id, **values)
    return {"message": "Draft updated."}


@APP.api
def send_draft(ctx: Ctx, access_token: str, email_id: int) -> dict[str, Any]:
    """Send a draft: it moves to the sent folder (keeping its email_id) and is delivered like send_email.

    Args:
        access_token: your access token from login.
        email_id: the draft to send.

    Returns:
        {"email_id": integer, "thread_id": integer, "message": string}
    """
    row = _mine(ctx, email_id)
    if row["folder"] != "drafts":
        raise ApiError(409, f"The email with id {email_id} is not a draft (it is in {row['folder']}).")
    to = _split(row["to_emails"])
    if not to:
        raise ApiError(
            422,
            "Invalid value for parameter(s): email_id.",
            errors=[{"parameter": "email_id", "error": "the draft has no recipients; add them with update_draft"}],
        )
    eid = _deliver(ctx, thread_id=row["thread_id"], to=to, cc=_split(row["cc_emails"]), subject=row["subject"], body=row["body"], draft_id=email_id)
    return {"email_id": eid, "thread_id": row["thread_id"], "message": "Draft sent."}


# ---- organizing -----------------------------------------------------------------------------------


def _move(ctx: Ctx, email_id: int, folder: str, allowed_from: tuple[str, ...]) -> dict[str, Any]:
    row = _mine(ctx, email_id)
    if row["folder"] == folder:
        raise ApiError(409, f"The email with id {email_id} is already in {folder}.")
    if row["folder"] not in allowed_from:
        raise ApiError(409, f"The email with id {email_id} is in {row['folder']}; it can only be moved to {folder} from {', '.join(allowed_from)}.")
    ctx.update("email_messages", email_id, folder=folder, previous_folder=row["folder"])
    return row


@APP.api
def archive_email(ctx: Ctx, access_token: str, email_id: int) -> dict[str, Any]:
    """Move an inbox email to the archive.

    Args:
        access_token: your access token from login.
        email_id: the email to archive.

    Returns:
        {"message": string}
    """
    _move(ctx, email_id, "archive", ("inbox",))
    return {"message": "Email archived."}


@APP.api
def move_email_to_inbox(ctx: Ctx, access_token: str, email_id: int) -> dict[str, Any]:
    """Move an archived email back to the inbox.

    Args:
        access_token: your access token from login.
        email_id: the archived email.

    Returns:
        {"message": string}
    """
    _move(ctx, email_id, "inbox", ("archive",))
    return {"message": "Email moved to the inbox."}


@APP.api
def delete_email(ctx: Ctx, access_token: str, email_id: int) -> dict[str, Any]:
    """Move an email to the trash (restore it with restore_email). Deleting a draft or an email already in the trash removes it for good.

    Args:
        access_token: your access token from login.
        email_id: the email to delete.

    Returns:
        {"message": string}
    """
    row = _mine(ctx, email_id)
    if row["folder"] in ("drafts", "trash"):
        ctx.db.execute("DELETE FROM email_attachments WHERE email_id = ?", (email_id,))
        ctx.delete("email_messages", email_id)
        return {"message": "Email permanently deleted."}
    _move(ctx, email_id, "trash", ("inbox", "sent", "archive"))
    return {"message": "Email moved to the trash."}


@APP.api
def restore_email(ctx: Ctx, access_token: str, email_id: int) -> dict[str, Any]:
    """Take an email out of the trash, back to the folder it was in.

    Args:
        access_token: your access token from login.
        email_id: the email in the trash.

    Returns:
        {"message": string, "folder": string}
    """
    row = _mine(ctx, email_id)
    if row["folder"] != "trash":
        raise ApiError(409, f"The email with id {email_id} is not in the trash.")
    folder = row["previous_folder"] or "inbox"
    ctx.update("email_messages", email_id, folder=folder, previous_folder=None)
    return {"message": f"Email restored to {folder}.", "folder": folder}


@APP.api
def empty_trash(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Permanently delete every email in your trash.

    Args:
        access_token: your access token from login.

    Returns:
        {"message": string, "deleted": integer}
    """
    ids = [r["id"] for r in ctx.all("SELECT id FROM email_messages WHERE user_id = ? AND folder = 'trash'", (ctx.user_id,))]
    for eid in ids:
        ctx.db.execute("DELETE FROM email_attachments WHERE email_id = ?", (eid,))
        ctx.delete("email_messages", eid)
    return {"message": "Trash emptied.", "deleted": len(ids)}


@APP.api
def mark_email_read(ctx: Ctx, access_token: str, email_id: int, read: bool = True) -> dict[str, Any]:
    """Mark an email as read, or as unread with read=false.

    Args:
        access_token: your access token from login.
        email_id: the email.
        read: true for read, false for unread.

    Returns:
        {"message": string}
    """
    _mine(ctx, email_id)
    ctx.update("email_messages", email_id, read=int(read))
    return {"message": "Email marked read." if read else "Email marked unread."}


@APP.api
def star_email(ctx: Ctx, access_token: str, email_id: int, starred: bool = True) -> dict[str, Any]:
    """Star an email, or unstar it with starred=false.

    Args:
        access_token: your access token from login.
        email_id: the email.
        starred: true to star, false to unstar.

    Returns:
        {"message": string}
    """
    _mine(ctx, email_id)
    ctx.update("email_messages", email_id, starred=int(starred))
    return {"message": "Email starred." if starred else "Email unstarred."}


# ---- labels ---------------------------------------------------------------------------------------


@APP.api
def show_labels(ctx: Ctx, access_token: str) -> list[dict[str, Any]]:
    """List your labels with how many emails carry each.

    Args:
        access_token: your access token from login.

    Returns:
        [{"label_id": integer, "name": string, "email_count": integer}]
    """
    labels = ctx.all("SELECT * FROM email_labels WHERE user_id = ? ORDER BY name", (ctx.user_id,))
    counts: dict[str, int] = {}
    for r in ctx.all("SELECT labels FROM email_messages WHERE user_id = ?", (ctx.user_id,)):
        for name in _split(r["labels"]):
            counts[name] = counts.get(name, 0) + 1
    return [{"label_id": r["id"], "name": r["name"], "email_count": counts.get(r["name"], 0)} for r in labels]


@APP.api
def create_label(ctx: Ctx, access_token: str, name: LabelName) -> dict[str, Any]:
    """Create a label.

    Args:
        access_token: your access token from login.
        name: the label's name; must be unique among your labels and must not contain a comma.

    Returns:
        {"label_id": integer, "message": string}
    """
    if "," in name:
        raise ApiError(422, "Invalid value for parameter(s): name.", errors=[{"parameter": "name", "error": "must not contain a comma", "given": name}])
    if ctx.one("SELECT id FROM email_labels WHERE user_id = ? AND name = ?", (ctx.user_id, name)):
        raise ApiError(409, f"You already have a label named {name!r}.")
    lid = ctx.insert("email_labels", user_id=ctx.user_id, name=name, created_at=ctx.clock.timestamp())
    return {"label_id": lid, "message": "Label created."}


@APP.api
def delete_label(ctx: Ctx, access_token: str, label_id: int) -> dict[str, Any]:
    """Delete a label and remove it from every email that has it.

    Args:
        access_token: your access token from login.
        label_id: the label to delete.

    Returns:
        {"message": string}
    """
    label = ctx.require("email_labels", label_id, "label")
    for r in ctx.all("SELECT id, labels FROM email_messages WHERE user_id = ? AND (',' || labels || ',') LIKE ?", (ctx.user_id, f"%,{label['name']},%")):
        ctx.update("email_messages", r["id"], labels=",".join(x for x in _split(r["labels"]) if x != label["name"]))
    ctx.delete("email_labels", label_id)
    return {"message": "Label deleted."}


@APP.api
def add_email_label(ctx: Ctx, access_token: str, email_id: int, label: str) -> dict[str, Any]:
    """Put one of your labels on an email.

    Args:
        access_token: your access token from login.
        email_id: the email.
        label: the label's name (create it first with create_label).

    Returns:
        {"message": string}
    """
    row = _mine(ctx, email_id)
    if not ctx.one("SELECT id FROM email_labels WHERE user_id = ? AND name = ?", (ctx.user_id, label)):
        raise ApiError(404, f"You have no label named {label!r}; create it with create_label.")
    labels = _split(row["labels"])
    if label in labels:
        raise ApiError(409, f"The email already has the label {label!r}.")
    ctx.update("email_messages", email_id, labels=",".join(labels + [label]))
    return {"message": "Label added."}


@APP.api
def remove_email_label(ctx: Ctx, access_token: str, email_id: int, label: str) -> dict[str, Any]:
    """Take a label off an email.

    Args:
        access_token: your access token from login.
        email_id: the email.
        label: the label's name.

    Returns:
        {"message": string}
    """
    row = _mine(ctx, email_id)
    labels = _split(row["labels"])
    if label not in labels:
        raise ApiError(404, f"The email has no label {label!r}.")
    ctx.update("email_messages", email_id, labels=",".join(x for x in labels if x != label))
    return {"message": "Label removed."}


# -------------------------------------------------------------------------------------------------
# Seed data

_LABELS = ["Work", "Family", "Receipts", "Travel", "Bills"]
_FRIEND_SUBJECTS = [
    ("Weekend plans", "Are you free on Saturday? Thinking of a hike and lunch after."),
    ("Photos from the trip", "Here are the photos I promised. Let me know which ones you want printed."),
    ("Book club", "Next book club is at my place. I'll bring snacks, you bring the wine?"),
    ("Quick question", "Do you still have the number of that plumber you used last year?"),
    ("Project update", "I pushed the latest draft to the shared folder. Comments welcome before Friday."),
    ("Dinner on Thursday", "Booked a table for four at 7:30. Does that still work for you?"),
    ("Borrowed ladder", "Thanks again for the ladder, I'll drop it back this weekend."),
    ("Meeting notes", "Attached are the notes from today's meeting, with the action items at the end."),
    ("Birthday party", "We're throwing a surprise party next month. Please keep it quiet!"),
    ("Recipe you asked for", "Here's the lasagna recipe. The secret is letting it rest for 20 minutes."),
]
_SERVICES = [
    (
        "billing@brightpower.example",
        "Your electricity bill for {month}",
        "Your electricity bill for {month} is ${amount}. It will be charged on the 15th.",
        "Bills",
        ("bill_{month}.pdf", "application/pdf"),
    ),
    (
        "billing@aquaflow.example",
        "Water bill for {month}",
        "Amount due for {month}: ${amount}. Thank you for saving water.",
        "Bills",
        ("water_{month}.pdf", "application/pdf"),
    ),
    ("orders@shopnest.example", "Your order has shipped", "Good news! Your order is on its way and should arrive in 3-5 days.", "Receipts", None),
    ("news@dailybrief.example", "Your morning brief", "Today's top stories, weather and markets in five minutes.", None, None),
    (
        "no-reply@skyway.example",
        "Your flight itinerary",
        "Your booking is confirmed. Check-in opens 24 hours before departure.",
        "Travel",
        ("itinerary.pdf", "application/pdf"),
    ),
    ("team@fitpulse.example", "Your weekly activity summary", "You were active 4 days this week. Keep it up!", None, None),
]
_MONTHS = ["January", "February", "March", "April"]


def _ts(t) -> str:
    return t.isoformat(timespec="seconds")


def seed(gen: Gen) -> None:
    rng, fake, now = gen.rng, gen.fake, gen.now
    me = gen.user
    thread = 0
    for person in gen.people:
        names = _LABELS if person["id"] == me["id"] else rng.sample(_LABELS, 2)
        for name in names:
            gen.insert("email_labels", user_id=person["id"], name=name, created_at=_ts(now - timedelta(days=rng.randint(200, 600))))

    def copy(
        owner: int, folder: str, sender: str, to: list[str], subject: str, body: str, t, read: int, labels: str = "", cc: list[str] = (), attach=None
    ) -> int:
        eid = gen.insert(
            "email_messages",
            user_id=owner,
            thread_id=thread,
            folder=folder,
            previous_folder=None,
            sender_email=sender,
            to_emails=",".join(to),
            cc_emails=",".join(cc),
            subject=subject,
            body=body,
            sent_at=_ts(t),
            read=read,
            starred=int(owner == me["id"] and rng.random() < 0.1),
            labels=labels,
        )
        if attach:
            gen.insert("email_attachments", email_id=eid, file_name=attach[0], size_bytes=rng.randint(20_000, 900_000), content_type=attach[1])
        return eid

    # Threads between the user and friends: a message, sometimes a reply.
    for _ in range(70):
        thread += 1
        friend = rng.choice(gen.friends)
        subject, body = rng.choice(_FRIEND_SUBJECTS)
        t = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 1200))
        attach = (
            ("notes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            if "Attached" in body
            else (("photos.zip", "application/zip") if "photos" in body else None)
        )
        incoming = rng.random() < 0.7
        sender, recipient = (friend, me) if incoming else (me, friend)
        folder = "inbox" if rng.random() < 0.8 else "archive"
        label = "Work" if subject in ("Project update", "Meeting notes") else ("Family" if rng.random() < 0.15 else "")
        unread = int(incoming and (now - t).days < 10 and rng.random() < 0.6)
        copy(
            recipient["id"],
            folder if incoming else "inbox",
            sender["email"],
            [recipient["email"]],
            subject,
            body,
            t,
            1 - unread if incoming else 0,
            label if incoming else "",
            attach=attach,
        )
        copy(sender["id"], "sent", sender["email"], [recipient["email"]], subject, body, t, 1, "" if incoming else label, attach=attach)
        if rng.random() < 0.4:
            t2 = t + timedelta(hours=rng.randint(1, 30))
            if t2 < now:
                reply = f"{fake.sentence(nb_words=10)}\n\n> {body}"
                copy(recipient["id"], "sent", recipient["email"], [sender["email"]], f"Re: {subject}", reply, t2, 1)
                copy(sender["id"], "inbox", recipient["email"], [sender["email"]], f"Re: {subject}", reply, t2, 1)
    # Messages from services (bills, receipts, newsletters) to the user only.
    for month_index, month in enumerate(_MONTHS):
        for sender, subject, body, label, attach in _SERVICES:
            if label is None and rng.random() < 0.5:
                continue
            thread += 1
            t = now.replace(month=month_index + 2, day=rng.randint(2, 9), hour=rng.randint(6, 20))
            amount = f"{rng.uniform(40, 190):.2f}"
            a = (attach[0].format(month=month.lower()), attach[1]) if attach else None
            folder = "archive" if month_index < 2 and rng.random() < 0.5 else "inbox"
            copy(
                me["id"],
                folder,
                sender,
                [me["email"]],
                subject.format(month=month),
                body.format(month=month, amount=amount),
                t,
                int(month_index < 3),
                label or "",
                attach=a,
            )
    # Other people email each other.
    for _ in range(60):
        thread += 1
        a, b = rng.sample(gen.people[1:], 2)
        subject, body = rng.choice(_FRIEND_SUBJECTS)
        t = now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 1200))
        copy(b["id"], "inbox", a["email"], [b["email"]], subject, body, t, int(rng.random() < 0.6))
        copy(a["id"], "sent", a["email"], [b["email"]], subject, body, t, 1)
    # A few drafts and a few trashed emails for the user.
    for subject, body in [
        ("Catching up", "It's been too long! Are you around next week?"),
        ("Re: lease renewal", "Hi, I'd like to renew for another year."),
        ("Gift ideas", "Candle, a book, concert tickets?"),
    ]:
        thread += 1
        gen.insert(
            "email_messages",
            user_id=me["id"],
            thread_id=thread,
            folder="drafts",
            previous_folder=None,
            sender_email=me["email"],
            to_emails=rng.choice(gen.friends)["email"] if rng.random() < 0.7 else "",
            cc_emails="",
            subject=subject,
            body=body,
            sent_at=None,
            read=1,
            starred=0,
            labels="",
        )
    for _ in range(4):
        thread += 1
        t = now - timedelta(days=rng.randint(1, 30))
        eid = copy(me["id"], "trash", "deals@megamart.example", [me["email"]], "Flash sale: 50% off today only", "Don't miss out on our biggest sale.", t, 1)
        gen.db.execute("UPDATE email_messages SET previous_folder = 'inbox' WHERE id = ?", (eid,))
