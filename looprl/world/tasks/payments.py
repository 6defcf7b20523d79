"""Scenarios over the payments app, and helpers the payments/shopping/expenses/files scenario
modules share (people lookups; the code snippets and predicates live in _snippets.py).

Each generator draws one task from its instance's base world (`BaseView`): friends (only those whose
full name no other user shares), months, date ranges, request statuses, amounts and notes, chosen
with ``view.rng``. Ground truths read everything through the public ``apis``: only what the
instruction states (names, amounts, texts, dates) appears in the code, never an id or an answer."""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta

from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, only_inserts, scenario
from looprl.world.tasks._snippets import header, inserts_by, rows_of

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


def _month_words(month: str) -> str:
    """'2026-03' -> 'March 2026'."""
    return f"{MONTHS[int(month[5:]) - 1]} {month[:4]}"


def _date_words(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _month_end(month: str) -> str:
    """'2026-02' -> '2026-02-28': the last day of a YYYY-MM month."""
    year, number = int(month[:4]), int(month[5:])
    return f"{month}-{calendar.monthrange(year, number)[1]:02d}"


_STATUSES = ("pending", "approved", "declined", "cancelled")
# Every set of statuses a count can ask about, with its words: one status, two, or all but one ("not X").
_STATUS_SETS = (
    [((s,), s) for s in _STATUSES]
    + [(pair, f"{pair[0]} or {pair[1]}") for pair in itertools.combinations(_STATUSES, 2)]
    + [(tuple(x for x in _STATUSES if x != s), f"not {s}") for s in _STATUSES]
)


@scenario("payments_count_requests", split="train", apps=("payments",))
def payments_count_requests(view: BaseView) -> TaskSpec:
    """How many money requests of a direction and status (or set of statuses) are there? (pagination over a filter)"""
    direction = view.rng.choice(["incoming", "outgoing"])
    statuses, words = view.rng.choice(_STATUS_SETS)
    col = "payer_id" if direction == "incoming" else "requester_id"
    marks = ", ".join("?" for _ in statuses)
    count = view.scalar(f"SELECT COUNT(*) FROM payments_requests WHERE {col} = ? AND status IN ({marks})", (MAIN_USER_ID, *statuses))
    if len(statuses) == 1:
        code = f'requests = collect(apis.payments.show_requests, access_token=payments_token, direction="{direction}", status="{statuses[0]}")\n'
    else:
        code = (
            "requests = []\n"
            f"for status in {list(statuses)!r}:\n"
            f'    requests += collect(apis.payments.show_requests, access_token=payments_token, direction="{direction}", status=status)\n'
        )
    solution = header("payments") + code + "apis.supervisor.complete_task(answer=len(requests))\n"
    if direction == "incoming":
        templates = [
            "How many of the money requests sent to me on payments are {status}?",
            "Count the incoming payment requests on payments whose status is {status}.",
            "On payments, how many requests asking me to pay are {status}?",
            "Tell me the number of payment requests I received on payments that are {status}.",
        ]
    else:
        templates = [
            "How many of the money requests I sent on payments are {status}?",
            "Count my outgoing payment requests on payments whose status is {status}.",
            "On payments, how many of my requests asking others to pay me are {status}?",
            "Tell me the number of money requests I sent on payments that are {status}.",
        ]
    instruction = view.phrase(templates, status=words)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=count)


_PAYMENT_NOTES = [
    "Concert tickets",
    "Half of the cab",
    "Pizza night",
    "Groceries",
    "Dinner last night",
    "Coffee run",
    "Movie tickets",
    "Birthday present",
    "Gas money",
    "Rent share",
    "Book club snacks",
    "Parking",
    "Brunch",
    "Train tickets",
    "Board game night",
    "Utilities",
]


@scenario("payments_send_to_friend", split="train", apps=("payments",))
def payments_send_to_friend(view: BaseView) -> TaskSpec:
    """Send an amount to a friend named in the instruction (find their email among friends)."""
    fid = view.rng.choice(payments_friends(view))
    amount = view.rng.randint(500, 12000) / 100
    what = view.rng.choice(_PAYMENT_NOTES)
    name = full_name(view, fid)
    solution = header("payments") + (
        find_friend(name) + f'apis.payments.send_money(access_token=payments_token, receiver_email=friend["email"], amount={amount!r}, description="{what}")\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        added = ctx.diff.added.get("payments_transactions", [])
        ok = [r for r in added if r["sender_id"] == MAIN_USER_ID and r["receiver_id"] == fid]
        tx = ok[0] if len(ok) == 1 else None
        return [
            check(
                "exactly one payment, to the right friend",
                len(added) == 1 and tx is not None,
                f"new transactions: {[(r['receiver_id'], r['amount']) for r in added]}",
            ),
            check("the amount is right", tx is not None and near(tx["amount"], amount), f"expected {amount}"),
            check("the description is right", tx is not None and tx["description"].strip().lower() == what.lower(), f"expected {what!r}"),
        ]

    instruction = view.phrase(
        [
            'Send ${amount} to my friend {name} on payments for "{what}".',
            'Pay {name} ${amount} on payments with the description "{what}".',
            'On payments, transfer ${amount} to {name}; the description should be "{what}".',
            'I owe {name} ${amount} for "{what}". Please send it to them on payments with that description.',
        ],
        amount=f"{amount:.2f}",
        name=name,
        what=what,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=1,
        checks=checks,
        allowed_changes={"payments_transactions": only_inserts, "payments_wallets": rows_of("user_id", [MAIN_USER_ID, fid])},
    )


@scenario("payments_total_with_friend", split="train", apps=("payments",))
def payments_total_with_friend(view: BaseView) -> TaskSpec:
    """Sum the money sent to / received from a friend in a calendar month (filters + pagination)."""
    candidates = view.all(
        "SELECT receiver_id AS friend, 'sent' AS dir, substr(created_at, 1, 7) AS month, COUNT(*) AS n FROM payments_transactions WHERE sender_id = ? GROUP BY 1, 2, 3 "
        "UNION ALL SELECT sender_id, 'received', substr(created_at, 1, 7), COUNT(*) FROM payments_transactions WHERE receiver_id = ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        (MAIN_USER_ID, MAIN_USER_ID),
    )
    friends = set(payments_friends(view))
    candidates = [c for c in candidates if c["friend"] in friends and c["month"] < view.now.strftime("%Y-%m")]
    several = [c for c in candidates if c["n"] >= 2]  # totals over two or more payments, asked more often
    c = view.rng.choice(several if several and view.rng.random() < 0.6 else candidates)
    name = full_name(view, c["friend"])
    col_me, col_them = ("sender_id", "receiver_id") if c["dir"] == "sent" else ("receiver_id", "sender_id")
    total = view.scalar(
        f"SELECT ROUND(SUM(amount), 2) FROM payments_transactions WHERE {col_me} = ? AND {col_them} = ? AND substr(created_at, 1, 7) = ?",
        (MAIN_USER_ID, c["friend"], c["month"]),
    )
    solution = header("payments") + (
        find_friend(name)
        + f'transactions = collect(apis.payments.show_transactions, access_token=payments_token, direction="{c["dir"]}", friend_email=friend["email"], start_date="{c["month"]}-01", end_date="{_month_end(c["month"])}")\n'
        "apis.supervisor.complete_task(answer=round(sum(t['amount'] for t in transactions), 2))\n"
    )
    if c["dir"] == "sent":
        templates = [
            "How much money in total did I send to {name} on payments in {month}?",
            "What was the total of my payments to {name} on payments in {month}?",
            "Add up everything I sent {name} on payments during {month}. What is the total?",
            "On payments, how much did I pay {name} altogether in {month}?",
        ]
    else:
        templates = [
            "How much money in total did I receive from {name} on payments in {month}?",
            "What was the total of the payments {name} sent me on payments in {month}?",
            "Add up everything {name} sent me on payments during {month}. What is the total?",
            "On payments, how much did {name} pay me altogether in {month}?",
        ]
    instruction = view.phrase(templates, name=name, month=_month_words(c["month"]))
    return TaskSpec(instruction=instruction, solution=solution, difficulty=2, answer=total)


@scenario("payments_pay_friend_requests", split="train", apps=("payments",))
def payments_pay_friend_requests(view: BaseView) -> TaskSpec:
    """Approve every pending request from one friend (setup adds one so there is always one)."""
    fid = view.rng.choice(payments_friends(view))
    amount = view.rng.randint(500, 9000) / 100
    what = view.rng.choice(_PAYMENT_NOTES)
    name = full_name(view, fid)

    def setup(ctx):
        ctx.insert(
            "payments_requests",
            requester_id=fid,
            payer_id=MAIN_USER_ID,
            amount=amount,
            description=what,
            status="pending",
            created_at=ctx.clock.timestamp(),
            resolved_at=None,
        )

    solution = header("payments") + (
        find_friend(name)
        + 'pending = collect(apis.payments.show_requests, access_token=payments_token, direction="incoming", status="pending", friend_email=friend["email"])\n'
        "for request in pending:\n"
        '    apis.payments.approve_request(access_token=payments_token, request_id=request["request_id"])\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        wanted = {r["id"]: r for r in ctx.before_all("SELECT * FROM payments_requests WHERE requester_id = ? AND payer_id = 1 AND status = 'pending'", (fid,))}
        after = {r["id"]: r["status"] for r in ctx.after_all("SELECT id, status FROM payments_requests WHERE requester_id = ? AND payer_id = 1", (fid,))}
        paid = ctx.diff.added.get("payments_transactions", [])
        return [
            check(
                "every pending request from the friend is approved",
                all(after.get(i) == "approved" for i in wanted),
                f"statuses: {[after.get(i) for i in wanted]}",
            ),
            check(
                "one payment per request, for its amount",
                sorted((r["receiver_id"], r["amount"]) for r in paid) == sorted((fid, r["amount"]) for r in wanted.values()),
                f"new payments: {[(r['receiver_id'], r['amount']) for r in paid]}",
            ),
        ]

    instruction = view.phrase(
        [
            "Pay all of {name}'s pending money requests to me on payments.",
            "Approve every pending payment request {name} has sent me on payments.",
            "On payments, settle all the requests from {name} that are still waiting for me to pay.",
            "{name} has asked me for money on payments: pay every one of their requests that is still pending.",
        ],
        name=name,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        setup=setup,
        checks=checks,
        allowed_changes={
            "payments_transactions": only_inserts,
            "payments_wallets": rows_of("user_id", [MAIN_USER_ID, fid]),
            "payments_requests": lambda b, a: (
                b is not None and a is not None and b["requester_id"] == fid and b["payer_id"] == MAIN_USER_ID and a["status"] == "approved"
            ),
        },
    )


@scenario("payments_largest_received", split="dev", apps=("payments",))
def payments_largest_received(view: BaseView) -> TaskSpec:
    """The largest amount received in a calendar month or between two dates (date filter + sort)."""
    received = "FROM payments_transactions WHERE receiver_id = ? AND substr(created_at, 1, 10) BETWEEN ? AND ?"
    today = view.now.date()
    months = [
        r["m"] for r in view.all("SELECT DISTINCT substr(created_at, 1, 7) AS m FROM payments_transactions WHERE receiver_id = ? ORDER BY m", (MAIN_USER_ID,))
    ]
    months = [m for m in months if m < view.now.strftime("%Y-%m")]
    period = None
    if months and view.rng.random() < 0.35:
        month = view.rng.choice(months)
        start, end, period = f"{month}-01", _month_end(month), f"in {_month_words(month)}"
    else:  # a range of 1 to 8 weeks ending before today, holding at least two payments to me
        ranges = [(back, weeks) for back in range(1, 150) for weeks in range(1, 9)]
        view.rng.shuffle(ranges)
        for back, weeks in ranges:
            last = today - timedelta(days=back)
            first = last - timedelta(days=7 * weeks - 1)
            start, end = first.isoformat(), last.isoformat()
            if view.scalar(f"SELECT COUNT(*) {received}", (MAIN_USER_ID, start, end)) >= 2:
                period = f"between {_date_words(first)} and {_date_words(last)}"
                break
    if period is None:  # no range holds two payments to me (never so in the seeded worlds): the whole past year
        first = today - timedelta(days=365)
        start, end, period = first.isoformat(), today.isoformat(), f"between {_date_words(first)} and {_date_words(today)}"
    top = view.scalar(f"SELECT MAX(amount) {received}", (MAIN_USER_ID, start, end))
    solution = header("payments") + (
        f'top = apis.payments.show_transactions(access_token=payments_token, direction="received", start_date="{start}", end_date="{end}", sort_by="-amount", page_limit=1)\n'
        'apis.supervisor.complete_task(answer=top[0]["amount"] if top else None)\n'
    )
    instruction = view.phrase(
        [
            "What was the largest payment I received on payments {period}? Answer with the amount.",
            "On payments, what is the biggest amount anyone sent me {period}?",
            "Find the largest single payment I got on payments {period} and tell me its amount.",
            "How much was the biggest payment that came in to me on payments {period}?",
        ],
        period=period,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=top)


_COMMENTS = [
    "Thanks so much!",
    "Got it, thank you",
    "You're a star",
    "Received, cheers!",
    "Thank you, much appreciated",
    "Perfect, thanks",
    "All square now",
    "Thanks a ton!",
]


@scenario("payments_like_and_comment", split="test_normal", apps=("payments",))
def payments_like_and_comment(view: BaseView) -> TaskSpec:
    """Like and comment on the most recent payment a friend sent me."""
    candidates = []
    for fid in payments_friends(view):
        tx = view.one(
            "SELECT id FROM payments_transactions WHERE sender_id = ? AND receiver_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", (fid, MAIN_USER_ID)
        )
        if tx and not view.one("SELECT id FROM payments_likes WHERE transaction_id = ? AND user_id = ?", (tx["id"], MAIN_USER_ID)):
            candidates.append((fid, tx["id"]))
    fid, tx_id = view.rng.choice(candidates)
    text = view.rng.choice(_COMMENTS)
    name = full_name(view, fid)
    solution = header("payments") + (
        find_friend(name)
        + 'latest = apis.payments.show_transactions(access_token=payments_token, direction="received", friend_email=friend["email"], sort_by="-created_at", page_limit=1)[0]\n'
        'apis.payments.like_transaction(access_token=payments_token, transaction_id=latest["transaction_id"])\n'
        f'apis.payments.comment_on_transaction(access_token=payments_token, transaction_id=latest["transaction_id"], text="{text}")\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        likes = ctx.diff.added.get("payments_likes", [])
        comments = ctx.diff.added.get("payments_comments", [])
        return [
            check(
                "the payment is liked",
                [(r["transaction_id"], r["user_id"]) for r in likes] == [(tx_id, MAIN_USER_ID)],
                f"new likes: {[r['transaction_id'] for r in likes]}",
            ),
            check(
                "the comment is on it",
                len(comments) == 1 and comments[0]["transaction_id"] == tx_id and comments[0]["text"].strip().lower() == text.lower(),
                f"new comments: {[(r['transaction_id'], r['text']) for r in comments]}",
            ),
        ]

    instruction = view.phrase(
        [
            'Like the most recent payment {name} sent me on payments and comment "{text}" on it.',
            'On payments, find the latest payment I received from {name}, like it and add the comment "{text}".',
            'Give the last payment {name} sent me on payments a like and a comment saying "{text}".',
            '{name} paid me on payments: like their most recent payment to me and comment "{text}" on it.',
        ],
        name=name,
        text=text,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"payments_likes": inserts_by(), "payments_comments": inserts_by()},
    )
