"""The long-term trends chart (`/charts/trends`): the daily cumulative release of each
nuclide (the sum of a day's detected releases per interval, in Bq per day) from the
station analysis and from the central re-analysis, for one station or the sum of all
the stations the user sees. A non-detect adds nothing; a day without any interval is a
gap, not a zero."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from central.web.chartkit import ChartTable, trace_type
from central.web.figures.releases import METHOD_STYLE, colour, typed

TREND_NUCLIDES = ("Xe-133", "Xe-131m", "Xe-133m", "Xe-135")


def daily_series(
    rows: Iterable[Sequence[Any]],
) -> dict[tuple[str, str], dict[str, tuple[float, int, int]]]:
    """Rows (day, nuclide, method, daily sum, intervals, detected intervals) as
    {(nuclide, method): {day: (sum, intervals, detected)}}."""
    out: dict[tuple[str, str], dict[str, tuple[float, int, int]]] = {}
    for day, nuclide, method, total, intervals, detected in rows:
        out.setdefault((nuclide, method), {})[day] = (float(total or 0.0), intervals, detected)
    return out


def trends_figure(
    daily: Mapping[tuple[str, str], Mapping[str, tuple[float, int, int]]],
    *,
    title: str = "",
    webgl: bool = True,
) -> dict[str, Any]:
    order = sorted({n for n, _ in daily})
    kind = trace_type(sum(len(days) for days in daily.values()), webgl)
    traces = []
    for (nuclide, method), days in sorted(daily.items()):
        ordered = sorted(days)
        totals = np.array([days[d][0] for d in ordered], dtype=float)
        style = METHOD_STYLE.get(method, METHOD_STYLE["central"])
        traces.append(
            {
                "type": kind,
                "mode": "lines+markers",
                "name": f"{nuclide} {method}",
                "x": ordered,
                "y": typed(np.where(totals > 0, totals, np.nan)),  # log axis: 0 as a gap
                "line": {"color": colour(nuclide, order), "width": 1, "dash": style["dash"]},
                "marker": {"color": colour(nuclide, order), "size": 4, "symbol": style["symbol"]},
                "hovertemplate": f"%{{x}} {nuclide} {method}: %{{y:.3e}} Bq<extra></extra>",
            }
        )
    layout = {
        "title": {"text": title, "font": {"size": 14}},
        "xaxis": {"type": "date", "title": {"text": "day (UTC)"}},
        "yaxis": {"type": "log", "title": {"text": "daily cumulative release (Bq)"},
                  "exponentformat": "e"},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.15},
        "margin": {"l": 70, "r": 20, "t": 40, "b": 40},
    }  # fmt: skip
    return {"data": traces, "layout": layout}


def trends_table(
    daily: Mapping[tuple[str, str], Mapping[str, tuple[float, int, int]]],
    *,
    nuclides: Sequence[str],
    methods: Sequence[str],
    file_name: str,
) -> ChartTable:
    columns = ["day (UTC)"]
    keys = []
    for nuclide in nuclides:
        for method in methods:
            columns += [
                f"{nuclide} daily cumulative release {method} (Bq)",
                f"{nuclide} intervals {method} (1)",
                f"{nuclide} detected intervals {method} (1)",
            ]
            keys.append((nuclide, method))
    days = sorted({d for k in keys for d in daily.get(k, {})})
    rows = []
    for day in days:
        row: list[Any] = [day]
        for k in keys:
            row += list(daily.get(k, {}).get(day, (None, None, None)))
        rows.append(row)
    return ChartTable(tuple(columns), rows, file_name)
