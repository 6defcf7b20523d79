"""Scenarios over the expenses app (test_challenge only: no train task uses expenses).

The main user is in the same four groups in every base world, with other members, expenses and
payments; groups, members, amounts, dates and the kind of answer asked for are drawn with the
instance's RNG from its base world. Members are named by a full name no other member of the group
has.
"""

from __future__ import annotations

from datetime import timedelta

from looprl.world.apps.expenses import balances, equal_shares
from looprl.world.core import Clock, Ctx
from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_where
from looprl.world.tasks.payments import full_name, near


def group_balances(view: BaseView, group_id: int) -> dict[int, float]:
    """Members' balances in a base-world group, computed by the app's own rule."""
    return balances(Ctx(db=view.db, clock=Clock(view.now), world=None, app="expenses", user_id=MAIN_USER_ID), group_id)


def my_groups(view: BaseView) -> list[dict]:
    return view.all("SELECT g.* FROM expenses_groups g JOIN expenses_members m ON m.group_id = g.id WHERE m.user_id = 1 ORDER BY g.id")


def find_group(name: str) -> str:
    """Code that finds the user's group with this name, leaving ``group``."""
    return f'group = next(g for g in collect(apis.expenses.show_groups, access_token=expenses_token) if g["name"] == "{name}")\n'


def member_names(view: BaseView, group_id: int) -> dict[int, str]:
    """The group's members (the user included) whose full name no other member of the group has."""
    names = {
        r["user_id"]: full_name(view, r["user_id"]) for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ? ORDER BY user_id", (group_id,))
    }
    return {uid: name for uid, name in names.items() if list(names.values()).count(name) == 1}


@scenario("expenses_group_balance", split="test_challenge", apps=("expenses",))
def expenses_group_balance(view: BaseView) -> TaskSpec:
    """My (or a named member's) net balance in a named group (list groups, paginate, read a field)."""
    rng = view.rng
    g = rng.choice(my_groups(view))
    bal = group_balances(view, g["id"])
    others = {uid: name for uid, name in member_names(view, g["id"]).items() if uid != MAIN_USER_ID}
    if rng.random() < 0.4 or not others:
        who, answer = None, bal[MAIN_USER_ID]
        solution = header("expenses") + find_group(g["name"]) + 'apis.supervisor.complete_task(answer=group["your_balance"])\n'
        templates = [
            'What is my balance in my "{group}" group on expenses? Give a positive number if I am owed money and a negative one if I owe.',
            'On expenses, what\'s my net balance in the "{group}" group? Answer with a signed amount: positive when the group owes me, negative when I owe.',
            'Tell me where I stand in my "{group}" expenses group: my balance as a number, negative if I owe money, positive if I\'m owed.',
            'How much am I up or down in the "{group}" group on expenses? Reply with my balance (negative means I owe).',
        ]
    else:
        uid = rng.choice(sorted(others))
        who, answer = others[uid], bal[uid]
        solution = (
            header("expenses")
            + find_group(g["name"])
            + (
                'members = apis.expenses.show_balances(access_token=expenses_token, group_id=group["group_id"])\n'
                f'apis.supervisor.complete_task(answer=next(m["balance"] for m in members if m["name"] == "{who}"))\n'
            )
        )
        templates = [
            'What is {who}\'s balance in my "{group}" group on expenses? Give a positive number if they are owed money and a negative one if they owe.',
            'On expenses, what\'s the net balance of {who} in the "{group}" group? Answer with a signed amount: positive when the group owes them, negative when they owe.',
            'In my "{group}" expenses group, where does {who} stand? Give their balance as a number, negative if they owe money, positive if they\'re owed.',
            'How much is {who} up or down in the "{group}" group on expenses? Reply with their balance (negative means they owe).',
        ]
    instruction = view.phrase(templates, group=g["name"], who=who)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=answer)


@scenario("expenses_who_owes_most", split="test_challenge", apps=("expenses",))
def expenses_who_owes_most(view: BaseView) -> TaskSpec:
    """The member who owes the most (or is owed the most) in a group, optionally leaving me out, by
    email, name or amount (read balances, argmin / argmax)."""
    rng = view.rng
    asks = []  # (group, direction, without me, (member, balance)): the member's balance is the unique extreme
    for g in my_groups(view):
        names = member_names(view, g["id"])
        everyone = sorted(group_balances(view, g["id"]).items(), key=lambda kv: kv[1])
        for without_me in (False, True):
            ranked = [kv for kv in everyone if not (without_me and kv[0] == MAIN_USER_ID)]
            if ranked[0][1] < 0 and ranked[0][1] < ranked[1][1] and ranked[0][0] in names:
                asks.append((g, "owes", without_me, ranked[0]))
            if ranked[-1][1] > 0 and ranked[-1][1] > ranked[-2][1] and ranked[-1][0] in names:
                asks.append((g, "owed", without_me, ranked[-1]))
    g, direction, without_me, (uid, balance) = rng.choice(asks)  # every base world's groups have unique extremes
    field = rng.choice(["email", "name", "amount"])
    if field == "email":
        answer, read = view.scalar("SELECT email FROM users WHERE id = ?", (uid,)), 'top["email"]'
    elif field == "name":
        answer, read = full_name(view, uid), 'top["name"]'
    else:
        answer, read = abs(balance), 'abs(top["balance"])'
    keep = ' if m["email"] != my_email' if without_me else ""
    solution = (
        header("expenses")
        + find_group(g["name"])
        + (
            f'members = [m for m in apis.expenses.show_balances(access_token=expenses_token, group_id=group["group_id"]){keep}]\n'
            f'top = {"min" if direction == "owes" else "max"}(members, key=lambda m: m["balance"])\n'
            f"apis.supervisor.complete_task(answer={read})\n"
        )
    )
    amount_reply = "how much they owe, as a positive number" if direction == "owes" else "how much they are owed, as a positive number"
    reply = {"email": "their email address", "name": "their full name", "amount": amount_reply}[field]
    scope = " Leave me out: only the other members count." if without_me else ""
    if direction == "owes":
        templates = [
            'Who owes the most money in my "{group}" group on expenses?{scope} Answer with {reply}.',
            'In my "{group}" expenses group, which member is deepest in debt to the group?{scope} Reply with {reply}.',
            'Find the member of my "{group}" group on expenses with the most negative balance.{scope} Give me {reply}.',
            'Of everyone in the "{group}" group on expenses, who owes the group the most?{scope} I need {reply}.',
        ]
    else:
        templates = [
            'Who is owed the most money in my "{group}" group on expenses?{scope} Answer with {reply}.',
            'In my "{group}" expenses group, which member is the group most in debt to?{scope} Reply with {reply}.',
            'Find the member of my "{group}" group on expenses with the highest positive balance.{scope} Give me {reply}.',
            'Of everyone in the "{group}" group on expenses, who should get back the most money?{scope} I need {reply}.',
        ]
    instruction = view.phrase(templates, group=g["name"], reply=reply, scope=scope)
    return TaskSpec(instruction=instruction, solution=solution, difficulty=2, answer=answer)


_EXPENSES = [
    ("Plumber visit", "household", 90, 260),
    ("Concert tickets", "entertainment", 120, 400),
    ("Farmers market haul", "groceries", 25, 90),
    ("Taxi to the airport", "transport", 35, 95),
    ("Birthday dinner", "dining", 80, 300),
    ("Water bill", "utilities", 30, 110),
    ("Museum passes", "entertainment", 40, 150),
    ("Hardware store run", "household", 20, 120),
    ("Train tickets", "travel", 60, 240),
    ("Bakery order", "groceries", 15, 60),
]


@scenario("expenses_add_shared", split="test_challenge", apps=("expenses",))
def expenses_add_shared(view: BaseView) -> TaskSpec:
    """Add an expense I paid to a named group, split equally among all members."""
    rng = view.rng
    g = rng.choice(my_groups(view))
    desc, category, low, high = rng.choice(_EXPENSES)
    amount = round(rng.uniform(low, high), 2)
    day = (view.now.date() - timedelta(days=rng.randint(0, 20))).isoformat()
    members = sorted(r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ?", (g["id"],)))
    solution = (
        header("expenses")
        + find_group(g["name"])
        + (
            f'apis.expenses.add_expense(access_token=expenses_token, group_id=group["group_id"], description="{desc}", amount={amount}, category="{category}", date="{day}")\n'
            "apis.supervisor.complete_task()\n"
        )
    )

    def checks(ctx):
        added = ctx.diff.added.get("expenses_expenses", [])
        e = added[0] if len(added) == 1 else None
        splits = [s for s in ctx.diff.added.get("expenses_splits", []) if e and s["expense_id"] == e["id"]]
        return [
            check("exactly one new expense, in the group", e is not None and e["group_id"] == g["id"], f"{len(added)} new expenses"),
            check(
                "paid by me, with the amount, category and date",
                e is not None and e["paid_by"] == MAIN_USER_ID and near(e["amount"], amount) and e["category"] == category and e["date"] == day,
                "payer/amount/category/date differs",
            ),
            check("described as asked", e is not None and e["description"].strip().lower() == desc.lower(), f"expected {desc!r}"),
            check(
                "split equally among all members",
                sorted(s["user_id"] for s in splits) == members and sorted(s["share"] for s in splits) == sorted(equal_shares(amount, len(members))),
                f"splits: {[(s['user_id'], s['share']) for s in splits]}",
            ),
        ]

    instruction = view.phrase(
        [
            'Add a ${amount:.2f} expense "{desc}" that I paid on {day} to my "{group}" group on expenses, category {category}, split equally among everyone in the group.',
            'I paid ${amount:.2f} for "{desc}" on {day}. Put it in my "{group}" group on expenses under the {category} category, shared equally by all members.',
            'On expenses, record in the "{group}" group an expense "{desc}" of ${amount:.2f}, paid by me on {day}, category {category}, with an equal split among all members.',
            'Log "{desc}" (${amount:.2f}, {category}, dated {day}) in my "{group}" expenses group: I paid, and everyone in the group shares it equally.',
        ],
        amount=amount,
        desc=desc,
        day=day,
        group=g["name"],
        category=category,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"expenses_expenses": inserts_where(created_by=MAIN_USER_ID), "expenses_splits": lambda b, a: b is None},
    )


@scenario("expenses_settle_with", split="test_challenge", apps=("expenses",))
def expenses_settle_with(view: BaseView) -> TaskSpec:
    """Settle up with a named member of a named group (the payment direction and amount follow the balances)."""
    rng = view.rng
    options = []  # (group, member, my balance, theirs): one of us owes and the other is owed
    for g in my_groups(view):
        bal = group_balances(view, g["id"])
        mine = bal[MAIN_USER_ID]
        for uid in member_names(view, g["id"]):
            theirs = bal[uid]
            if uid != MAIN_USER_ID and (mine < 0 < theirs or theirs < 0 < mine):
                options.append((g, uid, mine, theirs))
    g, uid, mine, theirs = rng.choice(options)  # every base world has 10+ of them
    name = full_name(view, uid)
    payer, payee = (MAIN_USER_ID, uid) if mine < 0 else (uid, MAIN_USER_ID)
    amount = round(min(abs(mine), abs(theirs)), 2)
    solution = (
        header("expenses")
        + find_group(g["name"])
        + (
            'members = apis.expenses.show_group(access_token=expenses_token, group_id=group["group_id"])["members"]\n'
            f'member = next(m for m in members if m["name"] == "{name}")\n'
            'apis.expenses.settle_up(access_token=expenses_token, group_id=group["group_id"], with_email=member["email"])\n'
            "apis.supervisor.complete_task()\n"
        )
    )

    def checks(ctx):
        added = ctx.diff.added.get("expenses_payments", [])
        p = added[0] if len(added) == 1 else None
        return [
            check("exactly one payment recorded, in the group", p is not None and p["group_id"] == g["id"], f"{len(added)} new payments"),
            check("between the right people, in the right direction", p is not None and (p["payer_id"], p["payee_id"]) == (payer, payee), "payer/payee differ"),
            check("for the amount that settles it", p is not None and near(p["amount"], amount), f"expected {amount}"),
        ]

    instruction = view.phrase(
        [
            'Settle up with {name} in my "{group}" group on expenses.',
            'In my "{group}" expenses group, settle my balance with {name}.',
            'Record the settle-up payment between me and {name} in the "{group}" group on expenses.',
            '{name} and I need to square up in our "{group}" group on expenses; please settle up with them there.',
        ],
        name=name,
        group=g["name"],
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"expenses_payments": lambda b, a: b is None},
    )
