"""The nuclide library's intensity uncertainties (shared/nuclear/library.json): which lines
carry an evaluated one, with its source, and that both analyses' nuclear-data term is the
one the library's numbers give by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from central.reanalysis import analyze as central_analyze
from edge_agent.analysis import analyze as station_analyze
from edge_agent.analysis.config import NUCLIDES_OF_INTEREST
from shared.nuclear import load_library
from shared.nuclear.library import _parse
from tests.analysis_central.simulated import simulate

LIBRARY_JSON = Path(__file__).resolve().parents[1] / "shared" / "nuclear" / "library.json"


def _raw() -> dict:
    return json.loads(LIBRARY_JSON.read_text())


def _quantified_gammas(lib):
    """(nuclide, line) of every gamma line a reported nuclide is quantified from."""
    return [
        (name, ln)
        for name in NUCLIDES_OF_INTEREST
        for ln in lib[name].lines
        if ln.kind == "gamma" and not ln.approximate
    ]


def test_every_quantified_gamma_line_is_evaluated_or_listed_as_assumed():
    lib = load_library()
    assumed = {(n, round(e, 3)) for n, e in lib.assumed_gammas}
    gammas = _quantified_gammas(lib)
    assert len(gammas) == 24  # the nine reported nuclides' gamma lines
    for name, ln in gammas:
        listed = (name, round(ln.energy, 3)) in assumed
        assert ln.intensity_unc_evaluated != listed, (name, ln.energy)
        if listed:
            assumed_rel = _raw()["intensity_uncertainty"]["assumed_relative_percent"]["gamma"]
            assert ln.intensity_rel_unc == pytest.approx(assumed_rel / 100)
    # nothing is listed that the library does not hold
    energies = {(n, round(ln.energy, 3)) for n, ln in gammas}
    assert assumed <= energies


def test_every_evaluated_line_names_its_evaluation_and_where_it_was_read():
    for name, entry in _raw()["nuclides"].items():
        for ln in entry["lines"]:
            if "intensity_unc" not in ln:
                continue
            note = ln.get("note", "")
            assert "ENSDF" in note or "DDEP" in note, (name, ln["energy"])
            assert "read in " in note and "/" in note.split("read in ", 1)[1], (name, ln["energy"])
            # the evaluation's own intensity, when it differs from the library's, is given
            assert 0 < ln["intensity_unc"] < ln["intensity"], (name, ln["energy"])


def test_x_rays_and_interferers_keep_the_assumed_uncertainty_of_their_kind():
    lib = load_library()
    for nuc in lib.nuclides.values():
        for ln in nuc.lines:
            if ln.kind == "xray":
                assert not ln.intensity_unc_evaluated
                assert ln.intensity_rel_unc == pytest.approx(0.03)
    for name in ("Pb-214", "Bi-214", "Tl-208", "K-40", "Cs-137"):
        assert all(ln.intensity_rel_unc == pytest.approx(0.02) for ln in lib[name].gammas())
    assert "assumed" in lib.intensity_unc_source.lower()
    assert "ENDF/B-VIII.0" in lib.intensity_unc_source


@pytest.mark.parametrize(
    ("nuclide", "energy", "intensity", "unc"),
    [
        ("Xe-133", 80.9979, 0.370, 0.003),  # 0.8 %, not the assumed 2 %
        ("Xe-135", 249.794, 0.900, 0.030),  # 3.3 %
        ("Kr-85m", 151.195, 0.750, 0.045),  # 6 %
        ("I-131", 364.489, 0.812, 0.0076),
    ],
)
def test_the_evaluated_values_are_read_in_photons_per_decay(nuclide, energy, intensity, unc):
    ln = next(x for x in load_library()[nuclide].lines if abs(x.energy - energy) < 1e-3)
    assert ln.intensity == pytest.approx(intensity)
    assert ln.intensity_unc == pytest.approx(unc)
    assert ln.intensity_unc_evaluated


def test_a_negative_or_missing_number_is_refused_with_the_line_named():
    data = _raw()
    data["nuclides"]["Xe-133"]["lines"][0]["intensity_unc"] = -0.3
    with pytest.raises(ValueError, match=r"Xe-133: line at 80.9979 keV: intensity_unc"):
        _parse(data)
    data["nuclides"]["Xe-133"]["lines"][0]["intensity_unc"] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        _parse(data)
    del data["nuclides"]["Xe-133"]["lines"][0]["intensity_unc"]
    lib = _parse(data)  # without one: the assumed 2 % again
    assert lib["Xe-133"].lines[0].intensity_rel_unc == pytest.approx(0.02)
    assert not lib["Xe-133"].lines[0].intensity_unc_evaluated


def test_the_station_s_nuclear_data_term_of_xe133_is_the_hand_computation():
    # gamma lines only: the Cs K x-rays would add their own (assumed) 3 %
    xe = station_analyze(simulate({"Xe-133": 2.0e4}, seed=11).phd, config={"use_xrays": False})
    xe = xe.nuclides["Xe-133"]
    used = [ln for ln in xe.lines if ln.used]
    # one component holds 81.0 and 79.6 keV (1.4 keV apart), their errors taken as moving
    # together (edge_agent/analysis/model.py): u = (0.30 + 0.03) / (37.0 + 0.28) per 100 decays
    assert [round(ln.energy_kev, 4) for ln in used] == [80.9979]
    assert used[0].intensity == pytest.approx(0.3728)
    # (the station weighs the two by expected area, I eps: eps equal at 79.6 and 81.0 keV
    # within 1 %, hence rel=1e-3; independent lines would give 0.30/37.0, 8 % less)
    hand = (0.30 + 0.03) / (37.0 + 0.28)
    assert xe.nuclear_data_unc_bq / xe.activity_bq == pytest.approx(hand, rel=1e-3)


def test_the_central_s_nuclear_data_term_of_xe133_is_the_hand_computation():
    xe = central_analyze(simulate({"Xe-133": 2.0e4}, seed=11).phd).nuclides["Xe-133"]
    used = {round(ln.energy_kev, 3): ln for ln in xe.lines if ln.used}
    assert 80.998 in used
    # independent lines, weighted by their counting variances (central/reanalysis/analysis.py):
    # sqrt(sum (w_i u_i / I_i)^2) with the library's 0.30/37.0, 0.03/0.28, 0.005/0.068
    rel = {80.998: 0.30 / 37.0, 79.614: 0.03 / 0.28, 160.612: 0.005 / 0.068}
    inv_var = {e: 1.0 / ln.activity_unc_bq**2 for e, ln in used.items()}
    total = sum(inv_var.values())
    hand = math.sqrt(sum((inv_var[e] / total * rel[e]) ** 2 for e in used))
    assert hand == pytest.approx(0.3 / 37.0, rel=0.01)  # 81.0 keV carries nearly all the weight
    assert xe.nuclear_data_unc_bq / xe.activity_bq == pytest.approx(hand, rel=1e-6)


def test_the_benchmark_s_cached_spectra_are_keyed_by_the_library_file():
    # the mismatch world draws each intensity with the library's u(I): a changed library
    # must not reuse spectra simulated with the old one (~/.cache/stax-monitor)
    from benchmarks.analysis.spectra import _fingerprinted_files

    assert LIBRARY_JSON.resolve() in [p.resolve() for p in _fingerprinted_files()]
