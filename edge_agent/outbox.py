"""The station's durable outbox: every file made waits here until the central confirmed it.

SQLite in WAL mode with synchronous=FULL: a file once queued survives power cuts and
restarts. A file is `held` (release delay or operator), `ready` (to send), `sent` (the
central answered 200 or 201) or `refused` (the central said why; kept, not retried).
Station times (release) are station-clock ISO strings; attempt times are real Unix
seconds, because retries wait in real time even when the station clock runs fast.
The outbox also keeps each station's MSG_ID counter, how far acquisition got, gaps, the
station analysis of each spectrum (from which the daily ATS is made), the state-of-health
samples (from which the STAXSOH reports are made), the open alert episodes, and, per
transport (HTTPS, e-mail), each file's deliveries: a file is `sent` once every configured
transport delivered it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from shared.timeutil import as_utc

__all__ = [
    "STATES",
    "Episode",
    "Gap",
    "Outbox",
    "OutboxError",
    "OutboxFile",
    "ReleasePolicy",
]

STATES = ("held", "ready", "sent", "refused")

_SCHEMA = """
create table if not exists files (
    id integer primary key,
    file_name text not null unique,
    station text not null,
    msg_id integer not null,
    data_type text not null,
    interval_start text,
    content blob not null,
    payload blob not null,
    created_at text not null,
    release_at text,
    state text not null check (state in ('held', 'ready', 'sent', 'refused')),
    attempts integer not null default 0,
    next_attempt_at real,
    last_attempt_at real,
    last_status integer,
    last_error text,
    sent_at real,
    note text
);
create index if not exists files_state on files (state, id);
create index if not exists files_interval on files (station, data_type, interval_start);
create table if not exists msg_ids (station text primary key, last integer not null);
create table if not exists analyses (
    file_name text primary key,
    created_at text not null,
    result text,  -- the station method's AnalysisResult as JSON
    error text  -- why the spectrum could not be analysed
);
create table if not exists progress (station text primary key, acquired_until text not null);
create table if not exists soh_samples (
    station text not null,
    interval_start text not null,
    data text not null,  -- edge_agent.soh.SohSample as JSON
    primary key (station, interval_start)
);
create table if not exists alert_episodes (
    station text not null,
    key text not null,  -- what is wrong: "mca", "spectra", "limit:<quantity>", ...
    kind text not null,  -- ALERT_SYSTEM, ALERT_FLOW, ALERT_TEMP, ALERT_UPS
    opened_at text not null,
    text text not null,
    primary key (station, key)
);
create table if not exists deliveries (  -- per transport (https, email) and file
    file_id integer not null,
    transport text not null,
    attempts integer not null default 0,
    next_attempt_at real,
    last_status integer,
    last_error text,
    sent_at real,
    primary key (file_id, transport)
);
create table if not exists gaps (
    id integer primary key,
    station text not null,
    start text not null,
    end text not null,
    reason text not null
);
"""

# the columns `list` returns: everything but the two blobs
_SUMMARY = (
    "id, file_name, station, msg_id, data_type, interval_start, length(content) as size, "
    "created_at, release_at, state, attempts, next_attempt_at, last_attempt_at, "
    "last_status, last_error, sent_at, note"
)


class OutboxError(ValueError):
    """An operation the outbox cannot do; the message says which file and why."""


def _iso(t: datetime) -> str:
    # fixed width so that text order is time order
    return as_utc(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(text: str | None) -> datetime | None:
    return None if text is None else as_utc(datetime.fromisoformat(text))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass(frozen=True)
class ReleasePolicy:
    """When a new file may leave the station (the operator's review delay)."""

    mode: str = "immediate"  # immediate | delay | manual
    delay_hours: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("immediate", "delay", "manual"):
            raise ValueError(f"release mode must be immediate, delay or manual, not {self.mode!r}")

    def release_at(self, created: datetime) -> datetime | None:
        """The station time the file may be sent; None: only when released by hand."""
        if self.mode == "manual":
            return None
        if self.mode == "delay":
            return as_utc(created) + timedelta(hours=self.delay_hours)
        return as_utc(created)


@dataclass(frozen=True)
class OutboxFile:
    id: int
    file_name: str
    station: str
    msg_id: int
    data_type: str
    interval_start: datetime | None
    size: int
    created_at: datetime
    release_at: datetime | None
    state: str
    attempts: int
    next_attempt_at: float | None
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    sent_at: float | None
    note: str | None
    content: bytes | None = None  # the plain file (only from `get`)
    payload: bytes | None = None  # signed and encrypted (only from `get` and `next_to_send`)

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> OutboxFile:
        keys = row.keys()
        return cls(
            id=row["id"],
            file_name=row["file_name"],
            station=row["station"],
            msg_id=row["msg_id"],
            data_type=row["data_type"],
            interval_start=_time(row["interval_start"]),
            size=row["size"],
            created_at=_time(row["created_at"]),  # type: ignore[arg-type]
            release_at=_time(row["release_at"]),
            state=row["state"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            last_attempt_at=row["last_attempt_at"],
            last_status=row["last_status"],
            last_error=row["last_error"],
            sent_at=row["sent_at"],
            note=row["note"],
            content=row["content"] if "content" in keys else None,
            payload=row["payload"] if "payload" in keys else None,
        )


@dataclass(frozen=True)
class Episode:
    """An alert condition: opened when it starts, closed when it ends; one message each."""

    key: str
    kind: str
    text: str
    time: datetime
    open: bool


@dataclass(frozen=True)
class Gap:
    station: str
    start: datetime
    end: datetime
    reason: str


class Outbox:
    """One outbox database. Safe to share between threads; other processes (the operator's
    `stax agent outbox` commands) may open the same file at the same time."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("pragma journal_mode=wal")
            conn.execute("pragma synchronous=full")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(
                f"{self.path}: cannot open the outbox database: {exc} "
                "(check the [outbox] path and its folder's permissions)"
            ) from None
        self._conn = conn
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("begin immediate")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("rollback")
                raise
            self._conn.execute("commit")

    def _query(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------ MSG_ID
    def next_msg_id(self, station: str) -> int:
        """The next message id of a station: increasing, never reused."""
        with self._write() as conn:
            conn.execute(
                "insert into msg_ids (station, last) values (?, 1) "
                "on conflict (station) do update set last = last + 1",
                [station],
            )
            return conn.execute("select last from msg_ids where station = ?", [station]).fetchone()[
                0
            ]

    # ------------------------------------------------------------ queueing
    def add(
        self,
        *,
        file_name: str,
        station: str,
        msg_id: int,
        data_type: str,
        content: bytes,
        payload: bytes,
        created: datetime,
        policy: ReleasePolicy,
        interval_start: datetime | None = None,
        acquired_until: datetime | None = None,
        episode: Episode | None = None,
    ) -> OutboxFile:
        """Queue a file. With `acquired_until`, also record that acquisition got that far,
        in the same transaction (so a restart never re-makes or skips an interval); with
        `episode`, open or close that alert episode in it (so an alert is queued once)."""
        release_at = policy.release_at(created)
        state = "ready" if release_at is not None and release_at <= as_utc(created) else "held"
        note = {"manual": "held until released by hand", "delay": "release delay"}.get(policy.mode)
        try:
            with self._write() as conn:
                cur = conn.execute(
                    "insert into files (file_name, station, msg_id, data_type, interval_start, "
                    "content, payload, created_at, release_at, state, note) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        file_name,
                        station,
                        msg_id,
                        data_type,
                        None if interval_start is None else _iso(interval_start),
                        content,
                        payload,
                        _iso(created),
                        None if release_at is None else _iso(release_at),
                        state,
                        note if state == "held" else None,
                    ],
                )
                if acquired_until is not None:
                    self._set_progress(conn, station, acquired_until)
                if episode is not None:
                    self._set_episode(conn, station, episode)
                file_id = cur.lastrowid
        except sqlite3.IntegrityError:
            raise OutboxError(
                f"{file_name}: a file of that name is already in the outbox"
            ) from None
        return self.get(file_id)  # type: ignore[arg-type]

    def get(self, file_id: int) -> OutboxFile:
        rows = self._query(
            f"select {_SUMMARY}, content, payload from files where id = ?", [file_id]
        )
        if not rows:
            raise OutboxError(f"no file with id {file_id} in the outbox {self.path}")
        return OutboxFile._from_row(rows[0])

    def list(self, states: tuple[str, ...] = STATES, limit: int | None = None) -> list[OutboxFile]:
        """Files in the given states, newest first (without their bytes)."""
        marks = ", ".join("?" for _ in states)
        sql = f"select {_SUMMARY} from files where state in ({marks}) order by id desc"
        params: list = list(states)
        if limit is not None:
            sql += " limit ?"
            params.append(limit)
        return [OutboxFile._from_row(r) for r in self._query(sql, params)]

    def interval_files(
        self, station: str, data_type: str, start: datetime, end: datetime
    ) -> list[OutboxFile]:
        """A station's files of one DATA_TYPE whose interval starts in [start, end), in
        interval order, with their bytes, whatever their state."""
        rows = self._query(
            f"select {_SUMMARY}, content, payload from files where station = ? "
            "and data_type = ? and interval_start >= ? and interval_start < ? "
            "order by interval_start, id",
            [station, data_type, _iso(start), _iso(end)],
        )
        return [OutboxFile._from_row(r) for r in rows]

    def days_without_ats(self, station: str, before: date) -> list[date]:
        """UTC days before `before` with at least one SAMPLEPHD of `station` in the outbox
        (any state) but no ATS file yet, oldest first: the daily reports still to make."""
        rows = self._query(
            "select distinct substr(interval_start, 1, 10) as day from files "
            "where station = ? and data_type = 'SAMPLEPHD' and interval_start < ? "
            "and substr(interval_start, 1, 10) not in ("
            "  select substr(interval_start, 1, 10) from files "
            "  where station = ? and data_type = 'ATS' and interval_start is not null"
            ") order by day",
            [station, _iso(_midnight(before)), station],
        )
        return [date.fromisoformat(r["day"]) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._query("select state, count(*) as n from files group by state")
        found = {r["state"]: r["n"] for r in rows}
        return {s: found.get(s, 0) for s in STATES}

    # ------------------------------------------------------------ operator
    def release(self, file_id: int, note: str = "released by the operator") -> OutboxFile:
        """Let a held file go now (or re-queue a refused one after the cause was fixed)."""
        with self._write() as conn:
            row = conn.execute("select state from files where id = ?", [file_id]).fetchone()
            if row is None:
                raise OutboxError(f"no file with id {file_id} in the outbox {self.path}")
            if row["state"] not in ("held", "refused"):
                raise OutboxError(
                    f"file {file_id} is {row['state']}: only held or refused files can be released"
                )
            conn.execute(
                "update files set state = 'ready', next_attempt_at = null, note = ? where id = ?",
                [note, file_id],
            )
            conn.execute(
                "update deliveries set next_attempt_at = null where file_id = ?", [file_id]
            )
        return self.get(file_id)

    def withhold(self, file_id: int, note: str = "withheld by the operator") -> OutboxFile:
        """Keep a file at the station until released by hand."""
        with self._write() as conn:
            row = conn.execute("select state from files where id = ?", [file_id]).fetchone()
            if row is None:
                raise OutboxError(f"no file with id {file_id} in the outbox {self.path}")
            if row["state"] not in ("held", "ready"):
                raise OutboxError(
                    f"file {file_id} is {row['state']}: only files not yet sent can be withheld"
                )
            conn.execute(
                "update files set state = 'held', release_at = null, note = ? where id = ?",
                [note, file_id],
            )
        return self.get(file_id)

    # ------------------------------------------------------------ sending
    def release_due(self, now: datetime) -> int:
        """Held files whose release time has come become ready; returns how many."""
        with self._write() as conn:
            cur = conn.execute(
                "update files set state = 'ready', note = null "
                "where state = 'held' and release_at is not null and release_at <= ?",
                [_iso(now)],
            )
            return cur.rowcount

    def next_to_send(self, real_now: float, transport: str = "https") -> OutboxFile | None:
        """The oldest ready file that `transport` has not delivered and whose next attempt
        by it is due."""
        rows = self._query(
            f"select {_SUMMARY}, payload from files where state = 'ready' and not exists ("
            "  select 1 from deliveries d where d.file_id = files.id and d.transport = ? "
            "  and (d.sent_at is not null or d.next_attempt_at > ?)"
            ") order by id limit 1",
            [transport, real_now],
        )
        return OutboxFile._from_row(rows[0]) if rows else None

    def earliest_attempt(self, transport: str = "https") -> float | None:
        """When the next ready file becomes due for `transport` (real seconds), or None when
        none is waiting for it."""
        rows = self._query(
            "select min(coalesce(d.next_attempt_at, 0)) as t, count(*) as n from files "
            "left join deliveries d on d.file_id = files.id and d.transport = ? "
            "where files.state = 'ready' and d.sent_at is null",
            [transport],
        )
        return rows[0]["t"] if rows[0]["n"] else None

    def mark_sent(
        self,
        file_id: int,
        status: int,
        real_now: float,
        transport: str = "https",
        transports: tuple[str, ...] = ("https",),
    ) -> None:
        """`transport` delivered the file; it is `sent` once all of `transports` did."""
        with self._write() as conn:
            self._delivery(conn, file_id, transport, status, None, None, real_now, True)
            done = conn.execute(
                "select count(*) from deliveries where file_id = ? and sent_at is not null "
                f"and transport in ({', '.join('?' for _ in transports)})",
                [file_id, *transports],
            ).fetchone()[0]
            state = "sent" if done >= len(transports) else "ready"
            self._attempt(conn, file_id, state, status, None, None, real_now, state == "sent")

    def mark_refused(
        self, file_id: int, status: int, reason: str, real_now: float, transport: str = "https"
    ) -> None:
        """The receiver refused the file itself: kept as `refused`, no transport retries it."""
        with self._write() as conn:
            self._delivery(conn, file_id, transport, status, reason, None, real_now, False)
            self._attempt(conn, file_id, "refused", status, reason, None, real_now)

    def mark_failed(
        self,
        file_id: int,
        status: int | None,
        error: str,
        next_attempt_at: float,
        real_now: float,
        transport: str = "https",
    ) -> None:
        """A delivery attempt that did not get an answer about the file: try again later."""
        with self._write() as conn:
            self._delivery(
                conn, file_id, transport, status, error, next_attempt_at, real_now, False
            )
            self._attempt(conn, file_id, "ready", status, error, next_attempt_at, real_now)

    @staticmethod
    def _delivery(conn, file_id, transport, status, error, next_attempt_at, real_now, sent):
        conn.execute(
            "insert into deliveries (file_id, transport, attempts, next_attempt_at, last_status, "
            "last_error, sent_at) values (?, ?, 1, ?, ?, ?, ?) "
            "on conflict (file_id, transport) do update set attempts = attempts + 1, "
            "next_attempt_at = excluded.next_attempt_at, last_status = excluded.last_status, "
            "last_error = excluded.last_error, sent_at = coalesce(sent_at, excluded.sent_at)",
            [file_id, transport, next_attempt_at, status, error, real_now if sent else None],
        )

    @staticmethod
    def _attempt(conn, file_id, state, status, error, next_attempt_at, real_now, sent=False):
        # the file's own columns sum up its latest attempt, by whichever transport
        conn.execute(
            "update files set state = ?, attempts = attempts + 1, last_status = ?, "
            "last_error = ?, next_attempt_at = ?, last_attempt_at = ?, "
            "sent_at = case when ? then ? else sent_at end where id = ? and state = 'ready'",
            [state, status, error, next_attempt_at, real_now, sent, real_now, file_id],
        )

    def deliveries(self, file_id: int) -> dict[str, dict]:
        """Per transport: attempts, last_status, last_error, sent_at of one file."""
        rows = self._query(
            "select transport, attempts, last_status, last_error, sent_at from deliveries "
            "where file_id = ?",
            [file_id],
        )
        return {r["transport"]: dict(r) for r in rows}

    # ------------------------------------------------------------ acquisition
    def _set_progress(self, conn: sqlite3.Connection, station: str, until: datetime) -> None:
        conn.execute(
            "insert into progress (station, acquired_until) values (?, ?) "
            "on conflict (station) do update set acquired_until = "
            "max(acquired_until, excluded.acquired_until)",
            [station, _iso(until)],
        )

    def acquired_until(self, station: str) -> datetime | None:
        """End of the last interval accounted for (a file made or a gap recorded)."""
        rows = self._query("select acquired_until from progress where station = ?", [station])
        return _time(rows[0]["acquired_until"]) if rows else None

    def mark_acquired_until(self, station: str, until: datetime) -> None:
        """Acquisition is accounted for up to `until` (never moves backwards)."""
        with self._write() as conn:
            self._set_progress(conn, station, until)

    # ------------------------------------------------------------ analyses
    def add_analysis(
        self, file_name: str, created: datetime, result: dict | None, error: str | None = None
    ) -> None:
        """The station method's result for a queued file (or why there is none)."""
        with self._write() as conn:
            conn.execute(
                "insert or replace into analyses (file_name, created_at, result, error) "
                "values (?, ?, ?, ?)",
                [file_name, _iso(created), None if result is None else json.dumps(result), error],
            )

    def analysis(self, file_name: str) -> dict | None:
        """{"result": dict or None, "error": str or None, "analysed_at": datetime}, or None
        when never analysed."""
        rows = self._query(
            "select result, error, created_at from analyses where file_name = ?", [file_name]
        )
        if not rows:
            return None
        result = rows[0]["result"]
        return {
            "result": None if result is None else json.loads(result),
            "error": rows[0]["error"],
            "analysed_at": _time(rows[0]["created_at"]),
        }

    def record_gap(
        self, station: str, start: datetime, end: datetime, reason: str
    ) -> tuple[Gap, bool]:
        """An interval with no spectrum: never invented, only recorded. A gap that continues
        the previous one for the same reason extends it; returns (the gap, extended)."""
        with self._write() as conn:
            last = conn.execute(
                "select id, start, end, reason from gaps where station = ? "
                "order by end desc limit 1",
                [station],
            ).fetchone()
            extended = last is not None and last["end"] == _iso(start) and last["reason"] == reason
            if extended:
                conn.execute("update gaps set end = ? where id = ?", [_iso(end), last["id"]])
                start = _time(last["start"])  # type: ignore[assignment]
            else:
                conn.execute(
                    "insert into gaps (station, start, end, reason) values (?, ?, ?, ?)",
                    [station, _iso(start), _iso(end), reason],
                )
            self._set_progress(conn, station, end)
        return Gap(station, as_utc(start), as_utc(end), reason), extended

    def gaps(self, station: str) -> list[Gap]:
        rows = self._query(
            "select station, start, end, reason from gaps where station = ? order by start",
            [station],
        )
        return [Gap(r["station"], _time(r["start"]), _time(r["end"]), r["reason"]) for r in rows]  # type: ignore[arg-type]

    # ------------------------------------------------------------ state of health
    def add_soh_sample(self, station: str, interval_start: datetime, data: dict) -> None:
        """One interval's state-of-health sample. The first one taken for an interval is
        kept (an agent restarted on an accelerated clock may pass a boundary twice)."""
        with self._write() as conn:
            conn.execute(
                "insert or ignore into soh_samples (station, interval_start, data) "
                "values (?, ?, ?)",
                [station, _iso(interval_start), json.dumps(data)],
            )

    def soh_samples(
        self, station: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, dict]]:
        rows = self._query(
            "select interval_start, data from soh_samples where station = ? "
            "and interval_start >= ? and interval_start < ? order by interval_start",
            [station, _iso(start), _iso(end)],
        )
        return [(_time(r["interval_start"]), json.loads(r["data"])) for r in rows]  # type: ignore[misc]

    def periods_without_soh(self, station: str, before: datetime, hours: int) -> list[datetime]:
        """Starts of the report periods (`hours` long, aligned on 00:00 UTC) that end by
        `before`, have samples, and have no STAXSOH file yet; oldest first."""
        rows = self._query(
            "select interval_start from soh_samples where station = ? and interval_start < ?",
            [station, _iso(before)],
        )
        made = {
            r["interval_start"]
            for r in self._query(
                "select interval_start from files where station = ? and data_type = 'STAXSOH'",
                [station],
            )
        }
        periods = set()
        for r in rows:
            t = _time(r["interval_start"])
            assert t is not None
            start = t.replace(hour=hours * (t.hour // hours), minute=0, second=0, microsecond=0)
            if start + timedelta(hours=hours) <= before and _iso(start) not in made:
                periods.add(start)
        return sorted(periods)

    # ------------------------------------------------------------ alert episodes
    @staticmethod
    def _set_episode(conn: sqlite3.Connection, station: str, episode: Episode) -> None:
        if episode.open:
            conn.execute(
                "insert or replace into alert_episodes (station, key, kind, opened_at, text) "
                "values (?, ?, ?, ?, ?)",
                [station, episode.key, episode.kind, _iso(episode.time), episode.text],
            )
        else:
            conn.execute(
                "delete from alert_episodes where station = ? and key = ?", [station, episode.key]
            )

    def set_episode(self, station: str, episode: Episode) -> None:
        """Open or close an episode without a message (the log-only alert sink)."""
        with self._write() as conn:
            self._set_episode(conn, station, episode)

    def open_episodes(self, station: str) -> dict[str, Episode]:
        """The alert episodes still open: key -> the episode as it was opened."""
        rows = self._query(
            "select key, kind, opened_at, text from alert_episodes where station = ?", [station]
        )
        return {
            r["key"]: Episode(r["key"], r["kind"], r["text"], _time(r["opened_at"]), True)  # type: ignore[arg-type]
            for r in rows
        }
