"""The SOH charts' figures and tables, as plain functions of query results
(central.soh.soh_numbers, soh_series): one quantity of one station over time, its alert
limits drawn, the readings outside them marked.

A station-year is 35,040 readings a quantity: a series longer than `POINTS` is drawn
as `POINTS` points chosen by MinMaxLTTB (tsdownsample, as the releases chart), which
keeps each bucket's extremes, so that a spike is never dropped; every reading outside
the limits is marked all the same (up to `POINTS` of them, else those MinMaxLTTB
picks). The page re-queries the span the user zooms to, drawn at full resolution
once it holds at most `POINTS` readings. The CSV is always at full resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

from central.web.chartkit import ChartTable
from central.web.figures.releases import POINTS


@dataclass(frozen=True)
class Series:
    station: str
    quantity: str
    unit: str
    times: list[str]  # ISO Z: start of each reading's interval
    values: list[float | None]  # None: not measured
    low: float | None
    high: float | None

    @property
    def outside(self) -> list[bool]:
        return self.outside_mask().tolist()

    def outside_mask(self) -> np.ndarray:
        """As `is_outside` for each reading, at once."""
        v = np.array(self.values, dtype=float)  # None: NaN, never outside
        out = np.zeros(len(v), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                out |= v < self.low
            if self.high is not None:
                out |= v > self.high
        return out


def is_outside(value: float | None, low: float | None, high: float | None) -> bool:
    """As central.soh.outside_limits: strictly beyond a limit; not measured is not outside."""
    if value is None:
        return False
    return (low is not None and value < low) or (high is not None and value > high)


def series_of(
    station: str,
    rows: Sequence[dict[str, Any]],
    limits: dict[str, tuple[float | None, float | None]],
) -> list[Series]:
    """The rows of `soh_series` (ordered by quantity and time) as one Series per quantity
    that has at least one numeric reading; states are left out."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("state") is None:
            by.setdefault(r["quantity"], []).append(r)
    out = []
    for quantity, items in by.items():
        if all(r["value"] is None for r in items):
            continue
        low, high = limits.get(quantity, (None, None))
        out.append(
            Series(
                station,
                quantity,
                next((r["unit"] for r in items if r.get("unit")), ""),
                [r["time"] for r in items],
                [r["value"] for r in items],
                low,
                high,
            )
        )
    return out


MARKERS_UP_TO = 500  # readings drawn with a marker each; more: the line alone


def series_from_numbers(
    station: str,
    numbers: dict[str, tuple[str, list[str], list[float | None]]],
    limits: dict[str, tuple[float | None, float | None]],
) -> list[Series]:
    """central.soh.soh_numbers' readings as one Series per quantity with at least one
    numeric reading (as `series_of`)."""
    out = []
    for quantity, (unit, times, values) in numbers.items():
        if all(v is None for v in values):
            continue
        low, high = limits.get(quantity, (None, None))
        out.append(Series(station, quantity, unit, times, values, low, high))
    return out


def drawn_points(s: Series, points: int = POINTS) -> np.ndarray:
    """Indexes of the readings to draw: all when there are at most `points`, else
    MinMaxLTTB's `points` among the measured ones (the first and last always)."""
    if len(s.times) <= points:
        return np.arange(len(s.times))
    return _pick(np.array(s.values, dtype=float), np.arange(len(s.times)), points)


def _pick(v: np.ndarray, where: np.ndarray, points: int) -> np.ndarray:
    """Of the readings `where` (indexes into the series, ascending) with values `v`, the
    indexes of at most `points` chosen by MinMaxLTTB among the measured ones. The x of
    the choice is the reading's index, not its time: readings come every 15 minutes, and
    parsing a year of ISO times would cost more than the whole choice."""
    measured = np.isfinite(v)
    if measured.sum() <= points:
        return where[measured]
    where, v = where[measured], v[measured]
    return where[MinMaxLTTBDownsampler().downsample(where, v, n_out=points)]


def _label(s: Series) -> str:
    return f"{s.quantity} ({s.unit})" if s.unit else s.quantity


def soh_figure(
    s: Series, height: int = 260, points: int = POINTS, revision: str = ""
) -> dict[str, Any]:
    """The chart of one quantity (a Plotly figure as a dict): at most `points` readings
    drawn (`drawn_points`), every reading outside the limits marked (at most `points`).
    `revision` keeps the user's zoom while the same chart is redrawn (uirevision)."""
    index = drawn_points(s, points)
    flagged = np.flatnonzero(s.outside_mask())
    if len(flagged) > points:
        flagged = _pick(np.array([s.values[i] for i in flagged], dtype=float), flagged, points)
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",  # at most `points`: SVG draws them at once, no WebGL to start
            "x": [s.times[i] for i in index],
            "y": [s.values[i] for i in index],
            # a marker per reading where they can be told apart; a year as its line only
            # (one SVG path, not 2000 markers; those outside the limits marked below)
            "mode": "lines+markers" if len(index) <= MARKERS_UP_TO else "lines",
            "name": s.quantity,
            "marker": {"size": 4, "color": "#2b6cb0"},
            "line": {"width": 1, "color": "#2b6cb0"},
            "connectgaps": False,
            "hovertemplate": "%{x|%Y/%m/%d %H:%M} UTC: %{y}<extra></extra>",
        }
    ]
    for name, limit in (("low limit", s.low), ("high limit", s.high)):
        if limit is not None and s.times:
            traces.append(
                {
                    "type": "scatter",
                    "x": [s.times[0], s.times[-1]],
                    "y": [limit, limit],
                    "mode": "lines",
                    "name": f"{name} {limit:g}",
                    "line": {"color": "#c53030", "dash": "dash", "width": 1},
                    "hoverinfo": "skip",
                }
            )
    if len(flagged):
        traces.append(
            {
                "type": "scatter",
                "x": [s.times[i] for i in flagged],
                "y": [s.values[i] for i in flagged],
                "mode": "markers",
                "name": "outside limits",
                "marker": {"size": 8, "color": "#c53030", "symbol": "x"},
                "hovertemplate": "%{x|%Y/%m/%d %H:%M} UTC: %{y} outside limits<extra></extra>",
            }
        )
    layout = {
        "title": {"text": f"{s.station} {_label(s)}", "font": {"size": 13}},
        "height": height,
        "margin": {"l": 60, "r": 10, "t": 36, "b": 30},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": s.unit}},
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.25, "font": {"size": 10}},
        "uirevision": revision or f"{s.station}-{s.quantity}",
    }
    return {"data": traces, "layout": layout}


def soh_table(s: Series) -> ChartTable:
    """The plotted readings with their limits, as the CSV of this chart."""
    unit = f" ({s.unit})" if s.unit else ""
    return ChartTable(
        (
            "time (UTC)",
            f"{s.quantity}{unit}",
            f"low limit{unit}",
            f"high limit{unit}",
            "outside limits",
        ),
        [(t, v, s.low, s.high, o) for t, v, o in zip(s.times, s.values, s.outside, strict=True)],
        f"{s.station}_SOH_{s.quantity.replace('.', '_')}.csv",
    )
