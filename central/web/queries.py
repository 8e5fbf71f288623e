"""The web pages' questions to the database: paged, filtered and sorted lists.

Plain functions of a Store and a User, with no Flask or Dash in them, so that the tests
and the API ask exactly what the pages ask. Every list of received files goes through
`central.access.message_scope` (the facility rule and the publish delay at `now`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from central.access import message_scope, publish_delays, published_at
from central.accounts import User
from central.paging import Page, clamp_page  # Page: the pages import it from here too
from central.store import Store
from shared.timeutil import iso_z

PRODUCTS = ("PHD", "SOH", "ALERT", "ATS", "CSV")
ANALYSES = ("STATION", "CENTRAL")

RECEIVED_FIELDS = (
    "id",
    "station",
    "file_name",
    "product",
    "msg_id",
    "analysis",
    "start_time",
    "received_at",
)
COMPARISON_FIELDS = (
    "id",
    "message_id",
    "station",
    "file_name",
    "start_time",
    "nuclide",
    "quantity",
    "station_value",
    "station_unc",
    "station_detected",
    "central_value",
    "central_unc",
    "central_detected",
    "z",
    "flagged",
    "reason",
)
QUARANTINE_FIELDS = ("id", "received_at", "file_name", "station", "status", "reason", "size")


@dataclass(frozen=True)
class ReceivedFilter:
    """What the Received page's filters ask for; empty means no restriction."""

    stations: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    analyses: tuple[str, ...] = ()
    start_from: date | None = None  # first day, inclusive (UTC)
    start_to: date | None = None  # last day, inclusive (UTC)
    since: datetime | None = None  # starts at or after, to the second (the API)
    until: datetime | None = None  # starts before


# what the API lists of each file
FILE_FIELDS = (*RECEIVED_FIELDS, "data_until", "size", "sha256")


def received_page(
    store: Store,
    user: User,
    filters: ReceivedFilter,
    *,
    now: datetime,
    sort: str = "received_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = 25,
    fields: tuple[str, ...] = RECEIVED_FIELDS,
) -> Page:
    """One page of the received files `user` may see at `now` that match `filters`."""
    where, params = _conditions(
        store,
        user,
        now,
        (
            ("station", filters.stations),
            ("product", filters.products),
            ("analysis", filters.analyses),
        ),
        filters.start_from,
        filters.start_to,
    )
    if filters.since is not None:
        where.append("start_time >= ?")
        params.append(iso_z(filters.since))
    if filters.until is not None:
        where.append("start_time < ?")
        params.append(iso_z(filters.until))
    wanted = fields if "data_until" in fields else (*fields, "data_until")
    result = fetch_page(
        store,
        "messages",
        wanted,
        " and ".join(where),
        params,
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )
    delays = publish_delays(store)
    for row in result.rows:
        row["publication"] = publication_note(delays.get(row["station"]), row["data_until"], now)
    return result


def publication_note(delay: str | None, data_until: str | None, now: datetime) -> str:
    """What the Received page says of a file that is not published yet ("" once it is),
    which only its facility's owners and administrators see listed: "unpublished until
    <time>", or why it never will be. `delay` None: the station is no registered facility."""
    if delay is None:
        return "unpublished (not a registered facility)"
    moment = published_at(delay, data_until)
    if moment is None:
        return "unpublished (do not publish)" if delay == "never" else "unpublished (no data time)"
    if moment <= iso_z(now):
        return ""
    return f"unpublished until {display_time(moment)}"


@dataclass(frozen=True)
class ComparisonFilter:
    """What the Comparison page's filters ask for; empty means no restriction."""

    stations: tuple[str, ...] = ()
    nuclides: tuple[str, ...] = ()
    flagged_only: bool = False
    start_from: date | None = None
    start_to: date | None = None


def comparison_page(
    store: Store,
    user: User,
    filters: ComparisonFilter,
    *,
    now: datetime,
    sort: str = "start_time",
    descending: bool = True,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """One page of the station-against-central comparisons of spectra `user` may see."""
    where, params = _conditions(
        store,
        user,
        now,
        (("station", filters.stations), ("nuclide", filters.nuclides)),
        filters.start_from,
        filters.start_to,
    )
    if filters.flagged_only:
        where.append("flagged = 1")
    return fetch_page(
        store,
        "comparison_view",
        COMPARISON_FIELDS,
        " and ".join(where),
        params,
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )


def compared_nuclides(store: Store, user: User, now: datetime) -> list[str]:
    """The nuclides the comparisons `user` may see are about, for the filter's options."""
    scope, params = message_scope(store, user, now)
    return [
        row["nuclide"]
        for row in store.db.query(
            f"select distinct nuclide from comparison_view where {scope} order by nuclide", params
        )
    ]


def _conditions(
    store: Store,
    user: User,
    now: datetime,
    choices: tuple[tuple[str, tuple[str, ...]], ...],
    start_from: date | None,
    start_to: date | None,
) -> tuple[list[str], list[Any]]:
    """The access rule, `column in (choices)` for each non-empty choice, and the start day
    range, as SQL conditions (to join with `and`) and their parameters."""
    scope, scope_params = message_scope(store, user, now)
    where, params = [scope], list(scope_params)
    for column, values in choices:
        if values:
            where.append(f"{column} in ({', '.join('?' * len(values))})")
            params.extend(values)
    # start times are ISO 8601 UTC text, so that text order is time order
    if start_from is not None:
        where.append("start_time >= ?")
        params.append(_day_start(start_from))
    if start_to is not None:
        where.append("start_time < ?")
        params.append(_day_start(start_to + timedelta(days=1)))
    return where, params


def quarantine_page(
    store: Store,
    *,
    sort: str = "received_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """One page of the refused messages (administrators only: the caller checks)."""
    return fetch_page(
        store,
        "quarantine",
        QUARANTINE_FIELDS,
        "1",
        [],
        sort=sort,
        descending=descending,
        page=page,
        page_size=page_size,
    )


def fetch_page(
    store: Store,
    table: str,
    fields: tuple[str, ...],
    where: str,
    params: list[Any],
    *,
    sort: str,
    descending: bool,
    page: int,
    page_size: int,
) -> Page:
    """Rows `fields` of `table` matching `where`, sorted, one page of them.

    `table`, `fields` and `where` come from this module, never from a request; `sort`
    must be one of `fields`. A page past the end gives the last page.
    """
    if sort not in fields:
        raise ValueError(f"cannot sort {table} by {sort!r}; columns: {', '.join(fields)}")
    total = store.conn.execute(f"select count(*) from {table} where {where}", params).fetchone()[0]
    page, pages = clamp_page(page, total, page_size)
    order = "desc" if descending else "asc"
    rows = list(
        store.db.query(
            f"select {', '.join(fields)} from {table} where {where} "
            f"order by {sort} {order}, id {order} limit ? offset ?",
            [*params, page_size, (page - 1) * page_size],
        )
    )
    return Page(rows=rows, total=total, page=page, pages=pages, page_size=page_size)


def display_time(value: str | None) -> str:
    """ISO 8601 text from the database as `yyyy/mm/dd hh:mm:ss` UTC, as the STAX pages show it."""
    if not value:
        return ""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value  # shown as stored rather than hidden
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y/%m/%d %H:%M:%S")


def _day_start(day: date) -> str:
    return iso_z(datetime(day.year, day.month, day.day, tzinfo=UTC))
