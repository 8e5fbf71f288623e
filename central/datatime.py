"""A stored file's data time: the end of the period its data cover (`messages.data_until`).

The publish delay counts from here (central/access.py). A pure function of what the store
keeps of a message, so that new rows and the backfill of an old database agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.timeutil import iso_z

# A spectrum whose summary does not say how long it was acquired: the network's cycle.
DEFAULT_ACQUISITION = timedelta(minutes=15)
DAILY_PRODUCTS = frozenset({"ATS", "CSV"})


def data_until(
    *,
    product: str,
    start_time: str | None,
    summary: Mapping[str, Any] | None,
    received_at: str,
) -> str:
    """UTC ISO text (as `iso_z` writes it) of the end of the data in this file.

    PHD: acquisition start + real time (start + 15 min when the summary does not say);
    SOH: the end of its period; ALERT: its time; a daily ATS or CSV (start_time is the
    day's 00:00Z): the next day's 00:00Z. A file without a start time: when it arrived.
    """
    summary = summary or {}
    start = _time(start_time)
    if product == "PHD":
        acquisition = summary.get("acquisition") or {}
        begun = _time(acquisition.get("start")) or start
        real_time = acquisition.get("real_time")
        if begun is not None:
            if isinstance(real_time, int | float) and real_time >= 0:
                return iso_z(begun + timedelta(seconds=real_time))
            return iso_z(begun + DEFAULT_ACQUISITION)
    elif product == "SOH":
        end = _time(summary.get("period_end"))
        if end is not None:
            return iso_z(end)
        if start is not None:
            return iso_z(start + DEFAULT_ACQUISITION)
    elif product in DAILY_PRODUCTS and start is not None:
        day = datetime(start.year, start.month, start.day, tzinfo=UTC)
        return iso_z(day + timedelta(days=1))
    elif start is not None:  # ALERT: the moment it was raised
        return iso_z(start)
    return iso_z(_time(received_at) or datetime.now(UTC))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
