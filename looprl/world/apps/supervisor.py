"""The supervisor app: the user the agent works for — their profile, addresses, payment cards,
account passwords, the active task, and `complete_task`. No login: it is the agent's own channel
to its supervisor."""

from __future__ import annotations

import json
from typing import Any, Literal

from looprl.world.core import ApiError, AppSpec, Ctx
from looprl.world.state import MAIN_USER_ID, Gen

APP = AppSpec(
    "supervisor",
    "Information about your supervisor (the user you work for): profile, addresses, payment cards, "
    "passwords of their app accounts, and the active task, which you mark complete with complete_task.",
    schema="""
CREATE TABLE supervisor_addresses (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, name TEXT NOT NULL, street_address TEXT NOT NULL,
    city TEXT NOT NULL, state TEXT NOT NULL, zip_code TEXT NOT NULL, country TEXT NOT NULL
);
CREATE TABLE supervisor_payment_cards (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, card_name TEXT NOT NULL, owner_name TEXT NOT NULL,
    card_number TEXT NOT NULL, expiry_year INTEGER NOT NULL, expiry_month INTEGER NOT NULL, cvv_number TEXT NOT NULL
);
CREATE TABLE supervisor_task (
    id INTEGER PRIMARY KEY, task_id TEXT, instruction TEXT, completed INTEGER NOT NULL DEFAULT 0, status TEXT, answer TEXT
);
""",
)


@APP.api
def show_profile(ctx: Ctx) -> dict[str, Any]:
    """Show your supervisor's profile.

    Returns:
        {"first_name": string, "last_name": string, "email": string, "phone_number": string, "birthday": string}
    """
    return ctx.one("SELECT first_name, last_name, email, phone_number, birthday FROM users WHERE id = ?", (MAIN_USER_ID,))


@APP.api
def show_addresses(ctx: Ctx) -> list[dict[str, Any]]:
    """Show your supervisor's saved addresses.

    Returns:
        [{"address_id": integer, "name": string, "street_address": string, "city": string, "state": string, "zip_code": string, "country": string}]
    """
    rows = ctx.all("SELECT * FROM supervisor_addresses WHERE user_id = ? ORDER BY id", (MAIN_USER_ID,))
    return [{"address_id": r.pop("id"), **{k: v for k, v in r.items() if k != "user_id"}} for r in rows]


@APP.api
def show_payment_cards(ctx: Ctx) -> list[dict[str, Any]]:
    """Show your supervisor's payment cards.

    Returns:
        [{"payment_card_id": integer, "card_name": string, "owner_name": string, "card_number": string, "expiry_year": integer, "expiry_month": integer, "cvv_number": string}]
    """
    rows = ctx.all("SELECT * FROM supervisor_payment_cards WHERE user_id = ? ORDER BY id", (MAIN_USER_ID,))
    return [{"payment_card_id": r.pop("id"), **{k: v for k, v in r.items() if k != "user_id"}} for r in rows]


@APP.api
def show_account_passwords(ctx: Ctx) -> list[dict[str, Any]]:
    """Show the passwords of your supervisor's accounts on every app (the username is their email).

    Returns:
        [{"account_name": string, "password": string}]
    """
    rows = ctx.all("SELECT app, password FROM accounts WHERE user_id = ? ORDER BY app", (MAIN_USER_ID,))
    return [{"account_name": r["app"], "password": r["password"]} for r in rows]


@APP.api
def show_active_task(ctx: Ctx) -> dict[str, Any]:
    """Show the task your supervisor gave you.

    Returns:
        {"task_id": string, "instruction": string, "completed": boolean}
    """
    rec = ctx.one("SELECT task_id, instruction, completed FROM supervisor_task WHERE id = 1")
    if rec is None:
        raise ApiError(404, "There is no active task.")
    return {"task_id": rec["task_id"], "instruction": rec["instruction"], "completed": bool(rec["completed"])}


@APP.api(mutates=True)
def complete_task(ctx: Ctx, answer: Any = None, status: Literal["success", "fail"] = "success") -> dict[str, Any]:
    """Mark the active task as done. Call it exactly once, at the end. For a question, pass the answer.

    Args:
        answer: the answer to the task's question (a number, string or list), or null when the task asks for no answer.
        status: "success" if you did the task, "fail" if it cannot be done.

    Returns:
        {"message": string}
    """
    rec = ctx.one("SELECT completed FROM supervisor_task WHERE id = 1")
    if rec is None:
        raise ApiError(404, "There is no active task.")
    if rec["completed"]:
        raise ApiError(409, "The task was already marked complete.")
    try:
        encoded = json.dumps(answer)
    except TypeError:
        raise ApiError(
            422, "Invalid value for parameter(s): answer.", errors=[{"parameter": "answer", "error": "must be JSON: a number, string, boolean, list or object"}]
        ) from None
    ctx.db.execute("UPDATE supervisor_task SET completed = 1, status = ?, answer = ? WHERE id = 1", (status, encoded))
    return {"message": "Task marked complete."}


def seed(gen: Gen) -> None:
    user = gen.user
    for name in ("Home", "Work"):
        gen.insert(
            "supervisor_addresses",
            user_id=MAIN_USER_ID,
            name=name,
            street_address=gen.fake.street_address(),
            city=gen.fake.city(),
            state=gen.fake.state_abbr(),
            zip_code=gen.fake.zipcode(),
            country="United States",
        )
    for card_name in ("Visa", "MasterCard", "Amex"):
        gen.insert(
            "supervisor_payment_cards",
            user_id=MAIN_USER_ID,
            card_name=f"{card_name} {gen.rng.choice(['Platinum', 'Gold', 'Everyday'])}",
            owner_name=f"{user['first_name']} {user['last_name']}",
            card_number="".join(str(gen.rng.randint(0, 9)) for _ in range(16)),
            expiry_year=gen.now.year + gen.rng.randint(1, 5),
            expiry_month=gen.rng.randint(1, 12),
            cvv_number=f"{gen.rng.randint(100, 999)}",
        )
