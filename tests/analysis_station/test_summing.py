"""True coincidence summing (shared/nuclear/summing.py) and what both analyses do with it:
corrected when the PHD measures the total efficiency (#TotalEff), carried as an
uncertainty of a documented size when it does not."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from central.reanalysis import analyze as central_analyze
from edge_agent.analysis import analyze as station_analyze
from shared.formats.phd import EfficiencyPoint
from shared.nuclear import load_library
from shared.nuclear.summing import peak_to_total_bound, summing, total_efficiency
from shared.simulation.detector import default_detector
from tests.analysis_central.simulated import simulate

METHODS = {"station": station_analyze, "central": central_analyze}


def _line(nuclide: str, energy: float):
    return next(ln for ln in load_library()[nuclide].lines if abs(ln.energy - energy) < 0.01)


def test_the_library_states_what_is_coincident_and_what_is_not_known():
    assert _line("Xe-131m", 163.930).coincident == ()  # isomeric transition
    assert _line("Xe-133", 80.9979).coincident == ((79.614, 0.015),)
    assert _line("Kr-88", 2392.11).coincident is None  # no decay-scheme data: unknown
    # ENSDF's 0.3 per 100 decays on the library's 37.0 (library.json "intensity_unc")
    assert load_library()["Xe-133"].lines[0].intensity_rel_unc == pytest.approx(0.3 / 37.0)


def test_summing_out_is_carried_without_total_efficiency_and_corrected_with_it():
    det = default_detector()
    line = _line("I-131", 284.305)
    bound = total_efficiency([], det.efficiency)
    assert not bound.measured
    # the bound lies above the simulated detector's total efficiency everywhere
    e = np.array([30.0, 80.0, 284.0, 600.0, 1500.0])
    assert np.all(bound.at(e) >= det.total_efficiency(e))
    assert peak_to_total_bound(20.0) == pytest.approx(0.95)
    carried = summing(line, bound)
    s = 0.42 * bound.at(80.185)[()] + 0.58 * bound.at(29.78)[()]
    assert carried.loss_bound == pytest.approx(s)
    assert carried.factor == 1.0 and carried.rel_unc == pytest.approx(s / math.sqrt(3))

    pts = [EfficiencyPoint(float(x), float(det.total_efficiency(x)), 0.0) for x in e]
    measured = total_efficiency(pts, det.efficiency)
    assert measured.measured
    corrected = summing(line, measured)
    s = 0.42 * det.total_efficiency(80.185) + 0.58 * det.total_efficiency(29.78)
    assert corrected.loss_bound == pytest.approx(s, rel=0.05)
    assert corrected.factor == pytest.approx(1 - corrected.loss_bound / 2)
    assert corrected.rel_unc == pytest.approx(corrected.loss_bound / math.sqrt(12))
    assert summing(_line("Kr-88", 2392.11), measured).unknown


@pytest.mark.parametrize("method", sorted(METHODS))
def test_both_methods_correct_with_a_measured_total_efficiency(method):
    analyze = METHODS[method]
    det = default_detector()
    sim = simulate({"Xe-135": 3000.0}, seed=3)
    plain = analyze(sim.phd).nuclides["Xe-135"]
    # without #TotalEff: not corrected, carried (249.8 keV: at most 4 % fed from above)
    assert plain.summing_unc_bq > 0
    assert plain.summing_unc_bq / plain.activity_bq == pytest.approx(
        0.04 * total_efficiency([], det.efficiency).at(358.4)[()] / math.sqrt(3), rel=0.05
    )
    e = np.geomspace(25.0, 2700.0, 12)
    pts = [EfficiencyPoint(float(x), float(det.total_efficiency(x)), 0.0) for x in e]
    with_total = analyze(replace(sim.phd, total_efficiency=pts)).nuclides["Xe-135"]
    s = 0.04 * float(np.exp(np.interp(np.log(358.4), np.log(e), np.log(det.total_efficiency(e)))))
    # corrected by the middle of [0, s], with the smaller uncertainty of that interval
    assert with_total.activity_bq / plain.activity_bq == pytest.approx(1 / (1 - s / 2), rel=2e-4)
    assert with_total.summing_unc_bq / with_total.activity_bq == pytest.approx(
        s / math.sqrt(12), rel=0.05
    )
    assert with_total.activity_unc_bq**2 == pytest.approx(
        with_total.activity_counting_unc_bq**2
        + with_total.efficiency_unc_bq**2
        + with_total.nuclear_data_unc_bq**2
        + with_total.disagreement_unc_bq**2
        + with_total.summing_unc_bq**2,
        rel=1e-6,
    )


@pytest.mark.parametrize("method", sorted(METHODS))
def test_both_methods_take_each_lines_intensity_uncertainty_from_the_library(method):
    lib = load_library()
    nuc = lib["Xe-135"]
    lines = tuple(
        replace(ln, intensity_unc=0.05 * ln.intensity, intensity_unc_evaluated=True)
        if ln.kind == "gamma"
        else ln
        for ln in nuc.lines
    )
    # 5 % each line's own, no shared normalisation (the library's 3.3 % NR is set aside)
    own = replace(nuc, lines=lines, normalisation_rel_unc=0.0)
    evaluated = replace(lib, nuclides={**lib.nuclides, "Xe-135": own})
    sim = simulate({"Xe-135": 3000.0}, seed=4)
    default = METHODS[method](sim.phd).nuclides["Xe-135"]
    wider = METHODS[method](sim.phd, library=evaluated).nuclides["Xe-135"]
    # 249.8 keV carries nearly all the information: its 3.3 % (ENSDF, 3.0 of 90.0, nearly
    # all of it Xe-135's normalisation) becomes 5 %
    assert default.nuclear_data_unc_bq / default.activity_bq == pytest.approx(3.0 / 90.0, rel=0.05)
    assert wider.nuclear_data_unc_bq / wider.activity_bq == pytest.approx(0.05, rel=0.05)
    assert wider.activity_bq == pytest.approx(default.activity_bq, rel=1e-6)


def test_birge_scaling_only_when_the_points_scatter_more_than_stated():
    from shared.calibration import birge_scale

    assert birge_scale(12.0, 8) == 1.0  # chi^2/dof 1.5, p = 0.15: consistent
    assert birge_scale(5.0, 8) == 1.0  # below dof: never narrowed
    assert birge_scale(30.0, 8) == pytest.approx(30.0 / 8)  # p = 2e-4: scaled
    assert birge_scale(3.0, 0) == 1.0
