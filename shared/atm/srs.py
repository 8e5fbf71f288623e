"""Backward source-receptor sensitivities (SRS) in the CTBTO text format: read, check, look up.

`STATION.YYYYMMDDHH.CENTRE.txt[.gz]` (also `.srm`): a header line of 13 fields, then one
line `lat lon k value [spread]` per non-zero cell (docs/impact.md). The reader gives an
`SrsField` whose `sensitivity(lat, lon)` is TC(k) = value_k / M at a point (bilinear
between the four grid nodes around it), in m^-3 per Bq released in step k, k counted from
0 backward from the sample stop whatever base the file uses (the base found is recorded).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from shared.formats.errors import FormatError, Problem

from ._bytes import fail, maybe_gunzip

HEADER_FIELDS = (
    "latitude",
    "longitude",
    "start date",
    "start hour",
    "stop date",
    "stop hour",
    "release mass",
    "simulation length (h)",
    "output step (h)",
    "averaging time (h)",
    "dx (deg)",
    "dy (deg)",
    "station code",
)
FILE_NAME = re.compile(
    r"^(?P<station>[A-Za-z0-9_-]+)\.(?P<stop>[0-9]{10})\.(?P<centre>[A-Za-z0-9_-]+)"
    r"\.(?:txt|srm)(?:\.gz)?$",
    re.IGNORECASE,
)
# A data line's coordinates may be off their node by this fraction of a grid step
# (they are printed with two decimals).
GRID_TOLERANCE = 0.1
# A broken file can be wrong on every line: say the first few, not all 300,000.
MAX_PROBLEMS = 20
# Bytes other than these send a file to the line-by-line reader (C's strtod would take
# hex and "nan" that the format does not).
NUMERIC_BYTES = b"0123456789eE+-. \t\r\n"


@dataclass(frozen=True)
class SrsHeader:
    latitude: float  # receptor
    longitude: float  # receptor, -180..180
    sample_start: datetime  # UTC
    sample_stop: datetime  # UTC; the time axis is anchored here
    release_mass: float  # M: values are per M released
    simulation_hours: float
    step_hours: float  # dt
    averaging_hours: float
    dx: float  # degrees
    dy: float
    station: str

    @property
    def steps(self) -> int:
        """How many release steps the simulation spans."""
        return round(self.simulation_hours / self.step_hours)

    @property
    def step_s(self) -> float:
        return self.step_hours * 3600.0

    @property
    def sample_s(self) -> float:
        return (self.sample_stop - self.sample_start).total_seconds()


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class SrsField:
    """One SRS file: the header and its non-zero cells (arrays of one length)."""

    source: str
    header: SrsHeader
    centre: str | None  # from the file name (CWAO), None when the name does not say
    latitude: np.ndarray  # node latitudes
    longitude: np.ndarray  # node longitudes, -180..180
    step: np.ndarray  # k, 0-based (step 0 ends at the sample stop)
    value: np.ndarray  # as in the file (divide by M)
    spread: np.ndarray | None  # 5th column when the file has one
    step_base: int  # the k of the first step in the file: 0 or 1
    step_base_reason: str  # how it was found
    _i: np.ndarray  # grid indices of each cell
    _j: np.ndarray
    _lat_ref: float
    _lon_ref: float
    _wrap: int | None  # nodes around the globe, when the grid closes

    @property
    def cells(self) -> int:
        return int(self.value.size)

    def step_windows(self) -> tuple[np.ndarray, np.ndarray]:
        """Release windows of steps 0..n-1 as (start, end) in POSIX seconds, UTC."""
        stop = self.header.sample_stop.timestamp()
        k = np.arange(self.header.steps)
        return stop - (k + 1) * self.header.step_s, stop - k * self.header.step_s

    def sensitivity(self, latitude: float, longitude: float) -> np.ndarray:
        """TC(k) at a point, m^-3 per Bq released in step k: value/M interpolated
        bilinearly between the four nodes around the point (absent nodes are zero)."""
        h = self.header
        fi = (latitude - self._lat_ref) / h.dy
        fj = (_east(longitude) - self._lon_ref) / h.dx
        i0, j0 = math.floor(fi), math.floor(fj)
        wi, wj = fi - i0, fj - j0
        out = np.zeros(h.steps)
        for di, dj, w in (
            (0, 0, (1 - wi) * (1 - wj)),
            (1, 0, wi * (1 - wj)),
            (0, 1, (1 - wi) * wj),
            (1, 1, wi * wj),
        ):
            if w == 0.0:
                continue
            j = j0 + dj if self._wrap is None else (j0 + dj) % self._wrap
            at = (self._i == i0 + di) & (self._j == j)
            out += w * np.bincount(self.step[at], weights=self.value[at], minlength=h.steps)
        return out / h.release_mass

    def dilution(self, latitude: float, longitude: float) -> float:
        """dt * sum_k TC(k) in s/m3: the mean concentration per Bq/s released throughout."""
        return float(self.header.step_s * self.sensitivity(latitude, longitude).sum())


def _east(longitude):
    """Longitude in -180..180 (files may write 0..360)."""
    return np.where(longitude > 180.0, longitude - 360.0, longitude)[()]


# ------------------------------------------------------------------ header
def _header(line: str, source: str) -> SrsHeader:
    text = line.strip()
    tokens = text.split(None, 12)
    if len(tokens) < 13:
        fail(
            source,
            f"the header needs 13 fields ({', '.join(HEADER_FIELDS)}), found {len(tokens)}: {text[:120]!r}",
            1,
        )
    problems: list[Problem] = []

    def number(i: int) -> float:
        try:
            x = float(tokens[i])
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            problems.append(Problem(source, 1, HEADER_FIELDS[i], f"not a number: {tokens[i]!r}"))
        return x

    def when(i: int) -> datetime | None:
        day, hour = tokens[i], tokens[i + 1]
        if not (re.fullmatch(r"[0-9]{8}", day) and re.fullmatch(r"[0-9]{1,2}", hour)):
            problems.append(
                Problem(source, 1, HEADER_FIELDS[i], f"expected YYYYMMDD HH, found {day} {hour}")
            )
            return None
        try:
            t = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            problems.append(Problem(source, 1, HEADER_FIELDS[i], f"not a date: {day!r}"))
            return None
        if int(hour) > 24:
            problems.append(Problem(source, 1, HEADER_FIELDS[i + 1], f"not an hour: {hour!r}"))
            return None
        return t + timedelta(hours=int(hour))  # 24 is the end of the day

    lat, lon = number(0), number(1)
    start, stop = when(2), when(4)
    mass, length, step, averaging, dx, dy = (number(i) for i in range(6, 12))
    station = tokens[12].strip().strip('"').strip()
    if problems:
        raise FormatError(problems)
    checks = [
        (-90 <= lat <= 90, "latitude", f"out of -90..90: {lat}"),
        (-180 <= lon <= 360, "longitude", f"out of -180..360: {lon}"),
        (mass > 0, "release mass", f"must be positive, found {mass}"),
        (step > 0, "output step (h)", f"must be positive, found {step}"),
        (length > 0, "simulation length (h)", f"must be positive, found {length}"),
        (averaging >= 0, "averaging time (h)", f"must not be negative, found {averaging}"),
        (0 < dx <= 360, "dx (deg)", f"must be in 0..360, found {dx}"),
        (0 < dy <= 180, "dy (deg)", f"must be in 0..180, found {dy}"),
        (bool(re.fullmatch(r"[A-Za-z0-9_-]+", station)), "station code", f"{tokens[12]!r}"),
    ]
    if step > 0 and length > 0:
        n = length / step
        checks.append(
            (
                abs(n - round(n)) < 1e-6 and n < 1e6,
                "simulation length (h)",
                f"{length} h is not a whole number of {step} h steps",
            )
        )
    if start and stop:
        checks.append((stop > start, "stop date", f"sample stop {stop} is not after {start}"))
    problems = [Problem(source, 1, field, msg) for ok, field, msg in checks if not ok]
    if problems:
        raise FormatError(problems)
    return SrsHeader(
        lat, float(_east(lon)), start, stop, mass, length, step, averaging, dx, dy, station
    )  # type: ignore[arg-type]


# ------------------------------------------------------------------ data lines
def _columns_fast(body: bytes) -> np.ndarray | None:
    """All data lines as an (n, 4|5) array when every line is plain numbers, else None
    (the line-by-line reader then finds and names the problem)."""
    if body.translate(None, NUMERIC_BYTES):
        return None
    counts = list(map(len, map(bytes.split, body.split(b"\n"))))
    rows = len(counts) - counts.count(0)
    widths = set(counts) - {0}
    if len(widths) > 1 or not widths <= {4, 5}:
        return None
    if not widths:
        return np.zeros((0, 4))
    ncols = widths.pop()
    try:
        # C parsing: 10x a Python loop. A partial read (numpy stops at the first token it
        # cannot read, with a warning) never reaches the end mark; told so, not by making
        # the warning an error (warning filters are the whole process's: another thread's
        # warnings would become errors meanwhile)
        flat = np.fromstring(body + b" 0.5", sep=" ")
    except ValueError:
        return None
    # every line had ncols tokens: as many numbers and the end mark, or a token was not one
    if flat.size != rows * ncols + 1 or flat[-1] != 0.5 or not np.isfinite(flat).all():
        return None
    return flat[:-1].reshape(rows, ncols)


def _columns_slow(lines: list[str], first_line: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Line by line, naming each bad line: the rows and their 1-based line numbers."""
    rows: list[list[float]] = []
    numbers: list[int] = []
    problems: list[Problem] = []
    width: int | None = None
    for no, text in enumerate(lines, first_line):
        tokens = text.split()
        if not tokens:
            continue
        if len(problems) >= MAX_PROBLEMS:
            break
        if len(tokens) not in (4, 5) or (width is not None and len(tokens) != width):
            need = "4 or 5" if width is None else f"{width} (as the first data line)"
            problems.append(
                Problem(
                    source,
                    no,
                    None,
                    f"expected {need} fields 'lat lon k value [spread]', found {len(tokens)}: {text.strip()[:80]!r}",
                )
            )
            continue
        width = len(tokens)
        row = []
        for name, token in zip(("lat", "lon", "k", "value", "spread"), tokens):
            try:
                x = float(token)
            except ValueError:
                x = math.nan
            if not math.isfinite(x):
                problems.append(Problem(source, no, name, f"not a number: {token[:40]!r}"))
                break
            row.append(x)
        else:
            rows.append(row)
            numbers.append(no)
    if problems:
        raise FormatError(problems)
    return np.array(rows, dtype=float).reshape(-1, width or 4), np.array(numbers, dtype=int)


def _line_numbers(body: bytes, first_line: int) -> np.ndarray:
    """The line number of each data row (only needed to name a bad row)."""
    lines = body.split(b"\n")
    return np.array([no for no, ln in enumerate(lines, first_line) if ln.strip()], dtype=int)


def _step_base(k: np.ndarray, steps: int, step_base: int | None) -> tuple[int, str]:
    if step_base is not None:
        return step_base, "given by the caller"
    if k.size == 0:
        return 0, "no data lines: 0 assumed"
    if k.min() == 0:
        return 0, "step 0 present"
    if k.max() == steps:
        return 1, f"step {steps} present (the simulation has {steps} steps)"
    return 0, f"neither step 0 nor step {steps} present: 0 assumed, as in the CWAO files"


def _check_cells(
    table: np.ndarray, header: SrsHeader, rows_line, source: str, step_base: int | None
):
    """Range, grid and step checks over all cells at once; FormatError naming the first rows."""
    lat, lon, k, value = table[:, 0], table[:, 1], table[:, 2], table[:, 3]
    spread = table[:, 4] if table.shape[1] == 5 else None
    steps = header.steps
    base, reason = _step_base(k, steps, step_base)
    lat_ref = float(lat[0]) if lat.size else 0.0
    east = np.asarray(_east(lon), dtype=float)
    lon_ref = float(east[0]) if lon.size else 0.0
    fi = (lat - lat_ref) / header.dy
    fj = (east - lon_ref) / header.dx
    wrap_f = 360.0 / header.dx
    wrap = round(wrap_f) if abs(wrap_f - round(wrap_f)) < 1e-6 else None
    checks = [
        ((lat < -90) | (lat > 90), "lat", "latitude out of -90..90"),
        ((lon < -180) | (lon > 360), "lon", "longitude out of -180..360"),
        (np.abs(fi - np.rint(fi)) > GRID_TOLERANCE, "lat", f"not on the {header.dy} degree grid"),
        (np.abs(fj - np.rint(fj)) > GRID_TOLERANCE, "lon", f"not on the {header.dx} degree grid"),
        (k != np.rint(k), "k", "step index is not a whole number"),
        (
            (k < base) | (k > steps - 1 + base),
            "k",
            f"step index outside {base}..{steps - 1 + base} ({steps} steps of {header.step_hours} h, base {base}: {reason})",
        ),
        (value < 0, "value", "a sensitivity cannot be negative"),
    ]
    if spread is not None:
        checks.append((spread < 0, "spread", "an ensemble spread cannot be negative"))
    problems: list[Problem] = []
    for bad, field, message in checks:
        if bad.any():
            lines = rows_line()
            for r in np.flatnonzero(bad)[:MAX_PROBLEMS]:
                problems.append(Problem(source, int(lines[r]), field, message))
    if problems:
        raise FormatError(problems)
    i = np.rint(fi).astype(np.int64)
    j = np.rint(fj).astype(np.int64)
    if wrap is not None:
        j %= wrap
    step = k.astype(np.int64) - base
    key = (i * 4_000_000 + j) * (steps + 1) + step
    order = np.argsort(key, kind="stable")
    twice = np.flatnonzero(np.diff(key[order]) == 0)
    if twice.size:
        lines = rows_line()
        r0, r1 = order[twice[0]], order[twice[0] + 1]
        fail(
            source,
            f"cell ({lat[r1]}, {lon[r1]}) step {int(k[r1])} is listed twice (also on line {int(lines[r0])})",
            int(lines[r1]),
        )
    return dict(
        latitude=lat,
        longitude=east,
        step=step,
        value=value,
        spread=spread,
        step_base=base,
        step_base_reason=reason,
        _i=i,
        _j=j,
        _lat_ref=lat_ref,
        _lon_ref=lon_ref,
        _wrap=wrap,
    )


def read_srs(data: bytes | str, source: str = "<srs>", step_base: int | None = None) -> SrsField:
    """Read an SRS file's bytes (plain or gzip). FormatError for anything that is not one.

    `step_base` forces the index of the first step (0 or 1); by default it is detected:
    0 when a step 0 is present, 1 when step n is (n = simulation length / dt)."""
    if step_base not in (None, 0, 1):
        raise ValueError(f"step_base must be 0, 1 or None, got {step_base!r}")
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    raw = maybe_gunzip(raw, source)
    head, _, body = raw.partition(b"\n")
    try:
        header_text = head.decode("ascii")
    except UnicodeDecodeError:
        fail(source, "the header line is not ASCII text: not an SRS file", 1)
    if not header_text.strip():
        fail(source, "empty: no header line", 1)
    header = _header(header_text, source)
    table = _columns_fast(body)
    if table is None:
        table, numbers = _columns_slow(body.decode("latin-1").split("\n"), 2, source)

        def rows_line():
            return numbers

    else:

        def rows_line():
            return _line_numbers(body, 2)

    cells = _check_cells(table, header, rows_line, source, step_base)
    m = FILE_NAME.match(Path(source).name)
    return SrsField(source=source, header=header, centre=m["centre"] if m else None, **cells)


def read_srs_file(path: str | Path, step_base: int | None = None) -> SrsField:
    """Read an SRS file from disk; FormatError (not OSError) when it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(str(path), f"cannot read: {exc.strerror}")
    return read_srs(data, str(path), step_base)


def format_srs(
    header: SrsHeader,
    latitude,
    longitude,
    step,
    value,
    spread=None,
    step_base: int = 0,
) -> str:
    """SRS text for the given cells (`step` 0-based; written from `step_base`). For tests,
    the simulator and anyone who needs a file in the format."""
    h = header
    lines = [
        f"{h.latitude:.2f} {h.longitude:.2f} {h.sample_start:%Y%m%d} {h.sample_start.hour} "
        f"{h.sample_stop:%Y%m%d} {h.sample_stop.hour} {h.release_mass:.5E} "
        f"{h.simulation_hours:g} {h.step_hours:g} {h.averaging_hours:g} {h.dx:g} {h.dy:g} "
        f'"{h.station}"'
    ]
    cols = [latitude, longitude, np.asarray(step) + step_base, value]
    if spread is not None:
        cols.append(spread)
    for row in zip(*cols):
        text = f"{row[0]:9.2f} {row[1]:8.2f} {int(row[2]):4d} {row[3]:14.5E}"
        if spread is not None:
            text += f" {row[4]:14.5E}"
        lines.append(text)
    return "\n".join(lines) + "\n"
