"""The daily ATS product (automatic time series): one station's samples and results of one day,
as JSON that `ats.schema.json` (beside this module) describes and every reader and writer checks.
"""

from __future__ import annotations

import functools
import json
import math
import re
from datetime import date, datetime
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from .errors import FormatError, Problem, utf8_text

ATS_VERSION = "1.2"
SCHEMA_FILE = "ats.schema.json"

# Our own format checks, so that validation does not depend on which optional
# packages jsonschema happens to find installed.
_FORMATS = FormatChecker(formats=())


_CALENDAR = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")


@_FORMATS.checks("date-time", raises=ValueError)
def _is_time(value: object) -> bool:
    # The schema's pattern checks the layout; this checks that the date and time exist.
    m = _CALENDAR.match(value) if isinstance(value, str) else None
    if m:
        datetime(*(int(g) for g in m.groups()))
    return True


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


@functools.cache
def ats_schema() -> dict[str, Any]:
    """The ATS JSON Schema (draft 2020-12). Do not modify the returned dict."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA 262, where a final `$` matches only at the very end;
    # Python's `$` also matches before a final newline, which would let "AUS02\n" through.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator, pattern: str, instance: object, schema: dict[str, Any]):
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_AtsValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@functools.cache
def _validator():
    return _AtsValidator(ats_schema(), format_checker=_FORMATS)


def _path(parts) -> str | None:
    return "/".join(str(p) for p in parts) or None


def _document_order(error) -> tuple:
    # ints (array indexes) and strings never meet at the same place in the key
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in error.absolute_path)


def _non_finite(value: Any, at: tuple = ()) -> list[tuple[tuple, float]]:
    if isinstance(value, float) and not math.isfinite(value):
        return [(at, value)]
    if isinstance(value, dict):
        return [bad for k, v in value.items() for bad in _non_finite(v, (*at, k))]
    if isinstance(value, list):
        return [bad for i, v in enumerate(value) for bad in _non_finite(v, (*at, i))]
    return []


def validate_ats(doc: Any, source: str = "<ats>") -> None:
    """Check an ATS document against the schema. Raises FormatError naming the JSON path
    of every problem, e.g. `ats.json: Detectors/0/Samples/3/Analysis: 'Method' is a
    required property`."""
    errors = sorted(_validator().iter_errors(doc), key=_document_order)
    problems = [Problem(source, None, _path(e.absolute_path), e.message) for e in errors]
    problems += [
        Problem(source, None, _path(at), f"{v!r} is not a number JSON can carry")
        for at, v in _non_finite(doc)
    ]
    if problems:
        raise FormatError(problems)


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> None:
    raise _NotJson(f"{name} is not a JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _NotJson(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def read_ats(data: bytes | str, source: str = "<ats>") -> dict[str, Any]:
    """Parse and validate an ATS file's content. Raises FormatError saying what and where."""
    data = utf8_text(data, source)
    try:
        doc = json.loads(
            data, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys
        )
    except json.JSONDecodeError as exc:
        raise FormatError(
            Problem(source, exc.lineno, None, f"not valid JSON, column {exc.colno}: {exc.msg}")
        ) from None
    except _NotJson as exc:
        raise FormatError(Problem(source, None, None, f"not valid JSON: {exc}")) from None
    except RecursionError:
        raise FormatError(
            Problem(source, None, None, "not valid JSON: nested too deeply")
        ) from None
    validate_ats(doc, source)
    return doc


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = ats_schema()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _in_schema_order(value: Any, schema: dict[str, Any]) -> Any:
    schema = _resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        keys = [k for k in props if k in value] + sorted(k for k in value if k not in props)
        return {k: _in_schema_order(value[k], props.get(k, {})) for k in keys}
    if isinstance(value, list):
        return [_in_schema_order(v, schema.get("items", {})) for v in value]
    return value


def write_ats(doc: dict[str, Any]) -> str:
    """The document as ATS text: validated, keys in the schema's order, ASCII, one-space indent."""
    validate_ats(doc)
    ordered = _in_schema_order(doc, ats_schema())
    return json.dumps(ordered, indent=1, ensure_ascii=True, allow_nan=False) + "\n"


__all__ = ["ATS_VERSION", "ats_schema", "read_ats", "validate_ats", "write_ats"]
