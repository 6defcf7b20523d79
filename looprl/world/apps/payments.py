"""The payments app: money between friends — a wallet balance, transfers, requests, a social feed.

People are the shared ``users`` table and are addressed by email. Amounts are dollars rounded to
cents. Sending money spends the wallet balance; add_funds / withdraw_funds move money between the
wallet and one of the supervisor's payment cards (apis.supervisor.show_payment_cards). Approving a
request sends the money. Errors: 404 missing record, 403 a record you are not part of, 409 a state
conflict (insufficient balance, request no longer pending, already liked), 422 a bad value.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import MAIN_USER_ID, Gen

APP = AppSpec(
    "payments",
    "Send and request money between friends: wallet balance, funds from payment cards, transactions "
    "with likes and comments, money requests to approve or decline, and a friends list.",
    schema="""
CREATE TABLE payments_wallets (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL UNIQUE, balance REAL NOT NULL
);
CREATE TABLE payments_friends (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, friend_id INTEGER NOT NULL, created_at TEXT NOT NULL,
    UNIQUE(user_id, friend_id)
);
CREATE TABLE payments_transactions (
    id INTEGER PRIMARY KEY, sender_id INTEGER NOT NULL, receiver_id INTEGER NOT NULL, amount REAL NOT NULL,
    description TEXT NOT NULL, private INTEGER NOT NULL DEFAULT 0, request_id INTEGER, created_at TEXT NOT NULL
);
CREATE TABLE payments_likes (
    id INTEGER PRIMARY KEY, transaction_id INTEGER NOT NULL, user_id INTEGER NOT NULL, created_at TEXT NOT NULL,
    UNIQUE(transaction_id, user_id)
);
CREATE TABLE payments_comments (
    id INTEGER PRIMARY KEY, transaction_id INTEGER NOT NULL, user_id INTEGER NOT NULL, text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE payments_requests (
    id INTEGER PRIMARY KEY, requester_id INTEGER NOT NULL, payer_id INTEGER NOT NULL, amount REAL NOT NULL,
    description TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, resolved_at TEXT
);
CREATE TABLE payments_fund_transfers (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, kind TEXT NOT NULL, amount REAL NOT NULL,
    payment_card_id INTEGER NOT NULL, created_at TEXT NOT NULL
);
""",
)
APP.add_login()

Amount = Annotated[float, Field(gt=0, le=10000, description="an amount in dollars (more than 0, at most 10,000)")]
Description = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(min_length=3, max_length=200)]
DateStr = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _money(x: float) -> float:
    return round(float(x) + 1e-9, 2)


def _order(sort_by: str, tiebreak: str = "id") -> str:
    return f"{sort_by.lstrip('-')} {'DESC' if sort_by.startswith('-') else 'ASC'}, {tiebreak} {'DESC' if sort_by.startswith('-') else 'ASC'}"


def _person(ctx: Ctx, user_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT id, first_name, last_name, email FROM users WHERE id = ?", (user_id,))
    assert row is not None
    return {"user_id": row["id"], "name": f"{row['first_name']} {row['last_name']}", "email": row["email"]}


def user_by_email(ctx: Ctx, email: str, parameter: str) -> dict[str, Any]:
    """The user with this email (case-insensitive), or a 404 naming the parameter."""
    row = ctx.one("SELECT * FROM users WHERE lower(email) = lower(?)", (email.strip(),))
    if row is None:
        raise ApiError(404, f"No user with email {email!r} (parameter {parameter}).")
    return row


def _balance(ctx: Ctx, user_id: int) -> float:
    row = ctx.one("SELECT balance FROM payments_wallets WHERE user_id = ?", (user_id,))
    return float(row["balance"]) if row else 0.0


def _add_balance(ctx: Ctx, user_id: int, delta: float) -> None:
    new = _money(_balance(ctx, user_id) + delta)
    if ctx.one("SELECT id FROM payments_wallets WHERE user_id = ?", (user_id,)):
        ctx.db.execute("UPDATE payments_wallets SET balance = ? WHERE user_id = ?", (new, user_id))
    else:
        ctx.insert("payments_wallets", user_id=user_id, balance=new)


def _card(ctx: Ctx, payment_card_id: int) -> dict[str, Any]:
    return ctx.require("supervisor_payment_cards", payment_card_id, "payment card")


def _transaction_row(ctx: Ctx, transaction_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM payments_transactions WHERE id = ?", (transaction_id,))
    if row is None:
        raise ApiError(404, f"No transaction found with id {transaction_id}.")
    if ctx.user_id not in (row["sender_id"], row["receiver_id"]):
        raise ApiError(403, f"The transaction with id {transaction_id} is not one of yours.")
    return row


def _transaction(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    likes = ctx.one("SELECT COUNT(*) AS n FROM payments_likes WHERE transaction_id = ?", (row["id"],))["n"]
    comments = ctx.one("SELECT COUNT(*) AS n FROM payments_comments WHERE transaction_id = ?", (row["id"],))["n"]
    return {
        "transaction_id": row["id"],
        "sender": _person(ctx, row["sender_id"]),
        "receiver": _person(ctx, row["receiver_id"]),
        "amount": row["amount"],
        "description": row["description"],
        "private": bool(row["private"]),
        "request_id": row["request_id"],
        "created_at": row["created_at"],
        "like_count": likes,
        "comment_count": comments,
    }


def _request_row(ctx: Ctx, request_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM payments_requests WHERE id = ?", (request_id,))
    if row is None:
        raise ApiError(404, f"No payment request found with id {request_id}.")
    if ctx.user_id not in (row["requester_id"], row["payer_id"]):
        raise ApiError(403, f"The payment request with id {request_id} is not one of yours.")
    return row


def _request(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": row["id"],
        "requester": _person(ctx, row["requester_id"]),
        "payer": _person(ctx, row["payer_id"]),
        "amount": row["amount"],
        "description": row["description"],
        "status": row["status"],
        "created_at": row["created_at"],
        "resolved_at": row["resolved_at"],
    }


def _transfer(ctx: Ctx, sender_id: int, receiver_id: int, amount: float, description: str, private: bool, request_id: int | None = None) -> int:
    if _balance(ctx, sender_id) + 1e-9 < amount:
        raise ApiError(409, f"Insufficient balance: {_balance(ctx, sender_id):.2f} is less than {amount:.2f}; add funds first.")
    _add_balance(ctx, sender_id, -amount)
    _add_balance(ctx, receiver_id, amount)
    return ctx.insert(
        "payments_transactions",
        sender_id=sender_id,
        receiver_id=receiver_id,
        amount=_money(amount),
        description=description,
        private=int(private),
        request_id=request_id,
        created_at=ctx.clock.timestamp(),
    )


# -------------------------------------------------------------------------------------------------
# Account, balance, funds


@APP.api
def show_account(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show your payments account: name, email and wallet balance.

    Args:
        access_token: your access token from login.

    Returns:
        {"user_id": integer, "name": string, "email": string, "balance": number}
    """
    return {**_person(ctx, ctx.user_id), "balance": _balance(ctx, ctx.user_id)}


@APP.api
def show_balance(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show your wallet balance in dollars.

    Args:
        access_token: your access token from login.

    Returns:
        {"balance": number}
    """
    return {"balance": _balance(ctx, ctx.user_id)}


@APP.api
def add_funds(ctx: Ctx, access_token: str, amount: Amount, payment_card_id: int) -> dict[str, Any]:
    """Move money from one of your payment cards into your wallet.

    Args:
        access_token: your access token from login.
        amount: the amount in dollars.
        payment_card_id: the card to charge, from apis.supervisor.show_payment_cards.

    Returns:
        {"fund_transfer_id": integer, "balance": number, "message": string}
    """
    _card(ctx, payment_card_id)
    _add_balance(ctx, ctx.user_id, amount)
    fid = ctx.insert(
        "payments_fund_transfers", user_id=ctx.user_id, kind="deposit", amount=_money(amount), payment_card_id=payment_card_id, created_at=ctx.clock.timestamp()
    )
    return {"fund_transfer_id": fid, "balance": _balance(ctx, ctx.user_id), "message": "Funds added."}


@APP.api
def withdraw_funds(ctx: Ctx, access_token: str, amount: Amount, payment_card_id: int) -> dict[str, Any]:
    """Move money from your wallet back to one of your payment cards.

    Args:
        access_token: your access token from login.
        amount: the amount in dollars; at most your balance.
        payment_card_id: the card to credit, from apis.supervisor.show_payment_cards.

    Returns:
        {"fund_transfer_id": integer, "balance": number, "message": string}
    """
    _card(ctx, payment_card_id)
    if _balance(ctx, ctx.user_id) + 1e-9 < amount:
        raise ApiError(409, f"Insufficient balance: {_balance(ctx, ctx.user_id):.2f} is less than {amount:.2f}.")
    _add_balance(ctx, ctx.user_id, -amount)
    fid = ctx.insert(
        "payments_fund_transfers",
        user_id=ctx.user_id,
        kind="withdrawal",
        amount=_money(amount),
        payment_card_id=payment_card_id,
        created_at=ctx.clock.timestamp(),
    )
    return {"fund_transfer_id": fid, "balance": _balance(ctx, ctx.user_id), "message": "Funds withdrawn."}


@APP.api
def show_fund_transfers(
    ctx: Ctx,
    access_token: str,
    kind: Literal["deposit", "withdrawal"] | None = None,
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List the money you moved between your cards and your wallet, newest first.

    Args:
        access_token: your access token from login.
        kind: only deposits (card to wallet) or only withdrawals (wallet to card).
        page_index: the page to return, starting at 0.
        page_limit: the number of results per page (at most 20).

    Returns:
        [{"fund_transfer_id": integer, "kind": string, "amount": number, "payment_card_id": integer, "created_at": string}]
    """
    where, params = "user_id = ?", [ctx.user_id]
    if kind is not None:
        where += " AND kind = ?"
        params.append(kind)
    rows = paginate(ctx, f"SELECT * FROM payments_fund_transfers WHERE {where} ORDER BY created_at DESC, id DESC", params, page_index, page_limit)
    return [
        {"fund_transfer_id": r["id"], "kind": r["kind"], "amount": r["amount"], "payment_card_id": r["payment_card_id"], "created_at": r["created_at"]}
        for r in rows
    ]


# -------------------------------------------------------------------------------------------------
# Friends and people


@APP.api
def show_friends(ctx: Ctx, access_token: str, query: str | None = None, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List your friends on payments, sorted by name, optionally only those whose name or email contains the query.

    Args:
        access_token: your access token from login.
        query: text to look for in the friend's name or email (case-insensitive).
        page_index: the page to return, starting at 0.
        page_limit: the number of friends per page (at most 20).

    Returns:
        [{"user_id": integer, "name": string, "email": string, "friends_since": string}]
    """
    sql = "SELECT u.*, f.created_at AS since FROM payments_friends f JOIN users u ON u.id = f.friend_id WHERE f.user_id = ?"
    params: list[Any] = [ctx.user_id]
    if query:
        sql += " AND (lower(u.first_name || ' ' || u.last_name) LIKE ? OR lower(u.email) LIKE ?)"
        params += [f"%{query.lower()}%"] * 2
    rows = paginate(ctx, sql + " ORDER BY u.first_name, u.last_name, u.id", params, page_index, page_limit)
    return [{**_person(ctx, r["id"]), "friends_since": r["since"]} for r in rows]


@APP.api
def search_users(
    ctx: Ctx,
    access_token: str,
    query: Annotated[str, Field(min_length=1)],
    sort_by: Literal["name", "-name", "email", "-email"] = "name",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search everyone on payments by name, email or phone number (case-insensitive).

    Args:
        access_token: your access token from login.
        query: text to look for in the name, email or phone number.
        sort_by: the sort key ("name" is first name, then last name); a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of people per page (at most 20).

    Returns:
        [{"user_id": integer, "name": string, "email": string, "is_friend": boolean}]
    """
    like = f"%{query.lower()}%"
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    order = f"first_name {direction}, last_name {direction}" if sort_by.lstrip("-") == "name" else f"email {direction}"
    rows = paginate(
        ctx,
        f"SELECT id FROM users WHERE id != ? AND (lower(first_name || ' ' || last_name) LIKE ? OR lower(email) LIKE ? OR phone_number LIKE ?) ORDER BY {order}, id {direction}",
        (ctx.user_id, like, like, like),
        page_index,
        page_limit,
    )
    friends = {r["friend_id"] for r in ctx.all("SELECT friend_id FROM payments_friends WHERE user_id = ?", (ctx.user_id,))}
    return [{**_person(ctx, r["id"]), "is_friend": r["id"] in friends} for r in rows]


@APP.api
def add_friend(ctx: Ctx, access_token: str, email: Email) -> dict[str, Any]:
    """Add someone to your friends by email.

    Args:
        access_token: your access token from login.
        email: the person's email address.

    Returns:
        {"message": string}
    """
    other = user_by_email(ctx, email, "email")
    if other["id"] == ctx.user_id:
        raise ApiError(422, "Invalid value for parameter(s): email.", errors=[{"parameter": "email", "error": "you cannot befriend yourself", "given": email}])
    if ctx.one("SELECT id FROM payments_friends WHERE user_id = ? AND friend_id = ?", (ctx.user_id, other["id"])):
        raise ApiError(409, f"{email} is already your friend.")
    ctx.insert("payments_friends", user_id=ctx.user_id, friend_id=other["id"], created_at=ctx.clock.timestamp())
    return {"message": "Friend added."}


@APP.api
def remove_friend(ctx: Ctx, access_token: str, email: Email) -> dict[str, Any]:
    """Remove someone from your friends.

    Args:
        access_token: your access token from login.
        email: the friend's email address.

    Returns:
        {"message": string}
    """
    other = user_by_email(ctx, email, "email")
    row = ctx.one("SELECT id FROM payments_friends WHERE user_id = ? AND friend_id = ?", (ctx.user_id, other["id"]))
    if row is None:
        raise ApiError(404, f"{email} is not your friend.")
    ctx.delete("payments_friends", row["id"])
    return {"message": "Friend removed."}


# -------------------------------------------------------------------------------------------------
# Transactions


@APP.api
def send_money(ctx: Ctx, access_token: str, receiver_email: Email, amount: Amount, description: Description, private: bool = False) -> dict[str, Any]:
    """Send money from your wallet to someone. Fails with 409 if your balance is too low (add funds first).

    Args:
        access_token: your access token from login.
        receiver_email: the email of the person to pay.
        amount: the amount in dollars.
        description: what the payment is for.
        private: hide the payment from the public feed.

    Returns:
        {"transaction_id": integer, "balance": number, "message": string}
    """
    other = user_by_email(ctx, receiver_email, "receiver_email")
    if other["id"] == ctx.user_id:
        raise ApiError(
            422,
            "Invalid value for parameter(s): receiver_email.",
            errors=[{"parameter": "receiver_email", "error": "you cannot pay yourself", "given": receiver_email}],
        )
    tid = _transfer(ctx, ctx.user_id, other["id"], _money(amount), description, private)
    return {"transaction_id": tid, "balance": _balance(ctx, ctx.user_id), "message": "Money sent."}


@APP.api
def show_transactions(
    ctx: Ctx,
    access_token: str,
    direction: Literal["sent", "received"] | None = None,
    friend_email: str | None = None,
    query: str | None = None,
    min_amount: float | None = None,
    max_amount: float | None = None,
    start_date: DateStr | None = None,
    end_date: DateStr | None = None,
    sort_by: Literal["created_at", "-created_at", "amount", "-amount"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List transactions you sent or received, with filters and a sort order.

    Args:
        access_token: your access token from login.
        direction: only money you sent, or only money you received.
        friend_email: only transactions with this person.
        query: only transactions whose description contains this text (case-insensitive).
        min_amount: only transactions of at least this amount.
        max_amount: only transactions of at most this amount.
        start_date: only transactions on or after this date (YYYY-MM-DD).
        end_date: only transactions on or before this date (YYYY-MM-DD).
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of transactions per page (at most 20).

    Returns:
        [{"transaction_id": integer, "sender": {"user_id": integer, "name": string, "email": string}, "receiver": {...}, "amount": number, "description": string, "private": boolean, "request_id": integer | null, "created_at": string, "like_count": integer, "comment_count": integer}]
    """
    uid = ctx.user_id
    where, params = ["(sender_id = ? OR receiver_id = ?)"], [uid, uid]
    if direction == "sent":
        where.append("sender_id = ?")
        params.append(uid)
    elif direction == "received":
        where.append("receiver_id = ?")
        params.append(uid)
    if friend_email is not None:
        other = user_by_email(ctx, friend_email, "friend_email")
        where.append("(sender_id = ? OR receiver_id = ?)")
        params += [other["id"], other["id"]]
    if query:
        where.append("lower(description) LIKE ?")
        params.append(f"%{query.lower()}%")
    if min_amount is not None:
        where.append("amount >= ?")
        params.append(min_amount)
    if max_amount is not None:
        where.append("amount <= ?")
        params.append(max_amount)
    if start_date:
        where.append("substr(created_at, 1, 10) >= ?")
        params.append(start_date)
    if end_date:
        where.append("substr(created_at, 1, 10) <= ?")
        params.append(end_date)
    rows = paginate(ctx, f"SELECT * FROM payments_transactions WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}", params, page_index, page_limit)
    return [_transaction(ctx, r) for r in rows]


@APP.api
def show_transaction(ctx: Ctx, access_token: str, transaction_id: int) -> dict[str, Any]:
    """Show one of your transactions.

    Args:
        access_token: your access token from login.
        transaction_id: the transaction to show.

    Returns:
        {"transaction_id": integer, "sender": {...}, "receiver": {...}, "amount": number, "description": string, "private": boolean, "request_id": integer | null, "created_at": string, "like_count": integer, "comment_count": integer}
    """
    return _transaction(ctx, _transaction_row(ctx, transaction_id))


@APP.api
def like_transaction(ctx: Ctx, access_token: str, transaction_id: int) -> dict[str, Any]:
    """Like one of your transactions.

    Args:
        access_token: your access token from login.
        transaction_id: the transaction to like.

    Returns:
        {"message": string}
    """
    _transaction_row(ctx, transaction_id)
    if ctx.one("SELECT id FROM payments_likes WHERE transaction_id = ? AND user_id = ?", (transaction_id, ctx.user_id)):
        raise ApiError(409, "You already liked this transaction.")
    ctx.insert("payments_likes", transaction_id=transaction_id, user_id=ctx.user_id, created_at=ctx.clock.timestamp())
    return {"message": "Transaction liked."}


@APP.api
def unlike_transaction(ctx: Ctx, access_token: str, transaction_id: int) -> dict[str, Any]:
    """Remove your like from a transaction.

    Args:
        access_token: your access token from login.
        transaction_id: the transaction to unlike.

    Returns:
        {"message": string}
    """
    _transaction_row(ctx, transaction_id)
    row = ctx.one("SELECT id FROM payments_likes WHERE transaction_id = ? AND user_id = ?", (transaction_id, ctx.user_id))
    if row is None:
        raise ApiError(404, "You have not liked this transaction.")
    ctx.delete("payments_likes", row["id"])
    return {"message": "Like removed."}


@APP.api
def show_transaction_comments(ctx: Ctx, access_token: str, transaction_id: int, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the comments on one of your transactions, oldest first.

    Args:
        access_token: your access token from login.
        transaction_id: the transaction.
        page_index: the page to return, starting at 0.
        page_limit: the number of comments per page (at most 20).

    Returns:
        [{"comment_id": integer, "author": {"user_id": integer, "name": string, "email": string}, "text": string, "created_at": string}]
    """
    _transaction_row(ctx, transaction_id)
    rows = paginate(ctx, "SELECT * FROM payments_comments WHERE transaction_id = ? ORDER BY created_at, id", (transaction_id,), page_index, page_limit)
    return [{"comment_id": r["id"], "author": _person(ctx, r["user_id"]), "text": r["text"], "created_at": r["created_at"]} for r in rows]


@APP.api
def comment_on_transaction(ctx: Ctx, access_token: str, transaction_id: int, text: Annotated[str, Field(min_length=1, max_length=500)]) -> dict[str, Any]:
    """Comment on one of your transactions.

    Args:
        access_token: your access token from login.
        transaction_id: the transaction.
        text: the comment.

    Returns:
        {"comment_id": integer, "message": string}
    """
    _transaction_row(ctx, transaction_id)
    cid = ctx.insert("payments_comments", transaction_id=transaction_id, user_id=ctx.user_id, text=text, created_at=ctx.clock.timestamp())
    return {"comment_id": cid, "message": "Comment added."}


@APP.api
def delete_transaction_comment(ctx: Ctx, access_token: str, comment_id: int) -> dict[str, Any]:
    """Delete one of your comments.

    Args:
        access_token: your access token from login.
        comment_id: the comment to delete; it must be yours.

    Returns:
        {"message": string}
    """
    ctx.require("payments_comments", comment_id, "comment")
    ctx.delete("payments_comments", comment_id)
    return {"message": "Comment deleted."}


# -------------------------------------------------------------------------------------------------
# Requests


@APP.api
def request_money(ctx: Ctx, access_token: str, payer_email: Email, amount: Amount, description: Description) -> dict[str, Any]:
    """Ask someone to pay you. They see it among their incoming requests and can approve or decline it.

    Args:
        access_token: your access token from login.
        payer_email: the email of the person you ask to pay.
        amount: the amount in dollars.
        description: what the money is for.

    Returns:
        {"request_id": integer, "message": string}
    """
    other = user_by_email(ctx, payer_email, "payer_email")
    if other["id"] == ctx.user_id:
        raise ApiError(
            422,
            "Invalid value for parameter(s): payer_email.",
            errors=[{"parameter": "payer_email", "error": "you cannot request money from yourself", "given": payer_email}],
        )
    rid = ctx.insert(
        "payments_requests",
        requester_id=ctx.user_id,
        payer_id=other["id"],
        amount=_money(amount),
        description=description,
        status="pending",
        created_at=ctx.clock.timestamp(),
        resolved_at=None,
    )
    return {"request_id": rid, "message": "Request sent."}


@APP.api
def show_requests(
    ctx: Ctx,
    access_token: str,
    direction: Literal["incoming", "outgoing"] = "incoming",
    status: Literal["pending", "approved", "declined", "cancelled"] | None = None,
    friend_email: str | None = None,
    sort_by: Literal["created_at", "-created_at", "amount", "-amount"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List money requests: incoming (others ask you to pay) or outgoing (you asked others).

    Args:
        access_token: your access token from login.
        direction: "incoming" for requests you are asked to pay, "outgoing" for requests you made.
        status: only requests with this status.
        friend_email: only requests with this person.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of requests per page (at most 20).

    Returns:
        [{"request_id": integer, "requester": {"user_id": integer, "name": string, "email": string}, "payer": {...}, "amount": number, "description": string, "status": string, "created_at": string, "resolved_at": string | null}]
    """
    col = "payer_id" if direction == "incoming" else "requester_id"
    where, params = [f"{col} = ?"], [ctx.user_id]
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if friend_email is not None:
        other = user_by_email(ctx, friend_email, "friend_email")
        where.append("(payer_id = ? OR requester_id = ?)")
        params += [other["id"], other["id"]]
    rows = paginate(ctx, f"SELECT * FROM payments_requests WHERE {' AND '.join(where)} ORDER BY {_order(sort_by)}", params, page_index, page_limit)
    return [_request(ctx, r) for r in rows]


@APP.api
def show_request(ctx: Ctx, access_token: str, request_id: int) -> dict[str, Any]:
    """Show one money request you made or received.

    Args:
        access_token: your access token from login.
        request_id: the request to show.

    Returns:
        {"request_id": integer, "requester": {...}, "payer": {...}, "amount": number, "description": string, "status": string, "created_at": string, "resolved_at": string | null}
    """
    return _request(ctx, _request_row(ctx, request_id))


def _pending_for_payer(ctx: Ctx, request_id: int) -> dict[str, Any]:
    row = _request_row(ctx, request_id)
    if row["payer_id"] != ctx.user_id:
        raise ApiError(403, f"Only the payer can answer request {request_id}; you made it (cancel it instead).")
    if row["status"] != "pending":
        raise ApiError(409, f"Request {request_id} is already {row['status']}.")
    return row


@APP.api
def approve_request(ctx: Ctx, access_token: str, request_id: int, private: bool = False) -> dict[str, Any]:
    """Approve a pending request someone sent you: the money is sent from your wallet (409 if too low).

    Args:
        access_token: your access token from login.
        request_id: the incoming request to pay.
        private: hide the resulting payment from the public feed.

    Returns:
        {"transaction_id": integer, "balance": number, "message": string}
    """
    row = _pending_for_payer(ctx, request_id)
    tid = _transfer(ctx, ctx.user_id, row["requester_id"], row["amount"], row["description"], private, request_id)
    ctx.update("payments_requests", request_id, status="approved", resolved_at=ctx.clock.timestamp())
    return {"transaction_id": tid, "balance": _balance(ctx, ctx.user_id), "message": "Request approved and paid."}


@APP.api
def decline_request(ctx: Ctx, access_token: str, request_id: int) -> dict[str, Any]:
    """Decline a pending request someone sent you.

    Args:
        access_token: your access token from login.
        request_id: the incoming request to decline.

    Returns:
        {"message": string}
    """
    _pending_for_payer(ctx, request_id)
    ctx.update("payments_requests", request_id, status="declined", resolved_at=ctx.clock.timestamp())
    return {"message": "Request declined."}


@APP.api
def cancel_request(ctx: Ctx, access_token: str, request_id: int) -> dict[str, Any]:
    """Cancel a pending request you made.

    Args:
        access_token: your access token from login.
        request_id: the outgoing request to cancel.

    Returns:
        {"message": string}
    """
    row = _request_row(ctx, request_id)
    if row["requester_id"] != ctx.user_id:
        raise ApiError(403, f"Only the requester can cancel request {request_id}; decline it instead.")
    if row["status"] != "pending":
        raise ApiError(409, f"Request {request_id} is already {row['status']}.")
    ctx.update("payments_requests", request_id, status="cancelled", resolved_at=ctx.clock.timestamp())
    return {"message": "Request cancelled."}


# -------------------------------------------------------------------------------------------------
# Seed data

_WHAT = [
    "Dinner at {place}",
    "Lunch at {place}",
    "Coffee",
    "Groceries",
    "Concert tickets",
    "Movie night",
    "Uber ride",
    "Gas money",
    "Birthday gift for {name}",
    "Rent share",
    "Utilities",
    "Internet bill",
    "Pizza night",
    "Brunch",
    "Drinks at {place}",
    "Ski trip",
    "Beach house deposit",
    "Book club snacks",
    "Gym class",
    "Parking",
    "Baseball tickets",
    "Farmers market",
    "Pottery class",
    "Board game night",
    "Camping gear",
]
_PLACES = ["Luigi's", "The Golden Fork", "Sakura Sushi", "Taco Loco", "Blue Door Bistro", "Maple Diner", "Pho Saigon", "The Alehouse"]
_COMMENTS = ["Thanks!", "Great night!", "You're the best", "Next one's on me", "Cheers", "Got it, thanks", "Worth every penny"]


def _when(gen: Gen, max_days: int = 180) -> str:
    return (gen.now - timedelta(seconds=gen.rng.randint(3600, max_days * 86400))).isoformat(timespec="seconds")


def _what(gen: Gen) -> str:
    return gen.rng.choice(_WHAT).format(place=gen.rng.choice(_PLACES), name=gen.fake.first_name())


def seed(gen: Gen) -> None:
    rng = gen.rng
    uid = gen.user["id"]
    others = [p["id"] for p in gen.people if p["id"] != uid]
    circle = [p["id"] for p in gen.friends]
    for p in gen.people:
        gen.insert("payments_wallets", user_id=p["id"], balance=round(rng.uniform(150, 900), 2) if p["id"] != uid else 1240.55)
    for fid in circle[:24]:
        gen.insert("payments_friends", user_id=uid, friend_id=fid, created_at=_when(gen, 700))
    for pid in others:
        for fid in rng.sample([x for x in [uid] + others if x != pid], 4):
            gen.insert("payments_friends", user_id=pid, friend_id=fid, created_at=_when(gen, 700))
    # The user's transactions: mostly with their circle, over six months.
    rows = []
    for _ in range(140):
        friend = rng.choice(circle)
        sent = rng.random() < 0.55
        rows.append((uid, friend) if sent else (friend, uid))
    for _ in range(160):
        a, b = rng.sample(others, 2)
        rows.append((a, b))
    tx_ids = []
    for sender, receiver in rows:
        tid = gen.insert(
            "payments_transactions",
            sender_id=sender,
            receiver_id=receiver,
            amount=round(rng.choice([rng.uniform(4, 40), rng.uniform(20, 120), rng.uniform(80, 600)]), 2),
            description=_what(gen),
            private=int(rng.random() < 0.15),
            request_id=None,
            created_at=_when(gen),
        )
        tx_ids.append((tid, sender, receiver))
    for tid, sender, receiver in rng.sample(tx_ids, 70):
        for who in {sender, receiver}:
            if rng.random() < 0.5:
                gen.insert("payments_likes", transaction_id=tid, user_id=who, created_at=_when(gen, 30))
        if rng.random() < 0.4:
            gen.insert("payments_comments", transaction_id=tid, user_id=rng.choice([sender, receiver]), text=rng.choice(_COMMENTS), created_at=_when(gen, 30))
    # Requests: incoming and outgoing for the user, in every status, plus others'.
    for i in range(36):
        friend = rng.choice(circle)
        incoming = i % 2 == 0
        status = rng.choice(["pending", "pending", "approved", "declined", "cancelled"])
        created = _when(gen, 90)
        gen.insert(
            "payments_requests",
            requester_id=friend if incoming else uid,
            payer_id=uid if incoming else friend,
            amount=round(rng.uniform(8, 150), 2),
            description=_what(gen),
            status=status,
            created_at=created,
            resolved_at=None
            if status == "pending"
            else min(datetime.fromisoformat(created) + timedelta(hours=rng.randint(1, 48)), gen.now).isoformat(timespec="seconds"),
        )
    for _ in range(60):
        a, b = rng.sample(others, 2)
        gen.insert(
            "payments_requests",
            requester_id=a,
            payer_id=b,
            amount=round(rng.uniform(8, 150), 2),
            description=_what(gen),
            status="pending",
            created_at=_when(gen, 90),
            resolved_at=None,
        )
    for _ in range(8):
        gen.insert(
            "payments_fund_transfers",
            user_id=uid,
            kind=rng.choice(["deposit", "withdrawal"]),
            amount=round(rng.uniform(50, 400), 2),
            payment_card_id=rng.randint(1, 3),
            created_at=_when(gen),
        )


__all__ = ["APP", "MAIN_USER_ID", "user_by_email"]
