"""Multi-app scenarios across payments, shopping, expenses, files and notes: several logins, reading
one app to act in another (a bill in a note, a receipts file, an order, a group's members)."""

from __future__ import annotations

from datetime import datetime

from looprl.world.apps.expenses import equal_shares
from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks.expenses import find_group, my_groups
from looprl.world.tasks._snippets import header, inserts_where
from looprl.world.tasks.payments import find_friend, full_name, near, payments_friends


def _notebook_id(ctx, name: str) -> int:
    return ctx.one("SELECT id FROM notes_notebooks WHERE user_id = ? AND name = ?", (MAIN_USER_ID, name))["id"]


def _add_note(ctx, title: str, content: str) -> None:
    ts = ctx.clock.timestamp()
    ctx.insert("notes_notes", user_id=MAIN_USER_ID, notebook_id=_notebook_id(ctx, "Finance"), title=title, content=content, tags="money", pinned=0, created_at=ts, updated_at=ts)


def _find_note(title: str) -> str:
    """Code that finds the note with this exact title and reads its content, leaving ``note``."""
    return (
        f'hit = next(n for n in collect(apis.notes.search_notes, access_token=notes_token, query="{title}") if n["title"] == "{title}")\n'
        'note = apis.notes.show_note(access_token=notes_token, note_id=hit["note_id"])\n'
    )


@scenario("multi_request_for_order", split="train", apps=("shopping", "payments"))
def multi_request_for_order(view: BaseView) -> list[TaskSpec]:
    """Request from a friend the cost of an item I bought for them in a dated order."""
    days: dict[str, list] = {}
    for o in view.all("SELECT * FROM shopping_orders WHERE user_id = 1 ORDER BY id"):
        days.setdefault(o["created_at"][:10], []).append(o)
    # Days with exactly one order, a delivered one, so that "the order I placed on <day>" is unambiguous.
    single_day = [os[0] for os in days.values() if len(os) == 1 and os[0]["status"] == "delivered"]
    friends = view.rng.sample(payments_friends(view), 3)
    specs = []
    for order, fid in zip(view.rng.sample(single_day, 3), friends):
        items = view.all("SELECT i.*, p.name FROM shopping_order_items i JOIN shopping_products p ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.id", (order["id"],))
        item = view.rng.choice(items)
        cost = round(item["unit_price"] * item["quantity"], 2)
        day = order["created_at"][:10]
        when = datetime.fromisoformat(day).strftime("%B %-d, %Y")
        name = full_name(view, fid)
        solution = header("shopping", "payments") + (
            f'order = next(o for o in collect(apis.shopping.show_orders, access_token=shopping_token, start_date="{day}", end_date="{day}"))\n'
            f'item = next(i for i in order["items"] if i["name"] == "{item["name"]}")\n'
            + find_friend(name)
            + f'apis.payments.request_money(access_token=payments_token, payer_email=friend["email"], amount=round(item["unit_price"] * item["quantity"], 2), description="{item["name"]}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, fid=fid, cost=cost, what=item["name"]):
            added = ctx.diff.added.get("payments_requests", [])
            r = added[0] if len(added) == 1 else None
            return [
                check("exactly one request, to the friend", r is not None and r["payer_id"] == fid and r["requester_id"] == MAIN_USER_ID, f"{len(added)} new requests"),
                check("for the item's cost", r is not None and near(r["amount"], cost), f"expected {cost}"),
                check("described by the product", r is not None and r["description"].strip().lower() == what.lower(), f"expected {what!r}"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"In the shopping order I placed on {when} I bought the {item['name']} for {name}. Request what it cost "
                    f"(unit price times quantity) from them on payments, with the product's name as the description."
                ),
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"payments_requests": inserts_where(requester_id=MAIN_USER_ID)},
            )
        )
    return specs


@scenario("multi_dinner_note_requests", split="test_normal", apps=("notes", "payments"))
def multi_dinner_note_requests(view: BaseView) -> list[TaskSpec]:
    """A note lists a dinner's total and guests; request an equal share from each guest."""
    friends = payments_friends(view)
    specs = []
    for place, total in [("Sakura Sushi", 186.4), ("Taco Loco", 97.2), ("The Golden Fork", 254.0)]:
        guests = view.rng.sample(friends, 3)
        names = [full_name(view, g) for g in guests]
        share = round(total / 4, 2)
        title = f"Dinner at {place}"
        content = f"Great night out!\nTotal: ${total:.2f} (I paid)\nWith: {', '.join(names)}"

        def setup(ctx, title=title, content=content):
            _add_note(ctx, title, content)

        solution = header("notes", "payments") + _find_note(title) + (
            'lines = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in note["content"].splitlines() if ":" in line}\n'
            'total = float(lines["Total"].split()[0].lstrip("$"))\n'
            'guests = [g.strip() for g in lines["With"].split(",")]\n'
            "share = round(total / (len(guests) + 1), 2)\n"
            "for name in guests:\n"
            '    friend = next(f for f in collect(apis.payments.show_friends, access_token=payments_token, query=name) if f["name"] == name)\n'
            f'    apis.payments.request_money(access_token=payments_token, payer_email=friend["email"], amount=share, description="{title}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, guests=guests, share=share, title=title):
            added = ctx.diff.added.get("payments_requests", [])
            return [
                check("one request to each guest", sorted(r["payer_id"] for r in added) == sorted(guests), f"requests to {[r['payer_id'] for r in added]}"),
                check("each for an equal share", bool(added) and all(near(r["amount"], share) for r in added), f"expected {share} each"),
                check("described as the dinner", bool(added) and all(r["description"].strip().lower() == title.lower() for r in added), f"expected {title!r}"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"I paid for dinner at {place}; my note \"{title}\" has the total and who came. Request an equal share from each of "
                    f"them on payments (the total split evenly between them and me, rounded to cents), with \"{title}\" as the description."
                ),
                solution=solution,
                difficulty=2,
                setup=setup,
                checks=checks,
                allowed_changes={"payments_requests": inserts_where(requester_id=MAIN_USER_ID)},
            )
        )
    return specs


@scenario("multi_utility_bill_split", split="test_challenge", apps=("notes", "expenses", "payments"))
def multi_utility_bill_split(view: BaseView) -> list[TaskSpec]:
    """Last month's bill from a note -> an equal expense in the apartment group -> requests to each roommate."""
    group = next(g for g in my_groups(view) if g["name"] == "Apartment 4B")
    members = [r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ? ORDER BY id", (group["id"],))]
    bills = {"Electricity": 131.57, "Water": 64.18, "Gas": 88.9}
    title = "April 2026 bills"
    content = "\n".join(f"{k}: ${v:.2f} (due May 20)" for k, v in bills.items()) + "\nPaid everything from my card on May 2."
    specs = []
    for bill in ["Electricity", "Water", "Gas"]:
        amount = bills[bill]
        desc = f"{bill} April 2026"
        shares = dict(zip(members, equal_shares(amount, len(members))))

        def setup(ctx):
            _add_note(ctx, title, content)

        solution = header("notes", "expenses", "payments") + _find_note(title) + (
            f'line = next(l for l in note["content"].splitlines() if l.startswith("{bill}:"))\n'
            'amount = float(line.split("$")[1].split()[0])\n'
            + find_group(group["name"])
            + f'added = apis.expenses.add_expense(access_token=expenses_token, group_id=group["group_id"], description="{desc}", amount=amount, category="utilities", date="2026-05-02")\n'
            "for split in added['splits']:\n"
            "    if split['email'] != my_email:\n"
            f"        apis.payments.request_money(access_token=payments_token, payer_email=split['email'], amount=split['share'], description=\"{desc}\")\n"
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, amount=amount, desc=desc, shares=shares, gid=group["id"]):
            added = ctx.diff.added.get("expenses_expenses", [])
            e = added[0] if len(added) == 1 else None
            splits = {s["user_id"]: s["share"] for s in ctx.diff.added.get("expenses_splits", []) if e and s["expense_id"] == e["id"]}
            requests = ctx.diff.added.get("payments_requests", [])
            expected = {u: s for u, s in shares.items() if u != MAIN_USER_ID}
            return [
                check("one utilities expense I paid, in the apartment group", e is not None and e["group_id"] == gid and e["paid_by"] == MAIN_USER_ID and e["category"] == "utilities", f"{len(added)} new expenses"),
                check("for the bill's amount", e is not None and near(e["amount"], amount), f"expected {amount}"),
                check("split equally among all roommates and me", sorted(splits) == sorted(shares) and sorted(splits.values()) == sorted(shares.values()), f"splits: {splits}"),
                check(
                    "a request to each roommate for their share",
                    sorted(r["payer_id"] for r in requests) == sorted(expected)
                    # Within a cent of their split share: an equal split may give one roommate the odd cent.
                    and all(abs(r["amount"] - splits.get(r["payer_id"], expected.get(r["payer_id"], -1))) <= 0.0101 for r in requests),
                    f"requests: {[(r['payer_id'], r['amount']) for r in requests]}",
                ),
                check("requests described as the bill", bool(requests) and all(r["description"].strip().lower() == desc.lower() for r in requests), f"expected {desc!r}"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"My note \"{title}\" has last month's bills. Add the {bill.lower()} bill to my \"{group['name']}\" group on expenses as a "
                    f"utilities expense I paid on 2026-05-02, described \"{desc}\" and split equally among everyone, then request each "
                    f"roommate's share from them on payments with the same description."
                ),
                solution=solution,
                difficulty=3,
                setup=setup,
                checks=checks,
                allowed_changes={
                    "expenses_expenses": inserts_where(created_by=MAIN_USER_ID),
                    "expenses_splits": lambda b, a: b is None,
                    "payments_requests": inserts_where(requester_id=MAIN_USER_ID),
                },
            )
        )
    return specs


@scenario("multi_receipts_file_expense", split="test_challenge", apps=("files", "expenses"))
def multi_receipts_file_expense(view: BaseView) -> list[TaskSpec]:
    """Sum a receipts CSV from files and add the total as a shared expense."""
    receipts = view.rng.sample(my_groups(view), 3)
    folder = view.scalar("SELECT id FROM files_folders WHERE user_id = 1 AND name = 'Receipts'")
    specs = []
    for g, (fname, category) in zip(receipts, [("trip_groceries.csv", "groceries"), ("shared_supplies.csv", "household"), ("outing_costs.csv", "entertainment")]):
        lines = [(f"2026-05-{view.rng.randint(1, 15):02d}", item, round(view.rng.uniform(4, 60), 2)) for item in view.rng.sample(["bread", "coffee", "paper towels", "tickets", "snacks", "batteries", "juice", "soap"], 5)]
        content = "date,item,amount\n" + "\n".join(f"{d},{i},{a:.2f}" for d, i, a in lines)
        total = round(sum(a for _, _, a in lines), 2)
        desc = fname.rsplit(".", 1)[0].replace("_", " ").capitalize()
        members = sorted(r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ?", (g["id"],)))

        def setup(ctx, fname=fname, content=content):
            ts = ctx.clock.timestamp()
            ctx.insert("files_files", user_id=MAIN_USER_ID, folder_id=folder, name=fname, size_bytes=len(content.encode()), content=content, created_at=ts, updated_at=ts)

        solution = header("files", "expenses") + (
            f'hit = next(f for f in collect(apis.files.search_files, access_token=files_token, query="{fname}") if f["name"] == "{fname}")\n'
            'content = apis.files.show_file_content(access_token=files_token, file_id=hit["file_id"])["content"]\n'
            "total = round(sum(float(line.split(',')[2]) for line in content.splitlines()[1:] if line.strip()), 2)\n"
            + find_group(g["name"])
            + f'apis.expenses.add_expense(access_token=expenses_token, group_id=group["group_id"], description="{desc}", amount=total, category="{category}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, gid=g["id"], total=total, category=category, members=members, desc=desc):
            added = ctx.diff.added.get("expenses_expenses", [])
            e = added[0] if len(added) == 1 else None
            splits = [s for s in ctx.diff.added.get("expenses_splits", []) if e and s["expense_id"] == e["id"]]
            return [
                check("one expense I paid, in the group", e is not None and e["group_id"] == gid and e["paid_by"] == MAIN_USER_ID, f"{len(added)} new expenses"),
                check("for the file's total", e is not None and near(e["amount"], total), f"expected {total}"),
                check(
                    "with the category, description and today's date",
                    e is not None and e["category"] == category and e["description"].strip().lower() == desc.lower() and e["date"] == ctx.world.clock.today(),
                    "category, description or date differs",
                ),
                check("split equally among all members", sorted(s["user_id"] for s in splits) == members, f"split among {[s['user_id'] for s in splits]}"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"Add up the amounts in my file \"{fname}\" on files and add the total to my \"{g['name']}\" group on expenses as a "
                    f"{category} expense I paid today, described \"{desc}\" and split equally among everyone."
                ),
                solution=solution,
                difficulty=3,
                setup=setup,
                checks=checks,
                allowed_changes={"expenses_expenses": inserts_where(created_by=MAIN_USER_ID), "expenses_splits": lambda b, a: b is None},
            )
        )
    return specs


@scenario("multi_share_with_group", split="test_challenge", apps=("files", "expenses"))
def multi_share_with_group(view: BaseView) -> list[TaskSpec]:
    """Share a file with every other member of an expenses group."""
    files = [f for f in view.all("SELECT * FROM files_files WHERE user_id = 1 ORDER BY id") if view.scalar("SELECT COUNT(*) FROM files_files WHERE user_id = 1 AND lower(name) = lower(?)", (f["name"],)) == 1]
    files = [f for f in files if not view.one("SELECT id FROM files_shares WHERE file_id = ?", (f["id"],))]
    specs = []
    for g, f, permission in zip(view.rng.sample(my_groups(view), 3), view.rng.sample(files, 3), ["view", "edit", "view"]):
        others = sorted(r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ? AND user_id != 1", (g["id"],)))
        solution = header("files", "expenses") + (
            f'hit = next(x for x in collect(apis.files.search_files, access_token=files_token, query="{f["name"]}") if x["name"] == "{f["name"]}")\n'
            + find_group(g["name"])
            + 'for member in apis.expenses.show_group(access_token=expenses_token, group_id=group["group_id"])["members"]:\n'
            "    if member['email'] != my_email:\n"
            f'        apis.files.share_file(access_token=files_token, file_id=hit["file_id"], email=member["email"], permission="{permission}")\n'
            "apis.supervisor.complete_task()\n"
        )
        verb = "view" if permission == "view" else "edit"

        def checks(ctx, fid=f["id"], others=others, permission=permission):
            added = ctx.diff.added.get("files_shares", [])
            return [
                check("shared with every other member", sorted(r["user_id"] for r in added) == others and all(r["file_id"] == fid for r in added), f"shares: {[(r['file_id'], r['user_id']) for r in added]}"),
                check(f"with {permission} permission", bool(added) and all(r["permission"] == permission for r in added), "permission differs"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Share my file \"{f['name']}\" on files with everyone else in my \"{g['name']}\" expenses group so they can {verb} it.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"files_shares": lambda b, a: b is None},
            )
        )
    return specs
