"""The SOH charts' figures and tables, as plain functions of query results
(central.soh.soh_series): one quantity of one station over time, its alert limits drawn,
the readings outside them marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from central.web.chartkit import ChartTable


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
        return [is_outside(v, self.low, self.high) for v in self.values]


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


def _label(s: Series) -> str:
    return f"{s.quantity} ({s.unit})" if s.unit else s.quantity


def soh_figure(s: Series, height: int = 260) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Scattergl(
            x=s.times,
            y=s.values,
            mode="lines+markers",
            name=s.quantity,
            marker={"size": 4, "color": "#2b6cb0"},
            line={"width": 1, "color": "#2b6cb0"},
            connectgaps=False,
            hovertemplate="%{x|%Y/%m/%d %H:%M} UTC: %{y}<extra></extra>",
        )
    )
    for name, limit in (("low limit", s.low), ("high limit", s.high)):
        if limit is not None and s.times:
            fig.add_trace(
                go.Scatter(
                    x=[s.times[0], s.times[-1]],
                    y=[limit, limit],
                    mode="lines",
                    name=f"{name} {limit:g}",
                    line={"color": "#c53030", "dash": "dash", "width": 1},
                    hoverinfo="skip",
                )
            )
    flagged = [(t, v) for t, v, o in zip(s.times, s.values, s.outside, strict=True) if o]
    if flagged:
        fig.add_trace(
            go.Scattergl(
                x=[t for t, _ in flagged],
                y=[v for _, v in flagged],
                mode="markers",
                name="outside limits",
                marker={"size": 8, "color": "#c53030", "symbol": "x"},
                hovertemplate="%{x|%Y/%m/%d %H:%M} UTC: %{y} outside limits<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": f"{s.station} {_label(s)}", "font": {"size": 13}},
        height=height,
        margin={"l": 60, "r": 10, "t": 36, "b": 30},
        yaxis_title=s.unit,
        showlegend=True,
        legend={"orientation": "h", "y": -0.25, "font": {"size": 10}},
        uirevision=f"{s.station}-{s.quantity}",
    )
    return fig


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
