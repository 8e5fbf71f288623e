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

from central.web.chartkit import ChartTable, trace_type
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
class RatioSet:
    """The chart's points, one per spectrum, as arrays in time order."""

    start_s: np.ndarray  # int64
    start_time: list[str]
    file_name: list[str]
    message_id: np.ndarray  # int64, -1: not stored
    x: np.ndarray
    x_unc: np.ndarray
    y: np.ndarray
    y_unc: np.ndarray
    colour_release: np.ndarray  # the colour nuclide's release (Bq), NaN: not detected

    def __len__(self) -> int:
        return len(self.start_s)


def ratio(a: float, ua: float | None, b: float, ub: float | None) -> tuple[float, float]:
    """a/b and its propagated standard uncertainty."""
    r = a / b
    rel = math.hypot((ua or 0.0) / a, (ub or 0.0) / b)
    return r, abs(r) * rel


def needed(x: Ratio, y: Ratio) -> list[str]:
    """The nuclides of both ratios, each once, in the order `ratio_set` reads them."""
    return list(dict.fromkeys([*x.nuclides, *y.nuclides]))


def ratio_set(rows: Sequence[Sequence[Any]], x: Ratio, y: Ratio) -> RatioSet:
    """The points of rows as central.releases.ratio_rows gives them for `needed(x, y)`
    (spectra where all of them are detected with a positive release), computed at once:
    u(a/b) = (a/b) sqrt((u_a/a)^2 + (u_b/b)^2)."""
    names = needed(x, y)
    n = len(rows)
    width = 4 + 2 * len(names) + 1
    a = np.array([r[4:] for r in rows], dtype=float).reshape(n, width - 4)
    release = {name: a[:, 2 * k] for k, name in enumerate(names)}
    unc = {name: np.nan_to_num(a[:, 2 * k + 1], nan=0.0) for k, name in enumerate(names)}

    def of(r: Ratio) -> tuple[np.ndarray, np.ndarray]:
        top, bottom = release[r.numerator], release[r.denominator]
        value = top / bottom
        rel = np.hypot(unc[r.numerator] / top, unc[r.denominator] / bottom)
        return value, np.abs(value) * rel

    vx, ux = of(x)
    vy, uy = of(y)
    return RatioSet(
        start_s=np.array([r[0] for r in rows], dtype=np.int64),
        start_time=[r[2] for r in rows],
        file_name=[r[1] for r in rows],
        message_id=np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.int64),
        x=vx,
        x_unc=ux,
        y=vy,
        y_unc=uy,
        colour_release=a[:, -1] if n else np.zeros(0),
    )


def ratio_points(
    rows: Iterable[Mapping[str, Any]], x: Ratio, y: Ratio, colour_nuclide: str | None = None
) -> RatioSet:
    """The same from release_values rows (dicts) of one method, paired here: the
    intervals (spectra) where every nuclide of both ratios is detected with a positive
    release."""
    names = needed(x, y)
    by_spectrum: dict[tuple[int, str], dict[str, Mapping[str, Any]]] = {}
    for r in rows:
        by_spectrum.setdefault((r["start_s"], r["file_name"]), {})[r["nuclide"]] = r
    paired = []
    for (start_s, file_name), values in sorted(by_spectrum.items()):
        if not all(_usable(values.get(n)) for n in names):
            continue
        first = values[names[0]]
        colour = values.get(colour_nuclide) if colour_nuclide else None
        row: list[Any] = [start_s, file_name, first["start_time"], first["message_id"]]
        for n in names:
            row += [values[n]["release_bq"], values[n]["release_unc_bq"]]
        row.append(colour["release_bq"] if colour and colour["detected"] else None)
        paired.append(row)
    return ratio_set(paired, x, y)


def _usable(row: Mapping[str, Any] | None) -> bool:
    return (
        row is not None
        and bool(row["detected"])
        and row["release_bq"] is not None
        and row["release_bq"] > 0
    )


def ratios_figure(
    points: RatioSet,
    x: Ratio,
    y: Ratio,
    *,
    method: str,
    colour_by: str = COLOUR_BY_TIME,
    title: str = "",
    webgl: bool = True,
) -> dict[str, Any]:
    """The Plotly figure (a dict); log-log axes."""
    if colour_by == COLOUR_BY_TIME:
        t0 = points.start_s[0] if len(points) else 0
        colour = (points.start_s - t0) / 86400.0
        colour_title = f"days since {points.start_time[0][:16]}" if len(points) else "days"
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            colour = np.where(points.colour_release > 0, np.log10(points.colour_release), np.nan)
        colour_title = f"log10 {colour_by} release (Bq)"
    custom = np.column_stack([points.message_id, points.x_unc, points.y_unc]).reshape(-1, 3)
    trace = {
        "type": trace_type(len(points), webgl),
        "mode": "markers",
        "name": f"{y.label} against {x.label} ({method})",
        "x": typed(points.x),
        "y": typed(points.y),
        "error_x": {"type": "data", "array": typed(points.x_unc), "visible": True,
                    "thickness": 1},
        "error_y": {"type": "data", "array": typed(points.y_unc), "visible": True,
                    "thickness": 1},
        "customdata": typed(custom.astype(float)),
        "text": points.start_time,
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
        if len(points)
        else [{"text": "No interval with all four nuclides detected", "showarrow": False,
               "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}],
    }  # fmt: skip
    return {"data": [trace], "layout": layout}


def ratios_table(
    points: RatioSet, x: Ratio, y: Ratio, *, method: str, colour_by: str,
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
    values = [points.x, points.x_unc, points.y, points.y_unc]
    if with_colour:
        values.append(points.colour_release)
    numbers = np.column_stack(values).tolist() if len(points) else []
    rows = [
        [t, f, *(None if v != v else v for v in row)]  # NaN (not detected): empty
        for t, f, row in zip(points.start_time, points.file_name, numbers, strict=True)
    ]
    return ChartTable(tuple(columns), rows, file_name)
