"""The api_docs app: how the agent learns what exists. Everything it returns is generated from the
apps' function signatures and docstrings (looprl/world/core.py)."""

from __future__ import annotations

from typing import Any

from looprl.world.core import ApiError, AppSpec, Ctx, all_apps

APP = AppSpec("api_docs", "Documentation of every app and API: list the apps, list an app's APIs, read one API's doc.")


@APP.api
def show_app_descriptions(ctx: Ctx) -> list[dict[str, str]]:
    """List every app with a one-line description.

    Returns:
        [{"name": string, "description": string}]
    """
    return [{"name": a.name, "description": a.description} for a in all_apps().values()]


def _app(app_name: str):
    apps = all_apps()
    if app_name not in apps:
        raise ApiError(404, f"No app named {app_name!r}.", available_apps=sorted(apps))
    return apps[app_name]


@APP.api
def show_api_descriptions(ctx: Ctx, app_name: str) -> list[dict[str, str]]:
    """List the APIs of an app with a one-line description each.

    Args:
        app_name: the app's name, as listed by show_app_descriptions.

    Returns:
        [{"name": string, "description": string}]
    """
    return [{"name": s.name, "description": s.description} for s in _app(app_name).apis.values()]


@APP.api
def show_api_doc(ctx: Ctx, app_name: str, api_name: str) -> dict[str, Any]:
    """Show the full documentation of one API: what it does, every parameter, and the response.

    Args:
        app_name: the app's name, as listed by show_app_descriptions.
        api_name: the API's name, as listed by show_api_descriptions.

    Returns:
        {"app_name": string, "api_name": string, "description": string, "requires_access_token": boolean, "parameters": [{"name": string, "type": string, "required": boolean, "default": any, "description": string, "constraints": object}], "response": string}
    """
    app = _app(app_name)
    spec = app.apis.get(api_name)
    if spec is None:
        raise ApiError(404, f"No API named {api_name!r} in app {app_name!r}.", available_apis=sorted(app.apis))
    return spec.doc()
