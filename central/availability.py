"""What the dashboard asks: data availability per station and day, the last file and
the last SOH of each station. Plain functions of a Store, a User and the time.

A station sends per day 96 spectra (one each 15 minutes), 12 SOH messages (one each
2 hours) and 1 ATS (its analysis results of the day). A day's count is what has been
received of that day (by the data's start time, UTC), under
`central.access.message_scope`: a file a user may not see yet (the publish delay) does
not count for that user. Today expects only what its hours so far should have brought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.timeutil import iso_z

from .access import message_scope, visible_stations
from .accounts import User
from .store import Store

# product -> (how many a day, the SQL condition a file of it meets)
EXPECTED: dict[str, int] = {"PHD": 96, "SOH": 12, "ATS": 1}
_CONDITION = {
    "PHD": "product = 'PHD' and data_type = 'SAMPLEPHD'",
    "SOH": "product = 'SOH'",
    "ATS": "product = 'ATS' and analysis = 'STATION'",
}
PRODUCT_NAMES = {"PHD": "Spectra", "SOH": "SOH", "ATS": "ATS"}
# colour classes, worst first
LEVELS = ("none", "low", "partial", "full")


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def days_until(last: date, count: int) -> list[date]:
    """`count` days ending with `last`, oldest first."""
    if count < 1:
        raise ValueError(f"the dashboard shows at least one day, not {count}")
    return [last - timedelta(days=n) for n in range(count - 1, -1, -1)]


def expected_on(product: str, day: date, now: datetime) -> int:
    """How many files of `product` a station should have sent of `day` by `now`: the
    full number for a past day, the part due so far for today (a file is due once its
    period has ended), none for a day to come."""
    if product not in EXPECTED:
        raise ValueError(f"no expected count for {product!r}; products: {', '.join(EXPECTED)}")
    per_day = EXPECTED[product]
    elapsed = (now - day_start(day)).total_seconds()
    if elapsed <= 0:
        return 0
    if elapsed >= 86400:
        return per_day
    return int(elapsed // (86400 / per_day))


def level(received: int, expected: int) -> str:
    """The colour of a cell (pure): `full` when all expected came (or nothing was due),
    `partial` from half, `low` below half, `none` when nothing came of what was due."""
    if expected <= 0 or received >= expected:
        return "full"
    if received == 0:
        return "none"
    return "partial" if received * 2 >= expected else "low"


@dataclass(frozen=True)
class Cell:
    station: str
    day: date
    product: str
    received: int
    expected: int

    @property
    def level(self) -> str:
        return level(self.received, self.expected)


@dataclass(frozen=True)
class Availability:
    stations: list[str]
    days: list[date]
    cells: dict[tuple[str, date, str], Cell]

    def cell(self, station: str, day: date, product: str) -> Cell:
        return self.cells[(station, day, product)]


def received_counts(
    store: Store, user: User, now: datetime, first: date, last: date
) -> dict[tuple[str, date, str], int]:
    """(station, day, product) -> files received that `user` may see at `now`, for the
    days `first` to `last` (inclusive); absent: none."""
    scope, params = message_scope(store, user, now)
    counts: dict[tuple[str, date, str], int] = {}
    span = [iso_z(day_start(first)), iso_z(day_start(last + timedelta(days=1)))]
    for product, condition in _CONDITION.items():
        rows = store.conn.execute(
            "select station, substr(start_time, 1, 10), count(*) from messages "
            f"where {scope} and {condition} and start_time >= ? and start_time < ? "
            "group by station, substr(start_time, 1, 10)",
            [*params, *span],
        )
        for station, day, n in rows:
            counts[(station, date.fromisoformat(day), product)] = n
    return counts


def availability(
    store: Store,
    user: User,
    now: datetime,
    days: Sequence[date],
    stations: Sequence[str] | None = None,
) -> Availability:
    """Received of expected, per visible station, day and product."""
    visible = visible_stations(store, user)
    chosen = visible if stations is None else [s for s in visible if s in stations]
    days = sorted(days)
    counts = received_counts(store, user, now, days[0], days[-1]) if days else {}
    cells = {
        (s, d, p): Cell(s, d, p, counts.get((s, d, p), 0), expected_on(p, d, now))
        for s in chosen
        for d in days
        for p in EXPECTED
    }
    return Availability(chosen, list(days), cells)


def latest_files(store: Store, user: User, now: datetime) -> dict[str, dict[str, Any]]:
    """station -> its last file and its last SOH that `user` may see at `now`:
    {"file": {id, file_name, product, start_time, received_at} | None, "soh": ... | None}.
    Both are the latest by their data's start time (the (station, start_time) index)."""
    scope, params = message_scope(store, user, now)
    out: dict[str, dict[str, Any]] = {
        s: {"file": None, "soh": None} for s in visible_stations(store, user)
    }
    fields = "id, station, file_name, product, start_time, received_at"
    for slot, condition in (("file", "1"), ("soh", "product = 'SOH'")):
        for station in out:
            rows = list(
                store.db.query(
                    # the newest first by the (station, start_time) index: with the
                    # publish rule's `data_until <= ?` the planner would take another
                    f"select {fields} from messages indexed by idx_messages_station_start_time "
                    f"where {scope} and station = ? and "
                    f"{condition} order by start_time desc, id desc limit 1",
                    [*params, station],
                )
            )
            out[station][slot] = rows[0] if rows else None
    return out
