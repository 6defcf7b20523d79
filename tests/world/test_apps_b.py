"""The payments, shopping, expenses and files apps behave like web services (401 without a valid
token, 422 naming the parameter, 404, 403 for another user's record, 409 on conflicts, pages of at
most 20) and keep their own rules (money is conserved, balances add up to zero, stock follows
orders, paths follow the folder tree, failed calls leave nothing behind)."""

from __future__ import annotations

import pytest

from looprl.world.core import ApiError
from looprl.world.state import BASE_NOW, MAIN_USER_ID, World


@pytest.fixture()
def world():
    return World.base()


def login(world: World, app: str, user_id: int = MAIN_USER_ID) -> str:
    row = world.db.execute("SELECT username, password FROM accounts WHERE app = ? AND user_id = ?", (app, user_id)).fetchone()
    return world.call(app, "login", {"username": row["username"], "password": row["password"]})["access_token"]


def fails(world: World, app: str, api: str, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        world.call(app, api, kwargs)
    return err.value


def one(world: World, sql: str, params: tuple = ()):
    row = world.db.execute(sql, params).fetchone()
    return dict(row) if row else None


# -------------------------------------------------------------------------------------------------
# Web-service behaviour, app by app

PROTECTED = [("payments", "show_balance"), ("shopping", "show_cart"), ("expenses", "show_groups"), ("files", "show_storage_usage")]


@pytest.mark.parametrize("app,api", PROTECTED)
def test_401_without_a_valid_token(world, app, api):
    assert fails(world, app, api).status == 401
    assert fails(world, app, api, access_token="").status == 401
    assert fails(world, app, api, access_token="not-a-token").status == 401
    other_app_token = login(world, "notes")
    err = fails(world, app, api, access_token=other_app_token)
    assert err.status == 401 and "notes" in err.body["message"]
    token = login(world, app)
    world.call(app, api, {"access_token": token})
    world.call(app, "logout", {"access_token": token})
    assert fails(world, app, api, access_token=token).status == 401


@pytest.mark.parametrize("app", ["payments", "shopping", "expenses", "files"])
def test_login_with_a_wrong_password_is_401(world, app):
    email = world.supervisor["email"]
    assert fails(world, app, "login", username=email, password="wrong").status == 401
    assert fails(world, app, "login", username="nobody@example.com", password="x").status == 401


def test_422_names_the_parameter(world):
    pay = login(world, "payments")
    err = fails(world, "payments", "send_money", access_token=pay, receiver_email="x@y.z", amount=-5, description="x")
    assert err.status == 422 and [e["parameter"] for e in err.body["errors"]] == ["amount"]
    err = fails(world, "payments", "show_transactions", access_token=pay, page_limit=21)
    assert err.status == 422 and err.body["errors"][0]["parameter"] == "page_limit"
    err = fails(world, "payments", "show_balance", access_token=pay, currency="EUR")
    assert err.status == 422 and err.body["errors"][0] == {"parameter": "currency", "error": "unexpected parameter", "given": "EUR"}
    err = fails(world, "shopping", "search_products", category="weapons")
    assert err.status == 422 and err.body["errors"][0]["parameter"] == "category" and "electronics" in err.body["errors"][0]["error"]
    exp = login(world, "expenses")
    group = world.call("expenses", "show_groups", {"access_token": exp})[0]
    members = world.call("expenses", "show_group", {"access_token": exp, "group_id": group["group_id"]})["members"]
    err = fails(
        world, "expenses", "add_expense", access_token=exp, group_id=group["group_id"], description="x", amount=10, exact_shares={members[0]["email"]: 3}
    )
    assert err.status == 422 and err.body["errors"][0]["parameter"] == "exact_shares" and "10.00" in err.body["errors"][0]["error"]
    err = fails(world, "files", "create_file", access_token=login(world, "files"), name="run.exe", content="x")
    assert err.status == 422 and err.body["errors"][0]["parameter"] == "name"


def test_404_for_missing_records(world):
    assert fails(world, "payments", "show_transaction", access_token=login(world, "payments"), transaction_id=10**6).status == 404
    assert (
        fails(world, "payments", "send_money", access_token=login(world, "payments"), receiver_email="ghost@nowhere.org", amount=1, description="x").status
        == 404
    )
    assert fails(world, "shopping", "show_product", product_id=10**6).status == 404
    assert fails(world, "expenses", "show_group", access_token=login(world, "expenses"), group_id=10**6).status == 404
    assert fails(world, "files", "show_file", access_token=login(world, "files"), file_id=10**6).status == 404


def test_403_for_another_users_records(world):
    tx = one(world, "SELECT id FROM payments_transactions WHERE sender_id != 1 AND receiver_id != 1")
    assert fails(world, "payments", "show_transaction", access_token=login(world, "payments"), transaction_id=tx["id"]).status == 403
    order = one(world, "SELECT id FROM shopping_orders WHERE user_id != 1")
    assert fails(world, "shopping", "show_order", access_token=login(world, "shopping"), order_id=order["id"]).status == 403
    group = one(world, "SELECT id FROM expenses_groups WHERE id NOT IN (SELECT group_id FROM expenses_members WHERE user_id = 1)")
    assert fails(world, "expenses", "show_group", access_token=login(world, "expenses"), group_id=group["id"]).status == 403
    f = one(world, "SELECT id FROM files_files WHERE user_id != 1 AND id NOT IN (SELECT file_id FROM files_shares WHERE user_id = 1)")
    assert fails(world, "files", "show_file_content", access_token=login(world, "files"), file_id=f["id"]).status == 403
    review = one(world, "SELECT id FROM shopping_reviews WHERE user_id != 1")
    assert fails(world, "shopping", "delete_review", access_token=login(world, "shopping"), review_id=review["id"]).status == 403


def test_409_on_conflicts(world):
    pay = login(world, "payments")
    friend = world.call("payments", "show_friends", {"access_token": pay})[0]
    assert fails(world, "payments", "add_friend", access_token=pay, email=friend["email"]).status == 409
    err = fails(world, "payments", "send_money", access_token=pay, receiver_email=friend["email"], amount=9999, description="too much")
    assert err.status == 409 and "Insufficient balance" in err.body["message"]
    shop = login(world, "shopping")
    delivered = world.call("shopping", "show_orders", {"access_token": shop, "status": "delivered"})[0]
    assert fails(world, "shopping", "cancel_order", access_token=shop, order_id=delivered["order_id"]).status == 409
    mine = world.call("shopping", "show_my_reviews", {"access_token": shop})[0]
    assert fails(world, "shopping", "write_review", access_token=shop, product_id=mine["product_id"], rating=5, title="again").status == 409
    exp = login(world, "expenses")
    group = world.call("expenses", "show_groups", {"access_token": exp})[0]
    assert fails(world, "expenses", "add_group_member", access_token=exp, group_id=group["group_id"], email=world.supervisor["email"]).status == 409
    assert fails(world, "expenses", "delete_group", access_token=exp, group_id=group["group_id"]).status == 409
    fil = login(world, "files")
    tree = world.call("files", "show_folder_tree", {"access_token": fil})
    sub = tree["subfolders"][0]
    assert fails(world, "files", "create_folder", access_token=fil, name=sub["name"]).status == 409
    assert fails(world, "files", "delete_folder", access_token=fil, folder_id=sub["folder_id"]).status == 409


def test_failed_calls_leave_no_partial_writes(world):
    shop = login(world, "shopping")
    cart = world.call("shopping", "show_cart", {"access_token": shop})
    assert cart["items"]
    before = world.db.serialize()
    assert fails(world, "shopping", "checkout", access_token=shop, address_id=1, payment_card_id=10**6).status == 404
    assert world.db.serialize() == before
    assert world.call("shopping", "show_cart", {"access_token": shop}) == cart


# -------------------------------------------------------------------------------------------------
# Pagination


@pytest.mark.parametrize(
    "app,api,sql",
    [
        ("payments", "show_transactions", "SELECT COUNT(*) FROM payments_transactions WHERE sender_id = 1 OR receiver_id = 1"),
        ("shopping", "show_orders", "SELECT COUNT(*) FROM shopping_orders WHERE user_id = 1"),
        ("files", "search_files", "SELECT COUNT(*) FROM files_files WHERE user_id = 1"),
    ],
)
def test_paging_visits_every_record_once(world, app, api, sql):
    token = login(world, app)
    seen, page_index = [], 0
    while True:
        page = world.call(app, api, {"access_token": token, "page_index": page_index, "page_limit": 7})
        assert len(page) <= 7
        if not page:
            break
        seen += page
        page_index += 1
    key = next(k for k in seen[0] if k.endswith("_id"))
    assert len(seen) == len({r[key] for r in seen}) == world.db.execute(sql).fetchone()[0]
    assert page_index >= 2, "the user's records should span several pages"


def test_sort_orders(world):
    pay = login(world, "payments")
    amounts = [t["amount"] for t in world.call("payments", "show_transactions", {"access_token": pay, "sort_by": "-amount", "page_limit": 20})]
    assert amounts == sorted(amounts, reverse=True)
    prices = [p["price"] for p in world.call("shopping", "search_products", {"category": "kitchen", "sort_by": "price", "page_limit": 20})]
    assert prices == sorted(prices)
    sizes = [f["size_bytes"] for f in world.call("files", "search_files", {"access_token": login(world, "files"), "sort_by": "-size_bytes", "page_limit": 20})]
    assert sizes == sorted(sizes, reverse=True)


# -------------------------------------------------------------------------------------------------
# App rules


def test_payments_money_is_conserved_and_requests_resolve_once(world):
    pay = login(world, "payments")

    def total():
        return world.db.execute("SELECT ROUND(SUM(balance), 2) FROM payments_wallets").fetchone()[0]

    start = total()
    friend = world.call("payments", "show_friends", {"access_token": pay})[0]
    mine = world.call("payments", "show_balance", {"access_token": pay})["balance"]
    theirs = one(world, "SELECT balance FROM payments_wallets WHERE user_id = ?", (friend["user_id"],))["balance"]
    sent = world.call("payments", "send_money", {"access_token": pay, "receiver_email": friend["email"], "amount": 12.34, "description": "Lunch"})
    assert sent["balance"] == round(mine - 12.34, 2)
    assert one(world, "SELECT balance FROM payments_wallets WHERE user_id = ?", (friend["user_id"],))["balance"] == round(theirs + 12.34, 2)
    assert total() == start
    tx = world.call("payments", "show_transaction", {"access_token": pay, "transaction_id": sent["transaction_id"]})
    assert tx["created_at"] == BASE_NOW.isoformat(timespec="seconds")  # the task's clock, not the wall clock
    request = world.call("payments", "show_requests", {"access_token": pay, "status": "pending"})[0]
    paid = world.call("payments", "approve_request", {"access_token": pay, "request_id": request["request_id"]})
    assert world.call("payments", "show_transaction", {"access_token": pay, "transaction_id": paid["transaction_id"]})["request_id"] == request["request_id"]
    assert world.call("payments", "show_request", {"access_token": pay, "request_id": request["request_id"]})["status"] == "approved"
    assert fails(world, "payments", "decline_request", access_token=pay, request_id=request["request_id"]).status == 409
    assert total() == start
    outgoing = world.call("payments", "show_requests", {"access_token": pay, "direction": "outgoing", "status": "pending"})[0]
    assert fails(world, "payments", "approve_request", access_token=pay, request_id=outgoing["request_id"]).status == 403
    card = world.call("supervisor", "show_payment_cards")[0]
    added = world.call("payments", "add_funds", {"access_token": pay, "amount": 100, "payment_card_id": card["payment_card_id"]})
    assert added["balance"] == round(paid["balance"] + 100, 2)


def test_shopping_checkout_cancel_and_return(world):
    shop = login(world, "shopping")
    world.call("shopping", "clear_cart", {"access_token": shop})
    product = world.call("shopping", "search_products", {"in_stock_only": True, "sort_by": "-price", "page_limit": 1})[0]
    stock = world.call("shopping", "show_product", {"product_id": product["product_id"]})["stock"]
    world.call("shopping", "add_to_cart", {"access_token": shop, "product_id": product["product_id"], "quantity": 1})
    world.call("shopping", "add_to_cart", {"access_token": shop, "product_id": product["product_id"], "quantity": 1})
    assert world.call("shopping", "show_cart", {"access_token": shop})["total"] == round(2 * product["price"], 2)
    order = world.call("shopping", "checkout", {"access_token": shop, "address_id": 1, "payment_card_id": 1})
    assert world.call("shopping", "show_cart", {"access_token": shop}) == {"items": [], "total": 0}
    assert world.call("shopping", "show_product", {"product_id": product["product_id"]})["stock"] == stock - 2
    assert world.call("shopping", "show_order", {"access_token": shop, "order_id": order["order_id"]})["status"] == "placed"
    assert fails(world, "shopping", "checkout", access_token=shop, address_id=1, payment_card_id=1).status == 409  # empty cart
    world.call("shopping", "cancel_order", {"access_token": shop, "order_id": order["order_id"]})
    assert world.call("shopping", "show_product", {"product_id": product["product_id"]})["stock"] == stock
    # Returns: only delivered items, within 90 days, never more than bought.
    delivered = world.call("shopping", "show_orders", {"access_token": shop, "status": "delivered", "sort_by": "-created_at", "page_limit": 20})
    recent = delivered[0]["items"][0]
    ret = world.call(
        "shopping", "initiate_return", {"access_token": shop, "order_item_id": recent["order_item_id"], "reason": "Too big", "quantity": recent["quantity"]}
    )
    assert ret["refund_amount"] == round(recent["unit_price"] * recent["quantity"], 2)
    assert fails(world, "shopping", "initiate_return", access_token=shop, order_item_id=recent["order_item_id"], reason="again").status == 409
    old = world.call("shopping", "show_orders", {"access_token": shop, "status": "delivered", "end_date": "2026-01-31", "page_limit": 1})[0]
    err = fails(world, "shopping", "initiate_return", access_token=shop, order_item_id=old["items"][0]["order_item_id"], reason="late")
    assert err.status == 409 and "90 days" in err.body["message"]


def test_expenses_balances_add_up_and_settle_up_zeroes_the_smaller_side(world):
    exp = login(world, "expenses")
    for group in world.call("expenses", "show_groups", {"access_token": exp}):
        balances = world.call("expenses", "show_balances", {"access_token": exp, "group_id": group["group_id"]})
        assert abs(sum(b["balance"] for b in balances)) < 0.05
    group = world.call("expenses", "show_groups", {"access_token": exp})[0]
    members = world.call("expenses", "show_group", {"access_token": exp, "group_id": group["group_id"]})["members"]
    added = world.call("expenses", "add_expense", {"access_token": exp, "group_id": group["group_id"], "description": "Odd cents", "amount": 100.01})
    shares = [s["share"] for s in added["splits"]]
    assert len(shares) == len(members) and max(shares) - min(shares) <= 0.01 + 1e-9
    assert round(sum(shares), 2) == 100.01
    balances = {b["email"]: b["balance"] for b in world.call("expenses", "show_balances", {"access_token": exp, "group_id": group["group_id"]})}
    me = world.supervisor["email"]
    other = next(e for e, b in balances.items() if e != me and (b > 0) != (balances[me] > 0) and b != 0)
    settled = world.call("expenses", "settle_up", {"access_token": exp, "group_id": group["group_id"], "with_email": other})
    after = {b["email"]: b["balance"] for b in world.call("expenses", "show_balances", {"access_token": exp, "group_id": group["group_id"]})}
    assert settled["amount"] == round(min(abs(balances[me]), abs(balances[other])), 2)
    assert abs(after[me]) < 0.01 or abs(after[other]) < 0.01
    exact = world.call(
        "expenses",
        "add_expense",
        {"access_token": exp, "group_id": group["group_id"], "description": "Exact", "amount": 30, "exact_shares": {me: 10, other: 20}},
    )
    assert {s["email"]: s["share"] for s in exact["splits"]} == {me: 10, other: 20}


def test_files_paths_moves_sharing_and_deletes(world):
    fil = login(world, "files")
    docs = world.call("files", "create_folder", {"access_token": fil, "name": "Plans"})
    inner = world.call("files", "create_folder", {"access_token": fil, "name": "2026", "parent_folder_id": docs["folder_id"]})
    assert inner["path"] == "/Plans/2026"
    made = world.call("files", "create_file", {"access_token": fil, "name": "ideas.md", "content": "hello", "folder_id": inner["folder_id"]})
    assert made["path"] == "/Plans/2026/ideas.md"
    assert fails(world, "files", "move_folder", access_token=fil, folder_id=docs["folder_id"], new_parent_folder_id=inner["folder_id"]).status == 409
    world.call("files", "update_file_content", {"access_token": fil, "file_id": made["file_id"], "content": "world", "append": True})
    assert world.call("files", "show_file_content", {"access_token": fil, "file_id": made["file_id"]})["content"] == "hello\nworld"
    assert world.call("files", "show_file", {"access_token": fil, "file_id": made["file_id"]})["size_bytes"] == len("hello\nworld")
    # Sharing: the other person can read (not edit) a view share.
    friend_id = world.db.execute("SELECT id FROM users WHERE id != 1 ORDER BY id LIMIT 1").fetchone()[0]
    friend_email = one(world, "SELECT email FROM users WHERE id = ?", (friend_id,))["email"]
    world.call("files", "share_file", {"access_token": fil, "file_id": made["file_id"], "email": friend_email})
    theirs = login(world, "files", friend_id)
    assert world.call("files", "show_file_content", {"access_token": theirs, "file_id": made["file_id"]})["content"] == "hello\nworld"
    assert fails(world, "files", "update_file_content", access_token=theirs, file_id=made["file_id"], content="x").status == 403
    assert made["file_id"] in [f["file_id"] for f in world.call("files", "show_shared_with_me", {"access_token": theirs, "page_limit": 20})]
    binary = one(world, "SELECT id FROM files_files WHERE user_id = 1 AND content IS NULL")
    assert fails(world, "files", "show_file_content", access_token=fil, file_id=binary["id"]).status == 409
    usage = world.call("files", "show_storage_usage", {"access_token": fil})
    assert usage["used_bytes"] == sum(e["size_bytes"] for e in usage["by_extension"])
    gone = world.call("files", "delete_folder", {"access_token": fil, "folder_id": docs["folder_id"], "recursive": True})
    assert gone == {"message": "Folder deleted.", "deleted_files": 1, "deleted_folders": 2}
    assert one(world, "SELECT id FROM files_shares WHERE file_id = ?", (made["file_id"],)) is None
