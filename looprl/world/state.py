"""World state: the deterministic base database, and a fresh `World` per task.

The base world is generated once per process from a seed (Faker and `random.Random` seeded, a fixed
reference date): the user, their contacts, dozens of other people with accounts across apps, and
months of content in every app. The same seed gives the same database, byte for byte
(`base_fingerprint`). It is kept as serialized SQLite bytes; a task's world is those bytes
deserialized into a new in-memory database plus the task's own setup, which takes milliseconds
(benchmarks/bench_world_reset.py). The post-setup bytes are kept so that evaluation can diff the
final state against the initial one.

API calls run inside a SAVEPOINT: a call that raises leaves no partial writes behind.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from faker import Faker

from looprl.world.core import ApiError, Clock, Ctx, all_apps, get_app

BASE_NOW = datetime(2026, 5, 18, 10, 30, 0)  # the reference "today" of the base world
DEFAULT_SEED = 0
MAIN_USER_ID = 1
N_PEOPLE = 60

CORE_SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE, phone_number TEXT NOT NULL UNIQUE, birthday TEXT, city TEXT
);
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), app TEXT NOT NULL,
    username TEXT NOT NULL, password TEXT NOT NULL, UNIQUE(app, username)
);
"""

# Tables whose changes are not "state changes" for the collateral check: the supervisor's record of
# the active task (complete_task writes it).
EXCLUDED_FROM_DIFF = frozenset({"supervisor_task"})


@dataclass
class Gen:
    """What an app's ``seed(gen)`` gets to generate its content deterministically."""

    db: sqlite3.Connection
    fake: Faker
    rng: random.Random
    now: datetime
    people: list[dict[str, Any]]  # every user, the main user first
    user: dict[str, Any]  # the main user
    friends: list[dict[str, Any]] = field(default_factory=list)  # people the user knows (contacts)

    def insert(self, table: str, **values: Any) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        return int(self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values())).lastrowid)


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _make_people(gen_fake: Faker, rng: random.Random) -> list[dict[str, Any]]:
    people = []
    seen_emails: set[str] = set()
    seen_phones: set[str] = set()
    while len(people) < N_PEOPLE:
        first, last = gen_fake.first_name(), gen_fake.last_name()
        email = f"{first}.{last}@{rng.choice(['gmail.com', 'yahoo.com', 'outlook.com', 'proton.me'])}".lower()
        phone = f"{rng.randint(200, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
        if email in seen_emails or phone in seen_phones:
            continue
        seen_emails.add(email)
        seen_phones.add(phone)
        people.append(
            {
                "id": len(people) + 1,
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone_number": phone,
                "birthday": gen_fake.date_between_dates(datetime(1965, 1, 1), datetime(2004, 12, 31)).isoformat(),
                "city": gen_fake.city(),
            }
        )
    return people


def build_base(seed: int = DEFAULT_SEED) -> sqlite3.Connection:
    """Generate the base world from scratch (use `base_bytes` for the cached copy)."""
    apps = all_apps()
    conn = _connect()
    conn.executescript(CORE_SCHEMA)
    for app in apps.values():
        if app.schema:
            conn.executescript(app.schema)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    people = _make_people(fake, rng)
    for p in people:
        conn.execute(
            "INSERT INTO users (id, first_name, last_name, email, phone_number, birthday, city) VALUES (?,?,?,?,?,?,?)",
            (p["id"], p["first_name"], p["last_name"], p["email"], p["phone_number"], p["birthday"], p["city"]),
        )
    # Every person has an account on every app with a login, with their own password per app.
    for app in sorted(apps):
        if "login" not in apps[app].apis:
            continue
        for p in people:
            password = fake.password(length=12, special_chars=False)
            conn.execute("INSERT INTO accounts (user_id, app, username, password) VALUES (?,?,?,?)", (p["id"], app, p["email"], password))
    gen = Gen(db=conn, fake=fake, rng=rng, now=BASE_NOW, people=people, user=people[0], friends=people[1:31])
    # Seed apps in a fixed order; each app gets its own RNG stream so adding content to one app does
    # not reshuffle another's.
    from looprl.world.apps import APP_ORDER

    for name in APP_ORDER:
        module = apps.get(name)
        seeder = getattr(_app_module(name), "seed", None) if module else None
        if seeder is None:
            continue
        sub_seed = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
        gen.rng = random.Random(sub_seed)
        gen.fake.seed_instance(sub_seed)
        seeder(gen)
    conn.execute("VACUUM")
    return conn


def _app_module(name: str):
    import importlib

    return importlib.import_module(f"looprl.world.apps.{name}")


@lru_cache(maxsize=16)
def base_bytes(seed: int = DEFAULT_SEED) -> bytes:
    """The base world, serialized (built once per process and seed)."""
    return build_base(seed).serialize()


def base_fingerprint(seed: int = DEFAULT_SEED) -> str:
    """sha256 of the base world's rows, table by table (stable across SQLite page layouts)."""
    conn = _connect()
    conn.deserialize(base_bytes(seed))
    h = hashlib.sha256()
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
        h.update(table.encode())
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


class World:
    """One task's world: its database, frozen clock, logged-in sessions and the record of API calls."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, task: Any = None, seed: int = DEFAULT_SEED) -> None:
        self.db = conn
        self.clock = clock
        self.task = task
        self.seed = seed
        self._tokens: dict[str, tuple[str, int]] = {}
        self._token_counter = 0
        self.call_log: list[dict[str, Any]] = []
        self._initial: bytes | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def base(cls, seed: int = DEFAULT_SEED, now: datetime = BASE_NOW) -> "World":
        conn = _connect()
        conn.deserialize(base_bytes(seed))
        world = cls(conn, Clock(now), None, seed)
        world._initial = conn.serialize()
        return world

    @classmethod
    def for_task(cls, task: Any, seed: int | None = None) -> "World":
        """A fresh world for ``task``: its base world (``task.world`` unless ``seed`` is given)
        plus the task's own setup."""
        if seed is None:
            seed = getattr(task, "world", DEFAULT_SEED)
        world = cls.base(seed, getattr(task, "now", None) or BASE_NOW)
        world.task = task
        world.db.execute(
            "INSERT INTO supervisor_task (id, task_id, instruction, completed, status, answer) VALUES (1, ?, ?, 0, NULL, NULL)",
            (task.id, task.instruction),
        )
        if task.setup is not None:
            task.setup(world.ctx("setup", user_id=MAIN_USER_ID))
        world._initial = world.db.serialize()
        return world

    def ctx(self, app: str, user_id: int | None = None) -> Ctx:
        return Ctx(db=self.db, clock=self.clock, world=self, app=app, user_id=user_id)

    @property
    def now(self) -> datetime:
        return self.clock.now

    # ---- calls ----------------------------------------------------------------------------------
    def call(self, app: str, api: str, kwargs: dict[str, Any] | None = None) -> Any:
        """Run ``apis.<app>.<api>(**kwargs)``; raises ApiError the way a web service answers errors."""
        kwargs = dict(kwargs or {})
        record: dict[str, Any] = {"app": app, "api": api, "args": kwargs}
        try:
            spec = get_app(app).apis.get(api)
            if spec is None:
                raise ApiError(404, f"No API named {api!r} in app {app!r}.", available_apis=sorted(get_app(app).apis))
            self.db.execute("SAVEPOINT api_call")
            try:
                result = spec.call(self.ctx(app), kwargs)
            except BaseException:
                self.db.execute("ROLLBACK TO api_call")
                self.db.execute("RELEASE api_call")
                raise
            self.db.execute("RELEASE api_call")
        except ApiError as err:
            record.update(status=err.status, ok=False, error=err.body)
            self.call_log.append(record)
            raise
        except Exception as exc:  # a bug in an app must not look like the agent's fault silently
            record.update(status=500, ok=False, error={"message": f"internal error: {type(exc).__name__}: {exc}"})
            self.call_log.append(record)
            raise ApiError(500, f"Internal server error in {app}.{api}: {type(exc).__name__}: {exc}") from exc
        record.update(status=200, ok=True)
        self.call_log.append(record)
        return result

    # ---- sessions -------------------------------------------------------------------------------
    def login(self, app: str, username: str, password: str) -> str:
        row = self.db.execute("SELECT user_id, password FROM accounts WHERE app = ? AND username = ?", (app, username)).fetchone()
        if row is None:
            raise ApiError(401, f"No {app} account with username {username!r}.")
        if row["password"] != password:
            raise ApiError(401, "Invalid password.")
        self._token_counter += 1
        token = hashlib.sha256(f"{app}:{row['user_id']}:{self._token_counter}:{id(self)}".encode()).hexdigest()[:32]
        self._tokens[token] = (app, int(row["user_id"]))
        return token

    def logout(self, app: str, token: str) -> None:
        self.user_for_token(app, token)
        del self._tokens[token]

    def user_for_token(self, app: str, token: Any) -> int:
        if not token:
            raise ApiError(401, "This API requires an access_token; get one from login.")
        entry = self._tokens.get(token)
        if entry is None:
            raise ApiError(401, "Invalid or expired access_token.")
        if entry[0] != app:
            raise ApiError(401, f"This access_token is for the {entry[0]} app, not {app}.")
        return entry[1]

    # ---- the supervisor and the task record -----------------------------------------------------
    @property
    def supervisor(self) -> dict[str, Any]:
        row = self.db.execute("SELECT first_name, last_name, email, phone_number FROM users WHERE id = ?", (MAIN_USER_ID,)).fetchone()
        return dict(row)

    def _task_record(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM supervisor_task WHERE id = 1").fetchone()
        return dict(row) if row else None

    @property
    def completed(self) -> bool:
        rec = self._task_record()
        return bool(rec and rec["completed"])

    @property
    def answer(self) -> Any:
        import json

        rec = self._task_record()
        if not rec or rec["answer"] is None:
            return None
        return json.loads(rec["answer"])

    @property
    def status(self) -> str | None:
        rec = self._task_record()
        return rec["status"] if rec else None

    # ---- evaluation -----------------------------------------------------------------------------
    def initial_state(self) -> sqlite3.Connection:
        """A read-only-by-convention copy of the state right after setup."""
        conn = _connect()
        conn.deserialize(self._initial if self._initial is not None else base_bytes(self.seed))
        return conn

    def evaluate(self):
        """Run the task's checks on the final state; see looprl/world/evaluation.py."""
        from looprl.world.evaluation import evaluate_world

        return evaluate_world(self)
