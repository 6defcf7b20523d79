"""Fixtures for the env tests: a fake world (the `call` interface of looprl.world.World) and the
sandbox isolation modes this machine supports."""

from __future__ import annotations

from typing import Any

import pytest

from looprl.env.sandbox import Sandbox, bwrap_available


class FakeApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.body = status, {"message": message}
        super().__init__(f"{status} {message}")


class FakeWorld:
    """A key-value 'world' with the World.call interface: apis.kv.set/get/count, apis.kv.boom (a bug)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.calls: list[tuple[str, str, dict]] = []

    def call(self, app: str, api: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((app, api, kwargs))
        if app != "kv":
            raise FakeApiError(404, f"no app {app!r}")
        if api == "set":
            self.data[kwargs["key"]] = kwargs["value"]
            return {"ok": True}
        if api == "get":
            if kwargs.get("key") not in self.data:
                raise FakeApiError(404, f"no key {kwargs.get('key')!r}")
            return self.data[kwargs["key"]]
        if api == "count":
            return len(self.data)
        if api == "boom":
            raise KeyError("a bug in the app")
        raise FakeApiError(404, f"no api {api!r}")


ISOLATIONS = ["bwrap", "unshare"] if bwrap_available() else ["unshare"]


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture(params=ISOLATIONS)
def isolation(request) -> str:
    return request.param


@pytest.fixture
def make_sandbox(world):
    """make_sandbox(isolation="auto", seccomp=True, **limits) -> a Sandbox over the fake world, closed after the test."""
    boxes: list[Sandbox] = []

    def make(isolation: str = "auto", *, seccomp: bool = True, **limits: Any) -> Sandbox:
        box = Sandbox(world.call, isolation=isolation, limits=limits or None, seccomp=seccomp)
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.close()
