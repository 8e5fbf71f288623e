"""The /impact page's charts: the total impact at an IMS station and each emitter's share,
in the station's sample intervals, with the concentrations the station itself measured
side by side; the tables behind each chart's CSV.

Concentrations in mBq/m3 on the charts (the unit IMS results are read in), Bq/m3 in the
CSV (SI, every digit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go

from central.impact_view import ImpactView
from central.web.chartkit import ChartTable
from shared.atm.ims_results import MeasuredConcentration

MILLI = 1e3
COLOURS = {
    "XE-133": "#1f77b4",
    "XE-131M": "#2ca02c",
    "XE-133M": "#d62728",
    "XE-135": "#9467bd",
}
EMITTER_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def nuclide_label(nuclide: str | None) -> str:
    """XE-131M -> Xe-131m, as the charts write nuclides."""
    if nuclide is None:
        return "passive tracer"
    label = nuclide.title()
    return label[:-1] + "m" if label.endswith("M") else label


def _empty(title: str, text: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        template="plotly_white",
        annotations=[dict(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)],
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def _mid(a: datetime, b: datetime) -> datetime:
    return a + (b - a) / 2


def total_figure(
    view: ImpactView, measured: Sequence[MeasuredConcentration] = (), log_y: bool = True
) -> go.Figure:
    """Total impact per nuclide in each IMS sample (a step per sample: the sample's
    interval), the upper bound with non-detects at their MDR dashed, and the measured
    concentrations with their uncertainties as points."""
    title = f"Total impact at {view.station.code}"
    if not view.totals and not measured:
        return _empty(title, "Nothing to show: see the notes above the charts.")
    fig = go.Figure()
    for nuclide in view.request.nuclides:
        rows = [t for t in view.totals if t.nuclide == nuclide]
        colour = COLOURS.get(nuclide)
        if rows:
            x, y, up = [], [], []
            for t in rows:
                x += [t.sample_start, t.sample_stop, None]
                y += [t.concentration_bq_m3 * MILLI] * 2 + [None]
                up += [t.upper_bq_m3 * MILLI] * 2 + [None]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name=f"{nuclide_label(nuclide)} impact",
                    line={"color": colour, "width": 2},
                    hovertemplate="%{y:.3g} mBq/m³<extra>" + nuclide_label(nuclide) + "</extra>",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=up,
                    mode="lines",
                    name=f"{nuclide_label(nuclide)} upper (MDR)",
                    line={"color": colour, "width": 1, "dash": "dash"},
                    hovertemplate="%{y:.3g} mBq/m³ with non-detects at MDR<extra></extra>",
                )
            )
        points = [m for m in measured if m.nuclide == nuclide]
        if points:
            fig.add_trace(
                go.Scatter(
                    x=[_mid(m.sample_start, m.sample_stop) for m in points],
                    y=[m.concentration_bq_m3 * MILLI for m in points],
                    error_y={
                        "type": "data",
                        "array": [(m.uncertainty_bq_m3 or 0) * MILLI for m in points],
                    },
                    mode="markers",
                    marker={
                        "color": colour,
                        "symbol": "diamond",
                        "size": 9,
                        "line": {"color": "black", "width": 1},
                    },
                    name=f"{nuclide_label(nuclide)} measured at {view.station.code}",
                )
            )
    fig.update_layout(
        title=title,
        template="plotly_white",
        xaxis_title="IMS sample (UTC)",
        yaxis_title="Concentration (mBq/m³)",
        yaxis_type="log" if log_y else "linear",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        dragmode="zoom",
    )
    return fig


def emitters_figure(view: ImpactView, nuclide: str | None = None) -> go.Figure:
    """Each emitter's impact on one nuclide per IMS sample, stacked (the stack is the
    total); forward raw values as lines per emitter in the model's output periods."""
    nuclide = nuclide or (view.request.nuclides[0] if view.request.nuclides else None)
    title = f"Emitters impact at {view.station.code}, {nuclide_label(nuclide)}"
    fig = go.Figure()
    if view.request.mode == "forward-raw":
        for i, code in enumerate(view.emitter_codes):
            rows = [r for r in view.raw if r.emitter == code and r.nuclide == nuclide]
            if not rows:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[_mid(r.start, r.stop) for r in rows],
                    y=[r.concentration_bq_m3 * MILLI for r in rows],
                    mode="lines+markers",
                    name=code,
                    line={"color": EMITTER_COLOURS[i % len(EMITTER_COLOURS)]},
                )
            )
    else:
        for i, code in enumerate(view.emitter_codes):
            rows = [s for s in view.emitters if s.emitter == code and s.nuclide == nuclide]
            if not rows:
                continue
            fig.add_trace(
                go.Bar(
                    x=[_mid(s.sample_start, s.sample_stop) for s in rows],
                    y=[s.concentration_bq_m3 * MILLI for s in rows],
                    width=[(s.sample_stop - s.sample_start).total_seconds() * 1000 for s in rows],
                    customdata=[[100 * s.gap_fraction] for s in rows],
                    name=code,
                    marker={"color": EMITTER_COLOURS[i % len(EMITTER_COLOURS)]},
                    hovertemplate="%{y:.3g} mBq/m³, %{customdata[0]:.0f} % of the window "
                    "without data<extra>" + code + "</extra>",
                )
            )
    if not fig.data:
        return _empty(title, "Nothing to show: see the notes above the charts.")
    fig.update_layout(
        title=title,
        template="plotly_white",
        barmode="stack",
        xaxis_title="IMS sample (UTC)"
        if view.request.mode != "forward-raw"
        else "Model period (UTC)",
        yaxis_title="Concentration (mBq/m³)",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def total_table(view: ImpactView, measured: Sequence[MeasuredConcentration] = ()) -> ChartTable:
    """The total impact chart's numbers, the measured values matched by sample and nuclide."""
    found = {(m.sample_start, m.sample_stop, m.nuclide): m for m in measured}
    rows = []
    for t in view.totals:
        if t.nuclide not in view.request.nuclides:
            continue
        m = found.pop((t.sample_start, t.sample_stop, t.nuclide), None)
        rows.append(
            (
                view.station.code,
                _iso(t.sample_start),
                _iso(t.sample_stop),
                t.nuclide,
                t.concentration_bq_m3,
                t.upper_bq_m3,
                t.emitters,
                t.worst_gap_fraction,
                None if m is None else m.concentration_bq_m3,
                None if m is None else m.uncertainty_bq_m3,
            )
        )
    for (a, b, n), m in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        if n in view.request.nuclides:
            rows.append(
                (
                    view.station.code,
                    _iso(a),
                    _iso(b),
                    n,
                    None,
                    None,
                    0,
                    None,
                    m.concentration_bq_m3,
                    m.uncertainty_bq_m3,
                )
            )
    rows.sort(key=lambda r: (r[1], r[3]))
    return ChartTable(
        (
            "IMS station",
            "Sample start (UTC)",
            "Sample stop (UTC)",
            "Nuclide",
            f"Total impact {view.request.method} analysis (Bq/m3)",
            f"Total impact upper bound {view.request.method} analysis (Bq/m3)",
            "Emitters",
            "Largest share of the window without data",
            "Measured concentration (Bq/m3)",
            "Measured uncertainty (Bq/m3)",
        ),
        rows,
        file_name=f"impact_total_{view.station.code}_{view.request.mode}.csv",
    )


def emitters_table(view: ImpactView) -> ChartTable:
    method = view.request.method
    if view.request.mode == "forward-raw":
        return ChartTable(
            (
                "IMS station",
                "Period start (UTC)",
                "Period stop (UTC)",
                "Emitter",
                "Nuclide",
                f"Concentration {method} analysis (Bq/m3)",
            ),
            [
                (
                    view.station.code,
                    _iso(r.start),
                    _iso(r.stop),
                    r.emitter,
                    r.nuclide,
                    r.concentration_bq_m3,
                )
                for r in view.raw
            ],
            file_name=f"impact_raw_{view.station.code}.csv",
        )
    return ChartTable(
        (
            "IMS station",
            "Sample start (UTC)",
            "Sample stop (UTC)",
            "Emitter",
            "Nuclide",
            f"Impact {method} analysis (Bq/m3)",
            f"Impact upper bound {method} analysis (Bq/m3)",
            "Dilution (s/m3)",
            "Share of the window without data",
            "ATM data",
        ),
        [
            (
                view.station.code,
                _iso(s.sample_start),
                _iso(s.sample_stop),
                s.emitter,
                s.nuclide,
                s.concentration_bq_m3,
                s.upper_bq_m3,
                s.dilution_s_m3,
                s.gap_fraction,
                s.source,
            )
            for s in view.emitters
        ],
        file_name=f"impact_emitters_{view.station.code}_{view.request.mode}.csv",
    )
