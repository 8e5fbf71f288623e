"""The central's own alerts: conditions it sees in what it has stored, once per episode.

An episode is one stretch of time during which a condition holds: it is raised once (a
row in `central_alerts`, state `open`) and cleared once, with a message, when the
condition no longer holds (state `cleared`). Kinds (docs/alerts.md):

- `silent`: a station has sent no spectrum for more than N intervals;
- `gap`: spectra missing in a station's day once the day has passed;
- `disagreement`: the station's and the central's analyses of a spectrum disagree on a
  nuclide (|z| > 3, `comparisons.flagged`);
- `soh_limit`: a state-of-health value outside its limits;
- `certificate`, `crl`: a certificate of the central's PKI, or its CRL, near expiry;
- `quarantine`: more messages quarantined in the last hour than allowed;
- `mqtt`: nothing published to the MQTT broker for a while (raised by the publisher,
  central/mqtt_health.py).

Each check is a pure function of query results and `now` that returns observations
(`Observation`: the condition holds, or it does not, for one key); `apply_observations`
turns them into raised and cleared episodes. Station alerts carry the station and a
`data_until`, so that the access rule (`central.access.message_scope`) filters them like
the station's files; central-wide ones (station '') are for administrators only.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlite_utils

from shared.timeutil import iso_z

KINDS = ("silent", "gap", "disagreement", "soh_limit", "certificate", "crl", "quarantine", "mqtt")
STATES = ("open", "cleared")
log = logging.getLogger(__name__)

CENTRAL = ""  # the station of a central-wide alert (CRL, quarantine, the central's certificates)


def ensure_schema(db: sqlite_utils.Database) -> None:
    """`central_alerts`, the cursors of the incremental checks and the MQTT publisher's
    record (central/mqtt.py); idempotent (every process opens the database and calls it)."""
    from .mqtt import ensure_schema as ensure_mqtt_schema

    try:
        _create(db)
    except sqlite3.OperationalError as exc:  # another process made them a moment ago
        if "already exists" not in str(exc):
            raise
    ensure_mqtt_schema(db)


def _create(db: sqlite_utils.Database) -> None:
    if "central_alerts" not in db.table_names():
        db["central_alerts"].create(
            {
                "id": int,
                "station": str,  # '' for central-wide alerts (administrators only)
                "kind": str,
                "key": str,  # what identifies the episode within station and kind
                "state": str,  # open, cleared
                "raised_at": str,  # ISO Z
                "cleared_at": str,
                "data_until": str,  # the data time the alert is about: the publish rule
                "value": float,  # e.g. minutes silent, spectra missing, |z|, the SOH value
                "message": str,  # why it was raised
                "clear_message": str,  # why it was cleared
                "details": str,  # JSON
                "seq": int,  # new at each raise and clear: readers (MQTT) follow it
                "updated_at": str,
            },
            pk="id",
            not_null={"station", "kind", "key", "state", "raised_at", "data_until", "message"},
        )
        db["central_alerts"].create_index(["station", "data_until"])
        db["central_alerts"].create_index(["state", "kind", "station", "key"])
        db["central_alerts"].create_index(["raised_at"])
        db["central_alerts"].create_index(["seq"])
        # at most one open episode per (station, kind, key)
        db.execute(
            "create unique index central_alerts_one_open on central_alerts "
            "(station, kind, key) where state = 'open'"
        )
    if "alert_cursors" not in db.table_names():
        db["alert_cursors"].create(
            {"name": str, "value": str, "updated_at": str}, pk="name", not_null={"value"}
        )


# ------------------------------------------------------------------ reading (rule applied)
def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    try:
        out["details"] = json.loads(row.get("details") or "{}")
    except ValueError:
        out["details"] = {}
    return out


def alert_episodes(
    store,
    user,
    now: datetime,
    stations: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    state: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """The episodes `user` may see at `now`, newest raised first.

    The access rule of the station's files applies (facility and publish delay, through
    `message_scope` on `station` and `data_until`); central-wide alerts (station '') are
    for administrators only. `since`/`until` keep the episodes that overlap that span
    (raised before `until`, not cleared before `since`). `details` comes parsed."""
    from .access import message_scope

    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"alert kinds are {', '.join(KINDS)}; not {', '.join(unknown)}")
    if state is not None and state not in STATES:
        raise ValueError(f"alert state must be open or cleared, not {state!r}")
    if (stations is not None and not stations) or (kinds is not None and not kinds):
        return []  # none asked for
    condition, params = message_scope(store, user, now)
    where = [condition]
    if not user.is_admin:
        where.append("station != ''")
    if stations is not None:
        where.append(f"station in ({', '.join('?' * len(stations))})")
        params = [*params, *stations]
    if kinds is not None:
        where.append(f"kind in ({', '.join('?' * len(kinds))})")
        params = [*params, *kinds]
    if state is not None:
        where.append("state = ?")
        params = [*params, state]
    if until is not None:
        where.append("raised_at <= ?")
        params = [*params, _text(until)]
    if since is not None:
        where.append("(cleared_at is null or cleared_at >= ?)")
        params = [*params, _text(since)]
    sql = (
        "select * from central_alerts where "
        + " and ".join(f"({w})" for w in where)
        + " order by raised_at desc, id desc"
    )
    return [_row(r) for r in store.db.query(sql, params)]


def open_alerts(store, user, now: datetime) -> list[dict[str, Any]]:
    """The episodes still open that `user` may see at `now`, newest first."""
    return alert_episodes(store, user, now, state="open")


def _text(t: datetime | str) -> str:
    return t if isinstance(t, str) else iso_z(t)


# ------------------------------------------------------------------ raising and clearing
@dataclass(frozen=True)
class Observation:
    """What a check saw for one (station, kind, key): the condition holds (`active`) or
    not. `at` orders observations of data arriving out of time order: an inactive one
    older than what keeps the episode open does not clear it."""

    kind: str
    station: str
    key: str
    active: bool
    message: str
    data_until: str = ""  # for a new episode; defaults to now
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert kind must be one of {', '.join(KINDS)}, not {self.kind!r}")


def _next_seq(store) -> int:
    row = store.conn.execute("select coalesce(max(seq), 0) from central_alerts").fetchone()
    return int(row[0]) + 1


def _open_episode(store, station: str, kind: str, key: str) -> dict[str, Any] | None:
    rows = list(
        store.db.query(
            "select * from central_alerts where state = 'open' and station = ? and kind = ? "
            "and key = ?",
            [station, kind, key],
        )
    )
    return _row(rows[0]) if rows else None


def apply_observations(
    store, observations: Iterable[Observation], now: datetime
) -> list[dict[str, Any]]:
    """Raise what holds and is not open, clear what is open and no longer holds, in the
    order given; an open episode seen again only gets its value and details updated.
    Returns the episodes raised or cleared (as stored), for mail and logs."""
    stamp = iso_z(now)
    changed: list[dict[str, Any]] = []
    for obs in observations:
        with store.conn:
            # the write lock before the reads: another thread's connection (the MQTT
            # publisher raises alerts too) cannot take the same seq or open the same episode
            store.conn.execute("BEGIN IMMEDIATE")
            current = _open_episode(store, obs.station, obs.kind, obs.key)
            details = dict(obs.details)
            if obs.at is not None:
                details["last_at"] = obs.at
            if obs.active and current is None:
                table = store.db["central_alerts"]
                table.insert(
                    {
                        "station": obs.station,
                        "kind": obs.kind,
                        "key": obs.key,
                        "state": "open",
                        "raised_at": stamp,
                        "data_until": obs.data_until or stamp,
                        "value": obs.value,
                        "message": obs.message,
                        "details": json.dumps(details, sort_keys=True),
                        "seq": _next_seq(store),
                        "updated_at": stamp,
                    }
                )
                changed.append(_row(table.get(table.last_pk)))
            elif obs.active and current is not None:
                last = current["details"].get("last_at")
                if obs.at is not None and last is not None and obs.at < last:
                    details["last_at"] = last
                merged = {**current["details"], **details}
                if merged != current["details"] or obs.value != current["value"]:
                    store.conn.execute(
                        "update central_alerts set value = ?, details = ?, updated_at = ? "
                        "where id = ?",
                        [obs.value, json.dumps(merged, sort_keys=True), stamp, current["id"]],
                    )
            elif not obs.active and current is not None:
                last = current["details"].get("last_at")
                if obs.at is not None and last is not None and obs.at < last:
                    continue  # older data than what raised it: the episode goes on
                store.conn.execute(
                    "update central_alerts set state = 'cleared', cleared_at = ?, "
                    "clear_message = ?, seq = ?, updated_at = ? where id = ?",
                    [stamp, obs.message, _next_seq(store), stamp, current["id"]],
                )
                changed.append(_row(store.db["central_alerts"].get(current["id"])))
    return changed


def get_cursor(store, name: str, default: str = "") -> str:
    row = store.conn.execute("select value from alert_cursors where name = ?", [name]).fetchone()
    return default if row is None else row[0]


def set_cursor(store, name: str, value: str, now: datetime) -> None:
    with store.conn:
        store.conn.execute(
            "insert into alert_cursors (name, value, updated_at) values (?, ?, ?) "
            "on conflict(name) do update set value = excluded.value, "
            "updated_at = excluded.updated_at",
            [name, value, iso_z(now)],
        )


# ------------------------------------------------------------------ the checks (pure)
DEFAULT_INTERVAL_S = 900.0  # the network's 15-minute cycle
DAILY_SENDER_GRACE = timedelta(days=1)  # a station that sends once a day (realtime_data 0)


@dataclass(frozen=True)
class StationActivity:
    """What the store knows of a station's newest spectra."""

    station: str
    latest_data: datetime | None  # newest data end, never later than when it arrived
    latest_received: datetime | None
    interval_s: float = DEFAULT_INTERVAL_S
    realtime: bool = True  # sends each spectrum as it is made


def silent_checks(
    stations: Iterable[StationActivity], now: datetime, intervals: int
) -> list[Observation]:
    """Silent: the newest data of a station that has sent spectra end more than
    `intervals` intervals before `now`. The data time, not the arrival, decides: a station
    sending its backlog after an outage stays silent until it has caught up. A data time
    later than the arrival (a station clock ahead) counts as the arrival."""
    out = []
    for s in stations:
        if s.latest_data is None:
            continue  # never sent a spectrum: nothing to miss yet
        limit = timedelta(seconds=intervals * s.interval_s)
        if not s.realtime:
            limit += DAILY_SENDER_GRACE
        quiet = now - s.latest_data
        if quiet > limit:
            receiving = s.latest_received is not None and now - s.latest_received <= limit
            note = (
                f"; catching up (receiving, last at {iso_z(s.latest_received)})"
                if receiving
                else ""
            )
            out.append(
                Observation(
                    "silent",
                    s.station,
                    "",
                    True,
                    f"{s.station}: no spectrum for {_duration(quiet)} (more than "
                    f"{intervals} intervals of {_duration(timedelta(seconds=s.interval_s))}); "
                    f"the newest data end {iso_z(s.latest_data)}{note}",
                    data_until=iso_z(now),
                    value=round(quiet.total_seconds() / 60, 1),
                    details={"latest_data": iso_z(s.latest_data), "limit_s": limit.total_seconds()},
                )
            )
        else:
            out.append(
                Observation(
                    "silent",
                    s.station,
                    "",
                    False,
                    f"{s.station}: spectra again; the newest data end {iso_z(s.latest_data)}",
                )
            )
    return out


@dataclass(frozen=True)
class StationDay:
    """A station's spectra of one UTC day."""

    station: str
    day: date
    start_times: Sequence[datetime]
    first_ever: datetime | None = None  # the station's first spectrum: no gap before it
    interval_s: float = DEFAULT_INTERVAL_S


def missing_slots(d: StationDay) -> list[datetime]:
    """The starts of the day's intervals (on the grid of the day's 00:00) that no spectrum
    starts in, from the station's first spectrum on."""
    day0 = datetime.combine(d.day, time(0), tzinfo=UTC)
    step = timedelta(seconds=d.interval_s)
    slots = int(timedelta(days=1) / step)
    covered = {int((t - day0) / step) for t in d.start_times if day0 <= t < day0 + timedelta(1)}
    first = 0
    if d.first_ever is not None and d.first_ever > day0:
        first = int((d.first_ever - day0) / step)
    return [day0 + i * step for i in range(first, slots) if i not in covered]


def gap_checks(days: Iterable[StationDay], min_missing: int) -> list[Observation]:
    """Gap: a passed day (the caller passes only those) with at least `min_missing`
    spectra missing; cleared when late files fill it."""
    out = []
    for d in days:
        missing = missing_slots(d)
        step = timedelta(seconds=d.interval_s)
        expected = int(timedelta(days=1) / step)
        end = iso_z(datetime.combine(d.day + timedelta(days=1), time(0), tzinfo=UTC))
        ranges = _ranges(missing, step)
        key = d.day.isoformat()
        if len(missing) >= min_missing:
            shown = ", ".join(ranges[:6]) + (", ..." if len(ranges) > 6 else "")
            out.append(
                Observation(
                    "gap",
                    d.station,
                    key,
                    True,
                    f"{d.station}: {len(missing)} of {expected} spectra of {key} missing ({shown})",
                    data_until=end,
                    value=float(len(missing)),
                    details={"missing": ranges},
                )
            )
        else:
            out.append(
                Observation(
                    "gap",
                    d.station,
                    key,
                    False,
                    f"{d.station}: the missing spectra of {key} arrived"
                    + (f" ({len(missing)} still missing)" if missing else ""),
                    value=float(len(missing)),
                )
            )
    return out


def _ranges(slots: Sequence[datetime], step: timedelta) -> list[str]:
    """Consecutive slots as `HH:MM-HH:MM` (the end is that of the last interval)."""
    out: list[str] = []
    start = prev = None
    for t in slots:
        if start is None:
            start = prev = t
        elif t - prev == step:
            prev = t
        else:
            out.append(f"{start:%H:%M}-{prev + step:%H:%M}")
            start = prev = t
    if start is not None:
        out.append(f"{start:%H:%M}-{prev + step:%H:%M}")
    return out


def disagreement_checks(rows: Iterable[dict[str, Any]]) -> list[Observation]:
    """Disagreement, per station and nuclide: raised by a spectrum whose comparison is
    flagged (|z| > 3, central/compare.py), cleared by a later spectrum's that is not.
    `rows`: comparisons with their spectrum's station, file_name, start_time and
    data_until, in the order they were made."""
    out = []
    for r in rows:
        name, nuclide = r["station"], r["nuclide"]
        if r["flagged"]:
            message = (
                f"{name} {nuclide}: the station and central analyses of {r['file_name']} "
                f"disagree ({r['reason']}; z {_g(r.get('z'))}, station {_g(r.get('station_value'))}, "
                f"central {_g(r.get('central_value'))} {_unit(r.get('quantity'))})"
            )
        else:
            message = (
                f"{name} {nuclide}: the analyses agree again ({r['file_name']}: {r['reason']})"
            )
        z = r.get("z")
        out.append(
            Observation(
                "disagreement",
                name,
                nuclide,
                bool(r["flagged"]),
                message,
                data_until=r["data_until"] or "",
                value=None if z is None else abs(float(z)),
                details={"file_name": r["file_name"], "message_id": r["message_id"]},
                at=r["start_time"],
            )
        )
    return out


@dataclass(frozen=True)
class Expiry:
    """A certificate or CRL of the central's PKI and when it runs out (None: unreadable)."""

    kind: str  # certificate or crl
    key: str  # what it is, stable across renewals: e.g. "server certificate"
    what: str  # shown: the file and the subject
    expires: datetime | None
    problem: str = ""  # why it could not be read
    station: str = CENTRAL


def expiry_checks(
    items: Iterable[Expiry], now: datetime, certificate_days: int, crl_days: int
) -> list[Observation]:
    """Certificate or CRL near expiry: fewer than the warning days left (or already run
    out, or unreadable); cleared when a renewed one is in place."""
    out = []
    for item in items:
        days = certificate_days if item.kind == "certificate" else crl_days
        if item.expires is None:
            out.append(
                Observation(item.kind, item.station, item.key, True, f"{item.what}: {item.problem}")
            )
            continue
        left = item.expires - now
        when = f"{item.expires:%Y-%m-%d %H:%M}Z"
        consequence = (
            "; every message is answered 503 until a new CRL is in place (`stax pki crl`)"
            if item.kind == "crl"
            else ""
        )
        if left <= timedelta(days=days):
            text = (
                f"{item.what}: ran out at {when}{consequence}"
                if left <= timedelta(0)
                else f"{item.what}: runs out at {when}, in {_duration(left)}{consequence}"
            )
            out.append(
                Observation(
                    item.kind,
                    item.station,
                    item.key,
                    True,
                    text,
                    value=round(left.total_seconds() / 86400, 2),
                    details={"expires": iso_z(item.expires)},
                )
            )
        else:
            out.append(
                Observation(
                    item.kind,
                    item.station,
                    item.key,
                    False,
                    f"{item.what}: renewed, valid until {when}",
                    value=round(left.total_seconds() / 86400, 2),
                )
            )
    return out


def soh_checks(
    latest: Iterable[dict[str, Any]],
    limits: dict[str, dict[str, tuple[float | None, float | None]]],
) -> list[Observation]:
    """SOH value outside its limits, per station and quantity: raised by the latest report
    whose value is outside (`central.soh.outside_limits`), cleared by a later report whose
    value is inside. `latest`: `central.soh.latest_soh` of each station; `limits`: station
    -> `limits_for`. A quantity the report does not carry leaves its episode as it is."""
    from .soh import outside_limits

    out = []
    for report in latest:
        station = report["station"]
        bounds = limits.get(station, {})
        units = report.get("units", {})
        outside = {q: (v, lo, hi) for q, v, lo, hi in outside_limits(report["values"], bounds)}
        for quantity in sorted(set(report["values"]) & set(bounds)):
            value = report["values"][quantity]
            if value is None:
                continue
            unit = units.get(quantity, "")
            low, high = bounds[quantity]
            span = _span(low, high, unit)
            if quantity in outside:
                message = (
                    f"{station}: {quantity} {value:g} {unit} outside its limits ({span}) "
                    f"at {report['time']}"
                )
            else:
                message = f"{station}: {quantity} {value:g} {unit} within its limits ({span}) again"
            out.append(
                Observation(
                    "soh_limit",
                    station,
                    quantity,
                    quantity in outside,
                    " ".join(message.split()),
                    data_until=report["data_until"] or "",
                    value=float(value),
                    details={"low": low, "high": high, "unit": unit,
                             "message_id": report["message_id"]},
                    at=report["time"] or None,
                )
            )  # fmt: skip
    return out


def _span(low: float | None, high: float | None, unit: str) -> str:
    if low is None:
        return f"at most {high:g} {unit}".strip()
    if high is None:
        return f"at least {low:g} {unit}".strip()
    return f"{low:g} to {high:g} {unit}".strip()


def quarantine_checks(count_last_hour: int, now: datetime, limit: int) -> list[Observation]:
    """Quarantine growing: more than `limit` messages quarantined in the hour before `now`."""
    if count_last_hour > limit:
        return [
            Observation(
                "quarantine",
                CENTRAL,
                "",
                True,
                f"{count_last_hour} messages quarantined in the hour before "
                f"{now:%Y-%m-%d %H:%M}Z (more than {limit}): see the quarantine for the reasons",
                value=float(count_last_hour),
            )
        ]
    return [
        Observation(
            "quarantine",
            CENTRAL,
            "",
            False,
            f"quarantine back to {count_last_hour} messages an hour (at most {limit})",
            value=float(count_last_hour),
        )
    ]


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def _g(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3g}"


def _unit(quantity: str | None) -> str:
    return "Bq" if quantity in (None, "release", "activity") else quantity


# ------------------------------------------------------------------ gathering and running
def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _facility_cycles(store) -> dict[str, tuple[float, bool]]:
    out = {}
    for row in store.db.query("select code, collection_seconds, realtime_data from facilities"):
        seconds = row["collection_seconds"]
        interval = float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None
        out[row["code"]] = (interval or DEFAULT_INTERVAL_S, row["realtime_data"] != 0)
    return out


def _stations(store) -> list[str]:
    codes = {r[0] for r in store.conn.execute("select code from facilities")}
    codes |= {r[0] for r in store.conn.execute("select distinct station from messages")}
    return sorted(codes)


def station_activity(store, station: str, interval_s: float, realtime: bool) -> StationActivity:
    """The newest spectra of `station` as `silent_checks` needs them (the 200 with the
    latest data times: enough to see past a few stamped in the future)."""
    rows = store.conn.execute(
        "select data_until, received_at from messages where station = ? and product = 'PHD' "
        "order by data_until desc limit 200",
        [station],
    ).fetchall()
    latest_data = latest_received = None
    for until_text, received_text in rows:
        until, received = _parse(until_text), _parse(received_text)
        if until is None or received is None:
            continue
        seen = min(until, received)
        latest_data = seen if latest_data is None else max(latest_data, seen)
        latest_received = received if latest_received is None else max(latest_received, received)
    return StationActivity(station, latest_data, latest_received, interval_s, realtime)


def station_days(
    store, station: str, interval_s: float, now: datetime, days: int
) -> list[StationDay]:
    """The passed days (products' `settled` rule) of the last `days` that `station` has
    spectra since, with their spectra's start times."""
    from .products import settled

    first_row = store.conn.execute(
        "select start_time from messages where station = ? and product = 'PHD' "
        "and start_time is not null order by start_time limit 1",
        [station],
    ).fetchone()
    first = _parse(first_row[0]) if first_row else None
    if first is None:
        return []
    today = now.astimezone(UTC).date()
    start_day = max(first.date(), today - timedelta(days=days))
    if start_day >= today:
        return []
    window = (
        iso_z(datetime.combine(start_day, time(0), tzinfo=UTC)),
        iso_z(datetime.combine(today, time(0), tzinfo=UTC)),
    )
    by_day: dict[date, list[datetime]] = {}
    for (text,) in store.conn.execute(
        "select start_time from messages where station = ? and product = 'PHD' "
        "and start_time >= ? and start_time < ?",
        [station, *window],
    ):
        t = _parse(text)
        if t is not None:
            by_day.setdefault(t.date(), []).append(t)
    out = []
    day = start_day
    while day < today:
        if settled(store, station, day, now):
            out.append(StationDay(station, day, by_day.get(day, []), first, interval_s))
        day += timedelta(days=1)
    return out


def new_comparisons(store, after: int, limit: int = 5000) -> list[dict[str, Any]]:
    return list(
        store.db.query(
            "select c.id, c.message_id, c.nuclide, c.quantity, c.flagged, c.z, c.reason, "
            "c.station_value, c.central_value, m.station, m.file_name, m.start_time, "
            "m.data_until from comparisons c join messages m on m.id = c.message_id "
            "where c.id > ? order by c.id limit ?",
            [after, limit],
        )
    )


def pki_expiries(intake) -> list[Expiry]:
    """The central's certificate, the network CA's and the CRL from [intake]'s files."""
    from shared.crypto.files import load_certificates, load_crl

    out: list[Expiry] = []
    for key, path in (
        ("server certificate", intake.server_cert),
        ("CA certificate", intake.ca_cert),
    ):
        try:
            certs = load_certificates(path)
        except (OSError, ValueError) as exc:
            out.append(Expiry("certificate", key, f"{key} {path}", None, f"cannot be read: {exc}"))
            continue
        for i, cert in enumerate(certs):
            subject = cert.subject.rfc4514_string()
            out.append(
                Expiry(
                    "certificate",
                    key if i == 0 else f"{key} {i + 1}",
                    f"{key} {subject} ({path})",
                    cert.not_valid_after_utc,
                )
            )
    if intake.crl is not None:
        try:
            crl = load_crl(intake.crl)
        except (OSError, ValueError) as exc:
            out.append(Expiry("crl", "CRL", f"CRL {intake.crl}", None, f"cannot be read: {exc}"))
        else:
            out.append(Expiry("crl", "CRL", f"CRL {intake.crl}", crl.next_update_utc))
    return out


def quarantined_last_hour(store, now: datetime) -> int:
    row = store.conn.execute(
        "select count(*) from quarantine where received_at > ?", [iso_z(now - timedelta(hours=1))]
    ).fetchone()
    return int(row[0])


DISAGREEMENT_CURSOR = "alerts.comparisons"


def run_checks(store, config, now: datetime, intake=None) -> list[dict[str, Any]]:
    """Every check once at `now` (`config`: [alerts]; `intake`: [intake], for the PKI
    files); the episodes raised or cleared, each stored and handed to the ALERT
    subscribers' mail. A check that fails is logged and the others still run."""
    changed: list[dict[str, Any]] = []

    def run(name: str, observe) -> None:
        try:
            changed.extend(apply_observations(store, observe(), now))
        except Exception:
            log.exception("central alerts: the %s check failed", name)

    cycles = _facility_cycles(store)
    stations = _stations(store)

    def cycle(code: str) -> tuple[float, bool]:
        return cycles.get(code, (DEFAULT_INTERVAL_S, True))

    run(
        "silent",
        lambda: silent_checks(
            [station_activity(store, s, *cycle(s)) for s in stations], now, config.silent_intervals
        ),
    )
    run(
        "gap",
        lambda: gap_checks(
            [
                d
                for s in stations
                for d in station_days(store, s, cycle(s)[0], now, config.gap_days)
            ],
            config.gap_min_missing,
        ),
    )

    try:  # the cursor moves only once the observations it covers are applied
        rows = new_comparisons(store, int(get_cursor(store, DISAGREEMENT_CURSOR, "0")))
        if rows:
            changed.extend(apply_observations(store, disagreement_checks(rows), now))
            set_cursor(store, DISAGREEMENT_CURSOR, str(rows[-1]["id"]), now)
    except Exception:
        log.exception("central alerts: the disagreement check failed")

    def soh() -> list[Observation]:
        from .soh import latest_soh, limits_for

        reports = [r for r in (latest_soh(store, s) for s in stations) if r is not None]
        return soh_checks(reports, {r["station"]: limits_for(store, r["station"]) for r in reports})

    run("soh_limit", soh)
    if intake is not None:
        run(
            "certificate",
            lambda: expiry_checks(
                pki_expiries(intake), now, config.certificate_warning_days, config.crl_warning_days
            ),
        )
    run(
        "quarantine",
        lambda: quarantine_checks(
            quarantined_last_hour(store, now), now, config.quarantine_per_hour
        ),
    )
    announce_episodes(store, changed, now)
    return changed


def announce_episodes(store, episodes: Sequence[dict[str, Any]], now: datetime) -> None:
    """Log each raised or cleared episode at WARNING and hand it to the mail."""
    for episode in episodes:
        log.warning(
            "central alert %s: %s",
            episode["state"],
            episode["message"] if episode["state"] == "open" else episode["clear_message"],
        )
    mail_episodes(store, episodes, now)


def mail_episodes(store, episodes: Sequence[dict[str, Any]], now: datetime) -> None:
    """Hand each raised or cleared episode to `central.subscriptions.mail_alert` (the
    ALERT subscribers' mail queue), when this installation has it."""
    try:
        from central.subscriptions import mail_alert  # type: ignore[import-not-found]
    except ImportError:
        return
    for episode in episodes:
        try:
            mail_alert(store, episode, now)
        except Exception:
            log.exception("central alert %s: not queued for mail", episode["id"])
