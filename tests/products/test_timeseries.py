"""The daily ATS built from spectra and results (shared/timeseries.py), and read back."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from central.compare import compare
from edge_agent.analysis import analyze
from shared.formats import read_ats, write_ats
from shared.timeseries import (
    AtsStation,
    SampleRecord,
    daily_ats,
    library_nuclide_name,
    nuclide_result,
    station_samples,
)
from tests.analysis_central.simulated import T0, simulate

STATION = AtsStation(code="TST01", site="TESTSITE", country="NOWHERE")
NOW = datetime(2026, 3, 3, 0, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def analysed():
    sim = simulate({"Xe-133": 4000.0, "Xe-135": 300.0}, seed=3)
    name = "TST01_17_PHD_2026_03_02T06_00_00.TXT"
    return sim.phd, name, analyze(sim.phd, source=name)


def _doc(analysed, **kw):
    phd, name, result = analysed
    record = SampleRecord(phd=phd, file_name=name, result=result, analysed_at=T0)
    args = dict(
        station=STATION,
        day=date(2026, 3, 2),
        samples=[record],
        analysis="STATION",
        generated_by="stax-monitor test",
        generated_at=NOW,
    )
    return daily_ats(**{**args, **kw})


def test_station_results_survive_the_ats(analysed):
    phd, name, result = analysed
    text = write_ats(_doc(analysed))
    (sample,) = station_samples(read_ats(text))
    assert sample.file_name == name
    assert sample.srid == phd.header.srid
    back = sample.result
    assert back.method == "station" and back.station == "TST01"
    assert back.interval_s == pytest.approx(result.interval_s, abs=0.5)
    assert set(back.nuclides) == set(result.nuclides)
    for key, original in result.nuclides.items():
        got = back.nuclides[key]
        assert got.detected == original.detected
        assert got.activity_bq == pytest.approx(original.activity_bq, rel=1e-12)
        assert got.activity_counting_unc_bq == pytest.approx(original.activity_counting_unc_bq)
        assert got.mdr_bq == pytest.approx(original.mdr_bq, rel=1e-12)
        # a non-detect's release comes back through the release factor MDR / DL
        assert got.release_bq == pytest.approx(original.release_bq, rel=1e-9, abs=1e-6)
        assert got.release_unc_bq == pytest.approx(original.release_unc_bq, rel=1e-9)
        # the half-life's part of the release uncertainty (UncertaintyBudget.HalfLife)
        assert original.half_life_unc_bq is not None
        assert got.half_life_unc_bq == pytest.approx(original.half_life_unc_bq, rel=1e-9)
    assert back.nuclides["Xe-133"].detected
    # compared with itself through the ATS: z = 0 everywhere, nothing flagged
    comparisons = compare(back, result)
    assert not any(c.flagged for c in comparisons)
    both = [c for c in comparisons if c.z is not None and c.station_detected]
    assert both and all(abs(c.z) < 1e-9 for c in both)
    assert all(c.quantity == "release" for c in comparisons)


def test_the_document_describes_the_day(analysed):
    doc = _doc(analysed)
    assert doc["MetaData"]["Day"] == "2026-03-02"
    assert doc["MetaData"]["Analysis"] == "STATION"
    (detector,) = doc["Detectors"]
    assert detector["Code"] == "TST01_001"
    assert len(detector["Calibrations"]) == 1
    (sample,) = detector["Samples"]
    assert sample["Collection"]["SampleSize"] == {"Value": 0.0017, "Unit": "m3"}
    assert sample["Collection"]["TransitTime"] == {"Value": 60.0, "Unit": "s"}
    xe133 = next(n for n in sample["Analysis"]["Nuclides"] if n["Name"] == "XE-133")
    assert xe133["ReleaseUnit"] == "Bq/900s"
    assert xe133["Lines"] and all(ln["NetArea"] > 0 for ln in xe133["Lines"])


def test_samples_of_another_day_or_station_are_refused(analysed):
    phd, name, result = analysed
    other_day = replace(phd, collection=replace(phd.collection, start=T0 - timedelta(days=1)))
    with pytest.raises(ValueError, match="not on 2026-03-02"):
        _doc(analysed, samples=[SampleRecord(other_day, name, result)])
    with pytest.raises(ValueError, match="not OTHER"):
        _doc(analysed, station=replace(STATION, code="OTHER"))


def test_a_sample_that_was_not_analysed_says_why(analysed):
    phd, name, _ = analysed
    doc = _doc(analysed, samples=[SampleRecord(phd, name, None, error="no calibration")])
    sample = doc["Detectors"][0]["Samples"][0]
    assert sample["Analysis"] == {"Method": "not analysed: no calibration", "Nuclides": []}
    (back,) = station_samples(doc)
    assert back.result.nuclides == {}


def test_units_other_than_becquerel_are_converted():
    entry = {
        "Name": "XE-133",
        "Detected": False,
        "Activity": 0.002,
        "ActivityUncertainty": 0.01,
        "ActivityUnit": "kBq",
        "Concentration": None,
        "ConcentrationUncertainty": None,
        "ConcentrationUnit": "kBq/m3",
        "Release": None,
        "ReleaseUncertainty": None,
        "ReleaseUnit": "MBq/900s",
        "DecisionThreshold": 0.015,
        "DetectionLimit": 0.03,
        "MDR": 6.0,
        "Lines": [],
    }
    r = nuclide_result("Xe-133", entry)
    assert r.activity_bq == pytest.approx(2.0)
    assert r.activity_counting_unc_bq == pytest.approx(10.0)  # no counting part: the total
    assert r.mdr_bq == pytest.approx(6e6)
    factor = 6e6 / 30.0
    assert r.release_bq == pytest.approx(2.0 * factor)
    assert r.decision_threshold_bq == pytest.approx(15.0 * factor)
    assert math.isnan(nuclide_result("Xe-133", {**entry, "Activity": None}).activity_bq)


@pytest.mark.parametrize(
    ("ats", "library"),
    [("XE-131M", "Xe-131m"), ("I-131", "I-131"), ("KR-85M", "Kr-85m"), ("XE-133", "Xe-133")],
)
def test_nuclide_names(ats, library):
    assert library_nuclide_name(ats) == library
    assert ats == library.upper()


def test_a_detect_without_stack_data_has_no_release():
    sim = simulate({"Xe-133": 4000.0}, seed=4, stack=None)
    name = "TST01_18_PHD_2026_03_02T06_00_00.TXT"
    result = analyze(sim.phd, source=name)
    assert result.nuclides["Xe-133"].detected and result.nuclides["Xe-133"].release_bq is None
    doc = daily_ats(
        station=STATION,
        day=date(2026, 3, 2),
        samples=[SampleRecord(sim.phd, name, result)],
        analysis="STATION",
        generated_by="stax-monitor test",
        generated_at=NOW,
    )
    xe133 = next(
        n
        for n in doc["Detectors"][0]["Samples"][0]["Analysis"]["Nuclides"]
        if n["Name"] == "XE-133"
    )
    assert xe133["Detected"] and xe133["Release"] is None and xe133["MDR"] is None
    (back,) = station_samples(read_ats(write_ats(doc)))
    assert back.result.nuclides["Xe-133"].release_bq is None
    assert all(c.quantity == "activity" for c in compare(back.result, result))


def test_the_uncertainty_budget_and_line_consistency_survive_the_ats(analysed):
    _, _, result = analysed
    doc = read_ats(write_ats(_doc(analysed)))
    entry = next(
        n
        for n in doc["Detectors"][0]["Samples"][0]["Analysis"]["Nuclides"]
        if n["Name"] == "XE-133"
    )
    parts = entry["UncertaintyBudget"]
    # the total is the root sum of squares of the parts
    total = math.sqrt(sum(v**2 for v in parts.values()))
    assert total == pytest.approx(entry["ActivityUncertainty"], rel=1e-9)
    assert parts["Efficiency"] > 0 and parts["NuclearData"] > 0
    (sample,) = station_samples(doc)
    back, original = sample.result.nuclides["Xe-133"], result.nuclides["Xe-133"]
    assert back.efficiency_unc_bq == pytest.approx(original.efficiency_unc_bq)
    assert back.nuclear_data_unc_bq == pytest.approx(original.nuclear_data_unc_bq)
    assert back.lines_consistent == original.lines_consistent
    if original.lines_chi2 is not None:
        assert entry["LineConsistency"]["DegreesOfFreedom"] == original.lines_dof


def test_a_missed_calibration_point_is_in_the_ats(analysed):
    from shared.formats.phd import EfficiencyPoint

    phd, name, _ = analysed
    points = list(phd.g_efficiency)
    k = next(i for i, p in enumerate(points) if p.energy == 40.0)
    # one point 12 % high with a stated 3 %: four of its uncertainties
    points[k] = EfficiencyPoint(40.0, points[k].efficiency * 1.12, points[k].uncertainty)
    bad = replace(phd, g_efficiency=points)
    result = analyze(bad, source=name)
    assert any("40.00 keV" in w and "#g_Efficiency" in w for w in result.warnings)
    doc = read_ats(write_ats(_doc((bad, name, result))))
    analysis = doc["Detectors"][0]["Samples"][0]["Analysis"]
    (miss,) = [c for c in analysis["CalibrationWarnings"] if c["Energy"] == 40.0]
    assert miss["Block"] == "#g_Efficiency" and miss["Sigmas"] < -2.0
    (sample,) = station_samples(doc)
    assert any(c.energy_kev == 40.0 for c in sample.result.calibration_misses)


def test_a_file_without_the_new_fields_stays_valid(analysed):
    doc = _doc(analysed)
    analysis = doc["Detectors"][0]["Samples"][0]["Analysis"]
    for key in ("EfficiencyModel", "CalibrationWarnings", "Warnings"):
        analysis.pop(key, None)
    for n in analysis["Nuclides"]:
        n.pop("UncertaintyBudget", None)
        n.pop("LineConsistency", None)
    (sample,) = station_samples(read_ats(write_ats(doc)))
    assert all(n.efficiency_unc_bq is None for n in sample.result.nuclides.values())
