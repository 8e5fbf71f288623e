"""TOML configuration files checked at start: every error names the file and the key.

A configuration is declared as dataclasses (one per TOML table); `load_config` reads the
file, checks types, fills defaults, resolves relative paths against the file's folder,
and refuses unknown keys (a typo must not silently become a default).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """`file: [table] key: what is wrong`."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str, base: Path) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where, base)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]", base) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return {k: _convert(v, args[1], f"{where}.{k}", base) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return _build(tp, value, where, base)
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(
                f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}"
            )
        return value
    raise ConfigError(f"{where}: unsupported type {_type_name(tp)}")


def _build(cls: type[T], table: dict[str, Any], where: str, base: Path) -> T:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            options = ", ".join(sorted(known))
            raise ConfigError(f"{where}{key}: unknown key (known keys here: {options})")
    kwargs = {}
    for name, f in known.items():
        if name in table:
            if dataclasses.is_dataclass(hints[name]):
                inner = where.strip().strip("[]")
                sub = f"[{inner}.{name}] " if inner else f"[{name}] "
            else:
                sub = f"{where}{name}"
            kwargs[name] = _convert(table[name], hints[name], sub, base)
        elif dataclasses.is_dataclass(hints[name]) and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            # an absent table with defaults: build it so its relative paths resolve too
            kwargs[name] = _build(hints[name], {}, f"[{name}] ", base)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            if dataclasses.is_dataclass(hints[name]):
                raise ConfigError(f"[{name}]: required table is missing")
            raise ConfigError(f"{where}{name}: required key is missing")
    try:
        obj = cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where.strip() or 'configuration'}: {exc}") from None
    # defaults that are relative paths are relative to the configuration file too
    for name in known:
        if name not in table and hints[name] is Path:
            value = getattr(obj, name)
            if isinstance(value, Path) and not value.is_absolute():
                object.__setattr__(obj, name, base / value)
    return obj


def load_config(cls: type[T], path: str | Path) -> T:
    """Read and check a TOML configuration file into `cls` (a dataclass of tables)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _build(cls, data, "", path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
