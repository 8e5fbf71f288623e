"""The central method on simulated spectra: activities, uncertainties, limits, bad input."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from central.reanalysis import METHOD, analyze
from central.reanalysis.conversion import release_factors
from central.reanalysis.limits import K, limits, upper_quantile
from shared.formats import Message
from shared.nuclear import XENON, load_library
from shared.release import FlowThroughChamber
from shared.results import AnalysisError, AnalysisResult
from shared.simulation.detector import default_detector

from .simulated import REAL_TIME_S, STACK, release_truth, simulate

LIB = load_library()
FISSION = {"Xe-133": 2000.0, "Xe-135": 60.0, "Xe-133m": 40.0, "Xe-131m": 25.0}
RADON = {"Pb-214": 1.0, "Bi-214": 0.9}


def within(result, truth: float, n_sigma: float = 4.0) -> bool:
    return abs(result.activity_bq - truth) <= n_sigma * result.activity_unc_bq


def test_recovers_the_activities_of_a_drifted_spectrum():
    sim = simulate({**FISSION, **RADON}, seed=3, gain_drift=8e-4)
    res = analyze(sim.phd, source="fission.phd")
    assert res.method == METHOD and res.source == "fission.phd"
    assert res.gain_correction == pytest.approx(1.0008, abs=1e-4)
    for name, truth in FISSION.items():
        n = res.nuclides[name]
        assert n.detected, name
        assert within(n, truth), (name, n.activity_bq, n.activity_unc_bq, truth)
        # release through the project's release arithmetic (shared/release.py)
        r_true = release_truth(sim, name, LIB[name].decay_constant)
        assert abs(n.release_bq - r_true) <= 4 * n.release_unc_bq
        assert n.activity_unc_bq >= n.activity_counting_unc_bq > 0
        assert n.lines and all(ln.used for ln in n.lines)
    assert list(res.nuclides)[:4] == list(XENON)
    assert any(p.nuclide == "Xe-133" and p.found for p in res.peaks)


def test_counting_uncertainty_matches_the_scatter_of_repeated_draws():
    sim = simulate({"Xe-133": 300.0, "Xe-135": 8.0, **RADON}, seed=1)
    runs = [analyze(sim.resample(seed)) for seed in range(24)]
    for name in ("Xe-133", "Xe-135"):
        values = np.array([r.nuclides[name].activity_bq for r in runs])
        stated = np.mean([r.nuclides[name].activity_counting_unc_bq for r in runs])
        assert 0.7 < values.std(ddof=1) / stated < 1.35, name
        assert abs(values.mean() - sim.truth(name)) < 3 * stated / math.sqrt(
            len(runs)
        ) + 0.01 * sim.truth(name)


def test_another_line_shape_is_still_measured():
    det = replace(default_detector(), tail_fraction=0.025, tail_length_sigma=2.5, step_ratio=1e-3)
    sim = simulate({"Xe-133": 5000.0, "Xe-135": 100.0}, seed=5, detector=det)
    res = analyze(sim.phd)
    for name in ("Xe-133", "Xe-135"):
        n = res.nuclides[name]
        assert within(n, sim.truth(name)) and abs(n.activity_bq / sim.truth(name) - 1) < 0.01


def test_a_blank_is_not_detected_and_has_finite_limits():
    res = analyze(simulate(RADON, seed=7).phd)
    for name in XENON:
        n = res.nuclides[name]
        assert not n.detected, name
        # the primary result is unbounded: a blank scatters around zero, both signs
        assert abs(n.activity_bq) < 4 * n.activity_unc_bq, name
        assert 0 < n.activity_decision_threshold_bq < n.activity_detection_limit_bq < math.inf
        assert 0 < n.decision_threshold_bq < n.mdr_bq == n.detection_limit_bq < math.inf
        assert 0 < n.currie_lc_bq <= n.decision_threshold_bq
        assert n.currie_ld_bq < math.inf


def test_without_stack_data_there_is_no_release_but_there_are_activity_limits():
    res = analyze(simulate({"Xe-133": 100.0}, seed=2, stack=None).phd)
    assert any("#Stack" in w for w in res.warnings)
    n = res.nuclides["Xe-133"]
    assert n.detected and n.release_bq is None and n.concentration_bq_m3 is None
    assert n.mdr_bq is None and n.activity_detection_limit_bq > 0


def test_channels_numbered_from_one_give_the_same_result():
    sim = simulate({"Xe-133": 500.0}, seed=4)
    shifted = sim.resample(4)
    shifted.g_spectrum.first_channel = 1
    shifted.g_energy = [replace(p, channel=p.channel + 1) for p in shifted.g_energy]
    a = analyze(sim.resample(4)).nuclides["Xe-133"]
    b = analyze(shifted).nuclides["Xe-133"]
    assert b.activity_bq == pytest.approx(a.activity_bq, rel=1e-6)


def test_the_result_survives_json():
    res = analyze(simulate({"Xe-133": 50.0}, seed=6).phd, source="x.phd")
    text = json.dumps(res.to_json(), allow_nan=False)
    assert AnalysisResult.from_json(json.loads(text)) == res


# ------------------------------------------------------------------- limits
def test_iso_11929_closed_form():
    lim = limits(u0=10.0, kappa=1.0, u_rel=0.05)
    assert lim.decision_threshold == pytest.approx(K * 10.0)
    # y# = y* + k u(y#) with u^2(y) = u0^2 + kappa y + u_rel^2 y^2
    y = lim.detection_limit
    assert y == pytest.approx(lim.decision_threshold + K * math.sqrt(100 + y + (0.05 * y) ** 2))
    assert lim.currie_lc == pytest.approx(1.645 * 10.0)
    assert lim.currie_ld == pytest.approx(2.706 + 3.29 * 10.0, rel=1e-3)
    # a skewed null distribution: a higher threshold, and still y# = y* + k u(y#)
    skewed = limits(u0=10.0, kappa=1.0, u_rel=0.05, y_star=20.0)
    y = skewed.detection_limit
    assert skewed.decision_threshold == 20.0
    assert y == pytest.approx(20.0 + K * math.sqrt(100 + y + (0.05 * y) ** 2))


def test_few_counts_raise_the_decision_threshold_to_the_true_quantile():
    # a peak-shaped weighting of 60 channels with 0.05 expected counts each, as an
    # estimate near zero in a nearly empty region is
    rng = np.random.default_rng(1)
    c = np.exp(-0.5 * ((np.arange(60) - 30) / 5.0) ** 2) - 0.1
    mu = np.full(60, 0.05)
    y = upper_quantile(c, mu)
    sigma = math.sqrt(np.sum(c * c * mu))
    draws = (rng.poisson(mu, size=(40_000, 60)) - mu) @ c
    assert y > 1.1 * K * sigma
    assert np.mean(draws > y) == pytest.approx(0.05, abs=0.006)
    assert np.mean(draws > K * sigma) > 0.065  # the Gaussian threshold would not do
    assert upper_quantile(np.array([1.0]), np.array([1e6])) == pytest.approx(K * 1e3, rel=0.01)


def test_release_factors_agree_with_the_shared_release_arithmetic():
    chamber = FlowThroughChamber.from_stack(STACK, REAL_TIME_S)
    for name in ("Xe-133", "Xe-135m", "Kr-88"):
        lam = LIB[name].decay_constant
        mine = release_factors(STACK, lam, REAL_TIME_S)
        assert mine.release_per_bq == pytest.approx(
            float(chamber.chamber_activity_to_release(1.0, lam)), rel=1e-9
        )
    assert release_factors(None, 1e-5, 900.0) is None
    assert release_factors(replace(STACK, stack_flow_m3_s=None), 1e-5, 900.0) is None
    assert release_factors(replace(STACK, chamber_temperature_k=None), 1e-5, 900.0) is None
    # reference conditions default to 0 degC and one standard atmosphere
    default_ref = replace(STACK, reference_pressure_kpa=None, reference_temperature_k=None)
    assert release_factors(default_ref, 1e-5, 900.0) == release_factors(STACK, 1e-5, 900.0)


# --------------------------------------------------------------- bad input
def _bad(**changes):
    phd = simulate({"Xe-133": 10.0}, seed=1).phd
    for key, value in changes.items():
        setattr(phd, key, value)
    return phd


@pytest.mark.parametrize(
    ("phd", "message"),
    [
        (_bad(g_spectrum=None), "no gamma spectrum"),
        (_bad(g_energy=[]), "no #g_Energy"),
        (_bad(g_efficiency=[]), "no #g_Efficiency"),
        (_bad(acquisition=None), "no #Acquisition"),
    ],
)
def test_unusable_input_raises_analysis_error(phd, message):
    with pytest.raises(AnalysisError, match=message):
        analyze(phd, source="bad.phd")


def test_unusable_spectra_raise_analysis_error():
    phd = simulate({"Xe-133": 10.0}, seed=1).phd
    phd.acquisition.live_time = 0.0
    with pytest.raises(AnalysisError, match="live time"):
        analyze(phd)
    phd = simulate({"Xe-133": 10.0}, seed=1).phd
    phd.g_spectrum.counts = np.zeros_like(phd.g_spectrum.counts)
    with pytest.raises(AnalysisError, match="empty"):
        analyze(phd)
    phd.g_spectrum.counts = np.ones(100, dtype=np.int64)
    with pytest.raises(AnalysisError, match="100 channels"):
        analyze(phd)
    phd = simulate({"Xe-133": 10.0}, seed=1).phd
    phd.header.system_type = "B"
    with pytest.raises(AnalysisError, match="beta-gamma"):
        analyze(phd)
    with pytest.raises(AnalysisError, match="no PHD"):
        analyze(Message(sections=[], msg_id="1"))
    with pytest.raises(AnalysisError, match="expected a PHD"):
        analyze("sample.phd")  # type: ignore[arg-type]
