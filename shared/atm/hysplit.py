"""HYSPLIT forward concentration output (binary `cdump`), packed and unpacked: read and write.

Big-endian Fortran unformatted sequential records (`int32 length, payload, int32 length`),
laid out as docs/impact.md describes. `Cdump.at(lat, lon)` gives the concentration series at
a point (bilinear between the four nodes around it), per output period, in the run's units
per m3; TC = conc / (rate * hours) of the run's release (given with the file, not in it).
`write_cdump` makes files of the same layout for tests and the simulator.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shared.formats.errors import FormatError

from ._bytes import fail, maybe_gunzip

# Grids beyond this many nodes are a broken header, not a model run.
MAX_NODES = 50_000_000


@dataclass(frozen=True)
class StartLocation:
    time: datetime
    latitude: float
    longitude: float
    height_m: float


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class Period:
    """One output time: mean concentrations over [start, stop), per (pollutant, level)."""

    start: datetime
    stop: datetime
    grids: dict[tuple[str, int], np.ndarray]  # (nlat, nlon), longitude fastest


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class Cdump:
    source: str
    model: str  # met model id
    run_start: datetime
    forecast_hour: int
    starts: list[StartLocation]
    nlat: int
    nlon: int
    dlat: float
    dlon: float
    lat0: float  # node 1
    lon0: float
    levels: list[int]  # m above ground
    pollutants: list[str]
    packed: bool
    periods: list[Period]

    def at(
        self,
        latitude: float,
        longitude: float,
        pollutant: str | None = None,
        level: int | None = None,
    ) -> np.ndarray:
        """Concentration at a point per period (bilinear; outside the grid: 0).
        Defaults: the first pollutant, the lowest level."""
        key = (pollutant or self.pollutants[0], self.levels[0] if level is None else level)
        if key[0] not in self.pollutants or key[1] not in self.levels:
            raise KeyError(f"{self.source}: no pollutant {key[0]!r} at level {key[1]} m")
        fi = (latitude - self.lat0) / self.dlat
        lon = longitude
        # the grid may be written 0..360 or -180..180: take the point the grid's way
        if lon < self.lon0:
            lon += 360.0
        fj = (lon - self.lon0) / self.dlon
        i0, j0 = math.floor(fi), math.floor(fj)
        wi, wj = fi - i0, fj - j0
        out = np.zeros(len(self.periods))
        for p, period in enumerate(self.periods):
            grid = period.grids[key]
            for di, dj, w in (
                (0, 0, (1 - wi) * (1 - wj)),
                (1, 0, wi * (1 - wj)),
                (0, 1, (1 - wi) * wj),
                (1, 1, wi * wj),
            ):
                i, j = i0 + di, j0 + dj
                if w and 0 <= i < self.nlat and 0 <= j < self.nlon:
                    out[p] += w * grid[i, j]
        return out


class _Records:
    """Fortran sequential records of a big-endian file, checked as they are read."""

    def __init__(self, data: bytes, source: str):
        self.data, self.source, self.pos, self.index = data, source, 0, 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def next(self, what: str) -> bytes:
        self.index += 1
        d, p = self.data, self.pos
        where = f"record {self.index} ({what}) at byte {p}"
        if p + 4 > len(d):
            fail(self.source, f"{where}: the file ends; it is truncated")
        (n,) = struct.unpack_from(">i", d, p)
        if n < 0 or p + 8 + n > len(d):
            fail(
                self.source,
                f"{where}: length {n} runs past the end of the file ({len(d)} bytes); truncated, or not a big-endian cdump",
            )
        (m,) = struct.unpack_from(">i", d, p + 4 + n)
        if m != n:
            fail(self.source, f"{where}: record markers disagree ({n} and {m}): not a cdump file")
        self.pos = p + 8 + n
        return d[p + 4 : p + 4 + n]

    def unpack(self, fmt: str, payload: bytes, what: str, offset: int = 0) -> tuple:
        size = struct.calcsize(fmt)
        if len(payload) < offset + size:
            fail(
                self.source,
                f"record {self.index} ({what}): {len(payload)} bytes, expected at least {offset + size}",
            )
        return struct.unpack_from(fmt, payload, offset)


def _year(y: int) -> int:
    return 2000 + y if y < 40 else (1900 + y if y < 100 else y)


def _time(source: str, what: str, y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    try:
        return datetime(_year(y), mo, d, h, mi, tzinfo=UTC)
    except (ValueError, OverflowError):
        fail(source, f"{what}: not a date: {y:02d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}")


def _text(b: bytes) -> str:
    return b.decode("latin-1").strip()


def read_cdump(data: bytes, source: str = "<cdump>") -> Cdump:
    """Read a cdump file's bytes (gzip allowed). FormatError for anything that is not one."""
    data = maybe_gunzip(data, source)
    r = _Records(data, source)
    rec = r.next("header")
    model = _text(rec[:4])
    y, mo, d, h, fh, nloc, pack = r.unpack(">7i", rec, "header", 4)
    run_start = _time(source, "header", y, mo, d, h)
    if not 0 < nloc < 10_000:
        fail(source, f"header: {nloc} starting locations")
    if pack not in (0, 1):
        fail(source, f"header: packing flag {pack}, expected 0 or 1")
    starts = []
    for n in range(nloc):
        rec = r.next(f"starting location {n + 1}")
        y, mo, d, h = r.unpack(">4i", rec, "starting location")
        lat, lon, height = r.unpack(">3f", rec, "starting location", 16)
        minute = r.unpack(">i", rec, "starting location", 28)[0] if len(rec) >= 32 else 0
        starts.append(
            StartLocation(_time(source, "starting location", y, mo, d, h, minute), lat, lon, height)
        )
    rec = r.next("grid")
    nlat, nlon = r.unpack(">2i", rec, "grid")
    dlat, dlon, lat0, lon0 = r.unpack(">4f", rec, "grid", 8)
    if not (nlat > 0 and nlon > 0 and nlat * nlon <= MAX_NODES):
        fail(source, f"grid: {nlat} x {nlon} nodes")
    if not all(math.isfinite(x) for x in (dlat, dlon, lat0, lon0)) or dlat <= 0 or dlon <= 0:
        fail(source, f"grid: spacing {dlat} x {dlon} from ({lat0}, {lon0})")
    rec = r.next("levels")
    (nlev,) = r.unpack(">i", rec, "levels")
    if not 0 < nlev < 1000:
        fail(source, f"levels: {nlev} levels")
    levels = list(r.unpack(f">{nlev}i", rec, "levels", 4))
    rec = r.next("pollutants")
    (npol,) = r.unpack(">i", rec, "pollutants")
    if not 0 < npol < 1000:
        fail(source, f"pollutants: {npol} pollutants")
    if len(rec) < 4 + 4 * npol:
        fail(
            source, f"pollutants: {npol} names need {4 + 4 * npol} bytes, the record has {len(rec)}"
        )
    pollutants = [_text(rec[4 + 4 * i : 8 + 4 * i]) for i in range(npol)]
    periods = []
    while r.more():
        times = []
        for what in ("period start", "period stop"):
            rec = r.next(what)
            y, mo, d, h, mi, _fh = r.unpack(">6i", rec, what)
            times.append(_time(source, what, y, mo, d, h, mi))
        if times[1] < times[0]:
            fail(source, f"period {times[0]:%Y-%m-%d %H:%M} stops before it starts")
        grids: dict[tuple[str, int], np.ndarray] = {}
        for _ in range(npol * nlev):
            rec = r.next("concentration")
            pid = _text(rec[:4])
            (level,) = r.unpack(">i", rec, "concentration", 4)
            if pid not in pollutants or level not in levels:
                fail(
                    source,
                    f"record {r.index}: pollutant {pid!r} at level {level} is not in the header",
                )
            if pack:
                (n,) = r.unpack(">i", rec, "concentration", 8)
                if n < 0 or len(rec) != 12 + 8 * n:
                    fail(
                        source,
                        f"record {r.index}: {n} packed values need {12 + 8 * max(n, 0)} bytes, found {len(rec)}",
                    )
                cells = np.frombuffer(
                    rec, dtype=[("i", ">i2"), ("j", ">i2"), ("c", ">f4")], count=n, offset=12
                )
                i = cells["i"].astype(np.int64) - 1  # longitude index
                j = cells["j"].astype(np.int64) - 1  # latitude index
                if n and (i.min() < 0 or i.max() >= nlon or j.min() < 0 or j.max() >= nlat):
                    fail(
                        source,
                        f"record {r.index}: a packed value lies outside the {nlon} x {nlat} grid",
                    )
                grid = np.zeros((nlat, nlon))
                np.add.at(grid, (j, i), cells["c"].astype(float))
            else:
                if len(rec) != 8 + 4 * nlat * nlon:
                    fail(
                        source,
                        f"record {r.index}: an unpacked grid of {nlat} x {nlon} needs {8 + 4 * nlat * nlon} bytes, found {len(rec)}",
                    )
                grid = np.frombuffer(rec, dtype=">f4", offset=8).astype(float).reshape(nlat, nlon)
            if not np.isfinite(grid).all() or (grid < 0).any():
                fail(source, f"record {r.index}: concentrations must be finite and not negative")
            grids[(pid, level)] = grid
        periods.append(Period(times[0], times[1], grids))
    return Cdump(
        source,
        model,
        run_start,
        fh,
        starts,
        nlat,
        nlon,
        dlat,
        dlon,
        lat0,
        lon0,
        levels,
        pollutants,
        bool(pack),
        periods,
    )


def read_cdump_file(path: str | Path) -> Cdump:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(str(path), f"cannot read: {exc.strerror}")
    return read_cdump(data, str(path))


# ------------------------------------------------------------------ writer
def _record(payload: bytes) -> bytes:
    n = struct.pack(">i", len(payload))
    return n + payload + n


def _id(text: str) -> bytes:
    return text.encode("ascii")[:4].ljust(4)


def _stamp(t: datetime, fmt: str, *extra: int) -> bytes:
    return struct.pack(fmt, t.year % 100, t.month, t.day, t.hour, *extra)


def write_cdump(c: Cdump, packed: bool | None = None) -> bytes:
    """The bytes of a cdump file holding `c` (packed as `c.packed` unless told)."""
    packed = c.packed if packed is None else packed
    t = c.run_start
    header = struct.pack(
        ">7i", t.year % 100, t.month, t.day, t.hour, c.forecast_hour, len(c.starts), int(packed)
    )
    out = [_record(_id(c.model) + header)]
    for s in c.starts:
        out.append(
            _record(
                _stamp(s.time, ">4i")
                + struct.pack(">3fi", s.latitude, s.longitude, s.height_m, s.time.minute)
            )
        )
    out.append(_record(struct.pack(">2i4f", c.nlat, c.nlon, c.dlat, c.dlon, c.lat0, c.lon0)))
    out.append(_record(struct.pack(f">{len(c.levels) + 1}i", len(c.levels), *c.levels)))
    out.append(
        _record(struct.pack(">i", len(c.pollutants)) + b"".join(_id(p) for p in c.pollutants))
    )
    for period in c.periods:
        for t in (period.start, period.stop):
            out.append(
                _record(struct.pack(">6i", t.year % 100, t.month, t.day, t.hour, t.minute, 0))
            )
        for p in c.pollutants:
            for level in c.levels:
                grid = period.grids[(p, level)]
                head = _id(p) + struct.pack(">i", level)
                if packed:
                    j, i = np.nonzero(grid)
                    cells = np.zeros(i.size, dtype=[("i", ">i2"), ("j", ">i2"), ("c", ">f4")])
                    cells["i"], cells["j"], cells["c"] = i + 1, j + 1, grid[j, i]
                    out.append(_record(head + struct.pack(">i", i.size) + cells.tobytes()))
                else:
                    out.append(_record(head + grid.astype(">f4").tobytes()))
    return b"".join(out)


__all__ = [
    "Cdump",
    "FormatError",
    "Period",
    "StartLocation",
    "read_cdump",
    "read_cdump_file",
    "write_cdump",
]
