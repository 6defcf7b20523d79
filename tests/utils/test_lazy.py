"""The lazy-export helper every package `__init__` uses (looprl/utils/lazy.py)."""

import subprocess
import sys
import types

import pytest

from looprl.utils.lazy import lazy_exports


def test_a_lazy_name_imports_its_module_on_first_use_and_is_its_object(monkeypatch):
    package = types.ModuleType("fake_pkg")
    monkeypatch.setitem(sys.modules, "fake_pkg", package)
    package.__getattr__, package.__dir__ = lazy_exports("fake_pkg", {"dumps": "json", "OrderedDict": "collections"})
    import collections
    import json

    assert package.dumps is json.dumps and package.OrderedDict is collections.OrderedDict
    assert {"dumps", "OrderedDict"} <= set(dir(package))
    with pytest.raises(AttributeError, match="module 'fake_pkg' has no attribute 'loads'"):
        package.loads  # noqa: B018  (only the named exports resolve)


def test_a_patched_module_is_seen_through_the_package(monkeypatch):
    import looprl.env
    import looprl.env.sandbox

    monkeypatch.setattr(looprl.env.sandbox, "sandbox_protections", "patched")
    assert looprl.env.sandbox_protections == "patched"  # looked up each time, never cached


@pytest.mark.parametrize(
    "package, name, home",
    [
        ("looprl.training", "Trainer", "looprl.training.trainer"),
        ("looprl.backends", "HFBackend", "looprl.backends.hf"),
        ("looprl.env", "check_env", "looprl.env.checker"),
        ("looprl.rollout", "evaluate", "looprl.rollout.evaluation"),
        ("looprl.testing", "build_tiny_model", "looprl.testing.model"),
    ],
)
def test_every_lazy_package_stays_light_until_a_name_is_asked_for(package, name, home):
    code = (
        f"import sys, {package} as p; assert {home!r} not in sys.modules and 'torch' not in sys.modules, 'loaded on import'; "
        f"assert {name!r} in dir(p); getattr(p, {name!r}); assert {home!r} in sys.modules, 'not loaded on use'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
