"""Lazy module attributes (PEP 562): a package names what it exports and where each name lives, and
the module holding it is imported on first use, so importing the package stays light (no torch, no
world) until a heavy name is asked for.

    __getattr__, __dir__ = lazy_exports(__name__, {"Trainer": "looprl.training.trainer"})

Guarantees: a lazy name resolves to the very object its module defines (``getattr(module, name)`` on
every look-up, so a test that patches the module is seen through the package); an unknown name raises AttributeError
with the package's name, as Python's own message does; ``dir(package)`` lists the lazy names too.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` for ``package`` (its ``__name__``), given
    ``{exported name: module that defines it}``."""
    homes = dict(homes)

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    return __getattr__, __dir__
