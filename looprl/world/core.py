"""The built-in world's machinery: apps declared as typed functions, served like a web API.

An app is a module with ``APP = AppSpec(name, description, schema)`` and one function per API,
decorated with ``@APP.api``. The function's signature and docstring ARE the API's documentation:
`ApiSpec.doc()` generates what `apis.api_docs.show_api_doc` returns (description, every parameter
with type, required/default, constraints and description, and the response shape). Nothing is
documented twice, and registration fails if a parameter has no description.

Calls behave like a web service:
* arguments are validated by pydantic before the function runs; a bad or unknown argument is a
  422 whose body names the parameter and why;
* an API with an ``access_token`` parameter is protected: a missing, invalid or other-app token is
  a 401; the function sees the logged-in user as ``ctx.user_id``;
* errors are `ApiError(status, message, **extra)`; ``str(err)`` is ``"<status> <json body>"``;
* results are JSON values (dicts, lists, strings, numbers), copied through JSON so callers never
  share objects with the world.

The world's state is one SQLite database per task world (see looprl/world/state.py); API functions
receive a `Ctx` with the connection, the task's frozen clock and the caller's identity.
"""

from __future__ import annotations

import inspect
import json
import re
import sqlite3
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Callable, Literal, get_args, get_origin

from pydantic import ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

__all__ = [
    "ApiError",
    "AppSpec",
    "ApiSpec",
    "Ctx",
    "Clock",
    "PageIndex",
    "PageLimit",
    "paginate",
    "all_apps",
    "get_app",
]

# Standard pagination parameters: every list API takes these (page_limit is capped at 20).
PageIndex = Annotated[int, Field(ge=0, description="the page to return, starting at 0")]
PageLimit = Annotated[int, Field(ge=1, le=20, description="the number of results per page (at most 20)")]


class ApiError(Exception):
    """An API call that failed the way a web service fails: a status code and a JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.body = {"message": message, **extra}
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.status} {json.dumps(self.body, default=str)}"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body}


@dataclass(frozen=True)
class Clock:
    """A task's frozen "now". The process clock is never consulted or patched."""

    now: datetime

    def today(self) -> str:
        return self.now.date().isoformat()

    def timestamp(self) -> str:
        return self.now.isoformat(timespec="seconds")


@dataclass
class Ctx:
    """What an API function sees: the world's database, its clock, and the caller."""

    db: sqlite3.Connection
    clock: Clock
    world: Any  # looprl.world.state.World (typed loosely to avoid an import cycle)
    app: str
    user_id: int | None = None  # set for protected APIs from the access token

    @property
    def now(self) -> datetime:
        return self.clock.now

    def one(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        row = self.db.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(sql, params).fetchall()]

    def insert(self, table: str, **values: Any) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = self.db.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid)

    def update(self, table: str, row_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))

    def delete(self, table: str, row_id: int) -> None:
        self.db.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))

    def require(self, table: str, row_id: int, what: str, owner_column: str | None = "user_id") -> dict[str, Any]:
        """Fetch a row by id: 404 if it does not exist, 403 if it belongs to another user."""
        row = self.one(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
        if row is None:
            raise ApiError(404, f"No {what} found with id {row_id}.")
        if owner_column and self.user_id is not None and row.get(owner_column) != self.user_id:
            raise ApiError(403, f"The {what} with id {row_id} does not belong to you.")
        return row


def paginate(ctx: Ctx, sql: str, params: tuple | list, page_index: int, page_limit: int) -> list[dict[str, Any]]:
    """Run a SELECT and return one page of it (``sql`` must carry its own ORDER BY)."""
    return ctx.all(f"{sql} LIMIT ? OFFSET ?", (*params, page_limit, page_index * page_limit))


# --------------------------------------------------------------------------------------------------
# Documentation from signatures and docstrings


def _type_name(ann: Any) -> str:
    if get_origin(ann) is Annotated:
        return _type_name(get_args(ann)[0])
    if ann is type(None):
        return "null"
    origin = get_origin(ann)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in get_args(ann))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(_type_name(a) for a in get_args(ann))
    if origin in (list, tuple, set):
        args = get_args(ann)
        return f"list[{_type_name(args[0])}]" if args else "list"
    if origin is dict:
        return "object"
    return {int: "integer", str: "string", float: "number", bool: "boolean", dict: "object", list: "list"}.get(ann, getattr(ann, "__name__", str(ann)))


def _constraints(ann: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        # An optional constrained value (``Annotated[int, Field(ge=0)] | None``) keeps its constraints.
        for arg in get_args(ann):
            out.update(_constraints(arg))
        return out
    if get_origin(ann) is not Annotated:
        return out
    for meta in get_args(ann)[1:]:
        items = []
        if isinstance(meta, FieldInfo):
            items = list(meta.metadata)
        else:
            items = [meta]
        for m in items:
            for key in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
                val = getattr(m, key, None)
                if val is not None:
                    out[key] = val
    return out


def _annotated_description(ann: Any) -> str | None:
    if get_origin(ann) is Annotated:
        for meta in get_args(ann)[1:]:
            if isinstance(meta, FieldInfo) and meta.description:
                return meta.description
    return None


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises):\s*$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str], str]:
    """Google-style docstring -> (description, {param: description}, returns text)."""
    doc = inspect.cleandoc(doc or "")
    desc_lines: list[str] = []
    params: dict[str, str] = {}
    returns: list[str] = []
    section = "desc"
    current: str | None = None
    for line in doc.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group(1).lower()
            current = None
            continue
        if section == "desc":
            desc_lines.append(line)
        elif section in ("args", "arguments", "parameters"):
            pm = re.match(r"^\s{0,8}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
            if pm and (line.startswith("    ") or not line.startswith(" ") or line.lstrip() == line.strip()):
                current = pm.group(1)
                params[current] = pm.group(3).strip()
            elif current and line.strip():
                params[current] += " " + line.strip()
        elif section == "returns":
            returns.append(line.strip())
    return " ".join(" ".join(desc_lines).split()), params, "\n".join(r for r in returns if r)


@dataclass
class ApiSpec:
    app: str
    name: str
    fn: Callable[..., Any]
    description: str
    params: list[dict[str, Any]]
    returns: str
    protected: bool
    mutates: bool
    model: Any  # pydantic model validating the arguments

    def doc(self) -> dict[str, Any]:
        return {
            "app_name": self.app,
            "api_name": self.name,
            "description": self.description,
            "requires_access_token": self.protected,
            "parameters": [dict(p) for p in self.params],
            "response": self.returns,
        }

    def call(self, ctx: Ctx, kwargs: dict[str, Any]) -> Any:
        if not isinstance(kwargs, dict):
            raise ApiError(422, "Arguments must be passed as keyword arguments.")
        if self.protected and not kwargs.get("access_token"):
            # Like a web service: no credentials is 401 (as the module docstring promises), not a 422.
            raise ApiError(401, "This API requires an access_token; get one from login.")
        try:
            validated = self.model.model_validate(kwargs)
        except ValidationError as exc:
            errors = []
            for err in exc.errors():
                param = ".".join(str(p) for p in err["loc"]) or "<arguments>"
                msg = "unexpected parameter" if err["type"] == "extra_forbidden" else err["msg"]
                errors.append({"parameter": param, "error": msg, "given": _jsonable(err.get("input"))})
            names = ", ".join(e["parameter"] for e in errors)
            raise ApiError(422, f"Invalid value for parameter(s): {names}.", errors=errors) from None
        values = {name: getattr(validated, name) for name in self.model.model_fields}
        if self.protected:
            ctx.user_id = ctx.world.user_for_token(self.app, values.get("access_token"))
        result = self.fn(ctx, **values)
        return json.loads(json.dumps(result, default=str))


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


class AppSpec:
    """One app: its name, description, SQL schema, and APIs (registered with ``@APP.api``)."""

    def __init__(self, name: str, description: str, schema: str = "") -> None:
        self.name = name
        self.description = description
        self.schema = schema
        self.apis: dict[str, ApiSpec] = {}
        _APPS[name] = self

    def api(self, fn: Callable[..., Any] | None = None, *, mutates: bool | None = None):
        """Register ``fn`` as an API of this app. ``mutates`` defaults to False for show_/search_/list-style names."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.apis[fn.__name__] = self._spec(fn, mutates)
            return fn

        return register(fn) if fn is not None else register

    def _spec(self, fn: Callable[..., Any], mutates: bool | None) -> ApiSpec:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
        description, param_docs, returns = parse_docstring(fn.__doc__ or "")
        if not description:
            raise TypeError(f"API {self.name}.{fn.__name__} has no docstring description")
        fields: dict[str, Any] = {}
        params: list[dict[str, Any]] = []
        names = list(sig.parameters)
        if not names or names[0] != "ctx":
            raise TypeError(f"API {self.name}.{fn.__name__} must take ctx as its first parameter")
        for pname in names[1:]:
            p = sig.parameters[pname]
            ann = hints.get(pname, Any)
            pdesc = param_docs.get(pname) or _annotated_description(ann)
            if not pdesc:
                raise TypeError(f"API {self.name}.{fn.__name__}: parameter {pname!r} has no description in the docstring")
            required = p.default is inspect.Parameter.empty
            fields[pname] = (ann, ... if required else p.default)
            entry: dict[str, Any] = {
                "name": pname,
                "type": _type_name(ann),
                "required": required,
                "description": pdesc,
            }
            if not required:
                entry["default"] = p.default
            cons = _constraints(ann)
            if cons:
                entry["constraints"] = cons
            params.append(entry)
        model = create_model(  # type: ignore[call-overload]
            f"{self.name}_{fn.__name__}_args", __config__=ConfigDict(extra="forbid", strict=False), **fields
        )
        if mutates is None:
            mutates = not fn.__name__.startswith(("show_", "search_", "get_", "list_", "find_", "login", "count_"))
        return ApiSpec(
            app=self.name,
            name=fn.__name__,
            fn=fn,
            description=description,
            params=params,
            returns=returns or "null",
            protected="access_token" in fields,
            mutates=mutates,
            model=model,
        )

    def add_login(self) -> None:
        """Register the standard ``login``/``logout`` APIs for an app whose users have accounts."""
        app_name = self.name

        def login(ctx: Ctx, username: str, password: str) -> dict[str, Any]:
            """Log in to your account and get an access token for the other APIs of this app.

            Args:
                username: your account's username (your email address).
                password: your account's password for this app.

            Returns:
                {"access_token": string, "token_type": "Bearer"}
            """
            token = ctx.world.login(app_name, username, password)
            return {"access_token": token, "token_type": "Bearer"}

        def logout(ctx: Ctx, access_token: str) -> dict[str, Any]:
            """Log out, invalidating the access token.

            Args:
                access_token: the access token from login.

            Returns:
                {"message": string}
            """
            ctx.world.logout(app_name, access_token)
            return {"message": "Successfully logged out."}

        self.apis["login"] = self._spec(login, mutates=False)
        self.apis["logout"] = self._spec(logout, mutates=False)


_APPS: dict[str, AppSpec] = {}


def all_apps() -> dict[str, AppSpec]:
    """Every registered app, importing the built-in app modules on first use."""
    from looprl.world import apps  # noqa: F401  (registers the apps)

    return dict(_APPS)


def get_app(name: str) -> AppSpec:
    apps = all_apps()
    if name not in apps:
        raise ApiError(404, f"No app named {name!r}.", available_apps=sorted(apps))
    return apps[name]
