"""The expenses app: shared expenses in groups — who paid, how it is split, who owes whom.

A group has members (people, by email). An expense is paid by one member and split among some
members, equally or with exact shares (shares must add up to the amount). A payment between two
members ("settle up") is recorded separately. A member's balance in a group is
``paid for expenses - their shares + payments they made - payments they received``: positive means
the group owes them, negative means they owe. Only members see a group (403 otherwise).
Errors: 404 missing record, 403 not your group, 409 conflict, 422 bad value (shares that do not add
up name the parameter).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "expenses",
    "Split shared expenses with groups of people: groups and members, expenses split equally or "
    "exactly, balances (who owes whom), and recorded payments to settle up.",
    schema="""
CREATE TABLE expenses_groups (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_by INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE expenses_members (
    id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, user_id INTEGER NOT NULL, joined_at TEXT NOT NULL,
    UNIQUE(group_id, user_id)
);
CREATE TABLE expenses_expenses (
    id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, paid_by INTEGER NOT NULL, description TEXT NOT NULL,
    amount REAL NOT NULL, category TEXT NOT NULL, date TEXT NOT NULL, created_by INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE expenses_splits (
    id INTEGER PRIMARY KEY, expense_id INTEGER NOT NULL, user_id INTEGER NOT NULL, share REAL NOT NULL
);
CREATE TABLE expenses_payments (
    id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, payer_id INTEGER NOT NULL, payee_id INTEGER NOT NULL,
    amount REAL NOT NULL, date TEXT NOT NULL, note TEXT NOT NULL, created_by INTEGER NOT NULL
);
""",
)
APP.add_login()

CATEGORIES = ("rent", "utilities", "groceries", "dining", "travel", "transport", "entertainment", "household", "other")
Category = Literal["rent", "utilities", "groceries", "dining", "travel", "transport", "entertainment", "household", "other"]
Amount = Annotated[float, Field(gt=0, le=100000, description="an amount in dollars (more than 0)")]
DateStr = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="a date, YYYY-MM-DD")]
GroupName = Annotated[str, Field(min_length=1, max_length=100)]


def _money(x: float) -> float:
    return round(float(x) + 1e-9, 2)


def _order_by(sort_by: str) -> str:
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    return f"{sort_by.lstrip('-')} {direction}, id {direction}"


def _bad(parameter: str, error: str, given: Any = None) -> ApiError:
    return ApiError(422, f"Invalid value for parameter(s): {parameter}.", errors=[{"parameter": parameter, "error": error, "given": given}])


def _person(ctx: Ctx, user_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT id, first_name, last_name, email FROM users WHERE id = ?", (user_id,))
    return {"user_id": row["id"], "name": f"{row['first_name']} {row['last_name']}", "email": row["email"]}


def _user_id(ctx: Ctx, email: str, parameter: str) -> int:
    row = ctx.one("SELECT id FROM users WHERE lower(email) = lower(?)", (email.strip(),))
    if row is None:
        raise ApiError(404, f"No user with email {email!r} (parameter {parameter}).")
    return int(row["id"])


def _members(ctx: Ctx, group_id: int) -> list[int]:
    return [r["user_id"] for r in ctx.all("SELECT user_id FROM expenses_members WHERE group_id = ? ORDER BY id", (group_id,))]


def _group(ctx: Ctx, group_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM expenses_groups WHERE id = ?", (group_id,))
    if row is None:
        raise ApiError(404, f"No group found with id {group_id}.")
    if ctx.user_id not in _members(ctx, group_id):
        raise ApiError(403, f"You are not a member of group {group_id}.")
    return row


def _member_id(ctx: Ctx, group_id: int, email: str, parameter: str) -> int:
    uid = _user_id(ctx, email, parameter)
    if uid not in _members(ctx, group_id):
        raise ApiError(404, f"{email} is not a member of group {group_id} (parameter {parameter}).")
    return uid


def _expense_row(ctx: Ctx, expense_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM expenses_expenses WHERE id = ?", (expense_id,))
    if row is None:
        raise ApiError(404, f"No expense found with id {expense_id}.")
    _group(ctx, row["group_id"])
    return row


def _expense(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    splits = ctx.all("SELECT * FROM expenses_splits WHERE expense_id = ? ORDER BY id", (row["id"],))
    return {
        "expense_id": row["id"],
        "group_id": row["group_id"],
        "description": row["description"],
        "amount": row["amount"],
        "category": row["category"],
        "date": row["date"],
        "paid_by": _person(ctx, row["paid_by"]),
        "splits": [{**_person(ctx, s["user_id"]), "share": s["share"]} for s in splits],
    }


def balances(ctx: Ctx, group_id: int) -> dict[int, float]:
    """Each member's net balance in a group (positive: the group owes them)."""
    net = {uid: 0.0 for uid in _members(ctx, group_id)}
    for r in ctx.all("SELECT paid_by, amount FROM expenses_expenses WHERE group_id = ?", (group_id,)):
        net[r["paid_by"]] = net.get(r["paid_by"], 0.0) + r["amount"]
    for r in ctx.all("SELECT s.user_id, s.share FROM expenses_splits s JOIN expenses_expenses e ON e.id = s.expense_id WHERE e.group_id = ?", (group_id,)):
        net[r["user_id"]] = net.get(r["user_id"], 0.0) - r["share"]
    for r in ctx.all("SELECT payer_id, payee_id, amount FROM expenses_payments WHERE group_id = ?", (group_id,)):
        net[r["payer_id"]] = net.get(r["payer_id"], 0.0) + r["amount"]
        net[r["payee_id"]] = net.get(r["payee_id"], 0.0) - r["amount"]
    return {uid: _money(v) for uid, v in net.items()}


def equal_shares(amount: float, n: int) -> list[float]:
    """Split ``amount`` into ``n`` cent-exact shares; the first shares take the leftover cents."""
    cents = round(amount * 100)
    base, extra = divmod(cents, n)
    return [(base + (1 if i < extra else 0)) / 100 for i in range(n)]


# -------------------------------------------------------------------------------------------------
# Groups


@APP.api
def show_groups(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the groups you are a member of, oldest first, with your balance in each.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of groups per page (at most 20).

    Returns:
        [{"group_id": integer, "name": string, "member_count": integer, "your_balance": number, "created_at": string}]
    """
    rows = paginate(
        ctx,
        "SELECT g.* FROM expenses_groups g JOIN expenses_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.created_at, g.id",
        (ctx.user_id,),
        page_index,
        page_limit,
    )
    return [
        {
            "group_id": r["id"],
            "name": r["name"],
            "member_count": len(_members(ctx, r["id"])),
            "your_balance": balances(ctx, r["id"]).get(ctx.user_id, 0.0),
            "created_at": r["created_at"],
        }
        for r in rows
    ]


@APP.api
def show_group(ctx: Ctx, access_token: str, group_id: int) -> dict[str, Any]:
    """Show a group with its members.

    Args:
        access_token: your access token from login.
        group_id: the group to show.

    Returns:
        {"group_id": integer, "name": string, "created_at": string, "created_by": {"user_id": integer, "name": string, "email": string}, "members": [{"user_id": integer, "name": string, "email": string}]}
    """
    g = _group(ctx, group_id)
    return {
        "group_id": g["id"],
        "name": g["name"],
        "created_at": g["created_at"],
        "created_by": _person(ctx, g["created_by"]),
        "members": [_person(ctx, uid) for uid in _members(ctx, group_id)],
    }


@APP.api
def create_group(ctx: Ctx, access_token: str, name: GroupName, member_emails: list[str] | None = None) -> dict[str, Any]:
    """Create a group with you and the given people as members.

    Args:
        access_token: your access token from login.
        name: the group's name; must be unique among your groups.
        member_emails: the emails of the other members (none: a group of just you, to add members to later).

    Returns:
        {"group_id": integer, "message": string}
    """
    mine = ctx.all("SELECT g.name FROM expenses_groups g JOIN expenses_members m ON m.group_id = g.id WHERE m.user_id = ?", (ctx.user_id,))
    if any(r["name"].lower() == name.lower() for r in mine):
        raise ApiError(409, f"You already have a group named {name!r}.")
    uids = [_user_id(ctx, e, "member_emails") for e in member_emails or []]
    ts = ctx.clock.timestamp()
    gid = ctx.insert("expenses_groups", name=name, created_by=ctx.user_id, created_at=ts)
    for uid in dict.fromkeys([ctx.user_id, *uids]):
        ctx.insert("expenses_members", group_id=gid, user_id=uid, joined_at=ts)
    return {"group_id": gid, "message": "Group created."}


@APP.api
def rename_group(ctx: Ctx, access_token: str, group_id: int, name: GroupName) -> dict[str, Any]:
    """Rename a group.

    Args:
        access_token: your access token from login.
        group_id: the group to rename.
        name: the new name.

    Returns:
        {"message": string}
    """
    _group(ctx, group_id)
    ctx.update("expenses_groups", group_id, name=name)
    return {"message": "Group renamed."}


@APP.api
def add_group_member(ctx: Ctx, access_token: str, group_id: int, email: str) -> dict[str, Any]:
    """Add a person to a group.

    Args:
        access_token: your access token from login.
        group_id: the group.
        email: the person's email.

    Returns:
        {"message": string}
    """
    _group(ctx, group_id)
    uid = _user_id(ctx, email, "email")
    if uid in _members(ctx, group_id):
        raise ApiError(409, f"{email} is already a member of group {group_id}.")
    ctx.insert("expenses_members", group_id=group_id, user_id=uid, joined_at=ctx.clock.timestamp())
    return {"message": "Member added."}


@APP.api
def remove_group_member(ctx: Ctx, access_token: str, group_id: int, email: str) -> dict[str, Any]:
    """Remove a member from a group; their balance there must be zero (409 otherwise: settle up first).

    Args:
        access_token: your access token from login.
        group_id: the group.
        email: the member's email.

    Returns:
        {"message": string}
    """
    _group(ctx, group_id)
    uid = _member_id(ctx, group_id, email, "email")
    bal = balances(ctx, group_id).get(uid, 0.0)
    if abs(bal) >= 0.01:
        raise ApiError(409, f"{email} has a balance of {bal:.2f} in group {group_id}; settle up first.")
    ctx.db.execute("DELETE FROM expenses_members WHERE group_id = ? AND user_id = ?", (group_id, uid))
    return {"message": "Member removed."}


@APP.api
def delete_group(ctx: Ctx, access_token: str, group_id: int) -> dict[str, Any]:
    """Delete a group that has no expenses and no payments (409 otherwise).

    Args:
        access_token: your access token from login.
        group_id: the group to delete.

    Returns:
        {"message": string}
    """
    _group(ctx, group_id)
    if ctx.one("SELECT id FROM expenses_expenses WHERE group_id = ? LIMIT 1", (group_id,)) or ctx.one(
        "SELECT id FROM expenses_payments WHERE group_id = ? LIMIT 1", (group_id,)
    ):
        raise ApiError(409, f"Group {group_id} has expenses or payments; it cannot be deleted.")
    ctx.db.execute("DELETE FROM expenses_members WHERE group_id = ?", (group_id,))
    ctx.delete("expenses_groups", group_id)
    return {"message": "Group deleted."}


# -------------------------------------------------------------------------------------------------
# Expenses


@APP.api
def show_categories(ctx: Ctx) -> list[str]:
    """List the expense categories.

    Returns:
        [string]
    """
    return list(CATEGORIES)


@APP.api
def show_expenses(
    ctx: Ctx,
    access_token: str,
    group_id: int,
    paid_by_email: str | None = None,
    category: Category | None = None,
    start_date: DateStr | None = None,
    end_date: DateStr | None = None,
    sort_by: Literal["date", "-date", "amount", "-amount"] = "-date",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List a group's expenses with their splits.

    Args:
        access_token: your access token from login.
        group_id: the group.
        paid_by_email: only expenses paid by this member.
        category: only expenses in this category.
        start_date: only expenses on or after this date (YYYY-MM-DD).
        end_date: only expenses on or before this date (YYYY-MM-DD).
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of expenses per page (at most 20).

    Returns:
        [{"expense_id": integer, "group_id": integer, "description": string, "amount": number, "category": string, "date": string, "paid_by": {"user_id": integer, "name": string, "email": string}, "splits": [{"user_id": integer, "name": string, "email": string, "share": number}]}]
    """
    _group(ctx, group_id)
    where, params = ["group_id = ?"], [group_id]
    if paid_by_email is not None:
        where.append("paid_by = ?")
        params.append(_user_id(ctx, paid_by_email, "paid_by_email"))
    if category is not None:
        where.append("category = ?")
        params.append(category)
    if start_date:
        where.append("date >= ?")
        params.append(start_date)
    if end_date:
        where.append("date <= ?")
        params.append(end_date)
    rows = paginate(ctx, f"SELECT * FROM expenses_expenses WHERE {' AND '.join(where)} ORDER BY {_order_by(sort_by)}", params, page_index, page_limit)
    return [_expense(ctx, r) for r in rows]


@APP.api
def search_expenses(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    sort_by: Literal["date", "-date", "amount", "-amount"] = "-date",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search the expenses of all your groups whose description contains the query (case-insensitive).

    Args:
        access_token: your access token from login.
        query: the text to look for.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of expenses per page (at most 20).

    Returns:
        [{"expense_id": integer, "group_id": integer, "description": string, "amount": number, "category": string, "date": string, "paid_by": {...}, "splits": [...]}]
    """
    rows = paginate(
        ctx,
        f"SELECT * FROM expenses_expenses WHERE group_id IN (SELECT group_id FROM expenses_members WHERE user_id = ?) AND lower(description) LIKE ? ORDER BY {_order_by(sort_by)}",
        (ctx.user_id, f"%{query.lower()}%"),
        page_index,
        page_limit,
    )
    return [_expense(ctx, r) for r in rows]


@APP.api
def show_expense(ctx: Ctx, access_token: str, expense_id: int) -> dict[str, Any]:
    """Show one expense with its splits.

    Args:
        access_token: your access token from login.
        expense_id: the expense to show.

    Returns:
        {"expense_id": integer, "group_id": integer, "description": string, "amount": number, "category": string, "date": string, "paid_by": {...}, "splits": [{"user_id": integer, "name": string, "email": string, "share": number}]}
    """
    return _expense(ctx, _expense_row(ctx, expense_id))


def _split(ctx: Ctx, group_id: int, amount: float, split_with_emails: list[str] | None, exact_shares: dict[str, float] | None) -> list[tuple[int, float]]:
    if exact_shares is not None:
        if split_with_emails is not None:
            raise _bad("exact_shares", "give either split_with_emails (equal split) or exact_shares, not both")
        if not exact_shares:
            raise _bad("exact_shares", "must name at least one member")
        pairs = [(_member_id(ctx, group_id, e, "exact_shares"), _money(v)) for e, v in exact_shares.items()]
        if any(v < 0 for _, v in pairs):
            raise _bad("exact_shares", "shares cannot be negative", exact_shares)
        if abs(sum(v for _, v in pairs) - amount) >= 0.005:
            raise _bad("exact_shares", f"shares add up to {sum(v for _, v in pairs):.2f}, not the amount {amount:.2f}", exact_shares)
        return pairs
    if split_with_emails is not None:
        if not split_with_emails:
            raise _bad("split_with_emails", "must name at least one member")
        uids = list(dict.fromkeys(_member_id(ctx, group_id, e, "split_with_emails") for e in split_with_emails))
    else:
        uids = _members(ctx, group_id)
    return list(zip(uids, equal_shares(amount, len(uids))))


@APP.api
def add_expense(
    ctx: Ctx,
    access_token: str,
    group_id: int,
    description: Annotated[str, Field(min_length=1, max_length=200)],
    amount: Amount,
    paid_by_email: str | None = None,
    split_with_emails: list[str] | None = None,
    exact_shares: dict[str, float] | None = None,
    category: Category = "other",
    date: DateStr | None = None,
) -> dict[str, Any]:
    """Add an expense to a group. By default you paid it and it is split equally among all members.

    Args:
        access_token: your access token from login.
        group_id: the group.
        description: what the expense was.
        amount: the total amount in dollars.
        paid_by_email: the member who paid (default you).
        split_with_emails: split equally among only these members (they may include the payer); default all members.
        exact_shares: instead of an equal split, each member's exact share as {email: amount}; the shares must add up to the amount.
        category: the expense's category (see show_categories).
        date: the day of the expense, YYYY-MM-DD (default today).

    Returns:
        {"expense_id": integer, "splits": [{"user_id": integer, "name": string, "email": string, "share": number}], "message": string}
    """
    _group(ctx, group_id)
    payer = _member_id(ctx, group_id, paid_by_email, "paid_by_email") if paid_by_email else ctx.user_id
    amount = _money(amount)
    pairs = _split(ctx, group_id, amount, split_with_emails, exact_shares)
    eid = ctx.insert(
        "expenses_expenses",
        group_id=group_id,
        paid_by=payer,
        description=description,
        amount=amount,
        category=category,
        date=date or ctx.clock.today(),
        created_by=ctx.user_id,
        created_at=ctx.clock.timestamp(),
    )
    for uid, share in pairs:
        ctx.insert("expenses_splits", expense_id=eid, user_id=uid, share=share)
    return {"expense_id": eid, "splits": [{**_person(ctx, u), "share": s} for u, s in pairs], "message": "Expense added."}


@APP.api
def update_expense(
    ctx: Ctx,
    access_token: str,
    expense_id: int,
    description: Annotated[str, Field(min_length=1, max_length=200)] | None = None,
    amount: Amount | None = None,
    category: Category | None = None,
    date: DateStr | None = None,
) -> dict[str, Any]:
    """Change an expense's description, amount, category or date (null leaves a field unchanged). A new amount is split equally again among the same people.

    Args:
        access_token: your access token from login.
        expense_id: the expense to change.
        description: the new description.
        amount: the new total amount in dollars.
        category: the new category.
        date: the new date, YYYY-MM-DD.

    Returns:
        {"message": string}
    """
    _expense_row(ctx, expense_id)
    values = {k: v for k, v in (("description", description), ("category", category), ("date", date)) if v is not None}
    if amount is not None:
        values["amount"] = _money(amount)
        splits = ctx.all("SELECT id FROM expenses_splits WHERE expense_id = ? ORDER BY id", (expense_id,))
        for s, share in zip(splits, equal_shares(values["amount"], len(splits))):
            ctx.update("expenses_splits", s["id"], share=share)
    if not values:
        raise _bad("description", "give at least one of description, amount, category, date")
    ctx.update("expenses_expenses", expense_id, **values)
    return {"message": "Expense updated."}


@APP.api
def delete_expense(ctx: Ctx, access_token: str, expense_id: int) -> dict[str, Any]:
    """Delete an expense and its splits.

    Args:
        access_token: your access token from login.
        expense_id: the expense to delete.

    Returns:
        {"message": string}
    """
    _expense_row(ctx, expense_id)
    ctx.db.execute("DELETE FROM expenses_splits WHERE expense_id = ?", (expense_id,))
    ctx.delete("expenses_expenses", expense_id)
    return {"message": "Expense deleted."}


# -------------------------------------------------------------------------------------------------
# Balances and payments


@APP.api
def show_balances(ctx: Ctx, access_token: str, group_id: int) -> list[dict[str, Any]]:
    """Show every member's net balance in a group: positive means the group owes them, negative means they owe.

    Args:
        access_token: your access token from login.
        group_id: the group.

    Returns:
        [{"user_id": integer, "name": string, "email": string, "balance": number}]
    """
    _group(ctx, group_id)
    return [{**_person(ctx, uid), "balance": bal} for uid, bal in balances(ctx, group_id).items()]


@APP.api
def show_balance_summary(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show your net balance in each of your groups and overall (positive: you are owed; negative: you owe).

    Args:
        access_token: your access token from login.

    Returns:
        {"total_balance": number, "groups": [{"group_id": integer, "name": string, "balance": number}]}
    """
    groups = ctx.all("SELECT g.* FROM expenses_groups g JOIN expenses_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.id", (ctx.user_id,))
    out = [{"group_id": g["id"], "name": g["name"], "balance": balances(ctx, g["id"]).get(ctx.user_id, 0.0)} for g in groups]
    return {"total_balance": _money(sum(g["balance"] for g in out)), "groups": out}


def _record(ctx: Ctx, group_id: int, payer: int, payee: int, amount: float, note: str, date: str | None) -> int:
    if payer == payee:
        raise _bad("payee_email", "the payer and the payee must be different members")
    return ctx.insert(
        "expenses_payments",
        group_id=group_id,
        payer_id=payer,
        payee_id=payee,
        amount=_money(amount),
        date=date or ctx.clock.today(),
        note=note,
        created_by=ctx.user_id,
    )


@APP.api
def record_payment(
    ctx: Ctx,
    access_token: str,
    group_id: int,
    payer_email: str,
    payee_email: str,
    amount: Amount,
    note: Annotated[str, Field(max_length=200)] = "",
    date: DateStr | None = None,
) -> dict[str, Any]:
    """Record that one member paid another (outside the app) to settle a debt in a group.

    Args:
        access_token: your access token from login.
        group_id: the group.
        payer_email: the member who paid.
        payee_email: the member who received the money.
        amount: the amount in dollars.
        note: an optional note.
        date: the day of the payment, YYYY-MM-DD (default today).

    Returns:
        {"payment_id": integer, "message": string}
    """
    _group(ctx, group_id)
    payer = _member_id(ctx, group_id, payer_email, "payer_email")
    payee = _member_id(ctx, group_id, payee_email, "payee_email")
    return {"payment_id": _record(ctx, group_id, payer, payee, amount, note, date), "message": "Payment recorded."}


@APP.api
def settle_up(ctx: Ctx, access_token: str, group_id: int, with_email: str) -> dict[str, Any]:
    """Settle your balance in a group with one member: records a payment that brings the smaller of your two debts/credits to zero.

    If you owe (negative balance) and they are owed, you pay them min(what you owe, what they are owed);
    if you are owed and they owe, they pay you. 409 if there is nothing to settle between you.

    Args:
        access_token: your access token from login.
        group_id: the group.
        with_email: the member to settle with.

    Returns:
        {"payment_id": integer, "payer": {...}, "payee": {...}, "amount": number, "message": string}
    """
    _group(ctx, group_id)
    other = _member_id(ctx, group_id, with_email, "with_email")
    bal = balances(ctx, group_id)
    mine, theirs = bal.get(ctx.user_id, 0.0), bal.get(other, 0.0)
    if mine < 0 < theirs:
        payer, payee, amount = ctx.user_id, other, min(-mine, theirs)
    elif theirs < 0 < mine:
        payer, payee, amount = other, ctx.user_id, min(-theirs, mine)
    else:
        raise ApiError(409, f"Nothing to settle with {with_email} in group {group_id}: your balance is {mine:.2f}, theirs is {theirs:.2f}.")
    pid = _record(ctx, group_id, payer, payee, amount, "Settle up", None)
    return {"payment_id": pid, "payer": _person(ctx, payer), "payee": _person(ctx, payee), "amount": _money(amount), "message": "Settled."}


@APP.api
def show_payments(ctx: Ctx, access_token: str, group_id: int, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the payments recorded in a group, newest first.

    Args:
        access_token: your access token from login.
        group_id: the group.
        page_index: the page to return, starting at 0.
        page_limit: the number of payments per page (at most 20).

    Returns:
        [{"payment_id": integer, "payer": {"user_id": integer, "name": string, "email": string}, "payee": {...}, "amount": number, "date": string, "note": string}]
    """
    _group(ctx, group_id)
    rows = paginate(ctx, "SELECT * FROM expenses_payments WHERE group_id = ? ORDER BY date DESC, id DESC", (group_id,), page_index, page_limit)
    return [
        {
            "payment_id": r["id"],
            "payer": _person(ctx, r["payer_id"]),
            "payee": _person(ctx, r["payee_id"]),
            "amount": r["amount"],
            "date": r["date"],
            "note": r["note"],
        }
        for r in rows
    ]


@APP.api
def delete_payment(ctx: Ctx, access_token: str, payment_id: int) -> dict[str, Any]:
    """Delete a recorded payment in one of your groups.

    Args:
        access_token: your access token from login.
        payment_id: the payment to delete.

    Returns:
        {"message": string}
    """
    row = ctx.one("SELECT * FROM expenses_payments WHERE id = ?", (payment_id,))
    if row is None:
        raise ApiError(404, f"No payment found with id {payment_id}.")
    _group(ctx, row["group_id"])
    ctx.delete("expenses_payments", payment_id)
    return {"message": "Payment deleted."}


# -------------------------------------------------------------------------------------------------
# Seed data

# The user's groups: (name, number of other members, typical expenses (description, category, low, high)).
_GROUPS = [
    (
        "Apartment 4B",
        3,
        [
            ("Rent", "rent", 2400, 2400),
            ("Electricity bill", "utilities", 60, 140),
            ("Internet", "utilities", 55, 70),
            ("Groceries run", "groceries", 40, 160),
            ("Cleaning supplies", "household", 15, 45),
        ],
    ),
    (
        "Lake Tahoe Trip",
        4,
        [
            ("Cabin rental", "travel", 600, 1200),
            ("Gas for the drive", "transport", 40, 90),
            ("Ski passes", "entertainment", 300, 500),
            ("Dinner at the lodge", "dining", 120, 260),
            ("Groceries for the cabin", "groceries", 80, 150),
        ],
    ),
    ("Office Lunch Crew", 5, [("Team lunch", "dining", 60, 180), ("Coffee order", "dining", 20, 50), ("Pizza Friday", "dining", 45, 90)]),
    ("Book Club", 4, [("Wine and cheese", "groceries", 30, 70), ("Book order", "other", 40, 90), ("Venue booking", "entertainment", 50, 120)]),
]


def seed(gen: Gen) -> None:
    rng, now = gen.rng, gen.now
    uid = gen.user["id"]
    circle = [p["id"] for p in gen.friends]
    others = [p["id"] for p in gen.people if p["id"] != uid and p["id"] not in circle]
    plans: list[tuple[str, list[int], list]] = []
    # The apartment's members are the user's roommates: the first three friends, as in the phone app's contacts.
    plans.append((_GROUPS[0][0], [uid] + circle[:3], _GROUPS[0][2]))
    pool = circle[3:]
    rng.shuffle(pool)
    for name, n_others, templates in _GROUPS[1:]:
        plans.append((name, [uid] + [pool.pop() for _ in range(n_others)], templates))
    for i in range(6):  # groups the user is not in
        plans.append((f"{gen.fake.last_name()} Family" if i % 2 else f"{gen.fake.city()} Roadtrip", rng.sample(others, 3), _GROUPS[i % len(_GROUPS)][2]))
    for name, members, templates in plans:
        created = now - timedelta(days=rng.randint(150, 400))
        gid = gen.insert("expenses_groups", name=name, created_by=members[0], created_at=created.isoformat(timespec="seconds"))
        for m in members:
            gen.insert("expenses_members", group_id=gid, user_id=m, joined_at=created.isoformat(timespec="seconds"))
        for _ in range(rng.randint(14, 22)):
            desc, cat, lo, hi = rng.choice(templates)
            amount = round(rng.uniform(lo, hi), 2)
            day = (now - timedelta(days=rng.randint(1, 140))).date().isoformat()
            payer = rng.choice(members)
            split_with = members if rng.random() < 0.8 else rng.sample(members, max(2, len(members) - 1))
            eid = gen.insert(
                "expenses_expenses",
                group_id=gid,
                paid_by=payer,
                description=desc,
                amount=amount,
                category=cat,
                date=day,
                created_by=payer,
                created_at=f"{day}T20:00:00",
            )
            for m, share in zip(split_with, equal_shares(amount, len(split_with))):
                gen.insert("expenses_splits", expense_id=eid, user_id=m, share=share)
        for _ in range(rng.randint(1, 3)):
            a, b = rng.sample(members, 2)
            gen.insert(
                "expenses_payments",
                group_id=gid,
                payer_id=a,
                payee_id=b,
                amount=round(rng.uniform(20, 200), 2),
                date=(now - timedelta(days=rng.randint(1, 60))).date().isoformat(),
                note="Paid back",
                created_by=a,
            )
