"""State of health as values: each SOH report's readings in one flat table, and the limits
they are judged against.

- `soh_values` (message_id, station, time, data_until, block, quantity, value, unit,
  state): one row per reading (quantity and 15-minute interval) of every stored SOH
  message. `time` is the start of the reading's interval; `data_until` is the message's
  own, so that a value is seen exactly when the file it came in is (central/access.py's
  `message_scope` filters the table directly). `value` is NULL where the station wrote a
  "not measured" value (-9999.999 ...) and for states (`state`: ON, OFF, CLOSED ...).
  Filled in the same transaction that stores the message (`record_soh`, called by
  `Store.add_message`), and once for a database made before the table (`backfill`).
- `soh_messages` (message_id, readings, error): which SOH messages have been read into
  values, so that the backfill reads each once, also those with nothing to read.
- `soh_limits` (station or '*', quantity, low, high, unit): alert limits; '*' rows are
  the defaults of the central configuration (`[soh.limits]`, central/config.py), a
  station's own row replaces the default for that station.
- `soh_limit_changes` (station, quantity, old_low, old_high, new_low, new_high, unit,
  changed_by, changed_at): every change of a station's limits made with `change_limit`
  (the SOH charts' editor, `stax central soh-limit set`), the limits in force before and
  after it; the central alerts' `soh_limit` check reads the limits in force
  (`limits_for`), so an edit applies from the next check on.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from shared.formats import FormatError, read_message, readings
from shared.timeutil import iso_z

from .bulkread import paused_gc
from .config import SohLimit, default_soh_limits

if TYPE_CHECKING:
    from .accounts import User
    from .store import Store

log = logging.getLogger(__name__)

ALL_STATIONS = "*"
Limits = dict[str, tuple[float | None, float | None]]


def ensure_schema(db: sqlite_utils.Database, store: Store | None = None) -> None:
    """Create the tables (idempotent), the default limits with them. Given the `store`
    (Store.__init__ passes itself), a database made before the tables gets its SOH
    messages read into values once, as the tables are made."""
    tables = set(db.table_names())
    if "soh_values" not in tables:
        db["soh_values"].create(
            {
                "id": int,
                "message_id": int,
                "station": str,
                "time": str,  # ISO Z: start of the reading's interval
                "data_until": str,  # the SOH message's (the access rule)
                "block": str,  # AirSamplerFlow, DetEnv, PowerSupply, EquipStatus, ProcessSensors
                "quantity": str,  # e.g. crystal_temperature, CoolerPower.CP5Power
                "value": float,  # None: not measured, or a state
                "unit": str,
                "state": str,  # non-numeric readings: ON, OFF, CLOSED, an SRID ...
            },
            pk="id",
            foreign_keys=[("message_id", "messages", "id")],
            not_null={"message_id", "station", "time", "quantity"},
            if_not_exists=True,
        )
        db["soh_values"].create_index(
            ["station", "quantity", "time"], if_not_exists=True, index_name="soh_values_series"
        )
        db["soh_values"].create_index(["message_id"], if_not_exists=True)
        # no (station, data_until) index: with one, the planner takes it for the publish
        # rule's condition and reads a station's whole history for a week's chart
    if "soh_messages" not in tables:
        db["soh_messages"].create(
            {"message_id": int, "readings": int, "error": str},
            pk="message_id",
            foreign_keys=[("message_id", "messages", "id")],
            not_null={"readings"},
            if_not_exists=True,
        )
    if "soh_limits" not in tables:
        db["soh_limits"].create(
            {"station": str, "quantity": str, "low": float, "high": float, "unit": str},
            pk=("station", "quantity"),
            not_null={"station", "quantity"},
            if_not_exists=True,
        )
        with db.conn:
            _write_defaults(db.conn, default_soh_limits())
    if "soh_limit_changes" not in tables:
        db["soh_limit_changes"].create(
            {
                "id": int,
                "station": str,
                "quantity": str,
                "old_low": float,
                "old_high": float,
                "new_low": float,
                "new_high": float,
                "unit": str,
                "changed_by": str,
                "changed_at": str,  # ISO Z
            },
            pk="id",
            not_null={"station", "quantity", "changed_by", "changed_at"},
            if_not_exists=True,
        )
        db["soh_limit_changes"].create_index(
            ["station", "changed_at"], if_not_exists=True, index_name="soh_limit_changes_station"
        )
    if "soh_values" not in tables and store is not None:
        backfill(store)


# ------------------------------------------------------------------------ filling
def soh_rows(content: bytes, source: str = "<soh>") -> list[dict[str, Any]]:
    """The readings of one SOH message as rows of `soh_values` (without message_id,
    station and data_until). Raises FormatError for a file that is not a readable SOH."""
    soh = read_message(content, source=source, lenient=True).soh
    if soh is None:
        raise ValueError(f"{source}: no SOH report in the message")
    rows: list[dict[str, Any]] = []
    for block in soh.blocks:
        for r in readings(replace(soh, blocks=[block])):
            numeric = isinstance(r.value, float | int) and not isinstance(r.value, bool)
            rows.append(
                {
                    "time": iso_z(r.start),
                    "block": block.name,
                    "quantity": r.parameter,
                    "value": float(r.value) if numeric else None,
                    "unit": r.unit,
                    "state": r.value if isinstance(r.value, str) else None,
                }
            )
    return rows


def record_soh(conn: sqlite3.Connection, message_id: int, content: bytes) -> int:
    """Read a stored SOH message (row `message_id` of `messages`) into `soh_values`, in the
    caller's transaction; once per message. Returns the number of readings. A file that
    cannot be read is noted in `soh_messages` with the reason, never raised: the message
    itself is stored whatever its readings."""
    row = conn.execute(
        "select station, data_until, file_name from messages where id = ?", [message_id]
    ).fetchone()
    if row is None:
        raise KeyError(f"no stored message with id {message_id}")
    station, until, name = row
    try:
        rows = soh_rows(content, name)
        error = None
    except (FormatError, ValueError) as exc:
        rows, error = [], str(exc)
        log.warning("%s: SOH readings not recorded: %s", name, error)
    claimed = conn.execute(
        "insert or ignore into soh_messages (message_id, readings, error) values (?, ?, ?)",
        [message_id, len(rows), error],
    ).rowcount
    if not claimed:
        return 0  # read before (by another process's backfill)
    conn.executemany(
        "insert into soh_values (message_id, station, time, data_until, block, quantity, "
        "value, unit, state) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (message_id, station, r["time"], until, r["block"], r["quantity"], r["value"],
             r["unit"], r["state"])
            for r in rows
        ],
    )  # fmt: skip
    return len(rows)


def backfill(store: Store, limit: int | None = None) -> int:
    """Read the stored SOH messages that have no values yet (a database made before the
    table); returns how many were read. Safe beside the intake: each message is claimed
    once in `soh_messages`."""
    query = (
        "select id from messages where product = 'SOH' "
        "and id not in (select message_id from soh_messages) order by id"
    )
    args: list[Any] = []
    if limit is not None:
        query += " limit ?"
        args.append(limit)
    done = 0
    for (message_id,) in store.conn.execute(query, args).fetchall():
        try:
            content = store.content(message_id)
        except Exception as exc:  # a blob gone missing: noted, the others still read
            with store.conn:
                store.conn.execute(
                    "insert or ignore into soh_messages (message_id, readings, error) "
                    "values (?, 0, ?)",
                    [message_id, f"cannot read the stored file: {exc}"],
                )
            continue
        with store.conn:
            record_soh(store.conn, message_id, content)
        done += 1
    return done


# ------------------------------------------------------------------------ limits
def _write_defaults(conn: sqlite3.Connection, limits: Mapping[str, SohLimit]) -> None:
    conn.execute("delete from soh_limits where station = ?", [ALL_STATIONS])
    conn.executemany(
        "insert into soh_limits (station, quantity, low, high, unit) values (?, ?, ?, ?, ?)",
        [(ALL_STATIONS, q, lim.low, lim.high, lim.unit) for q, lim in sorted(limits.items())],
    )


def apply_default_limits(store: Store, limits: Mapping[str, SohLimit]) -> None:
    """Make `limits` (the central configuration's `[soh.limits]`) the defaults of every
    station: the '*' rows are replaced; stations' own rows stay."""
    with store.conn:
        _write_defaults(store.conn, limits)


def _write_limit(
    conn: sqlite3.Connection,
    station: str,
    quantity: str,
    low: float | None,
    high: float | None,
    unit: str,
) -> None:
    """The station's own row of `quantity`; both limits None: the row removed."""
    if low is None and high is None:
        conn.execute(
            "delete from soh_limits where station = ? and quantity = ?", [station, quantity]
        )
    else:
        conn.execute(
            "insert or replace into soh_limits (station, quantity, low, high, unit) "
            "values (?, ?, ?, ?, ?)",
            [station, quantity, low, high, unit],
        )


def set_limit(
    store: Store,
    station: str,
    quantity: str,
    low: float | None,
    high: float | None,
    unit: str = "",
) -> None:
    """A station's own limit for one quantity (station '*': the default). Both None: the
    station's own row is removed, the default applies again."""
    if not station or not quantity:
        raise ValueError("station and quantity are required")
    if low is not None or high is not None:
        SohLimit(low=low, high=high, unit=unit)  # checks low < high
    with store.conn:
        _write_limit(store.conn, station, quantity, low, high, unit)


def limits_for(store: Store, station: str) -> Limits:
    """quantity -> (low, high) for `station`: its own rows, else the defaults."""
    out: Limits = {}
    rows = store.conn.execute(
        "select station, quantity, low, high from soh_limits where station in (?, ?) "
        "order by station = ?, quantity",
        [ALL_STATIONS, station, station],
    ).fetchall()
    for _station, quantity, low, high in rows:  # defaults first, the station's over them
        out[quantity] = (low, high)
    return out


def limit_units(store: Store, station: str) -> dict[str, str]:
    """quantity -> the unit its limits are given in."""
    out: dict[str, str] = {}
    for _s, quantity, unit in store.conn.execute(
        "select station, quantity, unit from soh_limits where station in (?, ?) "
        "order by station = ?",
        [ALL_STATIONS, station, station],
    ):
        out[quantity] = unit or ""
    return out


def outside_limits(
    values: Mapping[str, float | None], limits: Mapping[str, tuple[float | None, float | None]]
) -> list[tuple[str, float, float | None, float | None]]:
    """The values outside their limits, as (quantity, value, low, high), by quantity.
    A value equal to a limit is inside; a value not measured (None) is never outside."""
    out = []
    for quantity in sorted(values):
        value = values[quantity]
        if value is None or quantity not in limits:
            continue
        low, high = limits[quantity]
        if (low is not None and value < low) or (high is not None and value > high):
            out.append((quantity, float(value), low, high))
    return out


# ------------------------------------------------------------ editing a station's limits
class SohLimitError(ValueError):
    """A limit change that cannot be made (nothing is changed)."""


MAX_QUANTITY = 100  # characters of a quantity's name


def station_limits(store: Store, station: str) -> list[dict[str, Any]]:
    """The limits in force at `station`, by quantity: quantity, low, high, unit, and
    `own` (the station's own row) or not (the central configuration's default)."""
    found: dict[str, dict[str, Any]] = {}
    for row in store.db.query(
        "select station, quantity, low, high, unit from soh_limits where station in (?, ?) "
        "order by station = ?, quantity",
        [ALL_STATIONS, station, station],
    ):  # defaults first, the station's over them
        found[row["quantity"]] = {
            "quantity": row["quantity"],
            "low": row["low"],
            "high": row["high"],
            "unit": row["unit"] or "",
            "own": row["station"] != ALL_STATIONS,
        }
    return [found[q] for q in sorted(found)]


def _bound(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SohLimitError(f"the {name} limit is a number, not {value!r}")
    if not math.isfinite(value):
        raise SohLimitError(f"the {name} limit is a finite number, not {value!r}")
    return float(value)


def _check_quantity(quantity: Any) -> str:
    if not isinstance(quantity, str) or not quantity.strip():
        raise SohLimitError("a quantity is required")
    quantity = quantity.strip()
    if len(quantity) > MAX_QUANTITY or any(c.isspace() for c in quantity):
        raise SohLimitError(f"{quantity[:MAX_QUANTITY]!r} is not a quantity's name")
    return quantity


def change_limit(
    store: Store,
    station: str,
    quantity: str,
    low: float | None,
    high: float | None,
    *,
    changed_by: str,
    now: datetime,
    user: User | None = None,
    unit: str | None = None,
) -> dict[str, Any] | None:
    """Set `station`'s own limits of `quantity` (low and/or high; both None: back to the
    central configuration's default) and record the change in `soh_limit_changes`.
    With `user` (the web), only the facility's owners and administrators may; without
    (the command line on the server), whoever runs it. `unit` None keeps the unit the
    limit has now. Returns the change recorded, or None when the limits in force stay
    the same. Raises SohLimitError (nothing changed) for a bad value, AccessDenied for
    a user who does not manage the facility."""
    from .access import AccessDenied
    from .facilities import can_manage

    if user is not None and not can_manage(user, station):
        raise AccessDenied(f"user {user.username!r} does not manage facility {station}")
    if not store.db["facilities"].count_where("code = ?", [station]):
        raise SohLimitError(f"no facility {station}")
    quantity = _check_quantity(quantity)
    low, high = _bound(low, "low"), _bound(high, "high")
    if low is not None and high is not None and not low < high:
        raise SohLimitError(f"the low limit {low:g} must be below the high limit {high:g}")
    before = next((r for r in station_limits(store, station) if r["quantity"] == quantity), None)
    if unit is None:
        unit = before["unit"] if before else ""
    unit = unit.strip()
    old = (before["low"], before["high"]) if before else (None, None)
    with store.conn:
        _write_limit(store.conn, station, quantity, low, high, unit)
        after = limits_for(store, station).get(quantity, (None, None))
        if after == old and (before or {}).get("unit", unit) == unit:
            return None
        change = {
            "station": station,
            "quantity": quantity,
            "old_low": old[0],
            "old_high": old[1],
            "new_low": after[0],
            "new_high": after[1],
            "unit": limit_units(store, station).get(quantity, unit),
            "changed_by": changed_by,
            "changed_at": iso_z(now),
        }
        cursor = store.conn.execute(
            f"insert into soh_limit_changes ({', '.join(change)}) "
            f"values ({', '.join('?' * len(change))})",
            list(change.values()),
        )
    return {"id": cursor.lastrowid, **change}


def limit_changes(
    store: Store, station: str, quantity: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The recorded changes of `station`'s limits (of one quantity if given), newest first."""
    where, params = "station = ?", [station]
    if quantity is not None:
        where += " and quantity = ?"
        params.append(quantity)
    return list(
        store.db.query(
            f"select * from soh_limit_changes where {where} order by changed_at desc, id desc "
            "limit ?",
            [*params, limit],
        )
    )


# ------------------------------------------------------------------------ reading
def soh_series(
    store: Store,
    user: User,
    now: datetime,
    station: str,
    quantities: Iterable[str] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """The readings of `station` that `user` may see at `now`, oldest first by quantity:
    dicts of message_id, time, quantity, value, unit, state, block. `quantities` None:
    all; `start` <= time < `end` (either may be None)."""
    from .access import message_scope

    scope, params = message_scope(store, user, now)
    sql = (
        "select message_id, time, quantity, value, unit, state, block from soh_values "
        f"indexed by soh_values_series where station = ? and {scope}"
    )
    args: list[Any] = [station, *params]
    if quantities is not None:
        wanted = sorted(set(quantities))
        if not wanted:
            return []
        sql += f" and quantity in ({', '.join('?' * len(wanted))})"
        args.extend(wanted)
    if start is not None:
        sql += " and time >= ?"
        args.append(_iso(start))
    if end is not None:
        sql += " and time < ?"
        args.append(_iso(end))
    sql += " order by quantity, time, message_id"
    return [dict(r) for r in store.db.query(sql, args)]


def soh_numbers(
    store: Store,
    user: User,
    now: datetime,
    station: str,
    quantities: Iterable[str],
    start: datetime | str,
    end: datetime | str,
) -> dict[str, tuple[str, list[str], list[float | None]]]:
    """The numeric readings (states left out) of `station` that `user` may see at `now`
    with `start` <= time < `end`, per quantity: (unit, times, values), oldest first;
    `values` None where not measured. What the charts read: tuples down the series
    index, no dict per reading (a station-year of ten quantities is 350,000 of them)."""
    from .access import message_scope

    scope, params = message_scope(store, user, now)
    where = (
        "from soh_values indexed by soh_values_series where station = ? and quantity = ? "
        f"and time >= ? and time < ? and state is null and {scope}"
    )
    out: dict[str, tuple[str, list[str], list[float | None]]] = {}
    for quantity in sorted(set(quantities)):
        args = [station, quantity, _iso(start), _iso(end), *params]
        # in the index's own order (no sort); two reports' readings of one time as stored
        with paused_gc():
            found = store.conn.execute(f"select time, value {where} order by time, id", args)
            found = found.fetchall()
        if not found:
            continue
        unit = store.conn.execute(
            f"select unit {where} and unit is not null and unit != '' limit 1", args
        ).fetchone()
        times = [r[0] for r in found]  # (not zip(*found): 35,000 arguments)
        out[quantity] = (unit[0] if unit else "", times, [r[1] for r in found])
    return out


def latest_visible_soh(store: Store, user: User, now: datetime, station: str) -> int | None:
    """The id of `station`'s latest SOH message with readings that `user` may see at
    `now` (through the messages' (station, data_until) index: quick at a year)."""
    from .access import message_scope

    scope, params = message_scope(store, user, now)
    row = store.conn.execute(
        "select id from messages where station = ? and product = 'SOH' "
        f"and {scope} and id in (select message_id from soh_messages where readings > 0) "
        "order by data_until desc, id desc limit 1",
        [station, *params],
    ).fetchone()
    return None if row is None else int(row[0])


def soh_quantities(store: Store, user: User, now: datetime, station: str) -> list[str]:
    """The quantities with numbers in `station`'s latest SOH report `user` may see at
    `now` (what the station reports now), sorted."""
    message_id = latest_visible_soh(store, user, now, station)
    if message_id is None:
        return []
    return [
        r[0]
        for r in store.conn.execute(
            "select distinct quantity from soh_values where message_id = ? "
            "and value is not null order by quantity",
            [message_id],
        )
    ]


def latest_visible_time(store: Store, user: User, now: datetime, station: str) -> str | None:
    """The start of the last interval of `station`'s latest SOH report `user` may see."""
    message_id = latest_visible_soh(store, user, now, station)
    if message_id is None:
        return None
    return store.conn.execute(
        "select max(time) from soh_values where message_id = ?", [message_id]
    ).fetchone()[0]


def latest_soh(store: Store, station: str) -> dict[str, Any] | None:
    """The station's latest SOH report as values (no user: callers apply the access rule
    with the returned `station` and `data_until`, e.g. `can_see_message`): message_id,
    station, data_until, time (its last interval), values {quantity: value}, units,
    states {quantity: state}. None: no SOH stored."""
    row = store.conn.execute(
        "select m.id, m.data_until from soh_messages s join messages m on m.id = s.message_id "
        "where m.station = ? and s.readings > 0 order by m.data_until desc, m.id desc limit 1",
        [station],
    ).fetchone()
    if row is None:
        return None
    message_id, until = row
    values: dict[str, float | None] = {}
    units: dict[str, str] = {}
    states: dict[str, str] = {}
    last = ""
    for time, quantity, value, unit, state in store.conn.execute(
        "select time, quantity, value, unit, state from soh_values where message_id = ? "
        "order by time, id",
        [message_id],
    ):
        last = max(last, time)
        if state is not None:
            states[quantity] = state
        else:
            values[quantity] = value  # the last interval's reading wins
            units[quantity] = unit or ""
    return {
        "message_id": message_id,
        "station": station,
        "data_until": until,
        "time": last,
        "values": values,
        "units": units,
        "states": states,
    }


def _iso(value: datetime | str) -> str:
    return iso_z(value) if isinstance(value, datetime) else value
