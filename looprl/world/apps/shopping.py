"""The shopping app: a store with products, reviews, a cart, orders, returns and a wishlist.

Checkout takes one of the supervisor's addresses and payment cards (apis.supervisor.show_addresses,
show_payment_cards), turns the cart into an order and empties the cart. An order goes placed ->
shipped -> delivered; only a placed order can be cancelled, and only delivered items (within 90
days of delivery) can be returned. Errors: 404 missing record, 403 another user's record, 409 a
state conflict (out of stock, already reviewed, order not cancellable), 422 a bad value.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from looprl.world.core import ApiError, AppSpec, Ctx, PageIndex, PageLimit, paginate
from looprl.world.state import Gen

APP = AppSpec(
    "shopping",
    "An online store: search products, read and write reviews, manage a cart, check out, track and cancel orders, return delivered items, and keep a wishlist.",
    schema="""
CREATE TABLE shopping_products (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, brand TEXT NOT NULL, category TEXT NOT NULL,
    price REAL NOT NULL, stock INTEGER NOT NULL, description TEXT NOT NULL
);
CREATE TABLE shopping_reviews (
    id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, user_id INTEGER NOT NULL, rating INTEGER NOT NULL,
    title TEXT NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE(product_id, user_id)
);
CREATE TABLE shopping_cart_items (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
    added_at TEXT NOT NULL, UNIQUE(user_id, product_id)
);
CREATE TABLE shopping_orders (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, address_id INTEGER, payment_card_id INTEGER,
    status TEXT NOT NULL, total REAL NOT NULL, created_at TEXT NOT NULL, delivered_at TEXT
);
CREATE TABLE shopping_order_items (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, user_id INTEGER NOT NULL, product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL, unit_price REAL NOT NULL
);
CREATE TABLE shopping_returns (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, order_item_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
    reason TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE shopping_wishlist (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, added_at TEXT NOT NULL,
    UNIQUE(user_id, product_id)
);
""",
)
APP.add_login()

RETURN_WINDOW_DAYS = 90
Quantity = Annotated[int, Field(ge=1, le=20, description="how many items (1 to 20)")]
Rating = Annotated[int, Field(ge=1, le=5, description="the number of stars, 1 to 5")]
ReviewText = Annotated[str, Field(max_length=2000)]
ReviewTitle = Annotated[str, Field(min_length=1, max_length=120)]

CATEGORIES = ("electronics", "kitchen", "books", "clothing", "sports", "home", "toys", "beauty", "garden", "office")


def _order_by(sort_by: str, tiebreak: str = "id") -> str:
    direction = "DESC" if sort_by.startswith("-") else "ASC"
    return f"{sort_by.lstrip('-')} {direction}, {tiebreak} {direction}"


def _product_row(ctx: Ctx, product_id: int) -> dict[str, Any]:
    return ctx.require("shopping_products", product_id, "product", owner_column=None)


def _rating(ctx: Ctx, product_id: int) -> tuple[float | None, int]:
    r = ctx.one("SELECT AVG(rating) AS avg, COUNT(*) AS n FROM shopping_reviews WHERE product_id = ?", (product_id,))
    return (round(r["avg"], 2) if r["avg"] is not None else None), r["n"]


def _product(ctx: Ctx, row: dict[str, Any], full: bool = False) -> dict[str, Any]:
    avg, n = _rating(ctx, row["id"])
    out = {
        "product_id": row["id"],
        "name": row["name"],
        "brand": row["brand"],
        "category": row["category"],
        "price": row["price"],
        "rating": avg,
        "review_count": n,
        "in_stock": row["stock"] > 0,
    }
    if full:
        out["stock"] = row["stock"]
        out["description"] = row["description"]
    return out


def _review(row: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    author = ctx.one("SELECT first_name, last_name FROM users WHERE id = ?", (row["user_id"],))
    return {
        "review_id": row["id"],
        "product_id": row["product_id"],
        "author_name": f"{author['first_name']} {author['last_name']}",
        "rating": row["rating"],
        "title": row["title"],
        "text": row["text"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


# -------------------------------------------------------------------------------------------------
# Products and reviews


@APP.api
def show_account(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show your shopping account: name, email, and how many orders, reviews and wishlist items you have.

    Args:
        access_token: your access token from login.

    Returns:
        {"name": string, "email": string, "order_count": integer, "review_count": integer, "wishlist_count": integer}
    """
    u = ctx.one("SELECT * FROM users WHERE id = ?", (ctx.user_id,))

    def count(table: str) -> int:
        return ctx.one(f"SELECT COUNT(*) AS n FROM {table} WHERE user_id = ?", (ctx.user_id,))["n"]

    return {
        "name": f"{u['first_name']} {u['last_name']}",
        "email": u["email"],
        "order_count": count("shopping_orders"),
        "review_count": count("shopping_reviews"),
        "wishlist_count": count("shopping_wishlist"),
    }


@APP.api
def show_categories(ctx: Ctx) -> list[dict[str, Any]]:
    """List the product categories with how many products each has.

    Returns:
        [{"category": string, "product_count": integer}]
    """
    rows = ctx.all("SELECT category, COUNT(*) AS n FROM shopping_products GROUP BY category ORDER BY category")
    return [{"category": r["category"], "product_count": r["n"]} for r in rows]


@APP.api
def search_products(
    ctx: Ctx,
    query: str | None = None,
    category: str | None = None,
    brand: str | None = None,
    min_price: Annotated[float, Field(ge=0)] | None = None,
    max_price: Annotated[float, Field(ge=0)] | None = None,
    min_rating: Annotated[float, Field(ge=1, le=5)] | None = None,
    in_stock_only: bool = False,
    sort_by: Literal["price", "-price", "rating", "-rating", "name", "-name", "review_count", "-review_count"] = "name",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """Search the store's products (no login needed). Unrated products sort as rating 0.

    Args:
        query: text to look for in the product's name, brand or description (case-insensitive).
        category: only products in this category (see show_categories).
        brand: only products of this brand (case-insensitive, exact).
        min_price: only products costing at least this much.
        max_price: only products costing at most this much.
        min_rating: only products whose average rating is at least this.
        in_stock_only: only products that are in stock.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of products per page (at most 20).

    Returns:
        [{"product_id": integer, "name": string, "brand": string, "category": string, "price": number, "rating": number | null, "review_count": integer, "in_stock": boolean}]
    """
    if category is not None and category not in CATEGORIES:
        raise ApiError(
            422,
            "Invalid value for parameter(s): category.",
            errors=[{"parameter": "category", "error": f"must be one of {', '.join(CATEGORIES)}", "given": category}],
        )
    where, params = ["1 = 1"], []
    if query:
        where.append("(lower(p.name) LIKE ? OR lower(p.brand) LIKE ? OR lower(p.description) LIKE ?)")
        params += [f"%{query.lower()}%"] * 3
    if category:
        where.append("p.category = ?")
        params.append(category)
    if brand:
        where.append("lower(p.brand) = lower(?)")
        params.append(brand)
    if min_price is not None:
        where.append("p.price >= ?")
        params.append(min_price)
    if max_price is not None:
        where.append("p.price <= ?")
        params.append(max_price)
    if min_rating is not None:
        where.append("COALESCE(r.rating, 0) >= ?")
        params.append(min_rating)
    if in_stock_only:
        where.append("p.stock > 0")
    sql = (
        "SELECT p.*, COALESCE(r.rating, 0) AS rating, COALESCE(r.n, 0) AS review_count FROM shopping_products p "
        "LEFT JOIN (SELECT product_id, ROUND(AVG(rating), 2) AS rating, COUNT(*) AS n FROM shopping_reviews GROUP BY product_id) r "
        f"ON r.product_id = p.id WHERE {' AND '.join(where)} ORDER BY {_order_by(sort_by, 'p.id')}"
    )
    return [_product(ctx, r) for r in paginate(ctx, sql, params, page_index, page_limit)]


@APP.api
def show_product(ctx: Ctx, product_id: int) -> dict[str, Any]:
    """Show one product with its description, stock and average rating (no login needed).

    Args:
        product_id: the product to show.

    Returns:
        {"product_id": integer, "name": string, "brand": string, "category": string, "price": number, "rating": number | null, "review_count": integer, "in_stock": boolean, "stock": integer, "description": string}
    """
    return _product(ctx, _product_row(ctx, product_id), full=True)


@APP.api
def show_product_reviews(
    ctx: Ctx,
    product_id: int,
    min_rating: Annotated[int, Field(ge=1, le=5)] | None = None,
    max_rating: Annotated[int, Field(ge=1, le=5)] | None = None,
    sort_by: Literal["created_at", "-created_at", "rating", "-rating"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List a product's reviews (no login needed).

    Args:
        product_id: the product.
        min_rating: only reviews with at least this many stars.
        max_rating: only reviews with at most this many stars.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of reviews per page (at most 20).

    Returns:
        [{"review_id": integer, "product_id": integer, "author_name": string, "rating": integer, "title": string, "text": string, "created_at": string, "updated_at": string}]
    """
    _product_row(ctx, product_id)
    where, params = ["product_id = ?"], [product_id]
    if min_rating is not None:
        where.append("rating >= ?")
        params.append(min_rating)
    if max_rating is not None:
        where.append("rating <= ?")
        params.append(max_rating)
    rows = paginate(ctx, f"SELECT * FROM shopping_reviews WHERE {' AND '.join(where)} ORDER BY {_order_by(sort_by)}", params, page_index, page_limit)
    return [_review(r, ctx) for r in rows]


@APP.api
def show_my_reviews(
    ctx: Ctx,
    access_token: str,
    rating: Annotated[int, Field(ge=1, le=5)] | None = None,
    sort_by: Literal["created_at", "-created_at", "rating", "-rating"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List the reviews you wrote.

    Args:
        access_token: your access token from login.
        rating: only your reviews with exactly this many stars.
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of reviews per page (at most 20).

    Returns:
        [{"review_id": integer, "product_id": integer, "author_name": string, "rating": integer, "title": string, "text": string, "created_at": string, "updated_at": string}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if rating is not None:
        where.append("rating = ?")
        params.append(rating)
    rows = paginate(ctx, f"SELECT * FROM shopping_reviews WHERE {' AND '.join(where)} ORDER BY {_order_by(sort_by)}", params, page_index, page_limit)
    return [_review(r, ctx) for r in rows]


@APP.api
def write_review(ctx: Ctx, access_token: str, product_id: int, rating: Rating, title: ReviewTitle, text: ReviewText = "") -> dict[str, Any]:
    """Review a product you have had delivered. One review per product (409 if you already wrote one; update it instead).

    Args:
        access_token: your access token from login.
        product_id: the product to review.
        rating: the number of stars, 1 to 5.
        title: the review's headline.
        text: the review's body.

    Returns:
        {"review_id": integer, "message": string}
    """
    _product_row(ctx, product_id)
    if ctx.one("SELECT id FROM shopping_reviews WHERE product_id = ? AND user_id = ?", (product_id, ctx.user_id)):
        raise ApiError(409, f"You already reviewed product {product_id}; use update_review.")
    bought = ctx.one(
        "SELECT i.id FROM shopping_order_items i JOIN shopping_orders o ON o.id = i.order_id WHERE o.user_id = ? AND i.product_id = ? AND o.status = 'delivered'",
        (ctx.user_id, product_id),
    )
    if bought is None:
        raise ApiError(409, f"You can only review products delivered to you; product {product_id} was not.")
    ts = ctx.clock.timestamp()
    rid = ctx.insert("shopping_reviews", product_id=product_id, user_id=ctx.user_id, rating=rating, title=title, text=text, created_at=ts, updated_at=ts)
    return {"review_id": rid, "message": "Review posted."}


@APP.api
def update_review(
    ctx: Ctx, access_token: str, review_id: int, rating: Rating | None = None, title: ReviewTitle | None = None, text: ReviewText | None = None
) -> dict[str, Any]:
    """Change your review's rating, title and/or text (fields left null are unchanged).

    Args:
        access_token: your access token from login.
        review_id: the review to change; it must be yours.
        rating: the new number of stars, 1 to 5.
        title: the new headline.
        text: the new body.

    Returns:
        {"message": string}
    """
    ctx.require("shopping_reviews", review_id, "review")
    values = {k: v for k, v in (("rating", rating), ("title", title), ("text", text)) if v is not None}
    if not values:
        raise ApiError(
            422, "Invalid value for parameter(s): rating, title, text.", errors=[{"parameter": "rating", "error": "give at least one of rating, title, text"}]
        )
    ctx.update("shopping_reviews", review_id, **values, updated_at=ctx.clock.timestamp())
    return {"message": "Review updated."}


@APP.api
def delete_review(ctx: Ctx, access_token: str, review_id: int) -> dict[str, Any]:
    """Delete one of your reviews.

    Args:
        access_token: your access token from login.
        review_id: the review to delete; it must be yours.

    Returns:
        {"message": string}
    """
    ctx.require("shopping_reviews", review_id, "review")
    ctx.delete("shopping_reviews", review_id)
    return {"message": "Review deleted."}


# -------------------------------------------------------------------------------------------------
# Cart and checkout


def _cart_rows(ctx: Ctx) -> list[dict[str, Any]]:
    return ctx.all(
        "SELECT c.*, p.name, p.price, p.stock FROM shopping_cart_items c JOIN shopping_products p ON p.id = c.product_id WHERE c.user_id = ? ORDER BY c.id",
        (ctx.user_id,),
    )


def _check_stock(product: dict[str, Any], quantity: int) -> None:
    if quantity > product["stock"]:
        raise ApiError(409, f"Only {product['stock']} of product {product['id']} ({product['name']}) in stock; asked for {quantity}.")


@APP.api
def show_cart(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Show your cart: its items and total.

    Args:
        access_token: your access token from login.

    Returns:
        {"items": [{"product_id": integer, "name": string, "unit_price": number, "quantity": integer, "subtotal": number}], "total": number}
    """
    items = [
        {
            "product_id": r["product_id"],
            "name": r["name"],
            "unit_price": r["price"],
            "quantity": r["quantity"],
            "subtotal": round(r["price"] * r["quantity"], 2),
        }
        for r in _cart_rows(ctx)
    ]
    return {"items": items, "total": round(sum(i["subtotal"] for i in items), 2)}


@APP.api
def add_to_cart(ctx: Ctx, access_token: str, product_id: int, quantity: Quantity = 1) -> dict[str, Any]:
    """Add a product to your cart; if it is already there, the quantity is added to it.

    Args:
        access_token: your access token from login.
        product_id: the product to add.
        quantity: how many to add (1 to 20).

    Returns:
        {"message": string, "quantity_in_cart": integer}
    """
    product = _product_row(ctx, product_id)
    row = ctx.one("SELECT * FROM shopping_cart_items WHERE user_id = ? AND product_id = ?", (ctx.user_id, product_id))
    total = quantity + (row["quantity"] if row else 0)
    _check_stock(product, total)
    if row:
        ctx.update("shopping_cart_items", row["id"], quantity=total)
    else:
        ctx.insert("shopping_cart_items", user_id=ctx.user_id, product_id=product_id, quantity=quantity, added_at=ctx.clock.timestamp())
    return {"message": "Added to cart.", "quantity_in_cart": total}


def _cart_item(ctx: Ctx, product_id: int) -> dict[str, Any]:
    row = ctx.one("SELECT * FROM shopping_cart_items WHERE user_id = ? AND product_id = ?", (ctx.user_id, product_id))
    if row is None:
        raise ApiError(404, f"Product {product_id} is not in your cart.")
    return row


@APP.api
def update_cart_item(ctx: Ctx, access_token: str, product_id: int, quantity: Quantity) -> dict[str, Any]:
    """Set the quantity of a product already in your cart.

    Args:
        access_token: your access token from login.
        product_id: the product in the cart.
        quantity: the new quantity (1 to 20); use remove_from_cart to remove it.

    Returns:
        {"message": string}
    """
    row = _cart_item(ctx, product_id)
    _check_stock(_product_row(ctx, product_id), quantity)
    ctx.update("shopping_cart_items", row["id"], quantity=quantity)
    return {"message": "Cart updated."}


@APP.api
def remove_from_cart(ctx: Ctx, access_token: str, product_id: int) -> dict[str, Any]:
    """Remove a product from your cart.

    Args:
        access_token: your access token from login.
        product_id: the product to remove.

    Returns:
        {"message": string}
    """
    ctx.delete("shopping_cart_items", _cart_item(ctx, product_id)["id"])
    return {"message": "Removed from cart."}


@APP.api
def clear_cart(ctx: Ctx, access_token: str) -> dict[str, Any]:
    """Remove everything from your cart.

    Args:
        access_token: your access token from login.

    Returns:
        {"message": string, "removed_items": integer}
    """
    n = ctx.db.execute("DELETE FROM shopping_cart_items WHERE user_id = ?", (ctx.user_id,)).rowcount
    return {"message": "Cart cleared.", "removed_items": n}


@APP.api
def checkout(ctx: Ctx, access_token: str, address_id: int, payment_card_id: int) -> dict[str, Any]:
    """Place an order for everything in your cart, shipped to one of your addresses and charged to one of your cards; empties the cart.

    Args:
        access_token: your access token from login.
        address_id: the shipping address, from apis.supervisor.show_addresses.
        payment_card_id: the card to charge, from apis.supervisor.show_payment_cards.

    Returns:
        {"order_id": integer, "total": number, "message": string}
    """
    ctx.require("supervisor_addresses", address_id, "address")
    ctx.require("supervisor_payment_cards", payment_card_id, "payment card")
    items = _cart_rows(ctx)
    if not items:
        raise ApiError(409, "Your cart is empty.")
    for it in items:
        _check_stock({"id": it["product_id"], "name": it["name"], "stock": it["stock"]}, it["quantity"])
    total = round(sum(it["price"] * it["quantity"] for it in items), 2)
    oid = ctx.insert(
        "shopping_orders",
        user_id=ctx.user_id,
        address_id=address_id,
        payment_card_id=payment_card_id,
        status="placed",
        total=total,
        created_at=ctx.clock.timestamp(),
        delivered_at=None,
    )
    for it in items:
        ctx.insert("shopping_order_items", order_id=oid, user_id=ctx.user_id, product_id=it["product_id"], quantity=it["quantity"], unit_price=it["price"])
        ctx.db.execute("UPDATE shopping_products SET stock = stock - ? WHERE id = ?", (it["quantity"], it["product_id"]))
    ctx.db.execute("DELETE FROM shopping_cart_items WHERE user_id = ?", (ctx.user_id,))
    return {"order_id": oid, "total": total, "message": "Order placed."}


# -------------------------------------------------------------------------------------------------
# Orders and returns


def _order(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    items = ctx.all(
        "SELECT i.*, p.name FROM shopping_order_items i JOIN shopping_products p ON p.id = i.product_id WHERE i.order_id = ? ORDER BY i.id", (row["id"],)
    )
    return {
        "order_id": row["id"],
        "status": row["status"],
        "total": row["total"],
        "created_at": row["created_at"],
        "delivered_at": row["delivered_at"],
        "address_id": row["address_id"],
        "payment_card_id": row["payment_card_id"],
        "items": [
            {"order_item_id": i["id"], "product_id": i["product_id"], "name": i["name"], "quantity": i["quantity"], "unit_price": i["unit_price"]}
            for i in items
        ],
    }


@APP.api
def show_orders(
    ctx: Ctx,
    access_token: str,
    status: Literal["placed", "shipped", "delivered", "cancelled"] | None = None,
    start_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None,
    end_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None,
    sort_by: Literal["created_at", "-created_at", "total", "-total"] = "-created_at",
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List your orders with their items.

    Args:
        access_token: your access token from login.
        status: only orders with this status.
        start_date: only orders placed on or after this date (YYYY-MM-DD).
        end_date: only orders placed on or before this date (YYYY-MM-DD).
        sort_by: the sort key; a leading "-" sorts descending.
        page_index: the page to return, starting at 0.
        page_limit: the number of orders per page (at most 20).

    Returns:
        [{"order_id": integer, "status": string, "total": number, "created_at": string, "delivered_at": string | null, "address_id": integer, "payment_card_id": integer, "items": [{"order_item_id": integer, "product_id": integer, "name": string, "quantity": integer, "unit_price": number}]}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if start_date:
        where.append("substr(created_at, 1, 10) >= ?")
        params.append(start_date)
    if end_date:
        where.append("substr(created_at, 1, 10) <= ?")
        params.append(end_date)
    rows = paginate(ctx, f"SELECT * FROM shopping_orders WHERE {' AND '.join(where)} ORDER BY {_order_by(sort_by)}", params, page_index, page_limit)
    return [_order(ctx, r) for r in rows]


@APP.api
def show_order(ctx: Ctx, access_token: str, order_id: int) -> dict[str, Any]:
    """Show one of your orders with its items.

    Args:
        access_token: your access token from login.
        order_id: the order to show.

    Returns:
        {"order_id": integer, "status": string, "total": number, "created_at": string, "delivered_at": string | null, "address_id": integer, "payment_card_id": integer, "items": [{"order_item_id": integer, "product_id": integer, "name": string, "quantity": integer, "unit_price": number}]}
    """
    return _order(ctx, ctx.require("shopping_orders", order_id, "order"))


@APP.api
def cancel_order(ctx: Ctx, access_token: str, order_id: int) -> dict[str, Any]:
    """Cancel an order that has not shipped yet (status "placed"); the items go back in stock.

    Args:
        access_token: your access token from login.
        order_id: the order to cancel.

    Returns:
        {"message": string}
    """
    row = ctx.require("shopping_orders", order_id, "order")
    if row["status"] != "placed":
        raise ApiError(409, f"Order {order_id} is {row['status']}; only placed orders can be cancelled.")
    for it in ctx.all("SELECT * FROM shopping_order_items WHERE order_id = ?", (order_id,)):
        ctx.db.execute("UPDATE shopping_products SET stock = stock + ? WHERE id = ?", (it["quantity"], it["product_id"]))
    ctx.update("shopping_orders", order_id, status="cancelled")
    return {"message": "Order cancelled."}


def _return(ctx: Ctx, row: dict[str, Any]) -> dict[str, Any]:
    item = ctx.one("SELECT i.*, p.name FROM shopping_order_items i JOIN shopping_products p ON p.id = i.product_id WHERE i.id = ?", (row["order_item_id"],))
    return {
        "return_id": row["id"],
        "order_id": item["order_id"],
        "order_item_id": row["order_item_id"],
        "product_id": item["product_id"],
        "name": item["name"],
        "quantity": row["quantity"],
        "reason": row["reason"],
        "status": row["status"],
        "refund_amount": round(item["unit_price"] * row["quantity"], 2),
        "created_at": row["created_at"],
    }


@APP.api
def initiate_return(
    ctx: Ctx, access_token: str, order_item_id: int, reason: Annotated[str, Field(min_length=1, max_length=300)], quantity: Quantity = 1
) -> dict[str, Any]:
    """Start a return of a delivered order item (within 90 days of delivery); the refund goes to the order's card.

    Args:
        access_token: your access token from login.
        order_item_id: the order item to return (from show_order or show_orders).
        reason: why you are returning it.
        quantity: how many of that item to return; at most the number bought minus those already returned.

    Returns:
        {"return_id": integer, "refund_amount": number, "message": string}
    """
    item = ctx.require("shopping_order_items", order_item_id, "order item")
    order = ctx.one("SELECT * FROM shopping_orders WHERE id = ?", (item["order_id"],))
    if order["status"] != "delivered":
        raise ApiError(409, f"Order {order['id']} is {order['status']}; only delivered items can be returned.")
    if ctx.now - datetime.fromisoformat(order["delivered_at"]) > timedelta(days=RETURN_WINDOW_DAYS):
        raise ApiError(409, f"Order {order['id']} was delivered more than {RETURN_WINDOW_DAYS} days ago; it can no longer be returned.")
    returned = ctx.one("SELECT COALESCE(SUM(quantity), 0) AS n FROM shopping_returns WHERE order_item_id = ? AND status != 'cancelled'", (order_item_id,))["n"]
    if quantity > item["quantity"] - returned:
        raise ApiError(409, f"Only {item['quantity'] - returned} of order item {order_item_id} can still be returned; asked for {quantity}.")
    rid = ctx.insert(
        "shopping_returns",
        user_id=ctx.user_id,
        order_item_id=order_item_id,
        quantity=quantity,
        reason=reason,
        status="requested",
        created_at=ctx.clock.timestamp(),
    )
    return {"return_id": rid, "refund_amount": round(item["unit_price"] * quantity, 2), "message": "Return started."}


@APP.api
def show_returns(
    ctx: Ctx,
    access_token: str,
    status: Literal["requested", "received", "refunded", "cancelled"] | None = None,
    page_index: PageIndex = 0,
    page_limit: PageLimit = 5,
) -> list[dict[str, Any]]:
    """List your returns, newest first.

    Args:
        access_token: your access token from login.
        status: only returns with this status.
        page_index: the page to return, starting at 0.
        page_limit: the number of returns per page (at most 20).

    Returns:
        [{"return_id": integer, "order_id": integer, "order_item_id": integer, "product_id": integer, "name": string, "quantity": integer, "reason": string, "status": string, "refund_amount": number, "created_at": string}]
    """
    where, params = ["user_id = ?"], [ctx.user_id]
    if status is not None:
        where.append("status = ?")
        params.append(status)
    rows = paginate(ctx, f"SELECT * FROM shopping_returns WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC", params, page_index, page_limit)
    return [_return(ctx, r) for r in rows]


@APP.api
def show_return(ctx: Ctx, access_token: str, return_id: int) -> dict[str, Any]:
    """Show one of your returns.

    Args:
        access_token: your access token from login.
        return_id: the return to show.

    Returns:
        {"return_id": integer, "order_id": integer, "order_item_id": integer, "product_id": integer, "name": string, "quantity": integer, "reason": string, "status": string, "refund_amount": number, "created_at": string}
    """
    return _return(ctx, ctx.require("shopping_returns", return_id, "return"))


@APP.api
def cancel_return(ctx: Ctx, access_token: str, return_id: int) -> dict[str, Any]:
    """Cancel a return that has not been received yet (status "requested").

    Args:
        access_token: your access token from login.
        return_id: the return to cancel.

    Returns:
        {"message": string}
    """
    row = ctx.require("shopping_returns", return_id, "return")
    if row["status"] != "requested":
        raise ApiError(409, f"Return {return_id} is {row['status']}; only requested returns can be cancelled.")
    ctx.update("shopping_returns", return_id, status="cancelled")
    return {"message": "Return cancelled."}


# -------------------------------------------------------------------------------------------------
# Wishlist


@APP.api
def show_wishlist(ctx: Ctx, access_token: str, page_index: PageIndex = 0, page_limit: PageLimit = 5) -> list[dict[str, Any]]:
    """List the products on your wishlist, most recently added first.

    Args:
        access_token: your access token from login.
        page_index: the page to return, starting at 0.
        page_limit: the number of products per page (at most 20).

    Returns:
        [{"product_id": integer, "name": string, "brand": string, "category": string, "price": number, "rating": number | null, "review_count": integer, "in_stock": boolean, "added_at": string}]
    """
    rows = paginate(
        ctx,
        "SELECT p.*, w.added_at FROM shopping_wishlist w JOIN shopping_products p ON p.id = w.product_id WHERE w.user_id = ? ORDER BY w.added_at DESC, w.id DESC",
        (ctx.user_id,),
        page_index,
        page_limit,
    )
    return [{**_product(ctx, r), "added_at": r["added_at"]} for r in rows]


@APP.api
def add_to_wishlist(ctx: Ctx, access_token: str, product_id: int) -> dict[str, Any]:
    """Add a product to your wishlist.

    Args:
        access_token: your access token from login.
        product_id: the product to add.

    Returns:
        {"message": string}
    """
    _product_row(ctx, product_id)
    if ctx.one("SELECT id FROM shopping_wishlist WHERE user_id = ? AND product_id = ?", (ctx.user_id, product_id)):
        raise ApiError(409, f"Product {product_id} is already on your wishlist.")
    ctx.insert("shopping_wishlist", user_id=ctx.user_id, product_id=product_id, added_at=ctx.clock.timestamp())
    return {"message": "Added to wishlist."}


@APP.api
def remove_from_wishlist(ctx: Ctx, access_token: str, product_id: int) -> dict[str, Any]:
    """Remove a product from your wishlist.

    Args:
        access_token: your access token from login.
        product_id: the product to remove.

    Returns:
        {"message": string}
    """
    row = ctx.one("SELECT id FROM shopping_wishlist WHERE user_id = ? AND product_id = ?", (ctx.user_id, product_id))
    if row is None:
        raise ApiError(404, f"Product {product_id} is not on your wishlist.")
    ctx.delete("shopping_wishlist", row["id"])
    return {"message": "Removed from wishlist."}


@APP.api
def move_wishlist_item_to_cart(ctx: Ctx, access_token: str, product_id: int, quantity: Quantity = 1) -> dict[str, Any]:
    """Move a product from your wishlist into your cart.

    Args:
        access_token: your access token from login.
        product_id: the wishlisted product.
        quantity: how many to put in the cart (1 to 20).

    Returns:
        {"message": string}
    """
    row = ctx.one("SELECT id FROM shopping_wishlist WHERE user_id = ? AND product_id = ?", (ctx.user_id, product_id))
    if row is None:
        raise ApiError(404, f"Product {product_id} is not on your wishlist.")
    add_to_cart(ctx, access_token="", product_id=product_id, quantity=quantity)
    ctx.delete("shopping_wishlist", row["id"])
    return {"message": "Moved to cart."}


# -------------------------------------------------------------------------------------------------
# Seed data

_CATALOG = {
    "electronics": (
        [
            "Wireless Earbuds",
            "Bluetooth Speaker",
            "USB-C Charger",
            "Smart Watch",
            "Noise-Cancelling Headphones",
            "Portable SSD",
            "Webcam",
            "E-Reader",
            "Power Bank",
            "Mechanical Keyboard",
        ],
        ["Voltix", "Sonora", "Nimbus", "Kestrel"],
    ),
    "kitchen": (
        [
            "Chef's Knife",
            "Cast Iron Skillet",
            "French Press",
            "Stand Mixer",
            "Cutting Board",
            "Rice Cooker",
            "Espresso Grinder",
            "Blender",
            "Dutch Oven",
            "Tea Kettle",
        ],
        ["Hearth & Co", "Culina", "Ironleaf"],
    ),
    "books": (
        [
            "The Quiet Orchard",
            "Rivers of Glass",
            "A Field Guide to Clouds",
            "The Last Cartographer",
            "Salt and Saffron",
            "Midnight Ledger",
            "Learning to Sail",
            "The Copper Key",
        ],
        ["Lanternhouse Press", "Greywing Books"],
    ),
    "clothing": (
        ["Rain Jacket", "Wool Sweater", "Running Shorts", "Denim Jacket", "Linen Shirt", "Hiking Socks", "Puffer Vest", "Canvas Sneakers"],
        ["Northpeak", "Loom & Thread", "Stride"],
    ),
    "sports": (
        ["Yoga Mat", "Adjustable Dumbbells", "Tennis Racket", "Climbing Chalk Bag", "Jump Rope", "Foam Roller", "Cycling Gloves", "Trail Running Vest"],
        ["Apex", "Momentum", "Summitline"],
    ),
    "home": (
        ["Desk Lamp", "Linen Curtains", "Throw Blanket", "Wall Clock", "Scented Candle", "Storage Baskets", "Bath Towel Set", "Area Rug"],
        ["Nestwell", "Oak & Ember"],
    ),
    "toys": (["Wooden Train Set", "Puzzle 1000 Pieces", "Building Blocks", "Plush Bear", "Kite", "Board Game: Harbor Rush"], ["Playfield", "Tinker Toys Co"]),
    "beauty": (["Face Moisturizer", "Sunscreen SPF 50", "Lip Balm Trio", "Shampoo Bar", "Hand Cream", "Clay Mask"], ["Glowry", "Pure Fern"]),
    "garden": (["Garden Hose", "Pruning Shears", "Raised Bed Kit", "Seed Starter Tray", "Watering Can", "Solar Path Lights"], ["GreenThumb", "Verdant"]),
    "office": (["Notebook Set", "Ergonomic Chair Cushion", "Gel Pens 12-pack", "Monitor Stand", "Desk Organizer", "Whiteboard"], ["Paperloft", "Deskwise"]),
}
_PRICE = {
    "electronics": (19, 320),
    "kitchen": (12, 260),
    "books": (9, 35),
    "clothing": (15, 160),
    "sports": (8, 180),
    "home": (10, 220),
    "toys": (8, 90),
    "beauty": (5, 45),
    "garden": (9, 140),
    "office": (4, 120),
}
_REVIEW_TITLES = {
    1: ["Broke after a week", "Very disappointed", "Not as described"],
    2: ["Meh", "Below expectations"],
    3: ["It's okay", "Does the job"],
    4: ["Pretty good", "Solid purchase"],
    5: ["Love it!", "Excellent", "Exactly what I needed"],
}


def seed(gen: Gen) -> None:
    rng, fake, now = gen.rng, gen.fake, gen.now
    product_ids: list[tuple[int, float]] = []
    for category in CATEGORIES:
        names, brands = _CATALOG[category]
        for name in names:
            for brand in rng.sample(brands, min(len(brands), rng.choice([1, 2]))):
                lo, hi = _PRICE[category]
                price = round(rng.uniform(lo, hi), 0) - 0.01
                pid = gen.insert(
                    "shopping_products",
                    name=f"{brand} {name}",
                    brand=brand,
                    category=category,
                    price=price,
                    stock=rng.choice([0, 3, 8, 15, 25, 40, 60]),
                    description=fake.sentence(nb_words=12),
                )
                product_ids.append((pid, price))
    # Orders: the user has a history of ~18 orders in every status; others have a few each.
    for person in gen.people:
        is_user = person["id"] == gen.user["id"]
        for _ in range(18 if is_user else rng.randint(1, 4)):
            days_ago = rng.randint(1, 200)
            created = now - timedelta(days=days_ago, seconds=rng.randint(0, 80000))
            if days_ago <= 2:
                status = rng.choice(["placed", "shipped"])
            elif days_ago <= 6:
                status = rng.choice(["shipped", "delivered", "placed"])
            else:
                status = rng.choice(["delivered"] * 6 + ["cancelled"])
            delivered = min(created + timedelta(days=rng.randint(2, 5)), now - timedelta(hours=3)) if status == "delivered" else None
            items = rng.sample(product_ids, rng.randint(1, 3))
            qtys = [rng.choice([1, 1, 1, 2, 3]) for _ in items]
            oid = gen.insert(
                "shopping_orders",
                user_id=person["id"],
                address_id=rng.randint(1, 2) if is_user else None,
                payment_card_id=rng.randint(1, 3) if is_user else None,
                status=status,
                total=round(sum(p * q for (_, p), q in zip(items, qtys)), 2),
                created_at=created.isoformat(timespec="seconds"),
                delivered_at=delivered.isoformat(timespec="seconds") if delivered else None,
            )
            for (pid, price), q in zip(items, qtys):
                iid = gen.insert("shopping_order_items", order_id=oid, user_id=person["id"], product_id=pid, quantity=q, unit_price=price)
                if delivered is None:
                    continue
                if rng.random() < (0.45 if is_user else 0.6):
                    rating = rng.choice([1, 2, 3, 4, 4, 5, 5, 5])
                    ts = min(delivered + timedelta(days=rng.randint(1, 10)), now - timedelta(days=3)).isoformat(timespec="seconds")
                    gen.db.execute(
                        "INSERT OR IGNORE INTO shopping_reviews (product_id, user_id, rating, title, text, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                        (pid, person["id"], rating, rng.choice(_REVIEW_TITLES[rating]), fake.sentence(nb_words=14), ts, ts),
                    )
                if is_user and rng.random() < 0.12:
                    gen.insert(
                        "shopping_returns",
                        user_id=person["id"],
                        order_item_id=iid,
                        quantity=1,
                        reason=rng.choice(["Too small", "Changed my mind", "Arrived damaged"]),
                        status=rng.choice(["received", "refunded"]),
                        created_at=min(delivered + timedelta(days=3), now - timedelta(hours=1)).isoformat(timespec="seconds"),
                    )
        for pid, _ in rng.sample(product_ids, 9 if is_user else rng.randint(0, 3)):
            gen.insert(
                "shopping_wishlist", user_id=person["id"], product_id=pid, added_at=(now - timedelta(days=rng.randint(1, 120))).isoformat(timespec="seconds")
            )
        if is_user:
            in_stock = [r[0] for r in gen.db.execute("SELECT id FROM shopping_products WHERE stock > 0 ORDER BY id")]
            for pid in rng.sample(in_stock, 2):
                gen.insert(
                    "shopping_cart_items",
                    user_id=person["id"],
                    product_id=pid,
                    quantity=1,
                    added_at=(now - timedelta(days=rng.randint(1, 10))).isoformat(timespec="seconds"),
                )
