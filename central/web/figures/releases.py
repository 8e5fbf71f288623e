"""The releases chart (`/charts/releases`): per nuclide, the release per interval of the
station analysis and of the central re-analysis, each method's MDR, detects drawn as
filled markers and non-detects as hollow markers at their MDR, vertical markers where
the two disagree (|z| > 3, from `comparisons`), maintenance as shaded spans; the
integral release over a selected span; and the CSV of what is shown.

Everything here is a function of query results. A station-year has 35,040 intervals
per nuclide and method: a series longer than `POINTS` is reduced to `POINTS` points
(fewer when the figure has more than 9 series: FIGURE_POINTS in all, 1000 each for 9
nuclides x 2 analyses) with MinMaxLTTB (tsdownsample), which keeps each bucket's
extremes (a release peak is never dropped) and then picks the visually important ones;
zooming in re-queries the visible span, which then shows at full resolution. Traces are SVG up to
`chartkit.SVG_POINTS` points in all (a zoomed or a short view: no WebGL to start),
WebGL (`scattergl`) above.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

from central.web.chartkit import ChartTable, trace_type

POINTS = 2000  # per series at most, about the chart's width in pixels, twice
# points of a figure in all: with many series each gets fewer (at least POINTS // 2), so
# that a station-year of 18 series draws 1000 points each (its first WebGL draw on a
# fresh page about a fifth quicker than with 2000; peaks are kept either way)
FIGURE_POINTS = 18_000
UNITS = {"Bq": "Bq", "Bq/h": "Bq/h"}  # per interval, or per hour
METHOD_NAMES = {"station": "station", "central": "central"}
METHOD_STYLE = {
    "station": {"symbol": "circle", "dash": "solid"},
    "central": {"symbol": "diamond", "dash": "dot"},
}
COLOURS = {
    "Xe-133": "#1f77b4",
    "Xe-131m": "#2ca02c",
    "Xe-133m": "#d62728",
    "Xe-135": "#9467bd",
    "Xe-138": "#8c564b",
    "Kr-85m": "#e377c2",
    "Kr-87": "#7f7f7f",
    "Kr-88": "#bcbd22",
    "I-131": "#17becf",
}
OTHER_COLOURS = ("#ff7f0e", "#393b79", "#637939", "#8c6d31", "#843c39")

# the columns the chart reads, in this order (central.releases.series_query)
SERIES_COLUMNS = (
    "nuclide",
    "method",
    "start_s",
    "release_bq",
    "release_unc_bq",
    "mdr_bq",
    "detected",
    "interval_s",
    "message_id",
)


@dataclass(frozen=True)
class Series:
    """One nuclide's releases by one method, at full resolution, in time order."""

    nuclide: str
    method: str
    t: np.ndarray  # interval start, seconds since the epoch (int64)
    release: np.ndarray  # Bq per interval (NaN: not given)
    unc: np.ndarray  # its standard uncertainty
    mdr: np.ndarray  # the MDR (ISO 11929 detection limit), Bq per interval
    detected: np.ndarray  # bool
    interval: np.ndarray  # seconds
    message_id: np.ndarray  # the PHD's id (-1: not stored yet)

    def __len__(self) -> int:
        return len(self.t)

    def per_hour(self) -> np.ndarray:
        """The factor from Bq per interval to Bq/h."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.interval > 0, 3600.0 / self.interval, np.nan)

    def window(self, start_s: float, end_s: float) -> Series:
        """The part with start in [start_s, end_s)."""
        lo, hi = np.searchsorted(self.t, [start_s, end_s])
        return Series(
            self.nuclide,
            self.method,
            *(a[lo:hi] for a in (self.t, self.release, self.unc, self.mdr, self.detected,
                                 self.interval, self.message_id)),
        )  # fmt: skip


def series_from_rows(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], Series]:
    """Rows in SERIES_COLUMNS order, sorted by nuclide, method and time, as one Series
    per (nuclide, method)."""
    grouped: dict[tuple[str, str], list[Sequence[Any]]] = {}
    for row in rows:
        grouped.setdefault((row[0], row[1]), []).append(row[2:])
    out = {}
    for (nuclide, method), values in grouped.items():
        a = np.array(values, dtype=float).reshape(-1, 7)
        out[(nuclide, method)] = Series(
            nuclide,
            method,
            t=a[:, 0].astype(np.int64),
            release=a[:, 1],
            unc=a[:, 2],
            mdr=a[:, 3],
            detected=a[:, 4] == 1,
            interval=a[:, 5],
            message_id=np.nan_to_num(a[:, 6], nan=-1).astype(np.int64),
        )
    return out


def typed(values: np.ndarray) -> dict[str, str]:
    """A float array as Plotly's typed-array spec (base64 of little-endian float64):
    the figure's JSON carries 8 bytes a number instead of its digits, and is not parsed
    number by number in the browser. NaN stays NaN (a gap)."""
    a = np.ascontiguousarray(values, dtype="<f8")
    spec = {"dtype": "f8", "bdata": base64.b64encode(a.tobytes()).decode("ascii")}
    if a.ndim > 1:
        spec["shape"] = ", ".join(str(n) for n in a.shape)
    return spec


def keep(t: np.ndarray, y: np.ndarray, points: int = POINTS) -> np.ndarray:
    """Indexes of the points to draw: all when there are at most `points`, else
    MinMaxLTTB's `points` (missing values count as 0 for the choice)."""
    if len(t) <= points:
        return np.arange(len(t))
    values = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    chosen = MinMaxLTTBDownsampler().downsample(t, values, n_out=points)
    return np.asarray(chosen, dtype=np.int64)


def colour(nuclide: str, order: Sequence[str]) -> str:
    if nuclide in COLOURS:
        return COLOURS[nuclide]
    return OTHER_COLOURS[order.index(nuclide) % len(OTHER_COLOURS)] if nuclide in order else "#000"


def unit_label(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    return "Bq per interval" if unit == "Bq" else "Bq/h"


def _positive(values: np.ndarray) -> np.ndarray:
    """For the log axis: values <= 0 or missing as gaps."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def releases_figure(
    series: Mapping[tuple[str, str], Series],
    *,
    unit: str = "Bq",
    show_mdr: bool = True,
    differences: Sequence[tuple[float, str, float]] = (),
    maintenance: Sequence[Mapping[str, Any]] = (),
    dragmode: str = "zoom",
    fixed_y: bool = False,
    title: str = "",
    revision: str = "",
    points: int = POINTS,
    webgl: bool = True,
) -> dict[str, Any]:
    """The Plotly figure (a dict). `differences`: (interval start s, nuclide, z) of the
    flagged comparisons; `maintenance`: rows with name, start and end (ISO). `webgl`
    False: SVG traces (where the browser has no CSP-safe WebGL bundle)."""
    unit_text = unit_label(unit)
    order = sorted({n for n, _ in series})
    if series:  # a share of FIGURE_POINTS each, between POINTS // 2 and `points`
        points = min(points, max(POINTS // 2, FIGURE_POINTS // len(series)))
    chosen = {}
    for key, s in series.items():
        scale = s.per_hour() if unit == "Bq/h" else 1.0
        value, mdr = s.release * scale, s.mdr * scale
        drawn = np.where(s.detected, value, mdr)  # a non-detect at its MDR
        chosen[key] = (scale, value, mdr, keep(s.t, drawn, points))
    kind = trace_type(sum(len(c[3]) for c in chosen.values()), webgl)
    traces: list[dict[str, Any]] = []
    for (nuclide, method), s in sorted(series.items()):
        scale, value, mdr, index = chosen[(nuclide, method)]
        x = s.t[index] * 1000.0  # ms: Plotly's date axis
        colour_ = colour(nuclide, order)
        style = METHOD_STYLE[method]
        name = f"{nuclide} {METHOD_NAMES[method]}"
        detected = s.detected[index]
        custom = np.column_stack([s.message_id[index], (s.unc * scale)[index]])
        traces.append(
            {
                "type": kind,
                "mode": "lines+markers",
                "name": name,
                "legendgroup": name,
                "x": typed(x),
                "y": typed(_positive(np.where(detected, value[index], np.nan))),
                "customdata": typed(custom),
                "line": {"color": colour_, "width": 1, "dash": style["dash"]},
                "marker": {"color": colour_, "size": 5, "symbol": style["symbol"]},
                "connectgaps": False,
                "hovertemplate": f"{name}: %{{y:.3e}} ± %{{customdata[1]:.2e}} {unit_text}"
                "<extra>detected</extra>",
                "meta": {"nuclide": nuclide, "method": method, "kind": "detected"},
            }
        )
        traces.append(
            {
                "type": kind,
                "mode": "markers",
                "name": f"{name} not detected (at MDR)",
                "legendgroup": name,
                "showlegend": False,
                "x": typed(x),
                "y": typed(_positive(np.where(detected, np.nan, mdr[index]))),
                "customdata": typed(custom),
                "marker": {
                    "color": "rgba(0,0,0,0)",
                    "size": 6,
                    "symbol": f"{style['symbol']}-open",
                    "line": {"color": colour_, "width": 1},
                },
                "hovertemplate": f"{name}: not detected, MDR %{{y:.3e}} {unit_text}"
                "<extra>not detected</extra>",
                "meta": {"nuclide": nuclide, "method": method, "kind": "not detected"},
            }
        )
        if show_mdr:
            traces.append(
                {
                    "type": kind,
                    "mode": "lines",
                    "name": f"{name} MDR",
                    "legendgroup": name,
                    "x": typed(x),
                    "y": typed(_positive(mdr[index])),
                    "line": {"color": colour_, "width": 1, "dash": "dash"},
                    "opacity": 0.45,
                    "hovertemplate": f"{name} MDR: %{{y:.3e}} {unit_text}<extra></extra>",
                    "meta": {"nuclide": nuclide, "method": method, "kind": "MDR"},
                }
            )
    if differences:
        traces.append(_difference_trace(differences))
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}},
        "uirevision": revision,
        "dragmode": dragmode,
        "selectdirection": "h",
        "hovermode": "closest",
        "margin": {"l": 70, "r": 20, "t": 40, "b": 40},
        "legend": {"orientation": "h", "y": -0.12},
        "xaxis": {"type": "date", "title": {"text": "interval start (UTC)"}},
        "yaxis": {
            "type": "log",
            "title": {"text": f"release ({unit_text})"},
            "exponentformat": "e",
            "fixedrange": fixed_y,
        },
        "yaxis2": {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        "shapes": [_maintenance_shape(m) for m in maintenance],
        "annotations": [_maintenance_label(m) for m in maintenance],
    }
    if not series:
        layout["annotations"].append(
            {"text": "No releases to show", "showarrow": False, "xref": "paper",
             "yref": "paper", "x": 0.5, "y": 0.5}
        )  # fmt: skip
    return {"data": traces, "layout": layout}


def _difference_trace(differences: Sequence[tuple[float, str, float]]) -> dict[str, Any]:
    """Vertical lines over the whole height (a hidden axis 0..1), one per disagreement."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    text: list[str] = []
    for t, nuclide, z in differences:
        label = f"{nuclide}: z = {z:+.1f}" if z is not None and math.isfinite(z) else nuclide
        xs += [t * 1000.0, t * 1000.0, None]
        ys += [0.0, 1.0, None]
        text += [label, label, ""]
    return {
        "type": "scatter",
        "mode": "lines",
        "name": "differences > 3 combined uncertainties",
        "x": xs,
        "y": ys,
        "yaxis": "y2",
        "text": text,
        "line": {"color": "rgba(214,39,40,0.55)", "width": 1},
        "hovertemplate": "%{text}<extra>disagree</extra>",
        "meta": {"kind": "differences"},
    }


def _maintenance_shape(m: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": _plot_time(m["start"]),
        "x1": _plot_time(m.get("end") or m["start"]),
        "y0": 0,
        "y1": 1,
        "fillcolor": "rgba(255,165,0,0.18)",
        "line": {"width": 0},
        "layer": "below",
    }


def _maintenance_label(m: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "text": str(m.get("name") or "maintenance"),
        "xref": "x",
        "yref": "paper",
        "x": _plot_time(m["start"]),
        "y": 1,
        "xanchor": "left",
        "yanchor": "top",
        "showarrow": False,
        "font": {"size": 10, "color": "#8a5300"},
    }


def _plot_time(iso: str) -> str:
    """ISO text (with Z) as Plotly's date axis reads it (UTC, no zone)."""
    t = parse_time(iso)
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else iso


def parse_time(value: Any) -> datetime | None:
    """ISO text, or a date-axis value Plotly sends back (`2024-05-01 06:30:00.123`), as
    an aware UTC datetime; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# ------------------------------------------------------------------ integral
INTEGRAL_COLUMNS = (
    "nuclide",
    "method",
    "intervals",
    "detected intervals",
    "integral release (Bq)",
    "integral release uncertainty (Bq)",
    "upper bound with MDRs of non-detects (Bq)",
)


def integrals(
    series: Mapping[tuple[str, str], Series], start_s: float, end_s: float
) -> list[tuple]:
    """Per nuclide and method, over intervals starting in [start_s, end_s): the integral
    release (the sum of the detected releases, in Bq: a non-detect counts 0), its
    standard uncertainty (root sum of squares of the detected intervals' uncertainties:
    counting parts are independent between spectra; the calibration part, common to
    all, is not reduced by adding and is understated so), and an upper bound that adds
    the MDR of each non-detect. Rows in INTEGRAL_COLUMNS order."""
    out = []
    for (nuclide, method), s in sorted(series.items()):
        w = s.window(start_s, end_s)
        d = w.detected & np.isfinite(w.release)
        total = float(np.sum(w.release[d]))
        unc = float(np.sqrt(np.sum(np.nan_to_num(w.unc[d]) ** 2)))
        upper = total + float(np.sum(np.nan_to_num(w.mdr[~w.detected])))
        out.append((nuclide, method, len(w), int(np.sum(w.detected)), total, unc, upper))
    return out


def integral_table(rows: Sequence[tuple], file_name: str) -> ChartTable:
    return ChartTable(INTEGRAL_COLUMNS, list(rows), file_name)


# ------------------------------------------------------------------ the CSV
CSV_QUANTITIES = (
    ("release_bq", "release", "{unit}"),
    ("release_unc_bq", "release uncertainty", "{unit}"),
    ("mdr_bq", "MDR", "{unit}"),
    ("detected", "detected", "1/0"),
)


def releases_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    unit: str,
    nuclides: Sequence[str],
    methods: Sequence[str],
    file_name: str,
) -> ChartTable:
    """The chart's numbers, one row per spectrum (interval start and file), columns by
    quantity, method and unit: `Xe-133 release station (Bq/h)`. `rows` are
    release_values rows (dicts), all of the span shown: the CSV is at full resolution."""
    unit_label(unit)
    columns = ["interval start (UTC)", "file", "interval (s)"]
    keys = []
    for nuclide in nuclides:
        for method in methods:
            for key, quantity, unit_of in CSV_QUANTITIES:
                text = unit_of.format(unit=unit)
                columns.append(f"{nuclide} {quantity} {method} ({text})")
                keys.append((nuclide, method, key))
    by_spectrum: dict[tuple[int, str], dict[tuple[str, str, str], Any]] = {}
    meta: dict[tuple[int, str], tuple[str, Any]] = {}
    for r in rows:
        spectrum = (r["start_s"], r["file_name"])
        meta.setdefault(spectrum, (r["start_time"], r["interval_s"]))
        factor = 1.0
        if unit == "Bq/h":
            interval = r["interval_s"]
            factor = 3600.0 / interval if interval else math.nan
        cells = by_spectrum.setdefault(spectrum, {})
        for key, _, _ in CSV_QUANTITIES:
            value = r[key]
            if key != "detected" and value is not None:
                value = value * factor if factor == factor else None
            cells[(r["nuclide"], r["method"], key)] = value
    out = []
    for spectrum in sorted(by_spectrum):
        start_time, interval = meta[spectrum]
        cells = by_spectrum[spectrum]
        out.append([start_time, spectrum[1], interval, *(cells.get(k) for k in keys)])
    return ChartTable(tuple(columns), out, file_name)
