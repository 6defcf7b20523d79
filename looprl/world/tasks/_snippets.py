"""Shared pieces for every scenario module: ground-truth code snippets
(logging in through the supervisor's passwords, collecting every page of a list API) and
allowed-change predicates for the collateral check.

Ground truths built from these read everything they need through the public ``apis``: no ids or
answers are baked into the code, only the parameters the instruction itself states.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from looprl.world.state import MAIN_USER_ID


def login(*apps: str) -> str:
    """Code that logs in to each app as the supervisor, leaving ``<app>_token`` variables."""
    code = (
        'passwords = {a["account_name"]: a["password"] for a in apis.supervisor.show_account_passwords()}\nmy_email = apis.supervisor.show_profile()["email"]\n'
    )
    for app in apps:
        code += f'{app}_token = apis.{app}.login(username=my_email, password=passwords["{app}"])["access_token"]\n'
    return code


# A paginated list API returns [] past its last page.
COLLECT = '''\
def collect(api, **kwargs):
    """Every item of a paginated list API."""
    items, page_index = [], 0
    while True:
        page = api(**kwargs, page_index=page_index, page_limit=20)
        if not page:
            return items
        items += page
        page_index += 1
'''


def header(*apps: str) -> str:
    return login(*apps) + COLLECT


Predicate = Callable[[dict[str, Any] | None, dict[str, Any] | None], bool]


def inserts_by(user_id: int = MAIN_USER_ID, column: str = "user_id") -> Predicate:
    """New rows owned by ``user_id`` only."""
    return lambda b, a: b is None and a is not None and a.get(column) == user_id


def rows_of(column: str, ids: Iterable[int]) -> Predicate:
    """Any change to rows whose ``column`` is one of ``ids``."""
    allowed = frozenset(ids)
    return lambda b, a: (b or a or {}).get(column) in allowed


def inserts_where(**values: Any) -> Predicate:
    """New rows whose columns have these values."""
    return lambda b, a: b is None and a is not None and all(a.get(k) == v for k, v in values.items())


def updates_of(ids: Iterable[int], columns: Iterable[str]) -> Predicate:
    """Changes to the rows with these ids, touching only these columns (no inserts or deletes)."""
    ids, columns = frozenset(ids), frozenset(columns)
    return lambda b, a: b is not None and a is not None and b["id"] in ids and all(b[k] == a[k] for k in b if k not in columns)


def norm(text: Any) -> str:
    """Whitespace-squeezed, case-folded text for lenient comparisons of free text."""
    return " ".join(str(text or "").split()).casefold()
