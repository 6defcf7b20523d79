"""The phone app: contacts, text messages, alarms and voicemail.

Follows the notes pattern (typed APIs documented by their docstrings, ApiError statuses, paginated
lists with sort keys, deterministic seed). Text messages are stored as one copy per phone: sending
writes a "sent" copy in your phone and, when the number belongs to someone with an account, a
"received" copy in theirs; deleting a message only removes it from your phone. Phone numbers are
10 digits without separators; APIs accept numbers written with spaces, dashes, dots or parentheses
and a leading +1, and normalize them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "phone",
    "Your phone: contacts (with relationship and favorites), text-message conversations, alarms, and voicemail.",
    schema="""
CREATE TABLE phone_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    phone_number TEXT NOT NULL, email TEXT, relationship TEXT NOT NULL, birthday TEXT,
    favorite INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, UNIQUE(user_id, phone_number)
);
CREATE TABLE phone_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, other_phone_number TEXT NOT NULL,
    direction TEXT NOT NULL, content TEXT NOT NULL, sent_at TEXT NOT NULL, read INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE phone_alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, time TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
    repeat_days TEXT NOT NULL DEFAULT '', enabled INTEGER NOT NULL DEFAULT 1, snooze_minutes INTEGER NOT NULL DEFAULT 10
);
CREATE TABLE phone_voicemails (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, caller_phone_number TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL, transcript TEXT NOT NULL, received_at TEXT NOT NULL,
    listened INTEGER NOT NULL DEFAULT 0
);
""",
)
APP.add_login()

RELATIONSHIPS = ("friend", "family", "coworker", "roommate", "neighbor", "other")
Relationship = Literal["friend", "family", "coworker", "roommate", "neighbor", "other"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PhoneNumber = Annotated[
    str, Field(min_length=7, max_length=20, description="a phone number (10 digits; spaces, dashes, dots, parentheses and a leading +1 are ignored)")
]
Time = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="a time of day as HH:MM (24-hour)")]
Date = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="a date as YYYY-MM-DD")]
NameStr = Annotated[str, Field(min_length=1, max_length=60)]


def normalize_phone(number: str, parameter: str = "phone_number") -> str:
    """Digits only, without a leading country code 1; a 422 naming ``parameter`` unless 10 digits remain."""
    digits = re.sub(r"[\s\-().]", "", number)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif digits.startswith("+"):
        digits = digits[1:]
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if not (digits.isdigit() and len(digits) == 10):
        raise ApiError(
            422, f"Invalid value for parameter(s): {parameter}.", errors=[{"parameter": parameter, "error": "must be a 10-digit phone number", "given": number}]
        )
    return digits


def _order(sort_by: str, default_tiebreak: str = "id") -> str:
    return f"{sort_by.lstrip('-')} {'DESC' if sort_by.startswith('-') else 'ASC'}, {default_tiebreak}"


def _contact(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "contact_id": row["id"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "phone_number": row["phone_number"],
        "email": row["email"],
        "relationship": row["relationship"],
        "birthday": row["birthday"],
        "favorite": bool(row["favorite"]),
    }


def _contact_names(ctx: Ctx) -> dict[str, str]:
    rows = ctx.all("SELECT phone_number, first_name, last_name FROM phone_contacts WHERE user_id = ?", (ctx.user_id,))
    return {r["phone_number"]: f"{r['first_name']} {r['last_name']}" for r in rows}


def _message(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "message_id": row["id"],
        "phone_number": row["other_phone_number"],
        "contact_name": names.get(row["other_phone_number"]),
        "direction": row["direction"],
        "content": row["content"],
        "sent_at": row["sent_at"],
        "read": bool(row["read"]),
    }


# ---- contacts -------------------------------------------------------------------------------------


@APP.api
def show_contacts(
    ctx: Ctx,
    access_token: str,
    relationship: Relationship | None = None,
    favorite: bool | None = None,
    sort_by: Literal["first_name", "-first_name", "last_name", "-last_name", "created_at", "-created_at"] = "first_name",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List your contacts, optionally only one relationship or only favorites.

    Args:
        access_token: your access token from login.
        relationship: only contacts with this relationship (friend, family, coworker, roommate, neighbor, other).
        favorite: only favorite (true) or non-favorite (false) contacts.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of contacts per page (at most 20).

    Returns:
        [{"contact_id": integer, "first_name": string, "last_name": string, "phone_number": string, "email": string | null, "relationship": string, "birthday": string | null, "favorite": boolean}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if relationship is not None:
        where.append("relationship = ?")
        params.append(relationship)
    if favorite is not None:
        where.append("favorite = ?")
        params.append(int(favorite))
    sql = f"SELECT * FROM phone_contacts WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    return [_contact(r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def search_contacts(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search your contacts by name, email or phone number (case-insensitive substring match), sorted by first name.

    Args:
        access_token: your access token from login.
        query: text found in the full name ("first last"), the email, or the phone number.
        page_index: the page to return, starting at 0.
        page_limit: the number of contacts per page (at most 20).

    Returns:
        [{"contact_id": integer, "first_name": string, "last_name": string, "phone_number": string, "email": string | null, "relationship": string, "birthday": string | null, "favorite": boolean}]
    """
    like = f"%{query.lower().strip()}%"
    sql = (
        "SELECT * FROM phone_contacts WHERE user_id = ? AND (lower(first_name || ' ' || last_name) LIKE ? "
        "OR lower(coalesce(email, '')) LIKE ? OR phone_number LIKE ?) ORDER BY first_name, id"
    )
    return [_contact(r) for r in paginate(ctx, sql, (ctx.user_id, like, like, like), page_index, page_limit)]


@APP.api
def show_contact(ctx: Ctx, access_token: str, contact_id: int) -> dict[str, Any]:
    """Show one contact.

    Args:
        access_token: your access token from login.
        contact_id: the contact to show.

    Returns:
        {"contact_id": integer, "first_name": string, "last_name": string, "phone_number": string, "email": string | null, "relationship": string, "birthday": string | null, "favorite": boolean}
    """
    return _contact(ctx.require("phone_contacts", contact_id, "contact"))


@APP.api
def add_contact(
    ctx: Ctx,
    access_token: str,
    first_name: NameStr,
    last_name: NameStr,
    phone_number: PhoneNumber,
    email: str | None = None,
    relationship: Relationship = "other",
    birthday: Date | None = None,
) -> dict[str, Any]:
    """Add a contact. Each phone number can be saved only once.

    Args:
        access_token: your access token from login.
        first_name: the contact's first name.
        last_name: the contact's last name.
        phone_number: the contact's phone number.
        email: the contact's email address.
        relationship: friend, family, coworker, roommate, neighbor or other.
        birthday: the contact's birthday (YYYY-MM-DD).

    Returns:
        {"contact_id": integer, "message": string}
    """
    number = normalize_phone(phone_number)
    clash = ctx.one("SELECT id FROM phone_contacts WHERE user_id = ? AND phone_number = ?", (ctx.user_id, number))
    if clash:
        raise ApiError(409, f"The number {number} is already saved as contact {clash['id']}.", contact_id=clash["id"])
    cid = ctx.insert(
        "phone_contacts",
        user_id=ctx.user_id,
        first_name=first_name,
        last_name=last_name,
        phone_number=number,
        email=email,
        relationship=relationship,
        birthday=birthday,
        favorite=0,
        created_at=ctx.clock.timestamp(),
    )
    return {"contact_id": cid, "message": "Contact added."}


@APP.api
def update_contact(
    ctx: Ctx,
    access_token: str,
    contact_id: int,
    first_name: NameStr | None = None,
    last_name: NameStr | None = None,
    phone_number: PhoneNumber | None = None,
    email: str | None = None,
    relationship: Relationship | None = None,
    birthday: Date | None = None,
) -> dict[str, Any]:
    """Change a contact's details; parameters left null are unchanged.

    Args:
        access_token: your access token from login.
        contact_id: the contact to change.
        first_name: the new first name.
        last_name: the new last name.
        phone_number: the new phone number.
        email: the new email address.
        relationship: the new relationship: friend, family, coworker, roommate, neighbor or other.
        birthday: the new birthday (YYYY-MM-DD).

    Returns:
        {"message": string}
    """
    ctx.require("phone_contacts", contact_id, "contact")
    values: dict[str, Any] = {
        k: v
        for k, v in (("first_name", first_name), ("last_name", last_name), ("email", email), ("relationship", relationship), ("birthday", birthday))
        if v is not None
    }
    if phone_number is not None:
        number = normalize_phone(phone_number)
        clash = ctx.one("SELECT id FROM phone_contacts WHERE user_id = ? AND phone_number = ? AND id != ?", (ctx.user_id, number, contact_id))
        if clash:
            raise ApiError(409, f"The number {number} is already saved as contact {clash['id']}.", contact_id=clash["id"])
        values["phone_number"] = number
    if not values:
        raise ApiError(422, "Invalid value for parameter(s): first_name.", errors=[{"parameter": "first_name", "error": "give at least one field to change"}])
    ctx.update("phone_contacts", contact_id, **values)
    return {"message": "Contact updated."}


@APP.api
def delete_contact(ctx: Ctx, access_token: str, contact_id: int) -> dict[str, Any]:
    """Delete a contact (their messages stay on your phone).

    Args:
        access_token: your access token from login.
        contact_id: the contact to delete.

    Returns:
        {"message": string}
    """
    ctx.require("phone_contacts", contact_id, "contact")
    ctx.delete("phone_contacts", contact_id)
    return {"message": "Contact deleted."}


@APP.api
def set_contact_favorite(ctx: Ctx, access_token: str, contact_id: int, favorite: bool = True) -> dict[str, Any]:
    """Mark a contact as a favorite, or remove it from favorites.

    Args:
        access_token: your access token from login.
        contact_id: the contact.
        favorite: true to make it a favorite, false to remove it from favorites.

    Returns:
        {"message": string}
    """
    ctx.require("phone_contacts", contact_id, "contact")
    ctx.update("phone_contacts", contact_id, favorite=int(favorite))
    return {"message": "Contact added to favorites." if favorite else "Contact removed from favorites."}


@APP.api
def show_contact_relationships(ctx: Ctx, access_token: str) -> list[dict[str, Any]]:
    """List the relationship kinds with how many of your contacts have each.

    Args:
        access_token: your access token from login.

    Returns:
        [{"relationship": string, "contact_count": integer}]
    """
    counts = {
        r["relationship"]: r["n"]
        for r in ctx.all("SELECT relationship, COUNT(*) AS n FROM phone_contacts WHERE user_id = ? GROUP BY relationship", (ctx.user_id,))
    }
    return [{"relationship": rel, "contact_count": counts.get(rel, 0)} for rel in RELATIONSHIPS]


# ---- text messages --------------------------------------------------------------------------------


@APP.api
def show_conversations(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your text-message conversations (one per phone number), most recent first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of conversations per page (at most 20).

    Returns:
        [{"phone_number": string, "contact_name": string | null, "last_message": string, "last_message_at": string, "message_count": integer, "unread_count": integer}]
    """
    sql = (
        "SELECT other_phone_number AS phone_number, MAX(sent_at) AS last_at, COUNT(*) AS n, SUM(1 - read) AS unread "
        "FROM phone_messages WHERE user_id = ? GROUP BY other_phone_number ORDER BY last_at DESC, other_phone_number"
    )
    names = _contact_names(ctx)
    out = []
    for r in paginate(ctx, sql, (ctx.user_id,), page_index, page_limit):
        last = ctx.one(
            "SELECT content FROM phone_messages WHERE user_id = ? AND other_phone_number = ? ORDER BY sent_at DESC, id DESC LIMIT 1",
            (ctx.user_id, r["phone_number"]),
        )
        out.append(
            {
                "phone_number": r["phone_number"],
                "contact_name": names.get(r["phone_number"]),
                "last_message": last["content"] if last else "",
                "last_message_at": r["last_at"],
                "message_count": r["n"],
                "unread_count": r["unread"],
            }
        )
    return out


@APP.api
def show_text_messages(
    ctx: Ctx,
    access_token: str,
    phone_number: PhoneNumber | None = None,
    direction: Literal["sent", "received"] | None = None,
    unread: bool | None = None,
    sent_after: str | None = None,
    sort_by: Literal["sent_at", "-sent_at"] = "-sent_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List your text messages, optionally one conversation's, one direction's, or unread ones.

    Args:
        access_token: your access token from login.
        phone_number: only messages with this phone number.
        direction: only messages you sent or only ones you received.
        unread: only unread (true) or read (false) messages.
        sent_after: only messages sent at or after this date or datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).
        sort_by: "sent_at" (oldest first) or "-sent_at" (newest first).
        page_index: the page to return, starting at 0.
        page_limit: the number of messages per page (at most 20).

    Returns:
        [{"message_id": integer, "phone_number": string, "contact_name": string | null, "direction": string, "content": string, "sent_at": string, "read": boolean}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if phone_number is not None:
        where.append("other_phone_number = ?")
        params.append(normalize_phone(phone_number))
    if direction is not None:
        where.append("direction = ?")
        params.append(direction)
    if unread is not None:
        where.append("read = ?")
        params.append(0 if unread else 1)
    if sent_after is not None:
        where.append("sent_at >= ?")
        params.append(sent_after)
    sql = f"SELECT * FROM phone_messages WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    names = _contact_names(ctx)
    return [_message(r, names) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def search_text_messages(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    phone_number: PhoneNumber | None = None,
    sort_by: Literal["sent_at", "-sent_at"] = "-sent_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search your text messages whose content contains the query (case-insensitive).

    Args:
        access_token: your access token from login.
        query: the text to look for.
        phone_number: only search the conversation with this phone number.
        sort_by: "sent_at" (oldest first) or "-sent_at" (newest first).
        page_index: the page to return, starting at 0.
        page_limit: the number of messages per page (at most 20).

    Returns:
        [{"message_id": integer, "phone_number": string, "contact_name": string | null, "direction": string, "content": string, "sent_at": string, "read": boolean}]
    """
    where, params = ["user_id = ?", "lower(content) LIKE ?"], [ctx.user_id, f"%{query.lower()}%"]
    if phone_number is not None:
        where.append("other_phone_number = ?")
        params.append(normalize_phone(phone_number))
    sql = f"SELECT * FROM phone_messages WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}"
    names = _contact_names(ctx)
    return [_message(r, names) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_text_message(ctx: Ctx, access_token: str, message_id: int) -> dict[str, Any]:
    """Show one text message.

    Args:
        access_token: your access token from login.
        message_id: the message to show.

    Returns:
        {"message_id": integer, "phone_number": string, "contact_name": string | null, "direction": string, "content": string, "sent_at": string, "read": boolean}
    """
    return _message(ctx.require("phone_messages", message_id, "text message"), _contact_names(ctx))


@APP.api
def send_text_message(ctx: Ctx, access_token: str, phone_number: PhoneNumber, message: Annotated[str, Field(min_length=1, max_length=1000)]) -> dict[str, Any]:
    """Send a text message to a phone number.

    Args:
        access_token: your access token from login.
        phone_number: the recipient's phone number.
        message: the text to send.

    Returns:
        {"message_id": integer, "message": string}
    """
    number = normalize_phone(phone_number)
    me = ctx.one("SELECT phone_number FROM users WHERE id = ?", (ctx.user_id,))
    if me and me["phone_number"] == number:
        raise ApiError(422, "Invalid value for parameter(s): phone_number.", errors=[{"parameter": "phone_number", "error": "you cannot text your own number"}])
    ts = ctx.clock.timestamp()
    mid = ctx.insert("phone_messages", user_id=ctx.user_id, other_phone_number=number, direction="sent", content=message, sent_at=ts, read=1)
    recipient = ctx.one("SELECT id FROM users WHERE phone_number = ?", (number,))
    if recipient is not None and me is not None:
        ctx.insert("phone_messages", user_id=recipient["id"], other_phone_number=me["phone_number"], direction="received", content=message, sent_at=ts, read=0)
    return {"message_id": mid, "message": "Text message sent."}


@APP.api
def mark_text_messages_read(ctx: Ctx, access_token: str, phone_number: PhoneNumber) -> dict[str, Any]:
    """Mark every message in the conversation with a phone number as read.

    Args:
        access_token: your access token from login.
        phone_number: the conversation's phone number.

    Returns:
        {"message": string, "marked": integer}
    """
    number = normalize_phone(phone_number)
    cur = ctx.db.execute("UPDATE phone_messages SET read = 1 WHERE user_id = ? AND other_phone_number = ? AND read = 0", (ctx.user_id, number))
    return {"message": "Conversation marked read.", "marked": cur.rowcount}


@APP.api
def delete_text_message(ctx: Ctx, access_token: str, message_id: int) -> dict[str, Any]:
    """Delete a text message from your phone (the other person keeps their copy).

    Args:
        access_token: your access token from login.
        message_id: the message to delete.

    Returns:
        {"message": string}
    """
    ctx.require("phone_messages", message_id, "text message")
    ctx.delete("phone_messages", message_id)
    return {"message": "Text message deleted."}


@APP.api
def delete_conversation(ctx: Ctx, access_token: str, phone_number: PhoneNumber) -> dict[str, Any]:
    """Delete every message with a phone number from your phone.

    Args:
        access_token: your access token from login.
        phone_number: the conversation's phone number.

    Returns:
        {"message": string, "deleted": integer}
    """
    number = normalize_phone(phone_number)
    cur = ctx.db.execute("DELETE FROM phone_messages WHERE user_id = ? AND other_phone_number = ?", (ctx.user_id, number))
    if not cur.rowcount:
        raise ApiError(404, f"No conversation with {number}.")
    return {"message": "Conversation deleted.", "deleted": cur.rowcount}


# ---- alarms ---------------------------------------------------------------------------------------


def _alarm(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "alarm_id": row["id"],
        "time": row["time"],
        "label": row["label"],
        "repeat_days": [d for d in row["repeat_days"].split(",") if d],
        "enabled": bool(row["enabled"]),
        "snooze_minutes": row["snooze_minutes"],
    }


def _days(days: list[str]) -> str:
    return ",".join(d for d in _DAYS if d in set(days))


@APP.api
def show_alarms(ctx: Ctx, access_token: str, enabled: bool | None = None, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your alarms by time of day.

    Args:
        access_token: your access token from login.
        enabled: only enabled (true) or disabled (false) alarms.
        page_index: the page to return, starting at 0.
        page_limit: the number of alarms per page (at most 20).

    Returns:
        [{"alarm_id": integer, "time": string, "label": string, "repeat_days": [string], "enabled": boolean, "snooze_minutes": integer}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if enabled is not None:
        where.append("enabled = ?")
        params.append(int(enabled))
    sql = f"SELECT * FROM phone_alarms WHERE {' AND '.join(where)} ORDER BY time, id"
    return [_alarm(r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_alarm(ctx: Ctx, access_token: str, alarm_id: int) -> dict[str, Any]:
    """Show one alarm.

    Args:
        access_token: your access token from login.
        alarm_id: the alarm to show.

    Returns:
        {"alarm_id": integer, "time": string, "label": string, "repeat_days": [string], "enabled": boolean, "snooze_minutes": integer}
    """
    return _alarm(ctx.require("phone_alarms", alarm_id, "alarm"))


@APP.api
def create_alarm(
    ctx: Ctx,
    access_token: str,
    time: Time,
    label: Annotated[str, Field(max_length=60)] = "",
    repeat_days: list[Day] = [],
    snooze_minutes: Annotated[int, Field(ge=1, le=30)] = 10,
    enabled: bool = True,
) -> dict[str, Any]:
    """Create an alarm.

    Args:
        access_token: your access token from login.
        time: when it rings, HH:MM (24-hour).
        label: a label shown when it rings.
        repeat_days: the weekdays it repeats on ("mon" ... "sun"); empty for a one-time alarm.
        snooze_minutes: the snooze length in minutes (1-30).
        enabled: whether the alarm is on.

    Returns:
        {"alarm_id": integer, "message": string}
    """
    aid = ctx.insert(
        "phone_alarms", user_id=ctx.user_id, time=time, label=label, repeat_days=_days(repeat_days), enabled=int(enabled), snooze_minutes=snooze_minutes
    )
    return {"alarm_id": aid, "message": "Alarm created."}


@APP.api
def update_alarm(
    ctx: Ctx,
    access_token: str,
    alarm_id: int,
    time: Time | None = None,
    label: Annotated[str, Field(max_length=60)] | None = None,
    repeat_days: list[Day] | None = None,
    snooze_minutes: Annotated[int, Field(ge=1, le=30)] | None = None,
) -> dict[str, Any]:
    """Change an alarm's time, label, repeat days or snooze length; parameters left null are unchanged.

    Args:
        access_token: your access token from login.
        alarm_id: the alarm to change.
        time: the new time, HH:MM (24-hour).
        label: the new label.
        repeat_days: the new repeat days ("mon" ... "sun"); an empty list makes it one-time.
        snooze_minutes: the new snooze length in minutes (1-30).

    Returns:
        {"message": string}
    """
    ctx.require("phone_alarms", alarm_id, "alarm")
    values: dict[str, Any] = {k: v for k, v in (("time", time), ("label", label), ("snooze_minutes", snooze_minutes)) if v is not None}
    if repeat_days is not None:
        values["repeat_days"] = _days(repeat_days)
    if not values:
        raise ApiError(422, "Invalid value for parameter(s): time.", errors=[{"parameter": "time", "error": "give at least one field to change"}])
    ctx.update("phone_alarms", alarm_id, **values)
    return {"message": "Alarm updated."}


@APP.api
def enable_alarm(ctx: Ctx, access_token: str, alarm_id: int) -> dict[str, Any]:
    """Turn an alarm on.

    Args:
        access_token: your access token from login.
        alarm_id: the alarm to turn on.

    Returns:
        {"message": string}
    """
    row = ctx.require("phone_alarms", alarm_id, "alarm")
    if row["enabled"]:
        raise ApiError(409, f"The alarm with id {alarm_id} is already enabled.")
    ctx.update("phone_alarms", alarm_id, enabled=1)
    return {"message": "Alarm enabled."}


@APP.api
def disable_alarm(ctx: Ctx, access_token: str, alarm_id: int) -> dict[str, Any]:
    """Turn an alarm off (it is kept and can be enabled again).

    Args:
        access_token: your access token from login.
        alarm_id: the alarm to turn off.

    Returns:
        {"message": string}
    """
    row = ctx.require("phone_alarms", alarm_id, "alarm")
    if not row["enabled"]:
        raise ApiError(409, f"The alarm with id {alarm_id} is already disabled.")
    ctx.update("phone_alarms", alarm_id, enabled=0)
    return {"message": "Alarm disabled."}


@APP.api
def delete_alarm(ctx: Ctx, access_token: str, alarm_id: int) -> dict[str, Any]:
    """Delete an alarm.

    Args:
        access_token: your access token from login.
        alarm_id: the alarm to delete.

    Returns:
        {"message": string}
    """
    ctx.require("phone_alarms", alarm_id, "alarm")
    ctx.delete("phone_alarms", alarm_id)
    return {"message": "Alarm deleted."}


# ---- voicemail ------------------------------------------------------------------------------------


def _voicemail(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "voicemail_id": row["id"],
        "caller_phone_number": row["caller_phone_number"],
        "caller_name": names.get(row["caller_phone_number"]),
        "duration_seconds": row["duration_seconds"],
        "transcript": row["transcript"],
        "received_at": row["received_at"],
        "listened": bool(row["listened"]),
    }


@APP.api
def show_voicemails(ctx: Ctx, access_token: str, listened: bool | None = None, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your voicemails with their transcripts, newest first.

    Args:
        access_token: your access token from login.
        listened: only listened (true) or new (false) voicemails.
        page_index: the page to return, starting at 0.
        page_limit: the number of voicemails per page (at most 20).

    Returns:
        [{"voicemail_id": integer, "caller_phone_number": string, "caller_name": string | null, "duration_seconds": integer, "transcript": string, "received_at": string, "listened": boolean}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if listened is not None:
        where.append("listened = ?")
        params.append(int(listened))
    sql = f"SELECT * FROM phone_voicemails WHERE {' AND '.join(where)} ORDER BY received_at DESC, id"
    names = _contact_names(ctx)
    return [_voicemail(r, names) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def mark_voicemail_listened(ctx: Ctx, access_token: str, voicemail_id: int) -> dict[str, Any]:
    """Mark a voicemail as listened.

    Args:
        access_token: your access token from login.
        voicemail_id: the voicemail.

    Returns:
        {"message": string}
    """
    ctx.require("phone_voicemails", voicemail_id, "voicemail")
    ctx.update("phone_voicemails", voicemail_id, listened=1)
    return {"message": "Voicemail marked listened."}


@APP.api
def delete_voicemail(ctx: Ctx, access_token: str, voicemail_id: int) -> dict[str, Any]:
    """Delete a voicemail.

    Args:
        access_token: your access token from login.
        voicemail_id: the voicemail to delete.

    Returns:
        {"message": string}
    """
    ctx.require("phone_voicemails", voicemail_id, "voicemail")
    ctx.delete("phone_voicemails", voicemail_id)
    return {"message": "Voicemail deleted."}


# -------------------------------------------------------------------------------------------------
# Seed data

_LINES_OUT = [
    "Are we still on for {day}?",
    "Running 10 minutes late, sorry!",
    "Can you send me the address?",
    "Happy birthday!! 🎉",
    "Thanks for dinner last night",
    "Did you see the game?",
    "Call me when you get a chance",
    "I'll pick up the tickets",
    "Sounds good, see you then",
    "Can you grab milk on the way home?",
    "Just landed",
    "Let's do lunch {day}",
]
_LINES_IN = [
    "Yes, {day} works for me",
    "No worries!",
    "Sure, sending it now",
    "Thank you so much!",
    "Haha yes, what a finish",
    "Will do",
    "Got them, thanks",
    "See you there",
    "On my way",
    "Welcome back!",
    "Lunch {day} sounds great",
    "Ok, call you at 6",
]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ALARMS = [
    ("06:30", "Workday", "mon,tue,wed,thu,fri"),
    ("07:15", "Gym", "tue,thu"),
    ("08:00", "Weekend run", "sat,sun"),
    ("12:30", "Lunch walk", "mon,wed,fri"),
    ("15:00", "Pick up kids", "mon,tue,wed,thu,fri"),
    ("18:45", "Take medication", ""),
    ("21:30", "Wind down", "sun,mon,tue,wed,thu"),
    ("05:45", "Early flight", ""),
]
_VOICEMAILS = [
    "Hi, it's me, call me back when you can.",
    "Hey, just checking in about the weekend plans.",
    "This is the dental office confirming your appointment.",
    "Your package could not be delivered; please reschedule.",
    "Hey, I found your keys at my place.",
    "Calling about the apartment viewing on Saturday.",
    "Reminder: book club moved to Thursday.",
    "Hi, can you send me the photos from the trip?",
    "Your prescription is ready for pickup.",
]


def _relationship(rng, i: int) -> str:
    # The first three friends are the user's roommates and a few are family: scenarios rely on both existing.
    if i < 3:
        return "roommate"
    if i < 7:
        return "family"
    return rng.choice(["friend", "friend", "coworker", "coworker", "neighbor", "other"])


def seed(gen: Gen) -> None:
    rng, fake, now = gen.rng, gen.fake, gen.now
    me = gen.user
    for i, friend in enumerate(gen.friends):
        gen.insert(
            "phone_contacts",
            user_id=me["id"],
            first_name=friend["first_name"],
            last_name=friend["last_name"],
            phone_number=friend["phone_number"],
            email=friend["email"],
            relationship=_relationship(rng, i),
            birthday=friend["birthday"] if rng.random() < 0.8 else None,
            favorite=int(rng.random() < 0.2),
            created_at=(now - timedelta(days=rng.randint(30, 900))).isoformat(timespec="seconds"),
        )
        # The friend knows the user back.
        gen.insert(
            "phone_contacts",
            user_id=friend["id"],
            first_name=me["first_name"],
            last_name=me["last_name"],
            phone_number=me["phone_number"],
            email=me["email"],
            relationship="friend",
            birthday=None,
            favorite=0,
            created_at=(now - timedelta(days=rng.randint(30, 900))).isoformat(timespec="seconds"),
        )
    # Two contacts who are not users of any app (plain phone numbers).
    for _ in range(2):
        gen.insert(
            "phone_contacts",
            user_id=me["id"],
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            phone_number=f"{rng.randint(200, 989)}555{rng.randint(1000, 9999)}",
            email=None,
            relationship="other",
            birthday=None,
            favorite=0,
            created_at=(now - timedelta(days=rng.randint(30, 900))).isoformat(timespec="seconds"),
        )
    # Conversations between the user and most friends, both copies.
    for friend in gen.friends[:24]:
        t = now - timedelta(days=rng.randint(20, 100), hours=rng.randint(0, 12))
        for _ in range(rng.randint(2, 9)):
            t += timedelta(hours=rng.randint(1, 200), minutes=rng.randint(0, 59))
            if t >= now:
                break
            outgoing = rng.random() < 0.5
            line = rng.choice(_LINES_OUT if outgoing else _LINES_IN).format(day=rng.choice(_WEEKDAYS))
            ts = t.isoformat(timespec="seconds")
            recent_unread = int(not outgoing and (now - t).days < 3 and rng.random() < 0.7)
            gen.insert(
                "phone_messages",
                user_id=me["id"],
                other_phone_number=friend["phone_number"],
                direction="sent" if outgoing else "received",
                content=line,
                sent_at=ts,
                read=1 - recent_unread,
            )
            gen.insert(
                "phone_messages",
                user_id=friend["id"],
                other_phone_number=me["phone_number"],
                direction="received" if outgoing else "sent",
                content=line,
                sent_at=ts,
                read=1,
            )
    # Other people text each other too.
    for _ in range(40):
        a, b = rng.sample(gen.people[1:], 2)
        line = rng.choice(_LINES_OUT).format(day=rng.choice(_WEEKDAYS))
        ts = (now - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600))).isoformat(timespec="seconds")
        gen.insert("phone_messages", user_id=a["id"], other_phone_number=b["phone_number"], direction="sent", content=line, sent_at=ts, read=1)
        gen.insert("phone_messages", user_id=b["id"], other_phone_number=a["phone_number"], direction="received", content=line, sent_at=ts, read=1)
    for person in gen.people:
        alarms = _ALARMS if person["id"] == me["id"] else rng.sample(_ALARMS, 2)
        for time, label, days in alarms:
            gen.insert(
                "phone_alarms",
                user_id=person["id"],
                time=time,
                label=label,
                repeat_days=days,
                enabled=int(rng.random() < 0.7),
                snooze_minutes=rng.choice([5, 9, 10, 15]),
            )
    callers = [f["phone_number"] for f in gen.friends] + [f"{rng.randint(200, 989)}555{rng.randint(1000, 9999)}" for _ in range(3)]
    for _ in range(14):
        gen.insert(
            "phone_voicemails",
            user_id=me["id"],
            caller_phone_number=rng.choice(callers),
            duration_seconds=rng.randint(8, 140),
            transcript=rng.choice(_VOICEMAILS),
            received_at=(now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 900))).isoformat(timespec="seconds"),
            listened=int(rng.random() < 0.6),
        )
