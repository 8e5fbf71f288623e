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
    nuc = load_library()[nuclide]
    ln = next(x for x in nuc.lines if abs(x.energy - energy) < 1e-3)
    assert ln.intensity == pytest.approx(intensity)
    # the line's own part and the nuclide's normalisation give back the evaluation's total
    # (Xe-135's 249.8 keV: all of it the normalisation, NR 0.90(3))
    total = math.hypot(ln.intensity_unc, nuc.normalisation_rel_unc * ln.intensity)
    assert total == pytest.approx(unc, rel=2e-3)
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

    files = [p.resolve() for p in _fingerprinted_files()]
    assert LIBRARY_JSON.resolve() in files
    # and the code that splits each u(I) into the line's own part and the normalisation
    assert LIBRARY_JSON.with_name("library.py").resolve() in files


# ---------------------------------------------------------------- half-lives
REPORTED = (
    "Xe-131m",
    "Xe-133",
    "Xe-133m",
    "Xe-135",
    "Xe-135m",
    "Kr-85m",
    "Kr-88",
    "I-131",
    "I-133",
)


def test_every_reported_nuclide_has_an_evaluated_half_life_uncertainty_with_its_source():
    raw = _raw()["nuclides"]
    lib = load_library()
    for name in REPORTED:
        note = raw[name]["half_life_note"]
        assert "ENSDF" in note and "read in " in note, name
        assert 0 < lib[name].half_life_unc_s < 0.015 * lib[name].half_life_s, name  # <= 1.1 %
    # ENSDF's 9.14 h +- 0.02 h (ENDF/B-VIII.0: 32904 +- 72 s), in the library's unit
    assert lib["Xe-135"].half_life_unc_s == pytest.approx(72.0)
    assert lib["I-131"].half_life_unc_s == pytest.approx(0.0006 * 86400)


def test_a_bad_half_life_or_normalisation_uncertainty_is_refused_with_the_nuclide_named():
    data = _raw()
    data["nuclides"]["Xe-135"]["half_life_unc"] = -0.02
    with pytest.raises(ValueError, match="Xe-135: half_life_unc must be a finite number"):
        _parse(data)
    data = _raw()
    data["nuclides"]["Kr-88"]["normalisation_unc"] = 4.6  # percent, not relative
    with pytest.raises(ValueError, match="Kr-88: normalisation_unc is relative"):
        _parse(data)


# ------------------------------------------------------- shared normalisation
@pytest.mark.parametrize(
    ("nuclide", "nr", "u_nr"), [("Kr-88", 0.346, 0.016), ("Xe-135", 0.90, 0.03)]
)
def test_the_line_keeps_its_own_part_and_the_nuclide_the_normalisation(nuclide, nr, u_nr):
    lib = load_library()
    nuc = lib[nuclide]
    assert nuc.normalisation_rel_unc == pytest.approx(u_nr / nr, rel=1e-3)
    raw = {round(ln["energy"], 3): ln for ln in _raw()["nuclides"][nuclide]["lines"]}
    for ln in nuc.gammas():
        total = raw[round(ln.energy, 3)]["intensity_unc"] / 100
        # own^2 + (NR_rel I)^2 gives back the evaluation's total, where it exceeds NR_rel I
        shared = nuc.normalisation_rel_unc * ln.intensity
        assert ln.intensity_unc == pytest.approx(math.sqrt(max(total**2 - shared**2, 0.0)))
        assert ln.intensity_unc < total


def _kr88():
    return simulate({"Kr-88": 400.0}, seed=21).phd


def _kr88_by_hand(kr) -> float:
    """Kr-88's relative nuclear-data term from its 5 used lines: each line's own part
    weighted by the lines' inverse variances, and the normalisation on every line (its
    weights add up to 1, so it enters in full)."""
    lib = load_library()["Kr-88"]
    used = [ln for ln in kr.lines if ln.used]
    assert len(used) == 5
    own = {round(ln.energy, 2): ln.intensity_rel_unc for ln in lib.gammas()}
    inv_var = [1.0 / ln.activity_unc_bq**2 for ln in used]
    w = [v / sum(inv_var) for v in inv_var]
    own_part = math.sqrt(sum((wi * own[round(ln.energy_kev, 2)]) ** 2 for wi, ln in zip(w, used)))
    return math.hypot(own_part, lib.normalisation_rel_unc)


def test_the_station_s_nuclear_data_term_of_kr88_shares_the_normalisation():
    kr = station_analyze(_kr88()).nuclides["Kr-88"]
    # the station's weights are its GLS ones (model covariance); the lines' counting
    # variances give them to ~5 %, which moves the small own-part sum by less than 1e-3
    assert kr.nuclear_data_unc_bq / kr.activity_bq == pytest.approx(_kr88_by_hand(kr), rel=2e-3)
    # lines taken as independent would give ~3.5 %: the shared part is not averaged down
    assert kr.nuclear_data_unc_bq / kr.activity_bq > 0.046


def test_the_central_s_nuclear_data_term_of_kr88_shares_the_normalisation():
    kr = central_analyze(_kr88()).nuclides["Kr-88"]
    assert kr.nuclear_data_unc_bq / kr.activity_bq == pytest.approx(_kr88_by_hand(kr), rel=1e-6)
    assert kr.nuclear_data_unc_bq / kr.activity_bq > 0.046


# ------------------------------------------------ half-life in the conversion
def _xe135_far():
    """Xe-135 behind a 10 h transit: the decay correction e^(lambda tau) = 2.1 matters."""
    from dataclasses import replace

    from tests.analysis_central.simulated import STACK

    stack = replace(STACK, transit_time_s=36000.0)
    return simulate({"Xe-135": 500.0}, seed=5, stack=stack), stack


def _release_per_bq(stack, half_life_s):
    from shared.release import FlowThroughChamber

    chamber = FlowThroughChamber.from_stack(stack, 900.0)
    return float(chamber.chamber_activity_to_release(1.0, math.log(2) / half_life_s))


@pytest.mark.parametrize("method", ["station", "central"])
def test_the_half_life_term_of_xe135_is_the_finite_difference_of_the_release(method):
    sim, stack = _xe135_far()
    analyze = station_analyze if method == "station" else central_analyze
    r = analyze(sim.phd)
    xe = r.nuclides["Xe-135"]
    nuc = load_library()["Xe-135"]
    t, u = nuc.half_life_s, nuc.half_life_unc_s
    interval = r.interval_s
    assert interval == pytest.approx(900.0)
    f0 = _release_per_bq(stack, t)
    h = 1e-3 * t
    dlnf_dt = (_release_per_bq(stack, t + h) - _release_per_bq(stack, t - h)) / (2 * h) / f0
    # in Bq of chamber activity: A |d ln F / dT| u(T)
    hand = xe.activity_bq * abs(dlnf_dt) * u
    assert hand > 1e-3 * xe.activity_bq  # 0.17 %: visible behind a 10 h transit
    assert xe.half_life_unc_bq == pytest.approx(hand, rel=1e-5)
    # outside the activity's total, inside the release's
    assert xe.release_bq / xe.activity_bq == pytest.approx(f0, rel=1e-9)
    assert xe.release_unc_bq == pytest.approx(f0 * math.hypot(xe.activity_unc_bq, hand), rel=1e-6)
