"""Typed configuration: pydantic models loaded from YAML with dotted command-line overrides.

Every entry point (`looprl train`, `looprl eval`, `looprl demo`) has one config model. Loading is
strict and happens before any work:

* unknown keys are rejected (``extra="forbid"`` on every model), with the closest valid name;
* wrong types and out-of-range values are rejected with the field's dotted path, the value given,
  and what is allowed;
* ``--set a.b.c=VALUE`` overrides are parsed as YAML scalars (``1e-5``, ``true``, ``[1, 2]``) and
  applied on top of the file before validation, so they are checked the same way.

Every field carries a one-line ``description``; ``looprl config fields`` prints them, and the CLI's
``--help`` text points there.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["ConfigError", "StrictModel", "load_config", "apply_overrides", "deep_merge", "dump_config"]


class ConfigError(ValueError):
    """A configuration that cannot be used. The message is meant for the person who wrote it."""


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


M = TypeVar("M", bound=BaseModel)


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key.path=value (e.g. trainer.lr=1e-5)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r} has an empty key; expected key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: the value {raw!r} is not valid YAML ({exc})") from exc
    # YAML 1.1 reads 1e-5 as a string; numbers in scientific notation are what people type for lrs.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in "eE.") else int(value)
        except ValueError:
            pass
    return key.split("."), value


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` laid over ``base``, section by section (a copy; ``update`` wins on leaves)."""
    import copy

    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides to a nested dict (a copy is returned)."""
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        path, value = _parse_override(item)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} holds a value ({child!r}), not a section, so it has no field {path[-1]!r}")
            node = child
        node[path[-1]] = value
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names valid at ``loc`` (the parent of an unknown key) in ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if current is None:
            for arg in getattr(ann, "__args__", ()) or ():
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    current = arg
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _describe(model: type[BaseModel], exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc) or "<root>"
        given = err.get("input")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"  - {path}: unknown key.{hint} Allowed here: {', '.join(allowed) or '(none)'}")
        elif err["type"] == "value_error" and isinstance(given, dict):
            # a section's own check: its message names the fields; the whole section as given is noise
            lines.append(f"  - {path}: {str(err['msg']).removeprefix('Value error, ')}")
        else:
            lines.append(f"  - {path}: got {given!r}; {err['msg']}")
    return "\n".join(lines)


def _section_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The values of every section whose default a factory builds (e.g. the demo's scaled-down
    TrainConfig), so that overriding one field of it keeps the factory's other values instead of
    falling back to the section class's own defaults."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            value = field.get_default(call_default_factory=True)
            if isinstance(value, BaseModel):
                out[name] = value.model_dump()
    return out


def load_config(model: type[M], path: str | Path | None = None, overrides: list[str] | None = None, base: dict | None = None) -> M:
    """Load ``model`` from an optional YAML file plus dotted overrides; raise ConfigError on any problem."""
    data: dict[str, Any] = deep_merge(_section_defaults(model), dict(base or {}))
    source = "defaults"
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"config file {str(path)!r} is a directory; give a YAML file (e.g. configs/tiny-cpu.yaml)")
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {str(path)!r} is not UTF-8 text (byte {raw[exc.start : exc.start + 1]!r} at position {exc.start}); save it as UTF-8"
            ) from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
        if loaded is None:
            raise ConfigError(f"config file {str(path)!r} is empty (or only comments); give the fields to set, or leave the config file out for the defaults")
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level, got {type(loaded).__name__}")
        data = deep_merge(data, loaded)
        source = str(path)
    if overrides:
        data = apply_overrides(data, overrides)
        source += " + --set " + " ".join(overrides)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(model, exc, source)) from None


def dump_config(cfg: BaseModel) -> str:
    """The fully resolved config as YAML (round-trips through load_config)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def field_help(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, description) for every leaf field, for `looprl config fields`."""
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        dotted = f"{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(field_help(ann, dotted + "."))
        else:
            default = field.get_default(call_default_factory=True)
            rows.append((dotted, repr(default), field.description or ""))
    return rows
