"""IMS2.0 date and time text (UTC) and the 15-minute grid the network runs on."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_IMS_TIME = re.compile(
    r"^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})[ \t]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]*))?)?$"
)


def parse_ims_time(text: str) -> datetime:
    """Parse `yyyy/mm/dd hh:mm[:ss[.f...]]` as an aware UTC datetime.

    Real files carry 0 to several fractional digits, and sometimes no seconds at all.
    Raises ValueError with the offending text.
    """
    m = _IMS_TIME.match(text.strip())
    if not m:
        raise ValueError(f"not a date and time (yyyy/mm/dd hh:mm:ss.s): {text.strip()!r}")
    year, month, day, hour, minute, second, frac = m.groups()
    micro = 0
    if frac:
        micro = round(float("0." + frac) * 1_000_000)
    try:
        t = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError as exc:
        raise ValueError(f"not a valid date and time: {text.strip()!r} ({exc})") from None
    return t + timedelta(microseconds=micro)


def round_tenths(t: datetime) -> datetime:
    """Round to the 0.1 s that the IMS time format can carry."""
    micro = t.microsecond
    tenths = round(micro / 100_000)
    return t.replace(microsecond=0) + timedelta(microseconds=tenths * 100_000)


def format_ims_time(t: datetime) -> str:
    """`yyyy/mm/dd hh:mm:ss.s` in UTC."""
    t = round_tenths(as_utc(t))
    return f"{t.year:04d}/{t:%m/%d %H:%M:%S}.{t.microsecond // 100_000}"


def as_utc(t: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def iso_z(t: datetime) -> str:
    """ISO 8601 with a Z suffix and milliseconds, as JSON products carry it."""
    t = as_utc(t)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


CYCLE = timedelta(minutes=15)


def floor_to_cycle(t: datetime, cycle: timedelta = CYCLE) -> datetime:
    """The start of the aligned cycle that contains t (cycles start at 00:00 UTC)."""
    t = as_utc(t)
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    n = (t - midnight) // cycle
    return midnight + n * cycle
