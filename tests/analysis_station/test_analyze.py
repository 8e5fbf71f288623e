"""`analyze` end to end: interferences, drift, limits and errors, on synthetic and simulated spectra."""

import math
from dataclasses import replace

import numpy as np
import pytest

from edge_agent.analysis import DEFAULT_CONFIG, analyze
from shared.results import AnalysisError
from shared.simulation.detector import default_detector
from shared.simulation.spectrum import expected_spectrum

from .synthetic import expected_counts, make_phd, radon, sample_phd


def line(result, nuclide, energy):
    return next(p for p in result.peaks if p.nuclide == nuclide and abs(p.line_kev - energy) < 0.05)


def test_xe133_i131_doublet_takes_the_i131_part_from_364_kev():
    rng = np.random.default_rng(11)
    src = {**radon(), "Xe-133": 300.0, "I-131": 60.0}
    phd, truth = sample_phd(src, rng)
    res = analyze(phd)
    xe, iod = res.nuclides["Xe-133"], res.nuclides["I-131"]
    for r, t in ((xe, 300.0), (iod, 60.0)):
        assert abs(r.activity_bq - t) < 3 * r.activity_counting_unc_bq
    # the 80.2 keV area follows I-131's own lines: 2.607/81.2 of 364.5 keV, efficiency-corrected
    peak = line(res, "I-131", 80.185)
    assert peak.net_area == pytest.approx(truth[("I-131", 80.185)], rel=0.1)
    assert not next(ln for ln in iod.lines if abs(ln.energy_kev - 80.185) < 0.05).used
    # fitted free, 0.8 keV from Xe-133, the 80.2 keV area is poorly known and costs Xe-133
    # (compared on the 81 keV line alone: the x-rays would dilute the difference)
    untied = analyze(phd, config={"tied_lines": (), "use_xrays": False})
    gamma_only = analyze(phd, config={"use_xrays": False})
    assert line(untied, "I-131", 80.185).net_area_unc > 5 * peak.net_area_unc
    assert (
        untied.nuclides["Xe-133"].activity_counting_unc_bq
        > 1.05 * gamma_only.nuclides["Xe-133"].activity_counting_unc_bq
    )


def test_xe131m_under_a_hundredfold_xe133_uses_the_160_kev_tie():
    rng = np.random.default_rng(12)
    src = {**radon(), "Xe-133": 3.0e4, "Xe-131m": 100.0}  # Xe-133/Xe-131m = 300
    phd, truth = sample_phd(src, rng)
    res = analyze(phd)
    r = res.nuclides["Xe-131m"]
    assert abs(r.activity_bq - 100.0) < 3 * r.activity_counting_unc_bq
    # the 160.6 keV area (3.5x the 163.9 keV one here) follows the 81 keV line: it is as
    # well known as Xe-133 itself, far better than its own counting statistics
    tied = line(res, "Xe-133", 160.612)
    assert tied.net_area == pytest.approx(truth[("Xe-133", 160.612)], rel=0.05)
    assert tied.net_area_unc < 0.2 * math.sqrt(tied.net_area)
    xe133 = res.nuclides["Xe-133"]
    assert tied.net_area / xe133.activity_bq == pytest.approx(
        truth[("Xe-133", 160.612)] / 3.0e4, rel=0.002
    )
    # both lines share one region, so the 160.6 keV peak is part of Xe-131m's fit
    assert tied.region == line(res, "Xe-131m", 163.93).region


def test_drift_correction_recovers_an_imposed_gain_shift():
    rng = np.random.default_rng(13)
    src = {**radon(4.0), "Xe-133": 2000.0, "Xe-135": 300.0}
    mu, _ = expected_counts(src, gain=1.0012)
    res = analyze(make_phd(rng.poisson(mu)))
    assert res.gain_correction == pytest.approx(1.0012, abs=1e-4)
    assert (
        abs(res.nuclides["Xe-135"].activity_bq - 300.0)
        < 3 * res.nuclides["Xe-135"].activity_counting_unc_bq
    )
    undrifted = analyze(make_phd(rng.poisson(expected_counts(src)[0])))
    assert undrifted.gain_correction == 1.0


def test_a_phd_without_calibration_blocks_is_refused_with_the_reason():
    phd = make_phd(np.ones(16384, dtype=np.int64), efficiency_points=False)
    with pytest.raises(AnalysisError, match="g_Efficiency"):
        analyze(phd, source="x.phd")
    with pytest.raises(AnalysisError, match="g_Energy"):
        analyze(make_phd(np.ones(16384, dtype=np.int64), energy=False))
    no_spectrum = make_phd(np.ones(16384, dtype=np.int64))
    no_spectrum.g_spectrum = None
    with pytest.raises(AnalysisError, match="g_Spectrum"):
        analyze(no_spectrum)


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="no_such_setting"):
        analyze(make_phd(np.ones(16384, dtype=np.int64)), config={"no_such_setting": 1})
    assert replace(DEFAULT_CONFIG, k_alpha=2.0).k_alpha == 2.0


# ----------------------------------------------------------- simulated spectra
@pytest.fixture(scope="module")
def simulated():
    """Five simulated spectra (the project's simulator), with the truth."""
    from benchmarks.analysis.spectra import Case, simulate

    rng = np.random.default_rng(14)
    out = []
    for k, xe133 in enumerate((30.0, 300.0, 3000.0, 3.0e4, 1.0e5)):
        src = {"Pb-214": 0.5, "Bi-214": 0.45, "Xe-133": xe133, "Xe-135": 0.2 * xe133}
        out.append(simulate(Case(k, "test", src, seed=int(rng.integers(2**31)))))
    blank = simulate(Case(9, "blank", {"Pb-214": 0.5, "Bi-214": 0.45}, seed=99))
    return out, blank


def test_xe133_agrees_with_the_simulator_truth(simulated):
    spectra, _ = simulated
    for sim in spectra:
        r = analyze(sim.phd).nuclides["Xe-133"]
        assert abs(r.activity_bq - sim.case.truth("Xe-133")) < 3 * r.activity_counting_unc_bq
        assert r.detected
        # the release comes from the #Stack block with the shared formulas
        assert r.release_bq == pytest.approx(
            sim.release_truth("Xe-133") * r.activity_bq / sim.case.truth("Xe-133"), rel=1e-9
        )


def test_a_blank_has_no_detection_and_finite_limits(simulated):
    _, blank = simulated
    res = analyze(blank.phd)
    for name in ("Xe-131m", "Xe-133", "Xe-133m", "Xe-135"):
        r = res.nuclides[name]
        assert not r.detected
        assert math.isfinite(r.decision_threshold_bq) and r.decision_threshold_bq > 0
        assert math.isfinite(r.mdr_bq) and r.mdr_bq > r.decision_threshold_bq
        assert r.detection_limit_bq == r.mdr_bq
        assert r.activity_detection_limit_bq > 2 * r.activity_decision_threshold_bq
        assert 0 < r.currie_lc_bq < r.currie_ld_bq
    assert res.method == "station" and 0 < res.elapsed_s < 5


def test_asimov_spectrum_gives_back_the_simulator_areas():
    """Fitted to its own expectation (no noise), the model returns the simulator's areas."""
    det = default_detector()
    src = {"Pb-214": 2.0, "Bi-214": 1.8, "Xe-133": 5000.0, "Xe-135": 300.0, "Xe-133m": 50.0}
    ex = expected_spectrum(det, src, real_time=900.0)
    from benchmarks.analysis.spectra import Case, _wrap

    sim = _wrap(
        Case(0, "asimov", src), det, np.rint(ex.counts).astype(np.int64), 900.0, ex.live_time, {}
    )
    sim.phd.g_spectrum.counts = ex.counts.copy()  # non-integer expectation
    res = analyze(sim.phd)
    for name, bq in src.items():
        if name in res.nuclides:
            assert res.nuclides[name].activity_bq == pytest.approx(bq, rel=2e-3)


def test_real_phd_files_are_analysed_or_refused_with_the_reason(phd_fixtures):
    from shared.formats import read_file

    outcomes = {}
    for path in phd_fixtures:
        phd = read_file(str(path), lenient=True).phd
        try:
            res = analyze(phd, source=path.name)
        except AnalysisError as exc:
            outcomes[path.name] = str(exc)
            continue
        outcomes[path.name] = res
        assert set(res.nuclides) >= {"Xe-131m", "Xe-133", "Xe-133m", "Xe-135"}
        assert all(math.isfinite(r.activity_decision_threshold_bq) for r in res.nuclides.values())
    # the IDC fragment has no #g_Energy block: refused, naming the file and the block
    fragment = next(v for k, v in outcomes.items() if "FRAGMENT" in k)
    assert isinstance(fragment, str) and "FRAGMENT" in fragment and "g_Energy" in fragment
    assert any(not isinstance(v, str) for v in outcomes.values())


def test_approximate_cs_k_of_xe135_is_tied_with_its_own_ratios():
    """Xe-135's Cs K x-rays (approximate intensities, no 35.9 keV line) are a tied component
    of their own: fitted with Xe-133's Cs K ratios they pushed the difference into Xe K and
    Xe-133 (false Xe-131m detections in a quarter of strong Xe-135 spectra)."""
    rng = np.random.default_rng(15)
    src = {**radon(8.0), "Xe-135": 2.0e4}
    mu, _ = expected_counts(src)
    res = analyze(make_phd(mu))  # the expectation itself: no noise, any bias shows
    for name in ("Xe-133", "Xe-131m", "Xe-133m"):
        r = res.nuclides[name]
        assert abs(r.activity_bq) < 0.5 * r.activity_counting_unc_bq, name
    tied = line(res, "Xe-135", 30.973)
    assert tied.net_area == pytest.approx(expected_counts(src)[1][("Xe-135", 30.973)], rel=0.01)
    assert tied.region == line(res, "Cs-K", 30.973).region
    r = analyze(make_phd(rng.poisson(mu))).nuclides["Xe-135"]
    assert not next(ln for ln in r.lines if abs(ln.energy_kev - 30.973) < 0.05).used


def test_a_compton_edge_inside_a_region_gets_a_step():
    """Kr-88's 196.3 keV line has its Compton edge at 85.3 keV, inside the 81 keV region
    (between the Pb K lines): without a step there, 1000 Bq of Kr-88 put +0.9 Bq into 2 Bq
    of Xe-133. Fitted to the simulator's expectation, Xe-133 comes out right."""
    from benchmarks.analysis.spectra import Case, _wrap

    det = default_detector()
    src = {"Pb-214": 0.1, "Bi-214": 0.09, "Xe-133": 2.0, "Kr-88": 1000.0}
    ex = expected_spectrum(det, src, real_time=900.0)
    sim = _wrap(
        Case(0, "asimov", src), det, np.rint(ex.counts).astype(np.int64), 900.0, ex.live_time, {}
    )
    sim.phd.g_spectrum.counts = ex.counts.copy()
    r = analyze(sim.phd).nuclides["Xe-133"]
    assert abs(r.activity_bq - 2.0) < 0.15 * r.activity_counting_unc_bq
    without = analyze(sim.phd, config={"edge_min_counts": math.inf}).nuclides["Xe-133"]
    assert without.activity_bq - 2.0 > 1.0 * without.activity_counting_unc_bq
