"""Fixed spectra and the numbers of a result that a change for speed must leave unchanged.

Both methods' regression tests (tests/analysis_station/test_regression.py,
tests/analysis_central/test_regression.py) analyse `fixture_spectra()` and compare
`summary(result)` with the values recorded from the code before the speed work. Record
again only for a change meant to alter results (method, nuclear data, calibration code):

    python -m tests.analysis_central.regression station|central

prints the table to paste into the test.
"""

from __future__ import annotations

import hashlib
import json
import math
import pprint
import sys
from pathlib import Path

from shared.formats import read_file

from .simulated import simulate

DATA = Path(__file__).resolve().parents[1] / "data"
LIBRARY = Path(__file__).resolve().parents[2] / "shared" / "nuclear" / "library.json"
# relative tolerance on every number; absolute floor: this share of the activity's counting
# uncertainty (an activity near zero has no relative precision)
REL_TOL = 1e-6
PROSE = {
    "note",
    "source",
    "coincidence",
    "name",
    "version",
    "half_life_source",
    "half_life_note",
    "normalisation_note",
    "normalisation",
    "half_life_uncertainty",
}

NUCLIDE_FIELDS = (
    "activity_bq",
    "activity_counting_unc_bq",
    "activity_unc_bq",
    "activity_decision_threshold_bq",
    "activity_detection_limit_bq",
    "efficiency_unc_bq",
    "nuclear_data_unc_bq",
    "disagreement_unc_bq",
    "summing_unc_bq",
    "half_life_unc_bq",
    "birge_ratio",
)


def fixture_spectra() -> dict:
    """name -> PHD: the AUS02 file of tests/data and two simulated spectra (fixed seeds)."""
    aus = read_file(DATA / "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT").phd
    fission = simulate(
        {"Xe-133": 2000.0, "Xe-135": 60.0, "Xe-133m": 40.0, "Xe-131m": 25.0, "Pb-214": 1.0},
        seed=3,
        gain_drift=8e-4,
    )
    mixed = simulate(
        {"Xe-133": 150.0, "I-131": 3.0, "Kr-85m": 5.0, "Kr-88": 4.0, "Bi-214": 0.9}, seed=11
    )
    return {"aus02": aus, "fission": fission.phd, "mixed": mixed.phd}


def library_digest() -> str:
    """What the recorded values assume of the nuclear data: the library's numbers, not its
    prose (a note or a source text changed alone changes no result)."""

    def numbers(node):
        if isinstance(node, dict):
            return {k: numbers(v) for k, v in node.items() if k not in PROSE}
        if isinstance(node, list):
            return [numbers(v) for v in node]
        return node

    data = numbers(json.loads(LIBRARY.read_text(encoding="utf-8")))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def summary(result) -> dict:
    """The numbers of a result that must not move: per nuclide the detection decision and
    the activity with its budget and limits, per peak the energy and net area."""
    nuclides = {}
    for name, r in sorted(result.nuclides.items()):
        nuclides[name] = {"detected": bool(r.detected)} | {
            f: getattr(r, f) for f in NUCLIDE_FIELDS if getattr(r, f, None) is not None
        }
    peaks = sorted(
        (round(p.energy_kev, 3), p.net_area, p.net_area_unc)
        for p in result.peaks
        if p.nuclide is not None
    )
    return {
        "gain": float(getattr(result, "gain_correction", 1.0) or 1.0),
        "misses": len(getattr(result, "calibration_misses", [])),
        "nuclides": nuclides,
        "peaks": peaks,
    }


def differences(got: dict, want: dict) -> list[str]:
    """Every number of `got` that is not `want`'s within REL_TOL (and its absolute floor)."""
    out = []
    if got["misses"] != want["misses"]:
        out.append(f"calibration misses {got['misses']} != {want['misses']}")
    if not math.isclose(got["gain"], want["gain"], rel_tol=REL_TOL, abs_tol=0.0):
        out.append(f"gain {got['gain']!r} != {want['gain']!r}")
    if set(got["nuclides"]) != set(want["nuclides"]):
        out.append(f"nuclides {sorted(got['nuclides'])} != {sorted(want['nuclides'])}")
    for name in set(got["nuclides"]) & set(want["nuclides"]):
        g, w = got["nuclides"][name], want["nuclides"][name]
        floor = REL_TOL * w.get("activity_counting_unc_bq", 0.0)
        if g.keys() != w.keys():
            out.append(f"{name}: fields {sorted(g)} != {sorted(w)}")
        for f in g.keys() & w.keys():
            if f == "detected":
                if g[f] != w[f]:
                    out.append(f"{name} detected {g[f]} != {w[f]}")
            elif not math.isclose(g[f], w[f], rel_tol=REL_TOL, abs_tol=floor):
                out.append(f"{name} {f} {g[f]!r} != {w[f]!r}")
    if len(got["peaks"]) != len(want["peaks"]):
        out.append(f"{len(got['peaks'])} peaks != {len(want['peaks'])}")
    for gp, wp in zip(got["peaks"], want["peaks"]):
        e_ok = abs(gp[0] - wp[0]) <= 0.0011
        if not e_ok or not all(
            math.isclose(a, b, rel_tol=REL_TOL, abs_tol=REL_TOL * wp[2])
            for a, b in zip(gp[1:], wp[1:])
        ):
            out.append(f"peak {gp} != {wp}")
    return out


def record(method: str) -> dict:
    if method == "station":
        from edge_agent.analysis import analyze
    else:
        from central.reanalysis import analyze
    return {name: summary(analyze(phd, source=name)) for name, phd in fixture_spectra().items()}


if __name__ == "__main__":
    print(f"LIBRARY_DIGEST = {library_digest()!r}")
    print("BEFORE = ", end="")
    pprint.pprint(record(sys.argv[1]), width=100, sort_dicts=True)
