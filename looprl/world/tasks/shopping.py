"""Scenarios over the shopping app: product lookups, wishlist counts, buying with the supervisor's
address and card, reviewing, cancelling and returning."""

from __future__ import annotations

from datetime import timedelta

from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_where, updates_of
from looprl.world.tasks.payments import MONTHS

_AVG = "(SELECT ROUND(AVG(rating), 2) FROM shopping_reviews r WHERE r.product_id = p.id)"


@scenario("shopping_cheapest_rated", split="train", apps=("shopping",))
def shopping_cheapest_rated(view: BaseView) -> list[TaskSpec]:
    """The cheapest product of a category with at least some rating (search filters + sort)."""
    specs = []
    options = []
    for category in ["electronics", "kitchen", "books", "clothing", "sports", "home", "garden", "office"]:
        for stars in (3, 4):
            rows = view.all(f"SELECT p.name, p.price FROM shopping_products p WHERE p.category = ? AND COALESCE({_AVG}, 0) >= ? ORDER BY p.price, p.id", (category, stars))
            if len(rows) >= 2 and rows[0]["price"] != rows[1]["price"]:
                options.append((category, stars, rows[0]["name"]))
    seen: set[str] = set()
    picked = []
    for opt in view.rng.sample(options, len(options)):
        if opt[0] not in seen:
            seen.add(opt[0])
            picked.append(opt)
    for category, stars, name in picked[:3]:
        solution = (
            f'cheapest = apis.shopping.search_products(category="{category}", min_rating={stars}, sort_by="price", page_limit=1)[0]\n'
            'apis.supervisor.complete_task(answer=cheapest["name"])\n'
        )
        specs.append(
            TaskSpec(
                instruction=f"What is the cheapest product in the shop's {category} category with an average rating of at least {stars} stars? Answer with its name.",
                solution=solution,
                difficulty=1,
                answer=name,
            )
        )
    return specs


@scenario("shopping_wishlist_under", split="train", apps=("shopping",))
def shopping_wishlist_under(view: BaseView) -> list[TaskSpec]:
    """How many wishlist items cost less than a budget (pagination + a filter the agent applies)."""
    prices = sorted(r["price"] for r in view.all("SELECT p.price FROM shopping_wishlist w JOIN shopping_products p ON p.id = w.product_id WHERE w.user_id = 1"))
    budgets = sorted({int(prices[i]) + 1 for i in (1, len(prices) // 2, len(prices) - 2)})
    while len(budgets) < 3:
        budgets.append(budgets[-1] + 50)
    specs = []
    for budget in budgets[:3]:
        count = sum(p < budget for p in prices)
        solution = header("shopping") + (
            "wishlist = collect(apis.shopping.show_wishlist, access_token=shopping_token)\n"
            f"apis.supervisor.complete_task(answer=len([p for p in wishlist if p['price'] < {budget}]))\n"
        )
        specs.append(TaskSpec(instruction=f"How many products on my shopping wishlist cost less than ${budget}?", solution=solution, difficulty=1, answer=count))
    return specs


@scenario("shopping_buy_top_rated", split="train", apps=("shopping",))
def shopping_buy_top_rated(view: BaseView) -> list[TaskSpec]:
    """Empty the cart, then order the top-rated in-stock product of a category with a named address and card."""
    options = []
    for category in ["electronics", "kitchen", "sports", "home", "toys", "beauty", "garden", "office", "clothing"]:
        rows = view.all(f"SELECT p.id, p.name, p.stock, COALESCE({_AVG}, 0) AS rating FROM shopping_products p WHERE p.category = ? AND p.stock > 0 ORDER BY rating DESC, p.id DESC", (category,))
        if len(rows) >= 2 and rows[0]["rating"] > rows[1]["rating"] and rows[0]["stock"] >= 3:
            options.append((category, rows[0]["id"]))
    addresses = [r["name"] for r in view.all("SELECT name FROM supervisor_addresses WHERE user_id = 1 ORDER BY id")]
    cards = view.all("SELECT id, card_name FROM supervisor_payment_cards WHERE user_id = 1 ORDER BY id")
    specs = []
    for i, (category, product_id) in enumerate(view.rng.sample(options, 3)):
        qty = (2, 1, 3)[i]
        address = addresses[i % len(addresses)]
        card = cards[i % len(cards)]
        card_word = card["card_name"].split()[0]
        solution = header("shopping") + (
            "apis.shopping.clear_cart(access_token=shopping_token)\n"
            f'top = apis.shopping.search_products(category="{category}", in_stock_only=True, sort_by="-rating", page_limit=1)[0]\n'
            f'apis.shopping.add_to_cart(access_token=shopping_token, product_id=top["product_id"], quantity={qty})\n'
            f'address = next(a for a in apis.supervisor.show_addresses() if a["name"] == "{address}")\n'
            f'card = next(c for c in apis.supervisor.show_payment_cards() if c["card_name"].startswith("{card_word}"))\n'
            'apis.shopping.checkout(access_token=shopping_token, address_id=address["address_id"], payment_card_id=card["payment_card_id"])\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, product_id=product_id, qty=qty, address=address, card_id=card["id"]):
            orders = ctx.diff.added.get("shopping_orders", [])
            order = orders[0] if len(orders) == 1 else None
            items = [r for r in ctx.diff.added.get("shopping_order_items", []) if order and r["order_id"] == order["id"]]
            address_id = ctx.after_one("SELECT id FROM supervisor_addresses WHERE user_id = 1 AND name = ?", (address,))["id"]
            return [
                check("exactly one new order", order is not None, f"{len(orders)} new orders"),
                check("the order holds only the product, in the right quantity", [(r["product_id"], r["quantity"]) for r in items] == [(product_id, qty)], f"items: {[(r['product_id'], r['quantity']) for r in items]}"),
                check("shipped to the right address and paid with the right card", order is not None and order["address_id"] == address_id and order["payment_card_id"] == card_id, "address or card differs"),
                check("the cart is empty", not ctx.after_all("SELECT id FROM shopping_cart_items WHERE user_id = 1"), "items left in the cart"),
            ]

        specs.append(
            TaskSpec(
                instruction=(
                    f"Empty my shopping cart, then order {qty} of the highest-rated in-stock product in the {category} category, "
                    f"shipped to my {address} address and paid with my {card_word} card."
                ),
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={
                    "shopping_cart_items": lambda b, a: (b or a)["user_id"] == MAIN_USER_ID,
                    "shopping_orders": inserts_where(user_id=MAIN_USER_ID),
                    "shopping_order_items": inserts_where(user_id=MAIN_USER_ID),
                    "shopping_products": updates_of([product_id], ["stock"]),
                },
            )
        )
    return specs


_ORDINALS = ["", "second ", "third ", "fourth ", "fifth ", "sixth ", "seventh "]


@scenario("shopping_review_order", split="train", apps=("shopping",))
def shopping_review_order(view: BaseView) -> list[TaskSpec]:
    """Review every not-yet-reviewed product of the n-th most recent delivered order."""
    orders = view.all("SELECT id FROM shopping_orders WHERE user_id = 1 AND status = 'delivered' ORDER BY created_at DESC, id DESC")
    reviewed = {r["product_id"] for r in view.all("SELECT product_id FROM shopping_reviews WHERE user_id = 1")}
    candidates = []
    for k, o in enumerate(orders[: len(_ORDINALS)]):
        products = {r["product_id"] for r in view.all("SELECT product_id FROM shopping_order_items WHERE order_id = ?", (o["id"],))} - reviewed
        if products:
            candidates.append((k, sorted(products)))
    specs = []
    for (k, products), (stars, title) in zip(candidates[:3], [(5, "Great value"), (4, "Does what it says"), (3, "Fine for the price")]):
        solution = header("shopping") + (
            "mine = {r['product_id'] for r in collect(apis.shopping.show_my_reviews, access_token=shopping_token)}\n"
            f'order = apis.shopping.show_orders(access_token=shopping_token, status="delivered", sort_by="-created_at", page_index={k}, page_limit=1)[0]\n'
            "for item in order['items']:\n"
            "    if item['product_id'] not in mine:\n"
            f'        apis.shopping.write_review(access_token=shopping_token, product_id=item["product_id"], rating={stars}, title="{title}")\n'
            "        mine.add(item['product_id'])\n"
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, products=products, stars=stars, title=title):
            added = ctx.diff.added.get("shopping_reviews", [])
            return [
                check("a review for each unreviewed product of the order", sorted(r["product_id"] for r in added) == products, f"reviewed {sorted(r['product_id'] for r in added)}, expected {products}"),
                check("the reviews have the rating and title", bool(added) and all(r["rating"] == stars and r["title"].strip().lower() == title.lower() for r in added), "rating or title differs"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Write a {stars}-star review titled \"{title}\" for every product in my {_ORDINALS[k]}most recent delivered shopping order that I haven't reviewed yet.",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"shopping_reviews": inserts_where(user_id=MAIN_USER_ID)},
            )
        )
    return specs


@scenario("shopping_month_spend", split="dev", apps=("shopping",))
def shopping_month_spend(view: BaseView) -> list[TaskSpec]:
    """Total spent on delivered orders placed in a month (date filters + pagination + sum)."""
    months = [r["m"] for r in view.all("SELECT DISTINCT substr(created_at, 1, 7) AS m FROM shopping_orders WHERE user_id = 1 AND status = 'delivered' ORDER BY m")]
    specs = []
    for m in view.rng.sample(months, 3):
        year, month = int(m[:4]), int(m[5:])
        total = view.scalar("SELECT ROUND(SUM(total), 2) FROM shopping_orders WHERE user_id = 1 AND status = 'delivered' AND substr(created_at, 1, 7) = ?", (m,))
        last_day = 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30 if month != 2 else 28
        solution = header("shopping") + (
            f'orders = collect(apis.shopping.show_orders, access_token=shopping_token, status="delivered", start_date="{m}-01", end_date="{m}-{last_day:02d}")\n'
            "apis.supervisor.complete_task(answer=round(sum(o['total'] for o in orders), 2))\n"
        )
        specs.append(TaskSpec(instruction=f"How much did I spend in total on delivered shopping orders that I placed in {MONTHS[month - 1]} {year}?", solution=solution, difficulty=1, answer=total))
    return specs


def _placed_order_setup(product_ids: list[int], hours_ago: int):
    """Setup adding a not-yet-shipped order of the given products (stock already taken)."""

    def setup(ctx):
        when = (ctx.now - timedelta(hours=hours_ago)).isoformat(timespec="seconds")
        prices = [ctx.one("SELECT price FROM shopping_products WHERE id = ?", (p,))["price"] for p in product_ids]
        oid = ctx.insert("shopping_orders", user_id=MAIN_USER_ID, address_id=1, payment_card_id=1, status="placed", total=round(sum(prices), 2), created_at=when, delivered_at=None)
        for p, price in zip(product_ids, prices):
            ctx.insert("shopping_order_items", order_id=oid, user_id=MAIN_USER_ID, product_id=p, quantity=1, unit_price=price)
            ctx.db.execute("UPDATE shopping_products SET stock = stock - 1 WHERE id = ? AND stock > 0", (p,))

    return setup


@scenario("shopping_cancel_order", split="dev", apps=("shopping",))
def shopping_cancel_order(view: BaseView) -> list[TaskSpec]:
    """Cancel the not-yet-shipped order that contains a named product (two placed orders exist)."""
    products = view.all("SELECT id, name FROM shopping_products WHERE stock >= 2 ORDER BY id")
    specs = []
    for _ in range(3):
        a, b, c = view.rng.sample(products, 3)
        first, second = _placed_order_setup([a["id"], b["id"]], 20), _placed_order_setup([c["id"]], 5)

        def setup(ctx, first=first, second=second):
            first(ctx)
            second(ctx)

        solution = header("shopping") + (
            'placed = collect(apis.shopping.show_orders, access_token=shopping_token, status="placed")\n'
            f'order = next(o for o in placed if any(i["name"] == "{a["name"]}" for i in o["items"]))\n'
            'apis.shopping.cancel_order(access_token=shopping_token, order_id=order["order_id"])\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, pid=a["id"]):
            target = ctx.before_all("SELECT o.id FROM shopping_orders o JOIN shopping_order_items i ON i.order_id = o.id WHERE o.user_id = 1 AND o.status = 'placed' AND i.product_id = ?", (pid,))
            status = ctx.after_one("SELECT status FROM shopping_orders WHERE id = ?", (target[0]["id"],))["status"] if target else None
            others = ctx.after_all("SELECT status FROM shopping_orders WHERE user_id = 1 AND status = 'cancelled'")
            before_cancelled = ctx.before_all("SELECT id FROM shopping_orders WHERE user_id = 1 AND status = 'cancelled'")
            return [
                check("the order with the product is cancelled", status == "cancelled", f"status is {status}"),
                check("no other order is cancelled", len(others) == len(before_cancelled) + 1, f"{len(others) - len(before_cancelled)} orders cancelled"),
            ]

        ids = [a["id"], b["id"]]
        specs.append(
            TaskSpec(
                instruction=f"Cancel my shopping order that has the {a['name']} in it; it hasn't shipped yet.",
                solution=solution,
                difficulty=2,
                setup=setup,
                checks=checks,
                allowed_changes={
                    "shopping_orders": lambda b, a: b is not None and a is not None and b["user_id"] == MAIN_USER_ID and a["status"] == "cancelled",
                    "shopping_products": updates_of(ids, ["stock"]),
                },
            )
        )
    return specs


@scenario("shopping_return_by_review", split="test_normal", apps=("shopping",))
def shopping_return_by_review(view: BaseView) -> list[TaskSpec]:
    """Return the recently delivered item that I reviewed with n stars (setup adds the order and review)."""
    products = view.all(
        "SELECT id, name FROM shopping_products WHERE id NOT IN (SELECT product_id FROM shopping_reviews WHERE user_id = 1) "
        "AND id NOT IN (SELECT product_id FROM shopping_order_items WHERE user_id = 1) ORDER BY id"
    )
    specs = []
    for stars, reason in [(1, "Stopped working"), (2, "Poor quality"), (1, "Not as described")]:
        target, other = view.rng.sample(products, 2)
        # Older reviews with the same stars exist only for orders past the 90-day window or none at all.

        def setup(ctx, target=target, other=other, stars=stars):
            delivered = (ctx.now - timedelta(days=6)).isoformat(timespec="seconds")
            created = (ctx.now - timedelta(days=9)).isoformat(timespec="seconds")
            prices = {p: ctx.one("SELECT price FROM shopping_products WHERE id = ?", (p,))["price"] for p in (target["id"], other["id"])}
            oid = ctx.insert("shopping_orders", user_id=MAIN_USER_ID, address_id=1, payment_card_id=2, status="delivered", total=round(sum(prices.values()), 2), created_at=created, delivered_at=delivered)
            for p in (target["id"], other["id"]):
                ctx.insert("shopping_order_items", order_id=oid, user_id=MAIN_USER_ID, product_id=p, quantity=1, unit_price=prices[p])
            reviewed = (ctx.now - timedelta(days=1)).isoformat(timespec="seconds")
            ctx.insert("shopping_reviews", product_id=target["id"], user_id=MAIN_USER_ID, rating=stars, title="Disappointed", text="Not what I hoped for.", created_at=reviewed, updated_at=reviewed)
            ctx.insert("shopping_reviews", product_id=other["id"], user_id=MAIN_USER_ID, rating=5, title="Love it", text="Great.", created_at=reviewed, updated_at=reviewed)

        solution = header("shopping") + (
            f'review = apis.shopping.show_my_reviews(access_token=shopping_token, rating={stars}, sort_by="-created_at", page_limit=1)[0]\n'
            'orders = collect(apis.shopping.show_orders, access_token=shopping_token, status="delivered", sort_by="-created_at")\n'
            'item = next(i for o in orders for i in o["items"] if i["product_id"] == review["product_id"])\n'
            f'apis.shopping.initiate_return(access_token=shopping_token, order_item_id=item["order_item_id"], reason="{reason}")\n'
            "apis.supervisor.complete_task()\n"
        )

        def checks(ctx, pid=target["id"], reason=reason):
            item = ctx.after_one("SELECT i.id FROM shopping_order_items i JOIN shopping_orders o ON o.id = i.order_id WHERE o.user_id = 1 AND i.product_id = ? ORDER BY o.created_at DESC LIMIT 1", (pid,))
            added = ctx.diff.added.get("shopping_returns", [])
            return [
                check("exactly one return, of the right item", len(added) == 1 and added[0]["order_item_id"] == item["id"], f"returns of order items {[r['order_item_id'] for r in added]}"),
                check("one unit, with the reason", len(added) == 1 and added[0]["quantity"] == 1 and added[0]["reason"].strip().lower() == reason.lower(), "quantity or reason differs"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Return the item I most recently gave a {stars}-star review to on shopping (one unit) with the reason \"{reason}\".",
                solution=solution,
                difficulty=2,
                setup=setup,
                checks=checks,
                allowed_changes={"shopping_returns": inserts_where(user_id=MAIN_USER_ID)},
            )
        )
    return specs

