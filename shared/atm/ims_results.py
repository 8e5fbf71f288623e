"""An IMS station's own measured concentrations (CSV), to show beside the computed impact.

    sample_start,sample_stop,nuclide,concentration_bq_m3,uncertainty_bq_m3
    2019-08-04T16:00:00Z,2019-08-05T16:00:00Z,XE-133,0.00042,0.00011

Times ISO 8601, UTC (a `Z` or `+00:00`, or no offset: read as UTC). Concentrations in
Bq/m3, or mBq/m3 when the columns are named `concentration_mbq_m3,uncertainty_mbq_m3`;
an empty uncertainty is allowed. Columns in any order; other columns are ignored.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.formats.emission_csv import NUCLIDE_NAME
from shared.formats.errors import FormatError, Problem, utf8_text

_UNITS = {"bq_m3": 1.0, "mbq_m3": 1e-3}


@dataclass(frozen=True)
class MeasuredConcentration:
    sample_start: datetime
    sample_stop: datetime
    nuclide: str  # XE-133
    concentration_bq_m3: float
    uncertainty_bq_m3: float | None


def _time(text: str) -> datetime:
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def read_ims_results(data: str | bytes, source: str = "<csv>") -> list[MeasuredConcentration]:
    """Read the CSV; FormatError listing every bad line as `file:line: column: what`."""
    text = utf8_text(data, source).removeprefix("\ufeff")
    problems: list[Problem] = []
    out: list[MeasuredConcentration] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    cols: dict[str, int] | None = None
    factor = 1.0
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if cols is None:
                names = [c.strip().lower() for c in cells]
                unit = next((u for u in _UNITS if f"concentration_{u}" in names), None)
                need = ["sample_start", "sample_stop", "nuclide"]
                need += [f"concentration_{unit or 'bq_m3'}", f"uncertainty_{unit or 'bq_m3'}"]
                missing = [n for n in need if n not in names]
                if missing:
                    problems.append(
                        Problem(
                            source,
                            line,
                            None,
                            f"the header lacks {', '.join(missing)} (expected {','.join(need)})",
                        )
                    )
                    break
                cols = {
                    key: names.index(n) for key, n in zip(("start", "stop", "nuc", "c", "u"), need)
                }
                factor = _UNITS[unit or "bq_m3"]
                continue
            if len(cells) <= max(cols.values()):
                problems.append(
                    Problem(source, line, None, f"expected {len(names)} cells, found {len(cells)}")
                )
                continue
            row = _row(cells, cols, factor, source, line, problems)
            if row is not None:
                out.append(row)
            if len(problems) >= 20:
                break
    except csv.Error as exc:
        problems.append(Problem(source, reader.line_num, None, f"not CSV: {exc}"))
    if cols is None and not problems:
        problems.append(Problem(source, None, None, "empty: no header line"))
    if problems:
        raise FormatError(problems)
    return out


def _row(cells, cols, factor, source, line, problems) -> MeasuredConcentration | None:
    before = len(problems)
    times = []
    for key, name in (("start", "sample_start"), ("stop", "sample_stop")):
        try:
            times.append(_time(cells[cols[key]]))
        except (ValueError, OverflowError):
            problems.append(
                Problem(source, line, name, f"not an ISO 8601 time: {cells[cols[key]]!r}")
            )
    nuclide = cells[cols["nuc"]].strip().upper()
    if not NUCLIDE_NAME.fullmatch(nuclide):
        problems.append(
            Problem(source, line, "nuclide", f"expected a name like XE-133, found {nuclide!r}")
        )
    values = []
    for key, name, optional in (("c", "concentration", False), ("u", "uncertainty", True)):
        cell = cells[cols[key]].strip()
        if cell == "" and optional:
            values.append(None)
            continue
        try:
            x = float(cell)
        except ValueError:
            x = math.nan
        if not math.isfinite(x) or (optional and x < 0):
            problems.append(
                Problem(source, line, name, f"not a number (>= 0 for an uncertainty): {cell!r}")
            )
            values.append(None)
        else:
            values.append(x * factor)
    if len(problems) == before and times[1] <= times[0]:
        problems.append(Problem(source, line, "sample_stop", "the sample stops before it starts"))
    if len(problems) > before:
        return None
    return MeasuredConcentration(times[0], times[1], nuclide, values[0], values[1])
