"""Scenarios over the expenses app (test_challenge only: no train task uses expenses)."""

from __future__ import annotations

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


@scenario("expenses_group_balance", split="test_challenge", apps=("expenses",))
def expenses_group_balance(view: BaseView) -> list[TaskSpec]:
    """My net balance in a named group (list groups, paginate, read a field)."""
    specs = []
    for g in view.rng.sample(my_groups(view), 3):
        bal = group_balances(view, g["id"])[MAIN_USER_ID]
        solution = header("expenses") + find_group(g["name"]) + 'apis.supervisor.complete_task(answer=group["your_balance"])\n'
        specs.append(
            TaskSpec(
                instruction=f"What is my balance in my \"{g['name']}\" group on expenses? Give a positive number if I am owed money and a negative one if I owe.",
                solution=solution,
                difficulty=1,
                answer=bal,
            )
        )
    return specs


@scenario("expenses_who_owes_most", split="test_challenge", apps=("expenses",))
def expenses_who_owes_most(view: BaseView) -> list[TaskSpec]:
    """The member with the most negative balance in a group (read balances, argmin)."""
    options = []
    for g in my_groups(view):
        bal = sorted(group_balances(view, g["id"]).items(), key=lambda kv: kv[1])
        if bal[0][1] < 0 and bal[0][1] < bal[1][1]:
            options.append((g, bal[0][0]))
    specs = []
    for g, uid in view.rng.sample(options, min(3, len(options))):
        email = view.scalar("SELECT email FROM users WHERE id = ?", (uid,))
        solution = header("expenses") + find_group(g["name"]) + (
            'members = apis.expenses.show_balances(access_token=expenses_token, group_id=group["group_id"])\n'
            'apis.supervisor.complete_task(answer=min(members, key=lambda m: m["balance"])["email"])\n'
        )
        specs.append(TaskSpec(instruction=f"Who owes the most money in my \"{g['name']}\" group on expenses? Answer with their email address.", solution=solution, difficulty=2, answer=email))
    if len(specs) != 3:
        raise ValueError(f"expenses_who_owes_most: only {len(specs)} groups have a unique biggest debtor")
    return specs


@scenario("expenses_add_shared", split="test_challenge", apps=("expenses",))
def expenses_add_shared(view: BaseView) -> list[TaskSpec]:
    """Add an expense I paid to a named group, split equally among all members."""
    asks = [("Plumber visit", 185.0, "household", "2026-05-12"), ("Concert tickets", 312.6, "entertainment", "2026-05-09"), ("Farmers market haul", 47.35, "groceries", "2026-05-16")]
    specs = []
    for g, (desc, amount, category, day) in zip(view.rng.sample(my_groups(view), 3), asks):
        members = sorted(r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ?", (g["id"],)))
        solution = header("expenses") + find_group(g["name"]) + (
            f'apis.expenses.add_expense(access_token=expenses_token, group_id=group["group_id"], description="{desc}", amount={amount}, category="{category}", date="{day}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, gid=g["id"], desc=desc, amount=amount, category=category, day=day, members=members):
            added = ctx.diff.added.get("expenses_expenses", [])
            e = added[0] if len(added) == 1 else None
            splits = [s for s in ctx.diff.added.get("expenses_splits", []) if e and s["expense_id"] == e["id"]]
            return [
                check("exactly one new expense, in the group", e is not None and e["group_id"] == gid, f"{len(added)} new expenses"),
                check("paid by me, with the amount, category and date", e is not None and e["paid_by"] == MAIN_USER_ID and near(e["amount"], amount) and e["category"] == category and e["date"] == day, "payer/amount/category/date differs"),
                check("described as asked", e is not None and e["description"].strip().lower() == desc.lower(), f"expected {desc!r}"),
                check(
                    "split equally among all members",
                    sorted(s["user_id"] for s in splits) == members and sorted(s["share"] for s in splits) == sorted(equal_shares(amount, len(members))),
                    f"splits: {[(s['user_id'], s['share']) for s in splits]}",
                ),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Add a ${amount:.2f} expense \"{desc}\" that I paid on {day} to my \"{g['name']}\" group on expenses, category {category}, split equally among everyone in the group.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"expenses_expenses": inserts_where(created_by=MAIN_USER_ID), "expenses_splits": lambda b, a: b is None},
            )
        )
    return specs


@scenario("expenses_settle_with", split="test_challenge", apps=("expenses",))
def expenses_settle_with(view: BaseView) -> list[TaskSpec]:
    """Settle up with a named member of a named group (the payment direction and amount follow the balances)."""
    options = []
    for g in my_groups(view):
        bal = group_balances(view, g["id"])
        mine = bal[MAIN_USER_ID]
        for uid, theirs in bal.items():
            if uid != MAIN_USER_ID and (mine < 0 < theirs or theirs < 0 < mine):
                options.append((g, uid, mine, theirs))
    picked, used = [], set()
    for opt in view.rng.sample(options, len(options)):
        if opt[0]["id"] not in used:
            used.add(opt[0]["id"])
            picked.append(opt)
    specs = []
    for g, uid, mine, theirs in picked[:3]:
        name = full_name(view, uid)
        payer, payee = (MAIN_USER_ID, uid) if mine < 0 else (uid, MAIN_USER_ID)
        amount = round(min(abs(mine), abs(theirs)), 2)
        solution = header("expenses") + find_group(g["name"]) + (
            'members = apis.expenses.show_group(access_token=expenses_token, group_id=group["group_id"])["members"]\n'
            f'member = next(m for m in members if m["name"] == "{name}")\n'
            'apis.expenses.settle_up(access_token=expenses_token, group_id=group["group_id"], with_email=member["email"])\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, gid=g["id"], payer=payer, payee=payee, amount=amount):
            added = ctx.diff.added.get("expenses_payments", [])
            p = added[0] if len(added) == 1 else None
            return [
                check("exactly one payment recorded, in the group", p is not None and p["group_id"] == gid, f"{len(added)} new payments"),
                check("between the right people, in the right direction", p is not None and (p["payer_id"], p["payee_id"]) == (payer, payee), "payer/payee differ"),
                check("for the amount that settles it", p is not None and near(p["amount"], amount), f"expected {amount}"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Settle up with {name} in my \"{g['name']}\" group on expenses.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"expenses_payments": lambda b, a: b is None},
            )
        )
    return specs
