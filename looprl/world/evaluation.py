"""State-based evaluation of a task world.

A task is judged on the state it leaves, never on the agent's words. Every task gets:

1. its own checks that the requested changes happened (``TaskSpec.checks``);
2. for questions, "answer is correct": the answer given to ``complete_task`` matches the expected
   one after normalization (case, whitespace, number formats such as "1,234.50" or "$12", and list
   order unless the task asks for an order);
3. "no unrequested changes": every row of every table (the supervisor's task record excluded) is
   compared before and after; each added, removed or changed row must be one the task allows
   (``TaskSpec.allowed_changes``: table -> predicate(before_row, after_row), None = any change).

Reward for training = fraction of checks passed; success = all passed.
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from looprl.world.state import EXCLUDED_FROM_DIFF

NO_ANSWER = object()  # TaskSpec.answer for tasks that are not questions


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class EvalReport:
    checks: list[Check]
    answer: Any = None
    completed: bool = False

    @property
    def reward(self) -> float:
        return sum(c.passed for c in self.checks) / len(self.checks) if self.checks else 0.0

    @property
    def success(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reward": self.reward,
            "success": self.success,
            "completed": self.completed,
            "answer": self.answer,
            "checks": [asdict(c) for c in self.checks],
        }


# --------------------------------------------------------------------------------------------------
# State diff


def _rows(conn: sqlite3.Connection, table: str) -> dict[Any, dict[str, Any]]:
    return {row["rowid"]: dict(row) for row in conn.execute(f"SELECT rowid AS rowid, * FROM {table}")}


def _table_diff(conn: sqlite3.Connection, table: str) -> tuple[dict, dict]:
    """(rows only or differently in main, rows only or differently in before_state), keyed by rowid.

    Rows are matched by rowid through its index and compared column by column with IS NOT (NULL-safe,
    1 equals 1.0 as in Python), so a table's unchanged rows never leave SQLite.
    """
    cols = [r[1] for r in conn.execute(f'PRAGMA main.table_info("{table}")')]
    differs = " OR ".join(f'x."{c}" IS NOT y."{c}"' for c in cols) or "0"
    changed = [r[0] for r in conn.execute(f'SELECT x.rowid FROM main."{table}" x JOIN before_state."{table}" y ON x.rowid = y.rowid WHERE {differs}')]
    only_after = [r[0] for r in conn.execute(f'SELECT rowid FROM main."{table}" WHERE rowid NOT IN (SELECT rowid FROM before_state."{table}")')]
    only_before = [r[0] for r in conn.execute(f'SELECT rowid FROM before_state."{table}" WHERE rowid NOT IN (SELECT rowid FROM main."{table}")')]

    def fetch(schema: str, rowids: list) -> dict:
        out = {}
        for rowid in rowids:
            row = conn.execute(f'SELECT rowid AS rowid, * FROM {schema}."{table}" WHERE rowid = ?', (rowid,)).fetchone()
            out[row["rowid"]] = dict(row)
        return out

    return fetch("main", changed + only_after), fetch("before_state", changed + only_before)


@dataclass
class StateDiff:
    added: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = field(default_factory=dict)

    @classmethod
    def between(cls, before: sqlite3.Connection, after: sqlite3.Connection) -> "StateDiff":
        diff = cls()
        # Compare inside SQLite (a scratch connection holding both states) so that only rows that
        # differ reach Python: a full-table Python diff dominated evaluation time. A row is keyed by
        # rowid: present only after = added, only before = removed, on both sides but different = changed.
        scratch = sqlite3.connect(":memory:")
        scratch.row_factory = sqlite3.Row
        scratch.deserialize(after.serialize())
        scratch.execute("ATTACH DATABASE ':memory:' AS before_state")
        scratch.deserialize(before.serialize(), name="before_state")
        before_tables = {r[0] for r in scratch.execute("SELECT name FROM before_state.sqlite_master WHERE type='table'")}
        tables = [r[0] for r in scratch.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            if table in EXCLUDED_FROM_DIFF:
                continue
            if table in before_tables:
                a, b = _table_diff(scratch, table)
            else:
                a, b = _rows(scratch, table), {}
            added = [a[k] for k in a.keys() - b.keys()]
            removed = [b[k] for k in b.keys() - a.keys()]
            changed = [(b[k], a[k]) for k in a.keys() & b.keys() if a[k] != b[k]]
            if added:
                diff.added[table] = sorted(added, key=lambda r: r["rowid"])
            if removed:
                diff.removed[table] = sorted(removed, key=lambda r: r["rowid"])
            if changed:
                diff.changed[table] = sorted(changed, key=lambda p: p[0]["rowid"])
        scratch.close()
        return diff

    def entries(self) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
        """Every changed row as (table, before or None, after or None)."""
        out: list[tuple[str, dict | None, dict | None]] = []
        for t, rows in self.added.items():
            out += [(t, None, r) for r in rows]
        for t, rows in self.removed.items():
            out += [(t, r, None) for r in rows]
        for t, pairs in self.changed.items():
            out += [(t, b, a) for b, a in pairs]
        return out

    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


# --------------------------------------------------------------------------------------------------
# Answers

_NUMBER = re.compile(r"^[+-]?\$?\s*[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")


def normalize_answer(value: Any) -> Any:
    """Canonical form for comparison: numbers as floats, strings lowercased and squeezed, lists as
    lists of canonical items, None as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (list, tuple, set)):
        return [normalize_answer(v) for v in value]
    if isinstance(value, dict):
        return {str(k).strip().lower(): normalize_answer(v) for k, v in value.items()}
    text = " ".join(str(value).strip().split()).lower()
    if text in ("true", "yes"):
        return True
    if text in ("false", "no"):
        return False
    if text in ("none", "null", ""):
        return None
    candidate = text.replace(" ", "")
    if _NUMBER.match(candidate):
        return float(candidate.replace("$", "").replace(",", "").replace("%", ""))
    return text.rstrip(".")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def answers_match(given: Any, expected: Any, order_matters: bool = False) -> bool:
    g, e = normalize_answer(given), normalize_answer(expected)
    # A one-item list and its item are the same answer; "a, b" given as a string for a list is accepted.
    if isinstance(e, list) and isinstance(g, str) and "," in g:
        g = [normalize_answer(x) for x in g.split(",")]
    if isinstance(e, list) and not isinstance(g, list):
        g = [g]
    if isinstance(g, list) and not isinstance(e, list) and len(g) == 1:
        g = g[0]
    if isinstance(g, list) and isinstance(e, list) and not order_matters:
        key = lambda x: (str(type(x)), repr(x))  # noqa: E731
        g, e = sorted(g, key=key), sorted(e, key=key)
    return _equal(g, e)


# --------------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class CheckContext:
    """What a task's checks see: the final world, the diff against the initial state, the answer."""

    world: Any
    before: sqlite3.Connection
    diff: StateDiff
    answer: Any
    completed: bool
    status: str | None

    def after_one(self, sql: str, params: tuple = ()) -> dict[str, Any] | None:
        row = self.world.db.execute(sql, params).fetchone()
        return dict(row) if row else None

    def after_all(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.world.db.execute(sql, params).fetchall()]

    def before_all(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.before.execute(sql, params).fetchall()]


AllowedChanges = dict[str, Callable[[dict[str, Any] | None, dict[str, Any] | None], bool] | None]


def collateral_check(diff: StateDiff, allowed: AllowedChanges) -> Check:
    bad = []
    for table, before, after in diff.entries():
        if table not in allowed:
            bad.append((table, before, after))
            continue
        predicate = allowed[table]
        if predicate is not None and not predicate(before, after):
            bad.append((table, before, after))
    if not bad:
        return Check("no unrequested changes", True)
    shown = "; ".join(
        f"{t}: {'added' if b is None else 'removed' if a is None else 'changed'} row {(a or b).get('id', (a or b).get('rowid'))}" for t, b, a in bad[:5]
    )
    more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
    return Check("no unrequested changes", False, f"{len(bad)} unrequested change(s): {shown}{more}")


def evaluate_world(world: Any) -> EvalReport:
    task = world.task
    if task is None:
        raise ValueError("this world has no task to evaluate")
    before = world.initial_state()
    diff = StateDiff.between(before, world.db)
    ctx = CheckContext(world=world, before=before, diff=diff, answer=world.answer, completed=world.completed, status=world.status)
    checks: list[Check] = []
    if task.answer is not NO_ANSWER:
        if not ctx.completed:
            checks.append(Check("answer is correct", False, "complete_task was not called with an answer"))
        else:
            ok = answers_match(ctx.answer, task.answer, task.answer_order_matters)
            checks.append(Check("answer is correct", ok, "" if ok else f"expected {task.answer!r}, got {ctx.answer!r}"))
    if task.checks is not None:
        for check in task.checks(ctx):
            checks.append(check)
    checks.append(collateral_check(diff, task.allowed_changes))
    before.close()
    return EvalReport(checks=checks, answer=ctx.answer, completed=ctx.completed)
