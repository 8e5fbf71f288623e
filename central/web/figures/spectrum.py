"""The spectrum viewer's figure and tables, as plain functions of what the page read: the
spectrum (counts against energy, log scale), the central re-analysis's continuum and fit,
its peaks, the lines of the nuclides found, and the results of both analyses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from central.spectrum_fit import FittedCurves
from central.web.chartkit import ChartTable
from shared.nuclear import load_library

LINE_MIN_INTENSITY = 0.01  # a nuclide's gamma lines drawn: at least 1 photon per 100 decays
METHODS = ("station", "central")
METHOD_NAMES = {"station": "station analysis", "central": "central re-analysis"}

# (key in NuclideResult JSON, column title): the results table and its CSV
RESULT_COLUMNS = (
    ("detected", "Detected"),
    ("activity_bq", "Activity (Bq)"),
    ("activity_unc_bq", "Activity unc. total (Bq)"),
    ("activity_counting_unc_bq", "Counting unc. (Bq)"),
    ("efficiency_unc_bq", "Efficiency unc. (Bq)"),
    ("nuclear_data_unc_bq", "Nuclear data unc. (Bq)"),
    ("disagreement_unc_bq", "Line disagreement unc. (Bq)"),
    ("summing_unc_bq", "Summing unc. (Bq)"),
    ("half_life_unc_bq", "Half-life unc., release only (Bq)"),
    ("release_bq", "Release (Bq)"),
    ("release_unc_bq", "Release unc. (Bq)"),
    ("mdr_bq", "MDR (Bq)"),
    ("decision_threshold_bq", "Decision threshold (Bq)"),
    ("concentration_bq_m3", "Concentration (Bq/m3)"),
    ("concentration_unc_bq_m3", "Concentration unc. (Bq/m3)"),
)


@dataclass(frozen=True)
class Spectrum:
    """A PHD's gamma spectrum on its own energy calibration."""

    channel: np.ndarray  # the file's channel numbers
    energy: np.ndarray  # keV, from the file's #g_Energy
    counts: np.ndarray


def nuclide_lines(
    nuclides: Iterable[str], low: float, high: float, min_intensity: float = LINE_MIN_INTENSITY
) -> list[tuple[str, float, float]]:
    """(nuclide, keV, intensity) of the gamma lines of `nuclides` between low and high."""
    lib = load_library()
    out = []
    for name in sorted(set(nuclides)):
        if name not in lib:
            continue
        for line in lib[name].gammas():
            if low <= line.energy <= high and line.intensity >= min_intensity:
                out.append((lib[name].name, float(line.energy), float(line.intensity)))
    return sorted(out, key=lambda t: (t[1], t[0]))


def found_nuclides(results: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """The nuclides either analysis detected."""
    found = set()
    for result in results.values():
        for name, n in ((result or {}).get("nuclides") or {}).items():
            if n.get("detected"):
                found.add(name)
    return sorted(found)


def _curve(spectrum: Spectrum, curves: FittedCurves, values: np.ndarray) -> tuple[list, list]:
    """x (keV) and y of a curve over the fit regions, broken between regions."""
    xs: list = []
    ys: list = []
    energy = spectrum.energy[curves.index]
    for region in np.unique(curves.region):
        rows = curves.region == region
        xs += [*energy[rows].tolist(), None]
        ys += [*values[rows].tolist(), None]
    return xs, ys


def spectrum_figure(
    spectrum: Spectrum,
    curves: FittedCurves | None,
    peaks: Sequence[dict[str, Any]],
    lines: Sequence[tuple[str, float, float]],
    title: str = "",
) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=spectrum.energy,
            y=spectrum.counts,
            mode="lines",
            name="spectrum (counts)",
            line={"color": "#4a5568", "width": 1},
            hovertemplate="%{x:.2f} keV: %{y} counts<extra></extra>",
        )
    )
    if curves is not None:
        for name, values, color in (
            ("continuum, central", curves.continuum, "#2b6cb0"),
            ("fit, central", curves.total, "#c53030"),
        ):
            x, y = _curve(spectrum, curves, values)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name=name,
                    line={"color": color, "width": 1.5},
                    hovertemplate="%{x:.2f} keV: %{y:.1f}<extra>" + name + "</extra>",
                )
            )
    if peaks:
        fig.add_trace(
            go.Scatter(
                x=[p["energy_kev"] for p in peaks],
                y=[_peak_height(spectrum, p) for p in peaks],
                mode="markers",
                name="fitted peaks, central",
                marker={"symbol": "triangle-down", "size": 9, "color": "#c53030"},
                text=[
                    f"{p.get('nuclide') or 'unidentified'} {p['energy_kev']:.2f} keV<br>"
                    f"net area {p['net_area']:.4g} ± {p['net_area_unc']:.2g}<br>"
                    f"FWHM {p['fwhm_kev']:.3g} keV"
                    for p in peaks
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    for nuclide, energy, _intensity in lines:
        fig.add_shape(
            type="line",
            x0=energy,
            x1=energy,
            y0=0,
            y1=1,
            yref="paper",
            line={"color": "#38a169", "width": 1, "dash": "dot"},
        )
        fig.add_annotation(
            x=energy,
            y=1,
            yref="paper",
            text=f"{nuclide} {energy:.1f}",
            textangle=-90,
            showarrow=False,
            xanchor="right",
            yanchor="top",
            font={"size": 10, "color": "#276749"},
        )
    fig.update_layout(
        title=title,
        xaxis_title="Energy (keV)",
        yaxis_title="Counts per channel",
        yaxis_type="log",
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.15},
        uirevision=title,
    )
    return fig


def _peak_height(spectrum: Spectrum, peak: dict[str, Any]) -> float:
    i = int(np.clip(round(float(peak.get("channel") or 0)), 0, len(spectrum.counts) - 1))
    return float(max(spectrum.counts[max(i - 1, 0) : i + 2].max(), 1))


def spectrum_table(spectrum: Spectrum, curves: FittedCurves | None, file_name: str) -> ChartTable:
    """The plotted spectrum as rows: channel, energy, counts, and the central fit's
    continuum and total where it fitted (empty elsewhere)."""
    continuum: dict[int, float] = {}
    total: dict[int, float] = {}
    if curves is not None:
        continuum = dict(zip(curves.index.tolist(), curves.continuum.tolist(), strict=True))
        total = dict(zip(curves.index.tolist(), curves.total.tolist(), strict=True))
    rows = [
        (int(c), float(e), int(n), continuum.get(i), total.get(i))
        for i, (c, e, n) in enumerate(zip(spectrum.channel, spectrum.energy, spectrum.counts))
    ]
    return ChartTable(
        (
            "channel",
            "energy (keV)",
            "counts",
            "continuum central (counts)",
            "fit central (counts)",
        ),
        rows,
        _csv_name(file_name, "spectrum"),
    )


def result_rows(results: Mapping[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per nuclide and method (station first), nuclides in library order as the
    analyses report them."""
    order: list[str] = []
    for method in METHODS:
        for name in (results.get(method) or {}).get("nuclides") or {}:
            if name not in order:
                order.append(name)
    rows = []
    for name in order:
        for method in METHODS:
            n = ((results.get(method) or {}).get("nuclides") or {}).get(name)
            if n is None:
                continue
            rows.append(
                {"nuclide": name, "method": method, **{k: n.get(k) for k, _ in RESULT_COLUMNS}}
            )
    return rows


def results_table(rows: Sequence[dict[str, Any]], file_name: str) -> ChartTable:
    return ChartTable(
        ("nuclide", "method", *(title for _, title in RESULT_COLUMNS)),
        [(r["nuclide"], r["method"], *(r.get(k) for k, _ in RESULT_COLUMNS)) for r in rows],
        _csv_name(file_name, "results"),
    )


def warnings_of(result: dict[str, Any] | None) -> list[str]:
    """What an analysis reported about its own result: its warnings and the calibration
    points its curves miss."""
    if not result:
        return []
    out = [str(w) for w in result.get("warnings") or []]
    for c in result.get("calibration_misses") or []:
        out.append(
            f"calibration {c.get('block')} at {c.get('energy_kev'):g} keV: measured "
            f"{c.get('measured'):.6g}, curve {c.get('fitted'):.6g} "
            f"({c.get('sigmas'):+.1f} of its uncertainty)"
        )
    return out


def _csv_name(file_name: str, what: str) -> str:
    stem = file_name.rsplit(".", 1)[0] if file_name else "spectrum"
    return f"{stem}_{what}.csv"
