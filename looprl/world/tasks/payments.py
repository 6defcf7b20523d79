"""Scenarios over the payments app, and helpers the payments/shopping/expenses/files scenario
modules share (people lookups; the code snippets and predicates live in _snippets.py).

Ground truths read everything through the public ``apis``: only what the instruction states (names,
amounts, texts) appears in the code, never an id or an answer."""

from __future__ import annotations


from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, only_inserts, scenario
from looprl.world.tasks._snippets import header, rows_of

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def full_name(view: BaseView, user_id: int) -> str:
    u = view.one("SELECT first_name, last_name FROM users WHERE id = ?", (user_id,))
    return f"{u['first_name']} {u['last_name']}"


def unique_name(view: BaseView, user_id: int) -> bool:
    u = view.one("SELECT first_name, last_name FROM users WHERE id = ?", (user_id,))
    return view.scalar("SELECT COUNT(*) FROM users WHERE first_name = ? AND last_name = ?", (u["first_name"], u["last_name"])) == 1


def payments_friends(view: BaseView) -> list[int]:
    """The user's payments friends with a unique full name, in id order."""
    ids = [r["friend_id"] for r in view.all("SELECT friend_id FROM payments_friends WHERE user_id = ? ORDER BY friend_id", (MAIN_USER_ID,))]
    return [i for i in ids if unique_name(view, i)]


def find_friend(name: str) -> str:
    """Code that finds the payments friend with exactly this name, leaving ``friend``."""
    return f'friend = next(f for f in collect(apis.payments.show_friends, access_token=payments_token, query="{name}") if f["name"] == "{name}")\n'


def near(a: float, b: float) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) < 0.005


# -------------------------------------------------------------------------------------------------


@scenario("payments_count_requests", split="train", apps=("payments",))
def payments_count_requests(view: BaseView) -> list[TaskSpec]:
    """How many money requests of a direction and status are there? (pagination over a filter)"""
    asks = [
        ("incoming", "pending", "How many payment requests are waiting for me to pay on payments?"),
        ("outgoing", "pending", "How many of the money requests I sent on payments are still pending?"),
        ("incoming", "declined", "How many payment requests sent to me have I declined on payments?"),
    ]
    specs = []
    for direction, status, text in asks:
        col = "payer_id" if direction == "incoming" else "requester_id"
        count = view.scalar(f"SELECT COUNT(*) FROM payments_requests WHERE {col} = ? AND status = ?", (MAIN_USER_ID, status))
        solution = header("payments") + (
            f'requests = collect(apis.payments.show_requests, access_token=payments_token, direction="{direction}", status="{status}")\n'
            "apis.supervisor.complete_task(answer=len(requests))\n"
        )
        specs.append(TaskSpec(instruction=text, solution=solution, difficulty=1, answer=count))
    return specs


@scenario("payments_send_to_friend", split="train", apps=("payments",))
def payments_send_to_friend(view: BaseView) -> list[TaskSpec]:
    """Send an amount to a friend named in the instruction (find their email among friends)."""
    friends = view.rng.sample(payments_friends(view), 3)
    asks = [(25.0, "Concert tickets"), (42.5, "Half of the cab"), (18.75, "Pizza night")]
    specs = []
    for fid, (amount, what) in zip(friends, asks):
        name = full_name(view, fid)
        solution = header("payments") + (
            find_friend(name) +
            f'apis.payments.send_money(access_token=payments_token, receiver_email=friend["email"], amount={amount}, description="{what}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, fid=fid, amount=amount, what=what):
            added = ctx.diff.added.get("payments_transactions", [])
            ok = [r for r in added if r["sender_id"] == MAIN_USER_ID and r["receiver_id"] == fid]
            tx = ok[0] if len(ok) == 1 else None
            return [
                check("exactly one payment, to the right friend", len(added) == 1 and tx is not None, f"new transactions: {[(r['receiver_id'], r['amount']) for r in added]}"),
                check("the amount is right", tx is not None and near(tx["amount"], amount), f"expected {amount}"),
                check("the description is right", tx is not None and tx["description"].strip().lower() == what.lower(), f"expected {what!r}"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Send ${amount:.2f} to my friend {name} on payments for \"{what}\".",
                solution=solution,
                difficulty=1,
                checks=checks,
                allowed_changes={"payments_transactions": only_inserts, "payments_wallets": rows_of("user_id", [MAIN_USER_ID, fid])},
            )
        )
    return specs


@scenario("payments_total_with_friend", split="train", apps=("payments",))
def payments_total_with_friend(view: BaseView) -> list[TaskSpec]:
    """Sum the money sent to / received from a friend in a calendar month (filters + pagination)."""
    candidates = view.all(
        "SELECT receiver_id AS friend, 'sent' AS dir, substr(created_at, 1, 7) AS month, COUNT(*) AS n FROM payments_transactions WHERE sender_id = 1 GROUP BY 1, 2, 3 "
        "UNION ALL SELECT sender_id, 'received', substr(created_at, 1, 7), COUNT(*) FROM payments_transactions WHERE receiver_id = 1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    friends = set(payments_friends(view))
    candidates = [c for c in candidates if c["n"] >= 2 and c["friend"] in friends and c["month"] < view.now.strftime("%Y-%m")]
    picked = view.rng.sample(candidates, 3)
    specs = []
    for c in picked:
        name = full_name(view, c["friend"])
        year, month = int(c["month"][:4]), int(c["month"][5:])
        col_me, col_them = ("sender_id", "receiver_id") if c["dir"] == "sent" else ("receiver_id", "sender_id")
        total = view.scalar(
            f"SELECT ROUND(SUM(amount), 2) FROM payments_transactions WHERE {col_me} = 1 AND {col_them} = ? AND substr(created_at, 1, 7) = ?", (c["friend"], c["month"])
        )
        last_day = 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30 if month != 2 else 28
        solution = header("payments") + (
            find_friend(name) +
            f'transactions = collect(apis.payments.show_transactions, access_token=payments_token, direction="{c["dir"]}", friend_email=friend["email"], start_date="{c["month"]}-01", end_date="{c["month"]}-{last_day:02d}")\n'
            "apis.supervisor.complete_task(answer=round(sum(t['amount'] for t in transactions), 2))\n"
        )
        verb = "send to" if c["dir"] == "sent" else "receive from"
        specs.append(
            TaskSpec(
                instruction=f"How much money in total did I {verb} {name} on payments in {MONTHS[month - 1]} {year}?",
                solution=solution,
                difficulty=2,
                answer=total,
            )
        )
    return specs


@scenario("payments_pay_friend_requests", split="train", apps=("payments",))
def payments_pay_friend_requests(view: BaseView) -> list[TaskSpec]:
    """Approve every pending request from one friend (setup adds one so there is always one)."""
    friends = view.rng.sample(payments_friends(view), 3)
    specs = []
    for fid, (amount, what) in zip(friends, [(23.4, "Groceries"), (61.0, "Concert tickets"), (12.5, "Coffee")]):
        name = full_name(view, fid)

        def setup(ctx, fid=fid, amount=amount, what=what):
            ctx.insert("payments_requests", requester_id=fid, payer_id=MAIN_USER_ID, amount=amount, description=what, status="pending", created_at=ctx.clock.timestamp(), resolved_at=None)

        solution = header("payments") + (
            find_friend(name) +
            'pending = collect(apis.payments.show_requests, access_token=payments_token, direction="incoming", status="pending", friend_email=friend["email"])\n'
            "for request in pending:\n"
            '    apis.payments.approve_request(access_token=payments_token, request_id=request["request_id"])\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, fid=fid):
            wanted = {r["id"]: r for r in ctx.before_all("SELECT * FROM payments_requests WHERE requester_id = ? AND payer_id = 1 AND status = 'pending'", (fid,))}
            after = {r["id"]: r["status"] for r in ctx.after_all("SELECT id, status FROM payments_requests WHERE requester_id = ? AND payer_id = 1", (fid,))}
            paid = ctx.diff.added.get("payments_transactions", [])
            return [
                check("every pending request from the friend is approved", all(after.get(i) == "approved" for i in wanted), f"statuses: {[after.get(i) for i in wanted]}"),
                check(
                    "one payment per request, for its amount",
                    sorted((r["receiver_id"], r["amount"]) for r in paid) == sorted((fid, r["amount"]) for r in wanted.values()),
                    f"new payments: {[(r['receiver_id'], r['amount']) for r in paid]}",
                ),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Pay all of {name}'s pending money requests to me on payments.",
                solution=solution,
                difficulty=2,
                setup=setup,
                checks=checks,
                allowed_changes={
                    "payments_transactions": only_inserts,
                    "payments_wallets": rows_of("user_id", [MAIN_USER_ID, fid]),
                    "payments_requests": lambda b, a, fid=fid: b is not None and a is not None and b["requester_id"] == fid and b["payer_id"] == MAIN_USER_ID and a["status"] == "approved",
                },
            )
        )
    return specs


@scenario("payments_largest_received", split="dev", apps=("payments",))
def payments_largest_received(view: BaseView) -> list[TaskSpec]:
    """The largest amount received in a calendar month (date filter + sort)."""
    months = [r["m"] for r in view.all("SELECT DISTINCT substr(created_at, 1, 7) AS m FROM payments_transactions WHERE receiver_id = 1 ORDER BY m")]
    months = [m for m in months if m < view.now.strftime("%Y-%m")]
    specs = []
    for m in view.rng.sample(months, 3):
        year, month = int(m[:4]), int(m[5:])
        top = view.scalar("SELECT MAX(amount) FROM payments_transactions WHERE receiver_id = 1 AND substr(created_at, 1, 7) = ?", (m,))
        last_day = 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30 if month != 2 else 28
        solution = header("payments") + (
            f'top = apis.payments.show_transactions(access_token=payments_token, direction="received", start_date="{m}-01", end_date="{m}-{last_day:02d}", sort_by="-amount", page_limit=1)\n'
            'apis.supervisor.complete_task(answer=top[0]["amount"])\n'
        )
        specs.append(TaskSpec(instruction=f"What was the largest payment I received on payments in {MONTHS[month - 1]} {year}? Answer with the amount.", solution=solution, difficulty=1, answer=top))
    return specs


@scenario("payments_like_and_comment", split="test_normal", apps=("payments",))
def payments_like_and_comment(view: BaseView) -> list[TaskSpec]:
    """Like and comment on the most recent payment a friend sent me."""
    candidates = []
    for fid in payments_friends(view):
        tx = view.one("SELECT * FROM payments_transactions WHERE sender_id = ? AND receiver_id = 1 ORDER BY created_at DESC, id DESC LIMIT 1", (fid,))
        if tx and not view.one("SELECT id FROM payments_likes WHERE transaction_id = ? AND user_id = 1", (tx["id"],)):
            candidates.append((fid, tx["id"]))
    specs = []
    for (fid, tx_id), text in zip(view.rng.sample(candidates, 3), ["Thanks so much!", "Got it, thank you", "You're a star"]):
        name = full_name(view, fid)
        solution = header("payments") + (
            find_friend(name) +
            'latest = apis.payments.show_transactions(access_token=payments_token, direction="received", friend_email=friend["email"], sort_by="-created_at", page_limit=1)[0]\n'
            'apis.payments.like_transaction(access_token=payments_token, transaction_id=latest["transaction_id"])\n'
            f'apis.payments.comment_on_transaction(access_token=payments_token, transaction_id=latest["transaction_id"], text="{text}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, tx_id=tx_id, text=text):
            likes = ctx.diff.added.get("payments_likes", [])
            comments = ctx.diff.added.get("payments_comments", [])
            return [
                check("the payment is liked", [(r["transaction_id"], r["user_id"]) for r in likes] == [(tx_id, MAIN_USER_ID)], f"new likes: {[r['transaction_id'] for r in likes]}"),
                check(
                    "the comment is on it",
                    len(comments) == 1 and comments[0]["transaction_id"] == tx_id and comments[0]["text"].strip().lower() == text.lower(),
                    f"new comments: {[(r['transaction_id'], r['text']) for r in comments]}",
                ),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Like the most recent payment {name} sent me on payments and comment \"{text}\" on it.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"payments_likes": only_inserts, "payments_comments": only_inserts},
            )
        )
    return specs
