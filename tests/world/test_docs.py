"""The apps' documentation, generated from signatures and docstrings, is complete: every API of every
app (both engineers') has a description, every parameter a name, type, required flag, default and
description, and the constraints its annotation declares; the api_docs app serves exactly that
through the world; and the world has at least 200 APIs."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, get_args, get_origin

import pytest
from pydantic.fields import FieldInfo

from looprl.world.core import ApiError, all_apps
from looprl.world.state import World

APIS = [(app.name, spec) for app in all_apps().values() for spec in app.apis.values()]
CONSTRAINT_KEYS = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")


def _declared(ann) -> dict:
    """Constraints an annotation declares, found independently of the doc generator."""
    if get_origin(ann) in (typing.Union, types.UnionType):
        out: dict = {}
        for arg in get_args(ann):
            out.update(_declared(arg))
        return out
    if get_origin(ann) is not Annotated:
        return {}
    out = {}
    for meta in get_args(ann)[1:]:
        for m in meta.metadata if isinstance(meta, FieldInfo) else [meta]:
            out.update({k: getattr(m, k) for k in CONSTRAINT_KEYS if getattr(m, k, None) is not None})
    return out


def test_the_world_has_at_least_200_apis():
    counts = {name: len(app.apis) for name, app in all_apps().items()}
    assert sum(counts.values()) >= 200, f"only {sum(counts.values())} APIs: {counts}"


def test_every_app_has_a_description_and_apis():
    for name, app in all_apps().items():
        assert app.description.strip(), name
        assert app.apis, f"{name} has no APIs"


@pytest.mark.parametrize("app_name,spec", APIS, ids=[f"{a}.{s.name}" for a, s in APIS])
def test_every_parameter_is_documented(app_name, spec):
    doc = spec.doc()
    assert doc["app_name"] == app_name and doc["api_name"] == spec.name
    assert len(doc["description"]) >= 10, f"{app_name}.{spec.name}: description too short"
    assert doc["response"] and doc["response"] != "null" or spec.name == "logout", f"{app_name}.{spec.name}: no response shape"
    sig = inspect.signature(spec.fn)
    hints = typing.get_type_hints(spec.fn, include_extras=True)
    names = [p for p in sig.parameters if p != "ctx"]
    assert [p["name"] for p in doc["parameters"]] == names
    for param in doc["parameters"]:
        where = f"{app_name}.{spec.name}({param['name']})"
        assert param["type"], where
        assert param["description"].strip(), where
        required = sig.parameters[param["name"]].default is inspect.Parameter.empty
        assert param["required"] is required, where
        if not required:
            assert param["default"] == sig.parameters[param["name"]].default, where
        declared = _declared(hints[param["name"]])
        assert param.get("constraints", {}) == declared, f"{where}: constraints {param.get('constraints')} != declared {declared}"
    assert doc["requires_access_token"] is ("access_token" in names)


@pytest.mark.parametrize("app_name,spec", [x for x in APIS if any(p["name"] == "page_limit" for p in x[1].params)], ids=lambda x: getattr(x, "name", x))
def test_list_apis_paginate_at_most_20(app_name, spec):
    params = {p["name"]: p for p in spec.doc()["parameters"]}
    assert "page_index" in params, f"{app_name}.{spec.name} has page_limit but no page_index"
    assert params["page_limit"]["constraints"].get("le") == 20
    assert params["page_index"]["constraints"].get("ge") == 0


def test_api_docs_app_serves_every_doc_through_the_world():
    world = World.base()
    listed = {a["name"] for a in world.call("api_docs", "show_app_descriptions")}
    assert listed == set(all_apps())
    for name, app in all_apps().items():
        described = world.call("api_docs", "show_api_descriptions", {"app_name": name})
        assert [d["name"] for d in described] == list(app.apis)
        for spec in app.apis.values():
            served = world.call("api_docs", "show_api_doc", {"app_name": name, "api_name": spec.name})
            assert served == spec.doc()


def test_api_docs_errors_name_what_exists():
    world = World.base()
    with pytest.raises(ApiError) as err:
        world.call("api_docs", "show_api_doc", {"app_name": "payments", "api_name": "teleport_money"})
    assert err.value.status == 404 and "send_money" in err.value.body["available_apis"]
    with pytest.raises(ApiError) as err:
        world.call("api_docs", "show_api_descriptions", {"app_name": "bank"})
    assert err.value.status == 404 and "payments" in err.value.body["available_apps"]
