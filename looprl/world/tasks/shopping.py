"""Scenarios over the shopping app: product lookups, wishlist counts, spending totals, buying with the
supervisor's address and card, reviewing, cancelling and returning.

Every generator draws its parameters with ``view.rng`` from the instance's base world (catalogue,
prices, ratings, the user's orders, reviews and wishlist differ between worlds) and words the
instruction through ``view.phrase``; an ask that the world cannot support is replaced by another one."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from looprl.world.apps.shopping import CATEGORIES
from looprl.world.state import MAIN_USER_ID
from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_where, updates_of
from looprl.world.tasks.phone import spoken_date

_AVG = "(SELECT ROUND(AVG(rating), 2) FROM shopping_reviews r WHERE r.product_id = p.id)"


def _money(amount: float) -> str:
    return f"${amount:g}"


def _stars(n: int) -> str:
    return "1 star" if n == 1 else f"{n} stars"


@scenario("shopping_cheapest_rated", split="train", apps=("shopping",))
def shopping_cheapest_rated(view: BaseView) -> TaskSpec:
    """The cheapest product of a category with at least some rating, optionally in stock (search filters + sort)."""
    while True:
        category = view.rng.choice(CATEGORIES)
        stars = view.rng.choice([2, 2.5, 3, 3.5, 4, 4.5])
        in_stock = view.rng.random() < 0.4
        rows = view.all(
            f"SELECT p.name, p.price FROM shopping_products p WHERE p.category = ? AND COALESCE({_AVG}, 0) >= ?"
            + (" AND p.stock > 0" if in_stock else "")
            + " ORDER BY p.price, p.id",
            (category, stars),
        )
        if len(rows) >= 2 and rows[0]["price"] != rows[1]["price"]:
            break  # else no product, one only, or a tie for the cheapest: ask something else
    stock_arg = ", in_stock_only=True" if in_stock else ""
    solution = (
        f'cheapest = apis.shopping.search_products(category="{category}", min_rating={stars}{stock_arg}, sort_by="price", page_limit=1)[0]\n'
        'apis.supervisor.complete_task(answer=cheapest["name"])\n'
    )
    if in_stock:
        templates = [
            "What is the cheapest in-stock product in the shop's {category} category with an average rating of at least {stars} stars? Answer with its name.",
            "Among the products in the {category} category that are in stock and rated {stars} stars or more on average, which one costs the least? Give me its name.",
            "Find the lowest-priced item in the shop's {category} category that is available right now and averages at least {stars} stars; tell me its name.",
            "Which product in the {category} category is the cheapest one in stock with an average rating of {stars} or higher? Just the name, please.",
        ]
    else:
        templates = [
            "What is the cheapest product in the shop's {category} category with an average rating of at least {stars} stars? Answer with its name.",
            "Among the products in the {category} category rated {stars} stars or more on average, which one costs the least? Give me its name.",
            "Find the lowest-priced item in the shop's {category} category that averages at least {stars} stars; tell me its name.",
            "Which product in the {category} category is the cheapest with an average rating of {stars} or higher? Just the name, please.",
        ]
    instruction = view.phrase(templates, category=category, stars=f"{stars:g}")
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=rows[0]["name"])


_BUDGETS = (15, 20, 25, 30, 35, 40, 50, 60, 70, 75, 80, 90, 100, 120, 125, 150, 175, 200, 250, 300)


@scenario("shopping_wishlist_under", split="train", apps=("shopping",))
def shopping_wishlist_under(view: BaseView) -> TaskSpec:
    """How many wishlist items cost less than a budget (or more, or between two prices; optionally
    only those in stock)? (pagination + a filter the agent applies)"""
    items = view.all(
        "SELECT p.price, p.stock FROM shopping_wishlist w JOIN shopping_products p ON p.id = w.product_id WHERE w.user_id = ?",
        (view.user_id,),
    )
    while True:
        kind = view.rng.choice(["under", "under", "over", "between"])
        in_stock = view.rng.random() < 0.3
        low, high = sorted(view.rng.sample(_BUDGETS, 2))
        pool = [i for i in items if i["stock"] > 0] if in_stock else items
        test, condition, which = {
            # low and high are bound now: the test is also used after the loop
            "under": (lambda p, high=high: p < high, f"p['price'] < {high}", f"cost less than {_money(high)}"),
            "over": (lambda p, low=low: p > low, f"p['price'] > {low}", f"cost more than {_money(low)}"),
            "between": (lambda p, low=low, high=high: low <= p <= high, f"{low} <= p['price'] <= {high}", f"cost between {_money(low)} and {_money(high)}"),
        }[kind]
        count = sum(1 for i in pool if test(i["price"]))
        if 0 < count < len(pool):
            break  # else the price filter keeps all or none of them: ask something else
    stock_test = " and p['in_stock']" if in_stock else ""
    solution = header("shopping") + (
        "wishlist = collect(apis.shopping.show_wishlist, access_token=shopping_token)\n"
        f"apis.supervisor.complete_task(answer=len([p for p in wishlist if {condition}{stock_test}]))\n"
    )
    if in_stock:
        templates = [
            "How many products on my shopping wishlist are in stock and {which}?",
            "Count the in-stock items on my wishlist that {which}.",
            "Of the wishlist products I could buy right now (in stock), how many {which}?",
            "Tell me how many of my wishlisted products {which} and are currently in stock.",
        ]
    else:
        templates = [
            "How many products on my shopping wishlist {which}?",
            "Count the items on my wishlist that {which}.",
            "Looking at my shopping wishlist, how many of the products {which}?",
            "Tell me how many of my wishlisted products {which}.",
        ]
    return TaskSpec(instruction=view.phrase(templates, which=which), solution=solution, difficulty=1, answer=count)


@scenario("shopping_buy_top_rated", split="train", apps=("shopping",))
def shopping_buy_top_rated(view: BaseView) -> TaskSpec:
    """Empty the cart, then order the top-rated in-stock product of a category with a named address and card."""
    options = []
    for category in CATEGORIES:
        rows = view.all(
            f"SELECT p.id, p.stock, COALESCE({_AVG}, 0) AS rating FROM shopping_products p WHERE p.category = ? AND p.stock > 0 ORDER BY rating DESC, p.id DESC",
            (category,),
        )
        if len(rows) >= 2 and rows[0]["rating"] > rows[1]["rating"] and rows[0]["stock"] >= 3:
            options.append((category, rows[0]["id"]))  # one clear winner, with stock for any quantity asked
    category, product_id = view.rng.choice(options)
    qty = view.rng.randint(1, 3)
    address = view.rng.choice([r["name"] for r in view.all("SELECT name FROM supervisor_addresses WHERE user_id = ? ORDER BY id", (view.user_id,))])
    card = view.rng.choice(view.all("SELECT id, card_name FROM supervisor_payment_cards WHERE user_id = ? ORDER BY id", (view.user_id,)))
    card_word, card_id = card["card_name"].split()[0], card["id"]
    solution = header("shopping") + (
        "apis.shopping.clear_cart(access_token=shopping_token)\n"
        f'top = apis.shopping.search_products(category="{category}", in_stock_only=True, sort_by="-rating", page_limit=1)[0]\n'
        f'apis.shopping.add_to_cart(access_token=shopping_token, product_id=top["product_id"], quantity={qty})\n'
        f'address = next(a for a in apis.supervisor.show_addresses() if a["name"] == "{address}")\n'
        f'card = next(c for c in apis.supervisor.show_payment_cards() if c["card_name"].startswith("{card_word}"))\n'
        'apis.shopping.checkout(access_token=shopping_token, address_id=address["address_id"], payment_card_id=card["payment_card_id"])\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        orders = ctx.diff.added.get("shopping_orders", [])
        order = orders[0] if len(orders) == 1 else None
        items = [r for r in ctx.diff.added.get("shopping_order_items", []) if order and r["order_id"] == order["id"]]
        address_id = ctx.after_one("SELECT id FROM supervisor_addresses WHERE user_id = 1 AND name = ?", (address,))["id"]
        return [
            check("exactly one new order", order is not None, f"{len(orders)} new orders"),
            check(
                "the order holds only the product, in the right quantity",
                [(r["product_id"], r["quantity"]) for r in items] == [(product_id, qty)],
                f"items: {[(r['product_id'], r['quantity']) for r in items]}",
            ),
            check(
                "shipped to the right address and paid with the right card",
                order is not None and order["address_id"] == address_id and order["payment_card_id"] == card_id,
                "address or card differs",
            ),
            check("the cart is empty", not ctx.after_all("SELECT id FROM shopping_cart_items WHERE user_id = 1"), "items left in the cart"),
        ]

    instruction = view.phrase(
        [
            "Empty my shopping cart, then order {qty} of the highest-rated in-stock product in the {category} category, shipped to my {address} address and paid with my {card} card.",
            "Clear out my cart first. Then buy {qty} of the best-rated product in the {category} category that is in stock; ship it to my {address} address and charge my {card} card.",
            "I want {qty} of the top-rated item in the {category} category that's currently in stock: remove whatever is in my cart, add it, and check out to my {address} address with my {card} card.",
            "Please start from an empty shopping cart and place an order for {qty} of the in-stock product with the highest rating in the {category} category, delivered to {address} and paid by {card}.",
        ],
        qty=qty,
        category=category,
        address=address,
        card=card_word,
    )
    return TaskSpec(
        instruction=instruction,
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


_ORDINALS = ["", "second ", "third ", "fourth ", "fifth ", "sixth ", "seventh "]
_REVIEW_TITLES = {
    1: ["Waste of money", "Fell apart quickly", "Would not buy again"],
    2: ["Not great", "Expected more", "Mediocre at best"],
    3: ["Fine for the price", "It's alright", "Average"],
    4: ["Does what it says", "Pretty happy with it", "Good buy"],
    5: ["Great value", "Absolutely love it", "Perfect"],
}


@scenario("shopping_review_order", split="train", apps=("shopping",))
def shopping_review_order(view: BaseView) -> TaskSpec:
    """Review every not-yet-reviewed product of the n-th most recent delivered order."""
    orders = view.all("SELECT id FROM shopping_orders WHERE user_id = ? AND status = 'delivered' ORDER BY created_at DESC, id DESC", (view.user_id,))
    reviewed = {r["product_id"] for r in view.all("SELECT product_id FROM shopping_reviews WHERE user_id = ?", (view.user_id,))}
    candidates = []
    for k, o in enumerate(orders[: len(_ORDINALS)]):
        products = {r["product_id"] for r in view.all("SELECT product_id FROM shopping_order_items WHERE order_id = ?", (o["id"],))} - reviewed
        if products:
            candidates.append((k, sorted(products)))
    k, products = view.rng.choice(candidates)
    stars = view.rng.randint(1, 5)
    title = view.rng.choice(_REVIEW_TITLES[stars])
    solution = header("shopping") + (
        "mine = {r['product_id'] for r in collect(apis.shopping.show_my_reviews, access_token=shopping_token)}\n"
        f'order = apis.shopping.show_orders(access_token=shopping_token, status="delivered", sort_by="-created_at", page_index={k}, page_limit=1)[0]\n'
        "for item in order['items']:\n"
        "    if item['product_id'] not in mine:\n"
        f'        apis.shopping.write_review(access_token=shopping_token, product_id=item["product_id"], rating={stars}, title="{title}")\n'
        "        mine.add(item['product_id'])\n"
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        added = ctx.diff.added.get("shopping_reviews", [])
        return [
            check(
                "a review for each unreviewed product of the order",
                sorted(r["product_id"] for r in added) == products,
                f"reviewed {sorted(r['product_id'] for r in added)}, expected {products}",
            ),
            check(
                "the reviews have the rating and title",
                bool(added) and all(r["rating"] == stars and r["title"].strip().lower() == title.lower() for r in added),
                "rating or title differs",
            ),
        ]

    instruction = view.phrase(
        [
            'Write a {stars}-star review titled "{title}" for every product in my {nth}most recent delivered shopping order that I haven\'t reviewed yet.',
            'For my {nth}most recent delivered order on shopping, review each product I haven\'t reviewed already: {star_count}, title "{title}".',
            'Go to my {nth}latest delivered shopping order and give every item I haven\'t reviewed yet a {stars}-star review with the title "{title}".',
            'Please rate the not-yet-reviewed products of my {nth}most recently delivered shopping order {star_count}, with "{title}" as the review title.',
        ],
        stars=stars,
        star_count=_stars(stars),
        title=title,
        nth=_ORDINALS[k],
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"shopping_reviews": inserts_where(user_id=MAIN_USER_ID)},
    )


@scenario("shopping_month_spend", split="dev", apps=("shopping",))
def shopping_month_spend(view: BaseView) -> TaskSpec:
    """Total spent on delivered orders placed in a month or between two dates (date filters + pagination + sum)."""
    days = sorted(
        {r["d"] for r in view.all("SELECT substr(created_at, 1, 10) AS d FROM shopping_orders WHERE user_id = ? AND status = 'delivered'", (view.user_id,))}
    )
    while True:
        day = date.fromisoformat(view.rng.choice(days))  # a day with a delivered order, so the total is never empty
        if view.rng.random() < 0.4:
            start = day.replace(day=1)
            end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
            period = f"in {calendar.month_name[day.month]} {day.year}"
        else:
            start = day - timedelta(days=view.rng.randint(0, 20))
            end = day + timedelta(days=view.rng.randint(0, 20))
            if end >= view.now.date():
                continue  # a range that reaches today reads oddly: draw again
            period = f"between {spoken_date(start.isoformat())} and {spoken_date(end.isoformat())} (both days included)"
        break
    total = view.scalar(
        "SELECT ROUND(SUM(total), 2) FROM shopping_orders WHERE user_id = ? AND status = 'delivered' AND substr(created_at, 1, 10) BETWEEN ? AND ?",
        (view.user_id, start.isoformat(), end.isoformat()),
    )
    solution = header("shopping") + (
        f'orders = collect(apis.shopping.show_orders, access_token=shopping_token, status="delivered", start_date="{start.isoformat()}", end_date="{end.isoformat()}")\n'
        "apis.supervisor.complete_task(answer=round(sum(o['total'] for o in orders), 2))\n"
    )
    instruction = view.phrase(
        [
            "How much did I spend in total on delivered shopping orders that I placed {period}?",
            "Add up the totals of my delivered shopping orders placed {period}: how much is it?",
            "What's the combined total of the shopping orders I placed {period} that were delivered?",
            "Tell me my total spending on shopping orders placed {period}, counting only the delivered ones.",
        ],
        period=period,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=total)


def _placed_order_setup(product_ids: list[int], hours_ago: int):
    """Setup adding a not-yet-shipped order of the given products (stock already taken)."""

    def setup(ctx):
        when = (ctx.now - timedelta(hours=hours_ago)).isoformat(timespec="seconds")
        prices = [ctx.one("SELECT price FROM shopping_products WHERE id = ?", (p,))["price"] for p in product_ids]
        oid = ctx.insert(
            "shopping_orders",
            user_id=MAIN_USER_ID,
            address_id=1,
            payment_card_id=1,
            status="placed",
            total=round(sum(prices), 2),
            created_at=when,
            delivered_at=None,
        )
        for p, price in zip(product_ids, prices):
            ctx.insert("shopping_order_items", order_id=oid, user_id=MAIN_USER_ID, product_id=p, quantity=1, unit_price=price)
            ctx.db.execute("UPDATE shopping_products SET stock = stock - 1 WHERE id = ? AND stock > 0", (p,))

    return setup


@scenario("shopping_cancel_order", split="dev", apps=("shopping",))
def shopping_cancel_order(view: BaseView) -> TaskSpec:
    """Cancel the not-yet-shipped order that contains a named product (setup adds two placed orders)."""
    # Products in none of the user's orders: the named one is then in exactly one placed order.
    products = view.all(
        "SELECT id, name FROM shopping_products WHERE stock >= 2 AND id NOT IN (SELECT product_id FROM shopping_order_items WHERE user_id = ?) ORDER BY id",
        (view.user_id,),
    )
    a, b, c = view.rng.sample(products, 3)  # a and b in the older order, c in the newer one
    named_first = view.rng.random() < 0.5  # the named product is in the older order, or in the newer one
    target, target_order = (a, [a["id"], b["id"]]) if named_first else (c, [c["id"]])
    first, second = _placed_order_setup([a["id"], b["id"]], view.rng.randint(12, 40)), _placed_order_setup([c["id"]], view.rng.randint(1, 10))

    def setup(ctx):
        first(ctx)
        second(ctx)

    solution = header("shopping") + (
        'placed = collect(apis.shopping.show_orders, access_token=shopping_token, status="placed")\n'
        f'order = next(o for o in placed if any(i["name"] == "{target["name"]}" for i in o["items"]))\n'
        'apis.shopping.cancel_order(access_token=shopping_token, order_id=order["order_id"])\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        orders = ctx.before_all(
            "SELECT o.id FROM shopping_orders o JOIN shopping_order_items i ON i.order_id = o.id WHERE o.user_id = 1 AND o.status = 'placed' AND i.product_id = ?",
            (target["id"],),
        )
        status = ctx.after_one("SELECT status FROM shopping_orders WHERE id = ?", (orders[0]["id"],))["status"] if orders else None
        cancelled = ctx.after_all("SELECT id FROM shopping_orders WHERE user_id = 1 AND status = 'cancelled'")
        before_cancelled = ctx.before_all("SELECT id FROM shopping_orders WHERE user_id = 1 AND status = 'cancelled'")
        return [
            check("the order with the product is cancelled", status == "cancelled", f"status is {status}"),
            check("no other order is cancelled", len(cancelled) == len(before_cancelled) + 1, f"{len(cancelled) - len(before_cancelled)} orders cancelled"),
        ]

    instruction = view.phrase(
        [
            "Cancel my shopping order that has the {product} in it; it hasn't shipped yet.",
            "I changed my mind about the {product}: please cancel the shopping order it's in (it hasn't shipped).",
            "One of my not-yet-shipped shopping orders contains the {product}. Cancel that order.",
            "Please cancel the placed shopping order that includes the {product}, and leave my other orders alone.",
        ],
        product=target["name"],
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        setup=setup,
        checks=checks,
        allowed_changes={
            "shopping_orders": lambda b, a: b is not None and a is not None and b["user_id"] == MAIN_USER_ID and a["status"] == "cancelled",
            "shopping_products": updates_of(target_order, ["stock"]),
        },
    )


_RETURN_REASONS = [
    "Stopped working",
    "Poor quality",
    "Not as described",
    "Arrived damaged",
    "Wrong size",
    "Missing parts",
    "Too noisy",
    "Color differs from the photos",
    "Found a better one",
    "Smaller than expected",
]


@scenario("shopping_return_by_review", split="test_normal", apps=("shopping",))
def shopping_return_by_review(view: BaseView) -> TaskSpec:
    """Return the recently delivered item that I reviewed with n stars (setup adds the order and review)."""
    products = view.all(
        "SELECT id, name FROM shopping_products WHERE id NOT IN (SELECT product_id FROM shopping_reviews WHERE user_id = ?) "
        "AND id NOT IN (SELECT product_id FROM shopping_order_items WHERE user_id = ?) ORDER BY id",
        (view.user_id, view.user_id),
    )
    stars = view.rng.randint(1, 4)  # the other item of the order gets 5 stars
    reason = view.rng.choice(_RETURN_REASONS)
    target, other = view.rng.sample(products, 2)
    delivered_days_ago = view.rng.randint(4, 20)
    # The setup's reviews are a day old; the user's older reviews are at least 3 days old, so the
    # target's is the most recent one with its number of stars.

    def setup(ctx):
        delivered = (ctx.now - timedelta(days=delivered_days_ago)).isoformat(timespec="seconds")
        created = (ctx.now - timedelta(days=delivered_days_ago + 3)).isoformat(timespec="seconds")
        prices = {p: ctx.one("SELECT price FROM shopping_products WHERE id = ?", (p,))["price"] for p in (target["id"], other["id"])}
        oid = ctx.insert(
            "shopping_orders",
            user_id=MAIN_USER_ID,
            address_id=1,
            payment_card_id=2,
            status="delivered",
            total=round(sum(prices.values()), 2),
            created_at=created,
            delivered_at=delivered,
        )
        for p in (target["id"], other["id"]):
            ctx.insert("shopping_order_items", order_id=oid, user_id=MAIN_USER_ID, product_id=p, quantity=1, unit_price=prices[p])
        reviewed = (ctx.now - timedelta(days=1)).isoformat(timespec="seconds")
        ctx.insert(
            "shopping_reviews",
            product_id=target["id"],
            user_id=MAIN_USER_ID,
            rating=stars,
            title="Disappointed",
            text="Not what I hoped for.",
            created_at=reviewed,
            updated_at=reviewed,
        )
        ctx.insert(
            "shopping_reviews", product_id=other["id"], user_id=MAIN_USER_ID, rating=5, title="Love it", text="Great.", created_at=reviewed, updated_at=reviewed
        )

    solution = header("shopping") + (
        f'review = apis.shopping.show_my_reviews(access_token=shopping_token, rating={stars}, sort_by="-created_at", page_limit=1)[0]\n'
        'orders = collect(apis.shopping.show_orders, access_token=shopping_token, status="delivered", sort_by="-created_at")\n'
        'item = next(i for o in orders for i in o["items"] if i["product_id"] == review["product_id"])\n'
        f'apis.shopping.initiate_return(access_token=shopping_token, order_item_id=item["order_item_id"], reason="{reason}")\n'
        "apis.supervisor.complete_task()\n"
    )

    def checks(ctx):
        item = ctx.after_one(
            "SELECT i.id FROM shopping_order_items i JOIN shopping_orders o ON o.id = i.order_id WHERE o.user_id = 1 AND i.product_id = ? ORDER BY o.created_at DESC LIMIT 1",
            (target["id"],),
        )
        added = ctx.diff.added.get("shopping_returns", [])
        return [
            check(
                "exactly one return, of the right item",
                len(added) == 1 and added[0]["order_item_id"] == item["id"],
                f"returns of order items {[r['order_item_id'] for r in added]}",
            ),
            check(
                "one unit, with the reason",
                len(added) == 1 and added[0]["quantity"] == 1 and added[0]["reason"].strip().lower() == reason.lower(),
                "quantity or reason differs",
            ),
        ]

    instruction = view.phrase(
        [
            'Return the item I most recently gave a {stars}-star review to on shopping (one unit) with the reason "{reason}".',
            'On shopping, find the product my latest {stars}-star review is about and start a return of one unit of it, reason "{reason}".',
            'I want to send back the thing I most recently rated {star_count} in the shopping app: return one of it, giving "{reason}" as the reason.',
            'Please start a return (quantity 1, reason "{reason}") for the shopping item behind my most recent {stars}-star review.',
        ],
        stars=stars,
        star_count=_stars(stars),
        reason=reason,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        setup=setup,
        checks=checks,
        allowed_changes={"shopping_returns": inserts_where(user_id=MAIN_USER_ID)},
    )
