"""Generic ``[section]`` tables of the configuration file, read into frozen dataclasses.

Each section of the file (``[api]``, ``[metrics]``, ``[database]``, ...) belongs to one
settings dataclass owned by the module it configures; this module turns a TOML table
into that dataclass with the same strictness as the rest of ``dialer.config``:

- the keys are the dataclass's fields (an unknown key is an error naming the expected
  ones); the field's annotation gives the type: ``bool``, ``int``, ``float``, ``str``
  (each possibly ``| None``: the key may then be left out), or ``tuple[str, ...]`` /
  ``frozenset[str]`` for a TOML array of strings;
- impossible values are refused by the dataclass itself: its ``__post_init__`` raises
  ``ValueError("field: reason")``, which becomes ``ConfigError(file, section.field,
  reason)``;
- a dataclass with a nested structure (a list of trunks, say) provides its own
  ``from_toml(data, *, source, path)`` classmethod, which must raise ``ConfigError``.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from dialer.errors import ConfigError

_WHAT = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def _unwrap_optional(hint: object) -> object:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _coerce(source: str, key: str, value: object, hint: object) -> object:
    hint = _unwrap_optional(hint)
    origin = typing.get_origin(hint)
    if origin in (tuple, frozenset):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(source, key, "expected an array of strings")
        return tuple(value) if origin is tuple else frozenset(value)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif hint is str:
        ok = isinstance(value, str)
    else:
        raise ConfigError(source, key, "this setting cannot be set from a file")
    if not ok:
        shown = f"{str(value).lower()} (a boolean)" if isinstance(value, bool) else repr(value)
        what = _WHAT[hint] if isinstance(hint, type) and hint in _WHAT else str(hint)
        raise ConfigError(source, key, f"expected {what}, got {shown}")
    return float(value) if hint is float else value  # type: ignore[arg-type]


def parse_section(source: str, name: str, data: object, cls: type[Any]) -> Any:
    """The ``cls`` instance a file's ``[name]`` table describes."""
    from_toml = getattr(cls, "from_toml", None)
    if from_toml is not None:
        return from_toml(data, source=source, path=name)
    if not isinstance(data, Mapping):
        raise ConfigError(source, name, f"expected a table [{name}]")
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in fields(cls) if f.init]
    values: dict[str, object] = {}
    for key, value in data.items():
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                source, f"{name}.{key}", f"unknown key{maybe}; expected one of {', '.join(allowed)}"
            )
        values[key] = _coerce(source, f"{name}.{key}", value, hints[key])
    try:
        return cls(**values)
    except ValueError as exc:
        field, sep, reason = str(exc).partition(": ")
        if sep and field in allowed:
            raise ConfigError(source, f"{name}.{field}", reason) from exc
        raise ConfigError(source, name, str(exc)) from exc
