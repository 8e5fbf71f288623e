"""The daily emission CSV: one row per sample with each nuclide's release, MDR and uncertainty.

`Station,Time,<NUC> val,<NUC> mdr,<NUC> unc,...,Unit`; a value not reported is an empty
cell (a non-detect has val and unc empty and mdr given). Values carry 4 significant digits.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import FormatError, Problem, utf8_text

NUCLIDES = ("I-131", "KR-85M", "KR-88", "XE-131M", "XE-133", "XE-133M", "XE-135")
KINDS = ("val", "mdr", "unc")
# Same patterns as NuclideName and ReleaseUnit in ats.schema.json: the CSV is made from the ATS.
NUCLIDE_NAME = re.compile(r"[A-Z][A-Z]?-[0-9]{1,3}M?")
RELEASE_UNIT = re.compile(r"(Bq|kBq|MBq|GBq|TBq)/([1-9][0-9]*s|h)")
STATION_CODE = re.compile(r"[A-Z0-9]+")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class NuclideValue:
    """Release (`val`), minimum detectable release (`mdr`) and uncertainty (`unc`), in the row's unit."""

    val: float | None = None
    mdr: float | None = None
    unc: float | None = None


@dataclass
class EmissionRow:
    station: str
    time: datetime  # start of the sample's collection, UTC
    values: dict[str, NuclideValue]
    unit: str  # e.g. kBq/900s


def release_unit(acquisition_seconds: float, prefix: str = "k") -> str:
    """The unit of a row whose sample lasted this long, e.g. `kBq/900s`."""
    seconds = round(acquisition_seconds)
    if seconds < 1:
        raise ValueError(f"acquisition length must be at least 1 s, got {acquisition_seconds}")
    return f"{prefix}Bq/{seconds}s"


def _format_value(x: float | None) -> str:
    if x is None:
        return ""
    text = f"{x:.3E}"
    # 1.7977E+308 is past the largest float: it would not read back
    if not math.isfinite(float(text)):
        raise ValueError(f"values must be finite numbers below 1.797E+308, got {x!r}")
    return text


def _format_time(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("row time must be timezone-aware (UTC); got a naive datetime")
    if t.microsecond:
        raise ValueError(f"row times carry whole seconds; got {t.isoformat()}")
    return t.astimezone(UTC).strftime(TIME_FORMAT)


def write_emission_csv(rows: list[EmissionRow], nuclides: list[str] | None = None) -> str:
    """The rows as CSV text (LF line ends). Columns: the given nuclides, or the standard seven
    followed by any other nuclide the rows report, in order of first appearance."""
    if nuclides is None:
        others = [n for r in rows for n in r.values if n not in NUCLIDES]
        nuclides = [*NUCLIDES, *dict.fromkeys(others)]
    for n in nuclides:
        if not NUCLIDE_NAME.fullmatch(n):
            raise ValueError(f"nuclide names look like XE-133 or XE-131M, got {n!r}")
    if len(set(nuclides)) != len(nuclides):
        raise ValueError(f"nuclide listed twice in {nuclides}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Station", "Time", *(f"{n} {k}" for n in nuclides for k in KINDS), "Unit"])
    for row in rows:
        if not STATION_CODE.fullmatch(row.station):
            raise ValueError(
                f"station code must be upper-case letters and digits, got {row.station!r}"
            )
        if not RELEASE_UNIT.fullmatch(row.unit):
            raise ValueError(f"unit must look like kBq/900s, got {row.unit!r}")
        missing = [n for n in row.values if n not in nuclides]
        if missing:
            raise ValueError(f"row {row.station} {row.time} reports {missing}, not in the columns")
        cells = [row.station, _format_time(row.time)]
        for n in nuclides:
            v = row.values.get(n, NuclideValue())
            cells += [_format_value(v.val), _format_value(v.mdr), _format_value(v.unc)]
        writer.writerow([*cells, row.unit])
    return out.getvalue()


class _Columns:
    """Where each nuclide's three values sit in a row, from the header."""

    def __init__(self, header: list[str], line: int, problems: list[Problem], source: str):
        self.width = len(header)
        self.nuclides: dict[str, dict[str, int]] = {}
        if header[:2] != ["Station", "Time"] or header[-1:] != ["Unit"] or len(header) < 3:
            problems.append(
                Problem(
                    source,
                    line,
                    None,
                    "the header must read 'Station,Time,<NUC> val,<NUC> mdr,<NUC> unc,...,Unit'",
                )
            )
            return
        for i, name in enumerate(header[2:-1], 2):
            parts = name.split(" ")
            if len(parts) != 2 or parts[1] not in KINDS or not NUCLIDE_NAME.fullmatch(parts[0]):
                problems.append(
                    Problem(
                        source,
                        line,
                        None,
                        f"column {i + 1}: expected '<NUC> val', '<NUC> mdr' or '<NUC> unc' (e.g. 'XE-133 val'), found {name!r}",
                    )
                )
                continue
            nuclide, kind = parts
            where = self.nuclides.setdefault(nuclide, {})
            if kind in where:
                problems.append(Problem(source, line, None, f"column {name!r} appears twice"))
            where[kind] = i
        for nuclide, where in self.nuclides.items():
            for kind in KINDS:
                if kind not in where:
                    problems.append(
                        Problem(source, line, None, f"column '{nuclide} {kind}' is missing")
                    )


def _number(
    cell: str, line: int, column: str, problems: list[Problem], source: str
) -> float | None:
    if cell == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(Problem(source, line, column, f"not a number: {cell!r}"))
        return None
    return value


def _read_row(
    cells: list[str], line: int, cols: _Columns, problems: list[Problem], source: str
) -> EmissionRow | None:
    if len(cells) != cols.width:
        problems.append(
            Problem(source, line, None, f"expected {cols.width} cells, found {len(cells)}")
        )
        return None
    before = len(problems)
    station, time_text, unit = cells[0], cells[1], cells[-1]
    if not station:
        problems.append(Problem(source, line, "Station", "empty"))
    try:
        time = datetime.strptime(time_text, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        problems.append(
            Problem(
                source,
                line,
                "Time",
                f"expected yyyy-mm-ddThh:mm:ssZ (UTC), found {time_text!r}; a spreadsheet program may have rewritten it",
            )
        )
    if not RELEASE_UNIT.fullmatch(unit):
        problems.append(
            Problem(source, line, "Unit", f"expected a unit like kBq/900s, found {unit!r}")
        )
    values: dict[str, NuclideValue] = {}
    for nuclide, where in cols.nuclides.items():
        val, mdr, unc = (
            _number(cells[where[k]], line, f"{nuclide} {k}", problems, source) for k in KINDS
        )
        if val is None and unc is not None:
            problems.append(
                Problem(source, line, f"{nuclide} unc", "an uncertainty without a value")
            )
        values[nuclide] = NuclideValue(val, mdr, unc)
    if len(problems) > before:
        return None
    return EmissionRow(station, time, values, unit)


def read_emission_csv(text: str | bytes, source: str = "<csv>") -> list[EmissionRow]:
    """Read an emission CSV. Raises FormatError listing every problem as `file:line: column: what`."""
    text = utf8_text(text, source)
    # Spreadsheet programs put a byte-order mark in front of the header.
    text = text.removeprefix("\ufeff")
    problems: list[Problem] = []
    rows: list[EmissionRow] = []
    cols: _Columns | None = None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or cells == [""]:
                continue
            if cols is None:
                cols = _Columns(cells, line, problems, source)
                if problems:
                    break
                continue
            row = _read_row(cells, line, cols, problems, source)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        problems.append(Problem(source, reader.line_num, None, f"not CSV: {exc}"))
    if cols is None and not problems:
        problems.append(Problem(source, None, None, "empty: no header line"))
    if problems:
        raise FormatError(problems)
    return rows


__all__ = [
    "KINDS",
    "NUCLIDES",
    "EmissionRow",
    "NuclideValue",
    "read_emission_csv",
    "release_unit",
    "write_emission_csv",
]
