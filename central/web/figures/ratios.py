"""The isotope ratio chart (`/charts/ratios`): one ratio of released activities against
another (e.g. Xe-133m/Xe-131m against Xe-135/Xe-133), per interval, with propagated
standard uncertainties as error bars, coloured by time or by the release of a chosen
nuclide. Only intervals where all the nuclides of both ratios are detected count: a
ratio with a non-detect has no value.

Ratios of releases (Bq per interval at the stack): the activities emitted together, the
quantity that tells sources apart. u(a/b) = (a/b) sqrt((u_a/a)^2 + (u_b/b)^2), the
uncertainties of a and b taken as independent (their counting parts are; a common
efficiency error partly cancels in a ratio, so this is, if anything, conservative).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from central.web.chartkit import ChartTable
from central.web.figures.releases import typed

COLOUR_BY_TIME = "time"


@dataclass(frozen=True)
class Ratio:
    numerator: str
    denominator: str

    @property
    def label(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def nuclides(self) -> tuple[str, str]:
        return (self.numerator, self.denominator)


@dataclass(frozen=True)
class RatioPoint:
    start_s: int
    start_time: str
    file_name: str
    message_id: int | None
    x: float
    x_unc: float
    y: float
    y_unc: float
    colour_release: float | None  # the colour nuclide's release (Bq), when coloured by one


def ratio(a: float, ua: float | None, b: float, ub: float | None) -> tuple[float, float]:
    """a/b and its propagated standard uncertainty."""
    r = a / b
    rel = math.hypot((ua or 0.0) / a, (ub or 0.0) / b)
    return r, abs(r) * rel


def ratio_points(
    rows: Iterable[Mapping[str, Any]], x: Ratio, y: Ratio, colour_nuclide: str | None = None
) -> list[RatioPoint]:
    """The points of the intervals (spectra) where every nuclide of both ratios is
    detected with a positive release. `rows` are release_values rows of one method."""
    needed = set(x.nuclides) | set(y.nuclides)
    by_spectrum: dict[tuple[int, str], dict[str, Mapping[str, Any]]] = {}
    for r in rows:
        by_spectrum.setdefault((r["start_s"], r["file_name"]), {})[r["nuclide"]] = r
    points = []
    for (start_s, file_name), values in sorted(by_spectrum.items()):
        if not all(_usable(values.get(n)) for n in needed):
            continue
        vx, ux = ratio(*_pair(values[x.numerator]), *_pair(values[x.denominator]))
        vy, uy = ratio(*_pair(values[y.numerator]), *_pair(values[y.denominator]))
        colour = values.get(colour_nuclide) if colour_nuclide else None
        first = values[x.numerator]
        points.append(
            RatioPoint(
                start_s,
                first["start_time"],
                file_name,
                first["message_id"],
                vx,
                ux,
                vy,
                uy,
                colour["release_bq"] if colour and colour["detected"] else None,
            )
        )
    return points


def _usable(row: Mapping[str, Any] | None) -> bool:
    return (
        row is not None
        and bool(row["detected"])
        and row["release_bq"] is not None
        and row["release_bq"] > 0
    )


def _pair(row: Mapping[str, Any]) -> tuple[float, float | None]:
    return row["release_bq"], row["release_unc_bq"]


def ratios_figure(
    points: Sequence[RatioPoint],
    x: Ratio,
    y: Ratio,
    *,
    method: str,
    colour_by: str = COLOUR_BY_TIME,
    title: str = "",
    webgl: bool = True,
) -> dict[str, Any]:
    """The Plotly figure (a dict); log-log axes."""
    xs = np.array([p.x for p in points], dtype=float)
    ys = np.array([p.y for p in points], dtype=float)
    if colour_by == COLOUR_BY_TIME:
        t0 = points[0].start_s if points else 0
        colour = np.array([(p.start_s - t0) / 86400.0 for p in points], dtype=float)
        colour_title = f"days since {points[0].start_time[:16]}" if points else "days"
    else:
        colour = np.array(
            [math.log10(p.colour_release) if p.colour_release else np.nan for p in points],
            dtype=float,
        )
        colour_title = f"log10 {colour_by} release (Bq)"
    trace = {
        "type": "scattergl" if webgl else "scatter",
        "mode": "markers",
        "name": f"{y.label} against {x.label} ({method})",
        "x": typed(xs),
        "y": typed(ys),
        "error_x": {"type": "data", "array": typed(np.array([p.x_unc for p in points])),
                    "visible": True, "thickness": 1},
        "error_y": {"type": "data", "array": typed(np.array([p.y_unc for p in points])),
                    "visible": True, "thickness": 1},
        "customdata": typed(np.array([[p.message_id or -1, p.x_unc, p.y_unc] for p in points]
                                     ).reshape(-1, 3)),
        "text": [p.start_time for p in points],
        "marker": {
            "size": 7,
            "color": typed(colour),
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": colour_title}},
        },
        "hovertemplate": "%{text}<br>" + x.label + " %{x:.3g} ± %{customdata[1]:.2g}<br>"
        + y.label + " %{y:.3g} ± %{customdata[2]:.2g}<extra></extra>",
    }  # fmt: skip
    layout = {
        "title": {"text": title, "font": {"size": 14}},
        "xaxis": {"type": "log", "title": {"text": f"{x.label} ({method})"}},
        "yaxis": {"type": "log", "title": {"text": f"{y.label} ({method})"}},
        "hovermode": "closest",
        "margin": {"l": 70, "r": 20, "t": 40, "b": 50},
        "annotations": []
        if points
        else [{"text": "No interval with all four nuclides detected", "showarrow": False,
               "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    }  # fmt: skip
    return {"data": [trace], "layout": layout}


def ratios_table(
    points: Sequence[RatioPoint], x: Ratio, y: Ratio, *, method: str, colour_by: str,
    file_name: str,
) -> ChartTable:  # fmt: skip
    columns = [
        "interval start (UTC)",
        "file",
        f"{x.label} ratio {method} (1)",
        f"{x.label} ratio uncertainty {method} (1)",
        f"{y.label} ratio {method} (1)",
        f"{y.label} ratio uncertainty {method} (1)",
    ]
    with_colour = colour_by != COLOUR_BY_TIME
    if with_colour:
        columns.append(f"{colour_by} release {method} (Bq)")
    rows = []
    for p in points:
        row = [p.start_time, p.file_name, p.x, p.x_unc, p.y, p.y_unc]
        if with_colour:
            row.append(p.colour_release)
        rows.append(row)
    return ChartTable(tuple(columns), rows, file_name)
