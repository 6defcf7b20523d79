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


# -- the real AppWorld (tests/env/test_appworld*.py) -------------------------------------------------
# One AppWorld venv check and one self-made AppWorld root per test session: building the root takes a
# minute of AppWorld's own model code on a busy 2-core machine, so every AppWorld test module shares it.


@pytest.fixture(scope="session")
def appworld_python():
    import os

    from looprl.env.appworld.install import appworld_venv_ready, default_venv_dir, venv_python

    venv = default_venv_dir()
    if not appworld_venv_ready(venv):
        message = f"the AppWorld venv is missing at {venv}; create it with `looprl env setup-appworld` (or bash scripts/ci-setup.d/20-appworld.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — CI must run scripts/ci-setup.d/20-appworld.sh before the tests")
        pytest.skip(message)
    return venv_python(venv)


@pytest.fixture(scope="session")
def appworld_root(appworld_python, tmp_path_factory):
    # Built through the CLI command users run, which runs looprl/env/appworld/fixture.py in the venv.
    from typer.testing import CliRunner

    from looprl.cli import app
    from looprl.env.appworld.fixture import TASKS
    from looprl.env.appworld.install import default_venv_dir

    root = tmp_path_factory.mktemp("appworld-root")
    result = CliRunner().invoke(app, ["env", "appworld-fixture", str(root), "--venv", str(default_venv_dir())])
    assert result.exit_code == 0, f"building the AppWorld fixture failed:\n{result.output[-3000:]}"
    assert sorted(p.name for p in (root / "data" / "tasks").iterdir()) == sorted(TASKS)
    return root
