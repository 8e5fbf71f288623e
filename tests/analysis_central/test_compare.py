"""Station against central results: z, flags and non-detects (central/compare.py)."""

from __future__ import annotations

import json
import math

import pytest

from central.compare import Comparison, compare, compare_nuclide, comparisons_json, flagged
from shared.results import AnalysisResult, NuclideResult


def nuclide(value, unc, detected, limit, release=True, name="Xe-133") -> NuclideResult:
    """A result whose activity is value/100 (the release factor here is 100); unc is the
    counting uncertainty, the total adds a calibration part of 5 % of the value."""
    f = 100.0
    total = math.hypot(unc, 0.05 * value)
    return NuclideResult(
        nuclide=name,
        detected=detected,
        activity_bq=value / f,
        activity_unc_bq=total / f,
        activity_counting_unc_bq=unc / f,
        concentration_bq_m3=value / f / 2 if release else None,
        concentration_unc_bq_m3=total / f / 2 if release else None,
        release_bq=value if release else None,
        release_unc_bq=total if release else None,
        decision_threshold_bq=limit / 2 if release else None,
        detection_limit_bq=limit if release else None,
        mdr_bq=limit if release else None,
        activity_decision_threshold_bq=limit / f / 2,
        activity_detection_limit_bq=limit / f,
    )


def result(method: str, *nuclides: NuclideResult, srid="SM01202603020600") -> AnalysisResult:
    return AnalysisResult(
        method=method,
        method_version="test",
        source="x.phd",
        station="TST01",
        detector="TST01_001",
        srid=srid,
        acquisition_start="2026-03-02T06:00:00.000Z",
        live_time_s=900.0,
        real_time_s=900.0,
        interval_s=900.0,
        nuclides={n.nuclide: n for n in nuclides},
    )


def test_both_detect_z_on_releases_and_the_flag_at_three():
    c = compare_nuclide("Xe-133", nuclide(1000, 30, True, 50), nuclide(1100, 40, True, 60))
    assert c.quantity == "release"
    # counting uncertainties only: the shared calibration cancels in the difference
    assert c.station_unc == pytest.approx(30) and c.central_unc == pytest.approx(40)
    assert c.z == pytest.approx(-100 / 50)
    assert not c.flagged and c.reason.startswith("both detect")
    c = compare_nuclide("Xe-133", nuclide(1000, 30, True, 50), nuclide(1160, 40, True, 60))
    assert c.z == pytest.approx(-3.2) and c.flagged


def test_without_stack_data_the_activities_are_compared():
    c = compare_nuclide(
        "Xe-133", nuclide(1000, 30, True, 50, release=False), nuclide(1000, 30, True, 50)
    )
    assert c.quantity == "activity"
    assert c.station_value == pytest.approx(10.0) and c.z == pytest.approx(0.0)


def test_neither_detects_agree_whatever_the_values():
    c = compare_nuclide("Xe-133", nuclide(-40, 30, False, 80), nuclide(70, 10, False, 90))
    assert not c.flagged and c.z is None and c.reason.startswith("neither detects")


def test_one_detects_compared_with_the_others_detection_limit():
    # central detects 200 +- 20; station's detection limit 120: (200 - 120) / 20 = 4 > 3
    c = compare_nuclide("Xe-133", nuclide(30, 40, False, 120), nuclide(200, 20, True, 60))
    assert c.flagged and c.z == pytest.approx(4.0)
    assert c.reason.startswith("only the central re-analysis detects")
    # 170 +- 20 is within 3 uncertainties of 120: a threshold case, no flag
    c = compare_nuclide("Xe-133", nuclide(30, 40, False, 120), nuclide(170, 20, True, 60))
    assert not c.flagged and c.z == pytest.approx(2.5)
    # and the other way round
    c = compare_nuclide("Xe-133", nuclide(500, 50, True, 60), nuclide(10, 30, False, 100))
    assert c.flagged and c.z == pytest.approx(8.0)
    assert c.reason.startswith("only the station detects")


def test_compare_lists_every_nuclide_of_either_method():
    station = result("station", nuclide(1000, 30, True, 50), nuclide(0, 1, False, 5, name="Xe-135"))
    central = result("central", nuclide(1300, 40, True, 50), nuclide(0, 1, False, 5, name="Kr-88"))
    out = compare(station, central)
    assert [c.nuclide for c in out] == ["Xe-133", "Xe-135", "Kr-88"]
    assert [c.nuclide for c in flagged(out)] == ["Xe-133"]
    assert out[1].reason == "not reported by the central re-analysis" and not out[1].flagged
    assert out[2].station_value is None and out[2].central_value == 0
    text = json.dumps(comparisons_json(out), allow_nan=False)
    first = json.loads(text)[0]
    assert set(first) >= {"nuclide", "station_value", "central_value", "z", "flagged", "reason"}


def test_results_of_different_samples_are_not_compared():
    with pytest.raises(ValueError, match="different samples"):
        compare(result("station", srid="SM01A"), result("central", srid="SM01B"))


def test_infinite_values_become_null_in_json():
    c = Comparison("Xe-133", 1.0, 2.0, math.inf, True, "x")
    assert c.to_json()["z"] is None


def test_a_missing_number_is_said_not_hidden():
    s = nuclide(1000.0, 50.0, True, 200.0)
    s.release_unc_bq = None  # e.g. an ATS that gave no uncertainty
    s.activity_counting_unc_bq = None
    c = compare_nuclide("Xe-133", s, nuclide(5000.0, 50.0, True, 200.0))
    assert c.flagged is False and c.z is None
    assert c.reason == "cannot compare: a value is not given"
