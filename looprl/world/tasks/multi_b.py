"""Multi-app scenarios across payments, shopping, expenses, files and notes: several logins, reading
one app to act in another (a bill in a note, a receipts file, an order, a group's members).

Each generator draws one task from the instance's base world with ``view.rng`` (orders, friends,
groups and files that exist there and that the instruction names unambiguously; notes and files a
task reads are added by its setup), words it through ``view.phrase``, and writes its ground truth
against the public ``apis`` only."""

from __future__ import annotations

from datetime import datetime, timedelta

from looprl.world.apps.expenses import equal_shares
from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_where
from looprl.world.tasks.expenses import find_group, my_groups
from looprl.world.tasks.payments import find_friend, full_name, near, payments_friends


def _notebook_id(ctx, name: str) -> int:
    return ctx.one("SELECT id FROM notes_notebooks WHERE user_id = ? AND name = ?", (MAIN_USER_ID, name))["id"]


def _add_note(ctx, title: str, content: str) -> None:
    ts = ctx.clock.timestamp()
    ctx.insert(
        "notes_notes",
        user_id=MAIN_USER_ID,
        notebook_id=_notebook_id(ctx, "Finance"),
        title=title,
        content=content,
        tags="money",
        pinned=0,
        created_at=ts,
        updated_at=ts,
    )


def _find_note(title: str) -> str:
    """Code that finds the note with this exact title and reads its content, leaving ``note``."""
    return (
        f'hit = next(n for n in collect(apis.notes.search_notes, access_token=notes_token, query="{title}") if n["title"] == "{title}")\n'
        'note = apis.notes.show_note(access_token=notes_token, note_id=hit["note_id"])\n'
    )


@scenario("multi_request_for_order", split="train", apps=("shopping", "payments"))
def multi_request_for_order(view: BaseView) -> TaskSpec:
    """Request from a friend the cost of an item I bought for them in a dated order."""
    days: dict[str, list] = {}
    for o in view.all("SELECT * FROM shopping_orders WHERE user_id = ? ORDER BY id", (view.user_id,)):
        days.setdefault(o["created_at"][:10], []).append(o)
    # Days with exactly one order, a delivered one, so that "the order I placed on <day>" is unambiguous;
    # and of its items only those whose name no other item of the order shares.
    candidates = []
    for orders in days.values():
        if len(orders) == 1 and orders[0]["status"] == "delivered":
            items = view.all(
                "SELECT i.*, p.name FROM shopping_order_items i JOIN shopping_products p ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.id",
                (orders[0]["id"],),
            )
            candidates += [(orders[0], i) for i in items if sum(j["name"] == i["name"] for j in items) == 1]
    order, item = view.rng.choice(candidates)
    fid = view.rng.choice(payments_friends(view))
    cost = round(item["unit_price"] * item["quantity"], 2)
    day = order["created_at"][:10]
    name = full_name(view, fid)
    solution = header("shopping", "payments") + (
        f'order = next(o for o in collect(apis.shopping.show_orders, access_token=shopping_token, start_date="{day}", end_date="{day}"))\n'
        f'item = next(i for i in order["items"] if i["name"] == "{item["name"]}")\n'
        + find_friend(name)
        + f'apis.payments.request_money(access_token=payments_token, payer_email=friend["email"], amount=round(item["unit_price"] * item["quantity"], 2), description="{item["name"]}")\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        added = ctx.diff.added.get("payments_requests", [])
        r = added[0] if len(added) == 1 else None
        return [
            check(
                "exactly one request, to the friend", r is not None and r["payer_id"] == fid and r["requester_id"] == MAIN_USER_ID, f"{len(added)} new requests"
            ),
            check("for the item's cost", r is not None and near(r["amount"], cost), f"expected {cost}"),
            check("described by the product", r is not None and r["description"].strip().lower() == item["name"].lower(), f"expected {item['name']!r}"),
        ]

    instruction = view.phrase(
        [
            "In the shopping order I placed on {when} I bought the {item} for {name}. Request what it cost "
            "(unit price times quantity) from them on payments, with the product's name as the description.",
            "The {item} in my {when} shopping order was for {name}. Ask them on payments for what I paid for it "
            "(unit price times quantity) and use the product's name as the description.",
            "I ordered the {item} for {name} on {when}. Send them a payments request for its cost (unit price "
            "times the quantity I ordered), described with the product name.",
            "Please get {name} to pay me back for the {item} from my shopping order of {when}: request the unit "
            "price times the quantity on payments, with the product's name as the description.",
        ],
        when=datetime.fromisoformat(day).strftime("%B %-d, %Y"),
        item=item["name"],
        name=name,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"payments_requests": inserts_where(requester_id=MAIN_USER_ID)},
    )


_PLACES = [
    "Sakura Sushi",
    "Taco Loco",
    "The Golden Fork",
    "Bella Napoli",
    "Spice Route",
    "The Green Bowl",
    "Le Petit Bistro",
    "Seoul Kitchen",
    "Casa Miguel",
    "The Oyster Bar",
    "Bombay Palace",
    "Pho Saigon",
    "The Burger Joint",
    "Olive & Thyme",
    "Dim Sum House",
    "Blue Harbor Grill",
]


@scenario("multi_dinner_note_requests", split="test_normal", apps=("notes", "payments"))
def multi_dinner_note_requests(view: BaseView) -> TaskSpec:
    """A note lists a dinner's total and guests; request an equal share from each guest."""
    place = view.rng.choice(_PLACES)
    title = view.rng.choice(["Dinner at {place}", "{place} dinner"]).format(place=place)
    guests = view.rng.sample(payments_friends(view), view.rng.randint(2, 4))
    names = [full_name(view, g) for g in guests]
    total = round(view.rng.uniform(25.0 * (len(guests) + 1), 75.0 * (len(guests) + 1)), 2)
    share = round(total / (len(guests) + 1), 2)
    content = f"Great night out!\nTotal: ${total:.2f} (I paid)\nWith: {', '.join(names)}"

    def setup(ctx):
        _add_note(ctx, title, content)

    solution = (
        header("notes", "payments")
        + _find_note(title)
        + (
            'lines = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in note["content"].splitlines() if ":" in line}\n'
            'total = float(lines["Total"].split()[0].lstrip("$"))\n'
            'guests = [g.strip() for g in lines["With"].split(",")]\n'
            "share = round(total / (len(guests) + 1), 2)\n"
            "for name in guests:\n"
            '    friend = next(f for f in collect(apis.payments.show_friends, access_token=payments_token, query=name) if f["name"] == name)\n'
            f'    apis.payments.request_money(access_token=payments_token, payer_email=friend["email"], amount=share, description="{title}")\n'
            "apis.supervisor.complete_task()\n"
        )
    )

    def checks(ctx):
        added = ctx.diff.added.get("payments_requests", [])
        return [
            check("one request to each guest", sorted(r["payer_id"] for r in added) == sorted(guests), f"requests to {[r['payer_id'] for r in added]}"),
            check("each for an equal share", bool(added) and all(near(r["amount"], share) for r in added), f"expected {share} each"),
            check("described as the dinner", bool(added) and all(r["description"].strip().lower() == title.lower() for r in added), f"expected {title!r}"),
        ]

    instruction = view.phrase(
        [
            'I paid for dinner at {place}; my note "{title}" has the total and who came. Request an equal share from each of '
            'them on payments (the total split evenly between them and me, rounded to cents), with "{title}" as the description.',
            'My note "{title}" says what dinner at {place} cost and who was there. I covered it, so ask each guest on payments '
            'for their part: the total divided equally among them and me, to the cent. Use "{title}" as the description.',
            'Split the {place} dinner from my note "{title}": the note has the total I paid and the guests. Send every guest a '
            'payments request for an even share (everyone, me included, pays the same, rounded to cents), described "{title}".',
            'Look at my "{title}" note (total and guest list of a dinner at {place} that I paid for) and request from each guest '
            'on payments an equal share of the total counting me too, rounded to the cent, with the description "{title}".',
        ],
        place=place,
        title=title,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        setup=setup,
        checks=checks,
        allowed_changes={"payments_requests": inserts_where(requester_id=MAIN_USER_ID)},
    )


_BILLS = ["Electricity", "Water", "Gas", "Internet"]


@scenario("multi_utility_bill_split", split="test_challenge", apps=("notes", "expenses", "payments"))
def multi_utility_bill_split(view: BaseView) -> TaskSpec:
    """Last month's bill from a note -> an equal expense in the apartment group -> requests to each roommate."""
    group = next(g for g in my_groups(view) if g["name"] == "Apartment 4B")
    members = [r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ? ORDER BY id", (group["id"],))]
    last_month = (view.now.replace(day=1) - timedelta(days=1)).date()
    bills = {b: round(view.rng.uniform(35, 190), 2) for b in _BILLS}
    bill = view.rng.choice(_BILLS)
    paid = view.now.date().replace(day=view.rng.randint(1, view.now.day - 1))
    amount = bills[bill]
    desc = f"{bill} {last_month:%B %Y}"
    title = f"{last_month:%B %Y} bills"
    content = "\n".join(f"{k}: ${v:.2f} (due {paid:%B} 20)" for k, v in bills.items()) + f"\nPaid everything from my card on {paid:%B %-d}."
    shares = dict(zip(members, equal_shares(amount, len(members))))

    def setup(ctx):
        _add_note(ctx, title, content)

    solution = (
        header("notes", "expenses", "payments")
        + _find_note(title)
        + (
            f'line = next(l for l in note["content"].splitlines() if l.startswith("{bill}:"))\n'
            'amount = float(line.split("$")[1].split()[0])\n'
            + find_group(group["name"])
            + f'added = apis.expenses.add_expense(access_token=expenses_token, group_id=group["group_id"], description="{desc}", amount=amount, category="utilities", date="{paid}")\n'
            "for split in added['splits']:\n"
            "    if split['email'] != my_email:\n"
            f"        apis.payments.request_money(access_token=payments_token, payer_email=split['email'], amount=split['share'], description=\"{desc}\")\n"
            "apis.supervisor.complete_task()\n"
        )
    )

    def checks(ctx):
        added = ctx.diff.added.get("expenses_expenses", [])
        e = added[0] if len(added) == 1 else None
        splits = {s["user_id"]: s["share"] for s in ctx.diff.added.get("expenses_splits", []) if e and s["expense_id"] == e["id"]}
        requests = ctx.diff.added.get("payments_requests", [])
        expected = {u: s for u, s in shares.items() if u != MAIN_USER_ID}
        return [
            check(
                "one utilities expense I paid, in the apartment group",
                e is not None and e["group_id"] == group["id"] and e["paid_by"] == MAIN_USER_ID and e["category"] == "utilities",
                f"{len(added)} new expenses",
            ),
            check(
                "for the bill's amount, on the day I paid",
                e is not None and near(e["amount"], amount) and e["date"] == paid.isoformat(),
                f"expected {amount} on {paid}",
            ),
            check(
                "split equally among all roommates and me",
                sorted(splits) == sorted(shares) and sorted(splits.values()) == sorted(shares.values()),
                f"splits: {splits}",
            ),
            check(
                "a request to each roommate for their share",
                sorted(r["payer_id"] for r in requests) == sorted(expected)
                # Within a cent of their split share: an equal split may give one roommate the odd cent.
                and all(abs(r["amount"] - splits.get(r["payer_id"], expected.get(r["payer_id"], -1))) <= 0.0101 for r in requests),
                f"requests: {[(r['payer_id'], r['amount']) for r in requests]}",
            ),
            check(
                "requests described as the bill",
                bool(requests) and all(r["description"].strip().lower() == desc.lower() for r in requests),
                f"expected {desc!r}",
            ),
        ]

    instruction = view.phrase(
        [
            'My note "{title}" has last month\'s bills. Add the {kind} bill to my "{group}" group on expenses as a utilities '
            'expense I paid on {paid}, described "{desc}" and split equally among everyone, then request each roommate\'s share '
            "from them on payments with the same description.",
            'I paid last month\'s {kind} bill on {paid}; the amount is in my note "{title}". Put it in my "{group}" expenses group '
            'as a utilities expense paid by me on that date, described "{desc}", split evenly between all members, and then ask '
            "each roommate on payments for their share, with the same description.",
            'Using my "{title}" note, log the {kind} bill in the "{group}" group on expenses (utilities, paid by me on {paid}, '
            'description "{desc}", equal split among everyone) and send every roommate a payments request for their share '
            'described "{desc}".',
            'Split last month\'s {kind} bill with my roommates: take the amount from my note "{title}", add it to my "{group}" '
            'expenses group as a utilities expense I paid on {paid} with the description "{desc}", divided equally among all '
            "of us, and request each roommate's share on payments under the same description.",
        ],
        title=title,
        kind=bill.lower(),
        group=group["name"],
        paid=paid.isoformat(),
        desc=desc,
    )
    return TaskSpec(
        instruction=instruction,
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


# A receipts file's name, the expense category its total goes under, and the items it may list.
_RECEIPTS = [
    ("trip_groceries.csv", "groceries", ["bread", "coffee", "juice", "pasta", "apples", "cheese", "eggs", "snacks"]),
    ("shared_supplies.csv", "household", ["paper towels", "soap", "batteries", "trash bags", "light bulbs", "sponges", "detergent"]),
    ("outing_costs.csv", "entertainment", ["tickets", "bowling", "popcorn", "arcade tokens", "museum entry", "mini golf"]),
    ("cabin_weekend.csv", "travel", ["cabin deposit", "firewood", "boat rental", "parking", "park pass", "ferry tickets"]),
    ("team_dinners.csv", "dining", ["pizza", "sushi platter", "tacos", "dessert", "drinks", "noodles"]),
    ("rideshares.csv", "transport", ["taxi", "train tickets", "bus pass", "fuel", "tolls", "scooter rides"]),
    ("party_prep.csv", "entertainment", ["balloons", "cake", "decorations", "speaker rental", "candles", "cups and plates"]),
    ("kitchen_restock.csv", "groceries", ["rice", "olive oil", "spices", "flour", "milk", "tomatoes", "tea"]),
]


@scenario("multi_receipts_file_expense", split="test_challenge", apps=("files", "expenses"))
def multi_receipts_file_expense(view: BaseView) -> TaskSpec:
    """Sum a receipts CSV from files and add the total as a shared expense."""
    taken = {r["name"].lower() for r in view.all("SELECT name FROM files_files WHERE user_id = ?", (view.user_id,))}
    fname, category, pool = view.rng.choice([r for r in _RECEIPTS if r[0] not in taken])
    g = view.rng.choice(my_groups(view))
    folder = view.scalar("SELECT id FROM files_folders WHERE user_id = ? AND name = 'Receipts'", (view.user_id,))
    lines = [
        (f"{view.now:%Y-%m}-{view.rng.randint(1, view.now.day - 1):02d}", item, round(view.rng.uniform(4, 60), 2))
        for item in view.rng.sample(pool, view.rng.randint(3, 6))
    ]
    content = "date,item,amount\n" + "\n".join(f"{d},{i},{a:.2f}" for d, i, a in lines)
    total = round(sum(a for _, _, a in lines), 2)
    desc = fname.rsplit(".", 1)[0].replace("_", " ").capitalize()
    members = sorted(r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ?", (g["id"],)))
    # Paid today (the expense's default date) or on a day earlier this month, stated in the instruction.
    day = None if view.rng.random() < 0.5 else view.now.date().replace(day=view.rng.randint(1, view.now.day - 1)).isoformat()

    def setup(ctx):
        ts = ctx.clock.timestamp()
        ctx.insert(
            "files_files", user_id=MAIN_USER_ID, folder_id=folder, name=fname, size_bytes=len(content.encode()), content=content, created_at=ts, updated_at=ts
        )

    date_arg = f', date="{day}"' if day else ""
    solution = header("files", "expenses") + (
        f'hit = next(f for f in collect(apis.files.search_files, access_token=files_token, query="{fname}") if f["name"] == "{fname}")\n'
        'content = apis.files.show_file_content(access_token=files_token, file_id=hit["file_id"])["content"]\n'
        "total = round(sum(float(line.split(',')[2]) for line in content.splitlines()[1:] if line.strip()), 2)\n"
        + find_group(g["name"])
        + f'apis.expenses.add_expense(access_token=expenses_token, group_id=group["group_id"], description="{desc}", amount=total, category="{category}"{date_arg})\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        added = ctx.diff.added.get("expenses_expenses", [])
        e = added[0] if len(added) == 1 else None
        splits = [s for s in ctx.diff.added.get("expenses_splits", []) if e and s["expense_id"] == e["id"]]
        expected_day = day or ctx.world.clock.today()
        return [
            check(
                "one expense I paid, in the group", e is not None and e["group_id"] == g["id"] and e["paid_by"] == MAIN_USER_ID, f"{len(added)} new expenses"
            ),
            check("for the file's total", e is not None and near(e["amount"], total), f"expected {total}"),
            check(
                "with the category, description and date",
                e is not None and e["category"] == category and e["description"].strip().lower() == desc.lower() and e["date"] == expected_day,
                f"expected {category!r}, {desc!r}, {expected_day}",
            ),
            check("split equally among all members", sorted(s["user_id"] for s in splits) == members, f"split among {[s['user_id'] for s in splits]}"),
        ]

    instruction = view.phrase(
        [
            'Add up the amounts in my file "{fname}" on files and add the total to my "{group}" group on expenses as a '
            '{category} expense I paid {when}, described "{desc}" and split equally among everyone.',
            'My file "{fname}" lists some receipts. Put their total in my "{group}" expenses group: a {category} expense '
            'paid by me {when}, with the description "{desc}", split evenly between all members.',
            'Sum the amount column of "{fname}" in my files and log it as one expense in the "{group}" group on expenses '
            '({category}, I paid {when}, description "{desc}", equal split among all members).',
            'I paid for everything in my "{fname}" file {when}. Add the file\'s total to the "{group}" group on expenses '
            'as a {category} expense described "{desc}", split equally among everyone in the group.',
        ],
        fname=fname,
        group=g["name"],
        category=category,
        desc=desc,
        when=f"on {day}" if day else "today",
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=3,
        setup=setup,
        checks=checks,
        allowed_changes={"expenses_expenses": inserts_where(created_by=MAIN_USER_ID), "expenses_splits": lambda b, a: b is None},
    )


@scenario("multi_share_with_group", split="test_challenge", apps=("files", "expenses"))
def multi_share_with_group(view: BaseView) -> TaskSpec:
    """Share a file with every other member of an expenses group."""
    # Files whose name is unique among mine (so the instruction names one) and that nobody has access to yet.
    files = view.all(
        "SELECT * FROM files_files f WHERE user_id = ? AND NOT EXISTS (SELECT 1 FROM files_shares s WHERE s.file_id = f.id) "
        "AND (SELECT COUNT(*) FROM files_files o WHERE o.user_id = f.user_id AND lower(o.name) = lower(f.name)) = 1 ORDER BY id",
        (view.user_id,),
    )
    f = view.rng.choice(files)
    g = view.rng.choice(my_groups(view))
    permission = view.rng.choice(["view", "edit"])
    others = sorted(r["user_id"] for r in view.all("SELECT user_id FROM expenses_members WHERE group_id = ? AND user_id != ?", (g["id"], view.user_id)))
    solution = header("files", "expenses") + (
        f'hit = next(x for x in collect(apis.files.search_files, access_token=files_token, query="{f["name"]}") if x["name"] == "{f["name"]}")\n'
        + find_group(g["name"])
        + 'for member in apis.expenses.show_group(access_token=expenses_token, group_id=group["group_id"])["members"]:\n'
        "    if member['email'] != my_email:\n"
        f'        apis.files.share_file(access_token=files_token, file_id=hit["file_id"], email=member["email"], permission="{permission}")\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        added = ctx.diff.added.get("files_shares", [])
        return [
            check(
                "shared with every other member",
                sorted(r["user_id"] for r in added) == others and all(r["file_id"] == f["id"] for r in added),
                f"shares: {[(r['file_id'], r['user_id']) for r in added]}",
            ),
            check(f"with {permission} permission", bool(added) and all(r["permission"] == permission for r in added), "permission differs"),
        ]

    templates = {
        "view": [
            'Share my file "{name}" on files with everyone else in my "{group}" expenses group so they can view it.',
            'Give every other member of my "{group}" group on expenses view access to my file "{name}" on files.',
            'The other people in my "{group}" expenses group should be able to read my file "{name}": share it with each of them (view only).',
            'On files, share "{name}" read-only with all the members of my "{group}" group on expenses except me.',
        ],
        "edit": [
            'Share my file "{name}" on files with everyone else in my "{group}" expenses group so they can edit it.',
            'Give every other member of my "{group}" group on expenses edit access to my file "{name}" on files.',
            'The other people in my "{group}" expenses group should be able to change my file "{name}": share it with each of them with edit permission.',
            'On files, share "{name}" with edit rights with all the members of my "{group}" group on expenses except me.',
        ],
    }
    return TaskSpec(
        instruction=view.phrase(templates[permission], name=f["name"], group=g["name"]),
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"files_shares": lambda b, a: b is None},
    )
