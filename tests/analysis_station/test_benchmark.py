"""The benchmark harness: its suite fills the cells it reports, and its verdicts and summary."""

import math
from types import SimpleNamespace

import pytest

from benchmarks.analysis import run
from benchmarks.analysis.spectra import (
    DEFAULT_N,
    DESIGNED_LEVELS,
    LEVELS,
    REPORTED,
    benchmark_cases,
    counts_per_bq,
    level_of,
)


def test_the_default_suite_puts_about_200_spectra_in_every_designed_cell():
    cases = benchmark_cases(DEFAULT_N)
    n = {}
    for c in cases:
        for nuc in REPORTED:
            if c.truth(nuc) > 0:
                key = (nuc, level_of(c.truth(nuc) * counts_per_bq(nuc)))
                n[key] = n.get(key, 0) + 1
    for nuc, levels in DESIGNED_LEVELS.items():
        for k in levels:
            assert n.get((nuc, k), 0) >= 180, (nuc, LEVELS[k])
    # the interference cases of physics.md section 3 and the blanks are all there
    categories = {c.category for c in cases}
    assert {"blank", "iodine", "metastable", "xray", "radon", "cluster511", "drift"} <= categories
    assert sum(c.category == "blank" for c in cases) >= 200  # at-limit bases and blanks
    assert benchmark_cases(300)[:5] == benchmark_cases(300)[:5]  # deterministic


def test_pull_sd_interval_and_verdicts():
    lo, hi = run.sd_interval(1.0, 201)
    assert lo == pytest.approx(1 - 1.96 / math.sqrt(400), abs=1e-3)
    assert hi == pytest.approx(1 + 1.96 / math.sqrt(400), abs=1e-3)
    assert run.pull_verdict(1.05, run.MIN_CELL - 1) == "not enough data"
    assert run.pull_verdict(1.05, 200) == "met"
    assert run.pull_verdict(1.12, 200) == "not met"
    assert run.pull_verdict(0.88, 200) == "not met"


def _outcome(nuclide, truth, counts, estimate, unc, detected=True):
    case = SimpleNamespace(
        truth=lambda n: truth if n == nuclide else 0.0, category="xenon", index=0, gain_drift=0.0
    )
    sim = SimpleNamespace(case=case, main_line_area=lambda n: counts if n == nuclide else 0.0)
    results = {n: (0.0, 1.0, False, 1.0) for n in REPORTED}
    results[nuclide] = (estimate, unc, detected, 1.0)
    return run.Outcome(sim, results, 0.01, cpu_seconds=0.01)


def test_accuracy_cells_and_the_markdown_summary():
    outcomes = [_outcome("Xe-133", 100.0, 5000.0, 100.0 + (k % 3 - 1), 1.0) for k in range(150)]
    outcomes += [_outcome("Xe-133", 1.0, 50.0, 1.0, 0.5) for _ in range(20)]
    acc = run.accuracy(outcomes)["Xe-133"]
    cell = acc["1000-10000"]
    assert cell["n"] == 150 and cell["designed"]
    assert cell["pull_sd"] == pytest.approx(math.sqrt(100 / 149), rel=1e-9)
    assert cell["verdict"] == "not met" and cell["pull_sd_ci"][1] < 0.95
    assert acc["0-100"]["verdict"] == "not enough data"
    rep = {
        "method": "station",
        "spectra": 170,
        "errors": 0,
        "accuracy": run.accuracy(outcomes),
        "false_detection": run.false_detections(outcomes),
        "false_detection_pooled": {"n": 10, "rate": 0.05, "se": 0.01},
        "detection_at_limit": {"Xe-133": {"n": 100, "probability": 0.95, "se": 0.02}},
        "detection_at_limit_pooled": {"n": 100, "rate": 0.95, "se": 0.02},
        "cpu_median_ms": 38.0,
        "time_median_ms": 40.0,
        "peak_memory_mib": 9.0,
    }
    missing = {"method": "central", "available": False, "reason": "cannot be imported"}
    text = run.summary_markdown(
        [rep, missing],
        {"error": "central: cannot be imported"},
        {"n": 170, "seed": 1, "at_limit": 100},
    )
    rows = [ln for ln in text.splitlines() if ln.startswith("| Xe-133 |")]
    assert len(rows) == 1 and "+0.00 +- 0.07 % (150)" in rows[0] and "0/1 met" in rows[0]
    assert "not met: 1000-10000 0.82 (0.73-0.91)" in rows[0]
    assert "| all | station | 170 spectra, 0 errors | 0/1 cells met |" in text
    assert "| all | central | not available: cannot be imported |" in text
    assert "Agreement: not measured (central: cannot be imported)" in text


def test_the_mismatch_world_draws_each_intensity_with_the_librarys_uncertainty():
    from dataclasses import replace

    import numpy as np

    from benchmarks.analysis.spectra import mismatch_library
    from shared.nuclear import load_library

    lib = load_library()
    # a library whose Kr-85m lines are exact: the world leaves them as they are
    kr = lib["Kr-85m"]
    exact = replace(
        lib,
        nuclides={
            **lib.nuclides,
            "Kr-85m": replace(kr, lines=tuple(replace(ln, intensity_unc=0.0) for ln in kr.lines)),
        },
    )
    factors = []
    for seed in range(400):
        world = mismatch_library({"seed": seed}, exact)
        assert world["Kr-85m"].lines == exact["Kr-85m"].lines
        factors.append(world["Xe-135"].gammas()[0].intensity / lib["Xe-135"].gammas()[0].intensity)
    # the others scatter with their u(I)/I: for Xe-135's 249.8 keV line (ENSDF 3.3 %) nearly
    # all of it the nuclide's normalisation, drawn once per nuclide, the line's own part rest
    xe = lib["Xe-135"]
    stated = np.hypot(xe.gammas()[0].intensity_rel_unc, xe.normalisation_rel_unc)
    assert stated == pytest.approx(0.030 / 0.900, rel=1e-3)
    assert np.std(factors) == pytest.approx(stated, rel=0.15)


def test_the_mismatch_world_draws_one_normalisation_per_nuclide_for_all_its_gamma_lines():
    import numpy as np

    from benchmarks.analysis.spectra import mismatch_library
    from shared.nuclear import load_library

    lib = load_library()
    kr = lib["Kr-88"]
    ratios, firsts = [], []
    for seed in range(400):
        w = mismatch_library({"seed": seed})["Kr-88"]
        f = [a.intensity / b.intensity for a, b in zip(w.gammas(), kr.gammas())]
        firsts.append(f[1])  # 196.3 keV: its ENSDF u(I) is all normalisation
        ratios.append(f[3] / f[4])  # 834.8 / 1529.8 keV: the normalisation cancels
    assert np.std(firsts) == pytest.approx(kr.normalisation_rel_unc, rel=0.15)
    own = np.hypot(kr.gammas()[3].intensity_rel_unc, kr.gammas()[4].intensity_rel_unc)
    assert own < 0.5 * kr.normalisation_rel_unc
    assert np.std(ratios) == pytest.approx(own, rel=0.15)
