"""Station analysis against central re-analysis of the same spectrum: agree, or flag.

Per nuclide, on releases (Bq per interval) when both results have them, else on the
chamber activities (a spectrum without #Stack data):

- both detect: z = (x_station - x_central) / sqrt(u_station^2 + u_central^2) with the
  counting standard uncertainties; flagged when |z| > 3. Both methods read the same
  efficiency calibration and #Stack data, so that part of their uncertainties cancels in
  the difference and stays out of z (with it, the 2.7 % between the DDEP and ENSDF
  intensities of Xe-133 at 81 keV could never show). Both count the same spectrum, so
  the counting parts are correlated and z is conservative: a flag points at a method
  difference (continuum, multiplets, nuclear data, efficiency evaluation), not at noise.
- neither detects: they agree (both values are below their decision thresholds); no z.
- one detects, the other does not: the detecting method's value x with counting
  uncertainty u is compared with the other's detection limit L (the value it would have detected with 95 %
  probability): z = (x - L) / u, flagged when z > 3, i.e. when x exceeds L by more than
  three of its own standard uncertainties. A detection just above a threshold that the
  other method narrowly missed is no disagreement.
- a nuclide only one method reports: listed, never flagged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from shared.results import AnalysisResult, NuclideResult

Z_FLAG = 3.0

BOTH = "both detect"
NEITHER = "neither detects"
STATION_ONLY = "only the station detects"
CENTRAL_ONLY = "only the central re-analysis detects"


@dataclass
class Comparison:
    nuclide: str
    station_value: float | None  # release (Bq per interval) or activity (Bq): see quantity
    central_value: float | None
    z: float | None
    flagged: bool
    reason: str
    quantity: str = "release"  # "release" or "activity"
    station_unc: float | None = None  # counting standard uncertainty, the one z uses
    central_unc: float | None = None
    station_detected: bool | None = None
    central_detected: bool | None = None
    station_limit: float | None = None  # detection limit in the same quantity
    central_limit: float | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()
        }


def compare(station: AnalysisResult, central: AnalysisResult) -> list[Comparison]:
    """One Comparison per nuclide reported by either method (station's order first)."""
    if station.srid and central.srid and station.srid != central.srid:
        raise ValueError(
            f"the results are of different samples: station {station.srid}, central {central.srid}"
        )
    names = list(station.nuclides) + [n for n in central.nuclides if n not in station.nuclides]
    return [compare_nuclide(n, station.nuclides.get(n), central.nuclides.get(n)) for n in names]


def compare_nuclide(
    nuclide: str, station: NuclideResult | None, central: NuclideResult | None
) -> Comparison:
    if station is None or central is None:
        missing = "station" if station is None else "central re-analysis"
        present = central if station is None else station
        quantity, value, unc, limit = _measure(present, present.release_bq is not None)
        return Comparison(
            nuclide,
            None if station is None else value,
            None if central is None else value,
            None,
            False,
            f"not reported by the {missing}",
            quantity,
            station_unc=None if station is None else unc,
            central_unc=None if central is None else unc,
            station_detected=None if station is None else present.detected,
            central_detected=None if central is None else present.detected,
            station_limit=None if station is None else limit,
            central_limit=None if central is None else limit,
        )
    releases = station.release_bq is not None and central.release_bq is not None
    q, xs, us, ls = _measure(station, releases)
    _, xc, uc, lc = _measure(central, releases)
    common = dict(
        quantity=q,
        station_unc=us,
        central_unc=uc,
        station_detected=station.detected,
        central_detected=central.detected,
        station_limit=ls,
        central_limit=lc,
    )
    if station.detected or central.detected:
        needed = (xs, us) if station.detected else ()
        needed += (xc, uc) if central.detected else ()
        needed += () if station.detected else (ls,)
        needed += () if central.detected else (lc,)
        if any(math.isnan(v) for v in needed):
            return Comparison(
                nuclide, xs, xc, None, False, "cannot compare: a value is not given", **common
            )
    if station.detected and central.detected:
        den = math.hypot(us, uc)
        z = (xs - xc) / den if den > 0 else (0.0 if xs == xc else math.inf)
        flagged = abs(z) > Z_FLAG
        reason = f"{BOTH}: |z| {'>' if flagged else '<='} {Z_FLAG:g}"
        return Comparison(nuclide, xs, xc, z, flagged, reason, **common)
    if not station.detected and not central.detected:
        return Comparison(nuclide, xs, xc, None, False, f"{NEITHER}: agree", **common)
    if station.detected:
        x, u, limit, label = xs, us, lc, STATION_ONLY
    else:
        x, u, limit, label = xc, uc, ls, CENTRAL_ONLY
    z = (x - limit) / u if u > 0 else (math.inf if x > limit else -math.inf)
    flagged = z > Z_FLAG
    relation = "exceeds" if flagged else "is within 3 uncertainties of"
    reason = f"{label}: its value {relation} the other's detection limit"
    return Comparison(nuclide, xs, xc, z, flagged, reason, **common)


def _measure(r: NuclideResult, releases: bool) -> tuple[str, float, float, float]:
    """(quantity, value, counting uncertainty, detection limit) in releases or activities.

    A number a result does not give (None, e.g. from an ATS with nulls) is NaN here."""
    if releases:
        # the release's uncertainty is the activity's times the release factor
        total = _f(r.release_unc_bq)
        activity_unc = _f(r.activity_unc_bq)
        factor = total / activity_unc if activity_unc > 0 else 0.0
        counting = _f(r.activity_counting_unc_bq) * factor if factor > 0 else total
        limit = _f(r.detection_limit_bq)
        return "release", _f(r.release_bq), counting, math.inf if math.isnan(limit) else limit
    return (
        "activity",
        _f(r.activity_bq),
        _f(r.activity_counting_unc_bq),
        _f(r.activity_detection_limit_bq),
    )


def _f(value: float | None) -> float:
    return math.nan if value is None else float(value)


def flagged(comparisons: list[Comparison]) -> list[Comparison]:
    return [c for c in comparisons if c.flagged]


def comparisons_json(comparisons: list[Comparison]) -> list[dict[str, Any]]:
    return [c.to_json() for c in comparisons]
