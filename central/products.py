"""The central's daily products: for each station and UTC day, once the day has ended,
the ATS of the central re-analysis (`.AS`), and the daily emission CSV of the station's
own analysis (its daily ATS, `station_results`) and of the re-analysis.

Each product is a row of `messages` (product ATS or CSV, analysis CENTRAL or STATION,
start_time the day, no envelope and no signer), so that it is listed, filtered, published
and downloaded as every other file. A late input (a spectrum sent days after an outage,
its re-analysis, a station ATS that came late) marks its day again; the day's products
are made again and stored as a new version when what they are made from has changed.
Every version is kept (a user may have downloaded the earlier one); see docs/products.md
for the names.

How the worker drives it (`make_products(store, now)`): new inputs are noted by row id
past a mark kept in `product_marks`, their (station, day) in `product_days`, both in the
one transaction, so a restart forgets nothing and rescans nothing. A day is made once it
has ended (by `now`, passed in) and every spectrum of it has a central analysis (a result
or the reason it has none).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import shared
from shared.formats import read_message
from shared.formats.ats import write_ats
from shared.formats.emission_csv import (
    EmissionRow,
    NuclideValue,
    read_emission_csv,
    release_unit,
    write_emission_csv,
)
from shared.formats.filenames import ProductName, extension_for
from shared.results import AnalysisResult
from shared.timeseries import AtsStation, SampleRecord, ats_nuclide_name, daily_ats
from shared.timeutil import iso_z

from .store import Store, StoreResult

log = logging.getLogger(__name__)

METHOD = "central"  # the analyses rows of the re-analysis (central/worker.py)
GENERATED_BY = f"stax-monitor central {shared.__version__}"
# Natural lines the re-analysis fits to hold its calibration (radon progeny, K-40,
# Tl-208): in every spectrum, never a stack emission, so not a column of the emission CSV.
NATURAL = ("PB-214", "BI-214", "K-40", "TL-208")
PREFIX = {("CENTRAL", "ATS"): "CATS", ("CENTRAL", "CSV"): "CCSV", ("STATION", "CSV"): "SCSV"}
MAX_CONFLICTS = 5

# The UTC day a spectrum belongs to: its collection start, as the daily ATS groups it.
_PHD_DAY = (
    "substr(coalesce(json_extract(m.summary, '$.collection.start'), "
    "json_extract(m.summary, '$.acquisition.start'), m.start_time), 1, 10)"
)

_TABLES = (
    "create table if not exists product_marks (source text primary key, last_id integer not null)",
    "create table if not exists product_days (station text not null, day text not null, "
    "primary key (station, day))",
)


# ---------------------------------------------------------------------- pure parts
@dataclass(frozen=True)
class Made:
    """One product made for a station and day (not yet stored)."""

    station: str
    day: date
    analysis: str  # CENTRAL or STATION
    product: str  # ATS or CSV
    content: bytes
    samples: int
    inputs: str  # fingerprint of what it was made from

    def msg_id(self, version: int) -> str:
        return f"{PREFIX[(self.analysis, self.product)]}{self.day:%Y%m%d}V{version}"

    def file_name(self, version: int) -> str:
        midnight = datetime.combine(self.day, time(), UTC)
        ext = extension_for(self.product, self.analysis)
        return str(ProductName(self.station, self.msg_id(version), self.product, midnight, ext))


def _finite(value: float | None, scale: float = 1.0) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value / scale


def emission_row(station: str, start: datetime, result: AnalysisResult) -> EmissionRow:
    """A CSV row of one sample: per nuclide the release and its uncertainty when detected,
    the MDR always, in kBq per the sample's interval."""
    values = {}
    for name, n in result.nuclides.items():
        nuclide = ats_nuclide_name(name)
        if nuclide in NATURAL:
            continue
        detected = bool(n.detected)
        values[nuclide] = NuclideValue(
            val=_finite(n.release_bq, 1e3) if detected else None,
            mdr=_finite(n.mdr_bq, 1e3),
            unc=_finite(n.release_unc_bq, 1e3) if detected else None,
        )
        if values[nuclide].val is None:  # a detect without a release number: no unc either
            values[nuclide] = NuclideValue(None, values[nuclide].mdr, None)
    when = start.astimezone(UTC).replace(microsecond=0)
    return EmissionRow(station, when, values, release_unit(result.interval_s, "k"))


def emission_csv(station: str, samples: Sequence[tuple[datetime, AnalysisResult]]) -> bytes:
    """The day's emission CSV, checked by reading it back (formats.md section 5)."""
    rows = [emission_row(station, start, r) for start, r in sorted(samples, key=lambda s: s[0])]
    text = write_emission_csv(rows)
    back = read_emission_csv(text, source=f"emission CSV of {station}")
    if len(back) != len(rows):
        raise ValueError(f"emission CSV of {station}: {len(back)} rows read back, not {len(rows)}")
    return text.encode("ascii")


def fingerprint(parts: Sequence[Any]) -> str:
    return hashlib.sha256(json.dumps(sorted(parts, key=str)).encode()).hexdigest()


# ---------------------------------------------------------------------- the database
def _open(store: Store) -> None:
    for sql in _TABLES:
        store.conn.execute(sql)


def note_new_inputs(store: Store) -> int:
    """Mark the (station, day) of every spectrum, central analysis and station result
    stored since the last call; the number of rows noted."""
    _open(store)
    conn = store.conn
    marks = dict(conn.execute("select source, last_id from product_marks").fetchall())
    sources = {
        "messages": (
            f"select m.id, m.station, {_PHD_DAY} from messages m "
            "where m.id > ? and m.product = 'PHD'"
        ),
        "analyses": (
            f"select a.id, m.station, {_PHD_DAY} from analyses a "
            "join messages m on m.id = a.message_id "
            f"where a.id > ? and a.method = '{METHOD}' and m.product = 'PHD'"
        ),
        "station_results": (
            "select s.id, s.station, substr(m.start_time, 1, 10) from station_results s "
            "join messages m on m.id = s.ats_message_id where s.id > ?"
        ),
    }
    noted = 0
    with conn:
        for source, sql in sources.items():
            rows = conn.execute(sql, [marks.get(source, 0)]).fetchall()
            if not rows:
                continue
            conn.executemany(
                "insert or ignore into product_days (station, day) values (?, ?)",
                [(station, day) for _, station, day in rows if day],
            )
            conn.execute(
                "insert into product_marks (source, last_id) values (?, ?) "
                "on conflict (source) do update set last_id = excluded.last_id",
                [source, max(r[0] for r in rows)],
            )
            noted += len(rows)
    return noted


def _station(store: Store, code: str) -> AtsStation:
    row = store.conn.execute(
        "select name, site, country, latitude, longitude from facilities where code = ?", [code]
    ).fetchone()
    if row is None:
        return AtsStation(code=code, site=code)
    name, site, country, lat, lon = row
    return AtsStation(code, site or name or code, country or "", lat, lon)


def _day_phds(store: Store, station: str, day: date) -> list[dict[str, Any]]:
    """The day's spectra with their central analysis (None while not analysed)."""
    start = datetime.combine(day, time(), UTC)
    # acquisition starts after collection starts: look a day either side, then by collection
    sql = (
        "select m.id, m.file_name, m.sha256, a.id as analysis_id, a.result, a.error, "
        "a.created_at from messages m "
        f"left join analyses a on a.message_id = m.id and a.method = '{METHOD}' "
        "where m.station = ? and m.product = 'PHD' and m.start_time >= ? and m.start_time < ? "
        f"and {_PHD_DAY} = ? order by m.id"
    )
    args = [station, iso_z(start - timedelta(days=1)), iso_z(start + timedelta(days=2))]
    cursor = store.conn.execute(sql, [*args, day.isoformat()])
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _day_station_results(store: Store, station: str, day: date) -> list[dict[str, Any]]:
    """The station's own results of the day's samples (from its daily ATS), with each
    sample's collection start from its PHD when that came (else its acquisition start)."""
    sql = (
        "select s.id, s.file_name, s.acquisition_start, s.result, "
        "json_extract(p.summary, '$.collection.start') as collection_start "
        "from station_results s join messages m on m.id = s.ats_message_id "
        "left join messages p on p.station = s.station and p.file_name = s.file_name "
        "where s.station = ? and m.product = 'ATS' and substr(m.start_time, 1, 10) = ? "
        "order by s.id"
    )
    cursor = store.conn.execute(sql, [station, day.isoformat()])
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def central_products(
    store: Store, station: str, day: date, phds: list[dict[str, Any]], now: datetime
) -> list[Made]:
    """The re-analysis's ATS and emission CSV of the day."""
    records, samples = [], []
    for row in phds:
        message = read_message(store.content(row["id"]), source=row["file_name"], lenient=True)
        result = AnalysisResult.from_json(json.loads(row["result"])) if row["result"] else None
        analysed = _time(row["created_at"]) if row["created_at"] else None
        records.append(SampleRecord(message.phd, row["file_name"], result, analysed, row["error"]))
        if result is not None:
            samples.append((_collection_start(message.phd), result))
    doc = daily_ats(
        station=_station(store, station),
        day=day,
        samples=records,
        analysis="CENTRAL",
        generated_by=GENERATED_BY,
        generated_at=now,
    )
    inputs = fingerprint([[r["sha256"], r["analysis_id"]] for r in phds])
    return [
        Made(station, day, "CENTRAL", "ATS", write_ats(doc).encode("ascii"), len(records), inputs),
        Made(station, day, "CENTRAL", "CSV", emission_csv(station, samples), len(samples), inputs),
    ]


def _collection_start(phd) -> datetime:
    if phd.collection is not None:
        return phd.collection.start.astimezone(UTC)
    return phd.acquisition.start.astimezone(UTC)


def station_product(station: str, day: date, results: list[dict[str, Any]]) -> Made:
    """The emission CSV of the station's own analysis of the day."""
    samples = []
    for row in results:
        result = AnalysisResult.from_json(json.loads(row["result"]))
        start = row["collection_start"] or row["acquisition_start"]
        samples.append((_time(start), result))
    inputs = fingerprint([r["id"] for r in results])
    return Made(
        station, day, "STATION", "CSV", emission_csv(station, samples), len(samples), inputs
    )


def _latest(store: Store, made: Made) -> tuple[int, dict[str, Any] | None, str | None]:
    """The latest stored version of this product: (number, its summary, its file name)."""
    prefix = made.msg_id(0)[:-1]  # ...V
    rows = store.conn.execute(
        "select msg_id, summary, file_name from messages where station = ? and msg_id glob ?",
        [made.station, f"{prefix}*"],
    ).fetchall()
    best: tuple[int, dict[str, Any] | None, str | None] = (0, None, None)
    for msg_id, summary, file_name in rows:
        tail = msg_id[len(prefix) :]
        if tail.isdigit() and int(tail) > best[0]:
            best = (int(tail), json.loads(summary), file_name)
    return best


def store_product(store: Store, made: Made, now: datetime) -> StoreResult | None:
    """Store `made` as the next version, unless the latest one was made from the same
    inputs; None when nothing new was stored."""
    version, summary, previous = _latest(store, made)
    if summary is not None and summary.get("Inputs") == made.inputs:
        return None
    for _ in range(MAX_CONFLICTS):
        version += 1
        name = made.file_name(version)
        result = store.add_message(
            file_name=name,
            station=made.station,
            data_type=made.product,
            product=made.product,
            msg_id=made.msg_id(version),
            content=made.content,
            start_time=iso_z(datetime.combine(made.day, time(), UTC)),
            summary={
                "Day": made.day.isoformat(),
                "Analysis": made.analysis,
                "Version": version,
                "Replaces": previous,
                "Samples": made.samples,
                "Inputs": made.inputs,
                "GeneratedBy": GENERATED_BY,
            },
            signer=None,
            analysis=made.analysis,
            received_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        if result.outcome == "created":
            log.info("made %s (%d samples)", name, made.samples)
            return result
        # the name is taken by another file (a station used such a MSG_ID): the next one
        log.error("%s: the name is taken by a stored file; trying the next version", name)
    raise RuntimeError(f"{made.file_name(version)}: {MAX_CONFLICTS} names in a row are taken")


def make_day(store: Store, station: str, day: date, now: datetime) -> list[StoreResult] | None:
    """Make and store the day's products; None when a spectrum still awaits its central
    analysis (the day is tried again later)."""
    phds = _day_phds(store, station, day)
    if any(row["analysis_id"] is None for row in phds):
        return None
    made: list[Made] = []
    if phds:
        made += central_products(store, station, day, phds, now)
    results = _day_station_results(store, station, day)
    if results:
        made.append(station_product(station, day, results))
    stored = [store_product(store, m, now) for m in made]
    return [r for r in stored if r is not None]


# How long after a UTC day's end its products wait for a station that has not yet sent
# anything of a later day: a station catching up (after an outage, or held by its release
# delay) sends the day spectrum by spectrum, and products made in between would each be
# replaced by a new version at once.
SETTLE = timedelta(hours=1)


def settled(store: Store, station: str, day: date, now: datetime) -> bool:
    """Whether `station`'s `day` is complete enough for its products: the station has sent
    a spectrum of a later day, or the day ended more than SETTLE ago."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    if now.astimezone(UTC) >= end + SETTLE:
        return True
    later = store.conn.execute(
        "select 1 from messages where station = ? and product = 'PHD' and start_time >= ? limit 1",
        [station, iso_z(end)],
    ).fetchone()
    return later is not None


def make_products(
    store: Store, now: datetime, limit: int = 1, failed: set[tuple[str, str]] | None = None
) -> int:
    """Note new inputs, then make the products of up to `limit` ended and settled days that
    wait for them; the number of days handled (0: nothing to do). A day that fails is
    logged, put in `failed` and not tried again while it is there (the worker keeps the set
    for its run; the day stays marked, so a restart tries it again)."""
    failed = set() if failed is None else failed
    note_new_inputs(store)
    today = now.astimezone(UTC).date().isoformat()
    due = store.conn.execute(
        "select station, day from product_days where day < ? order by day, station", [today]
    ).fetchall()
    handled = 0
    for station, day_text in due:
        if handled >= limit:
            break
        if (station, day_text) in failed:
            continue
        if not settled(store, station, date.fromisoformat(day_text), now):
            continue
        day = date.fromisoformat(day_text)
        try:
            stored = make_day(store, station, day, now)
        except Exception:
            # one bad day must not stop the others
            log.exception("%s %s: the daily products could not be made", station, day)
            failed.add((station, day_text))
            continue
        if stored is None:
            continue  # waits for the re-analysis
        with store.conn:
            store.conn.execute(
                "delete from product_days where station = ? and day = ?", [station, day_text]
            )
        handled += 1
    return handled
