"""What a page's controls send back, taken only in the shapes a control can send: the
browser's values are never trusted as they are (anything else is ignored)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any


def strings(value: Any, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    """A dropdown's value(s) as a tuple of strings, those not `allowed` dropped."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and (allowed is None or v in allowed))


def day(value: Any) -> date | None:
    """A date picker's `YYYY-MM-DD` (or an ISO time, its day), else None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
