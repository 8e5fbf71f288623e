"""The simulated series: pure and order-independent specs, files that read back, truth that holds."""

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shared.calibration import calibrations_of
from shared.formats import read_file
from shared.nuclear import load_library
from shared.release import FlowThroughChamber
from shared.simulation.series import (
    RELEASED,
    interval_index,
    interval_spec,
    series_specs,
    simulate_sample,
    write_series,
)
from stax.cli import main

LIB = load_library()
START = datetime(2026, 11, 2, tzinfo=UTC)
Q = timedelta(minutes=15)


@pytest.fixture(scope="module")
def day_specs():
    return series_specs("AUS02", START, 1, seed=3)


def same_spec(a, b):
    return (
        a.index == b.index
        and a.releases_bq == b.releases_bq
        and a.chamber_activities_bq == b.chamber_activities_bq
        and a.stack == b.stack
        and a.gain_drift == b.gain_drift
    )


def test_any_interval_alone_or_in_any_order_is_the_same_as_in_the_series(day_specs):
    assert len(day_specs) == 96
    assert [s.start for s in day_specs] == [START + i * Q for i in range(96)]
    for k in (95, 0, 47, 44):  # 44-47: during a release
        assert same_spec(interval_spec("AUS02", START + k * Q, seed=3), day_specs[k])
    later = series_specs("AUS02", START + 40 * Q, 0.25, seed=3)
    assert all(same_spec(a, b) for a, b in zip(later, day_specs[40:64]))
    other = interval_spec("AUS02", START + 47 * Q, seed=4)
    assert other.releases_bq != day_specs[47].releases_bq


def test_interval_starts_must_be_on_the_grid():
    with pytest.raises(ValueError, match="15-minute grid"):
        interval_index(START + timedelta(minutes=7))


def test_the_series_is_realistic():
    specs = series_specs("AUS02", START, 3, seed=11)
    xe133 = np.array([s.releases_bq["Xe-133"] for s in specs])
    assert xe133.min() > 1e6 and xe133.max() < 1e13
    assert xe133.max() > 1e10  # processing and puffs happen
    assert np.median(xe133) < 1e9  # but most intervals are quiet
    fresh = [s for s in specs if s.releases_bq["Xe-133"] > 1e9]
    assert fresh
    for s in fresh:
        r = s.releases_bq
        assert 0.005 < r["Xe-133m"] / r["Xe-133"] < 0.06
        assert 0.002 < r["Xe-135"] / r["Xe-133"] < 1.1
        assert 0.0005 < r["Xe-131m"] / r["Xe-133"] < 0.012
    for s in specs:
        assert 10 <= s.stack.stack_flow_m3_s <= 30
        assert 5 <= s.stack.transit_time_s <= 20
        assert abs(s.gain_drift) < 5e-4
        assert 0.05 <= s.chamber_activities_bq["Pb-214"] <= 5
        assert set(RELEASED) <= set(s.releases_bq)
    pb = np.array([s.chamber_activities_bq["Pb-214"] for s in specs])
    assert np.std(np.diff(pb)) > 0  # radon progeny change from sample to sample


def test_the_same_seed_gives_identical_files(tmp_path):
    specs = series_specs("AUS02", START + 44 * Q, 2 / 96, seed=3)
    a = write_series(specs, tmp_path / "a")
    b = write_series(series_specs("AUS02", START + 44 * Q, 2 / 96, seed=3), tmp_path / "b")
    c = write_series(series_specs("AUS02", START + 44 * Q, 2 / 96, seed=8), tmp_path / "c")
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.read_bytes() != pc.read_bytes()
        truth = pa.name.removesuffix(".TXT") + ".truth.json"
        assert (tmp_path / "a" / truth).read_bytes() == (tmp_path / "b" / truth).read_bytes()


def test_a_written_phd_reads_back_strictly_and_its_truth_holds(tmp_path, day_specs):
    spec = day_specs[46]  # a release is under way
    assert spec.releases_bq["Xe-133"] > 1e9
    [path] = write_series([spec], tmp_path)
    msg = read_file(path)  # strict
    phd = msg.phd
    assert msg.format == "STX1.0" and msg.msg_id == str(spec.index)
    assert path.name == f"AUS02_{spec.index}_PHD_2026_11_02T11_30_00.TXT"
    assert phd.header.srid == "SM02202611021130"
    assert phd.header.measurement_id == "AUS02_001-2026/11/02-11:30"
    truth = json.loads((tmp_path / (path.name[:-4] + ".truth.json")).read_text())
    sim = simulate_sample(spec)
    np.testing.assert_array_equal(phd.g_spectrum.counts, sim.counts)
    assert truth["total_counts"] == int(phd.g_spectrum.counts.sum())
    assert truth["live_time_s"] == phd.acquisition.live_time
    assert truth["real_time_s"] == phd.acquisition.real_time == 900.0
    assert truth["gain_drift"] == spec.gain_drift
    assert truth["releases_bq"] == spec.releases_bq

    # What an analysis does with the PHD alone gives back the truth exactly.
    cal = calibrations_of(phd)
    chamber = FlowThroughChamber.from_stack(phd.stack, 900.0)
    live = phd.acquisition.live_time
    lines = [ln for ln in truth["lines"] if ln["origin"] == "chamber"]
    assert {ln["nuclide"] for ln in lines} >= {"Xe-133", "Xe-135", "Pb-214"}
    for ln in lines:
        nuclide = LIB[ln["nuclide"]]
        eps = cal.efficiency.efficiency(ln["energy_kev"])
        activity = ln["expected_counts"] / (eps * ln["intensity"] * live)
        assert activity == pytest.approx(truth["chamber_activities_bq"][ln["nuclide"]], rel=1e-6)
        if ln["nuclide"] in truth["releases_bq"]:
            release = chamber.chamber_activity_to_release(activity, nuclide.decay_constant)
            assert release == pytest.approx(truth["releases_bq"][ln["nuclide"]], rel=1e-6)
            conc = chamber.release_to_concentration(release)
            assert conc == pytest.approx(
                truth["stack_concentrations_bq_m3"][ln["nuclide"]], rel=1e-6
            )
    # The PHD keeps the nominal energy calibration; the peaks sit where the drift puts them.
    xe = next(ln for ln in lines if ln["nuclide"] == "Xe-133" and ln["energy_kev"] > 80.9)
    nominal = float(cal.energy.channel(xe["energy_kev"]))
    assert xe["channel"] == pytest.approx(nominal * (1 + spec.gain_drift), rel=1e-9)


def test_a_varied_detector_shows_in_the_phd_calibrations(day_specs):
    spec = interval_spec("AUS02", START, seed=3, detector_seed=9)
    sim = simulate_sample(spec)
    cal = calibrations_of(sim.phd)
    e = np.geomspace(30, 2600, 50)
    np.testing.assert_allclose(cal.efficiency.efficiency(e), spec.detector.efficiency(e), rtol=1e-6)
    assert spec.detector != day_specs[0].detector
    assert sim.phd.stack.chamber_volume_m3 == spec.detector.chamber_volume_m3


def test_a_puff_falls_exponentially(day_specs):
    xe = np.array([s.releases_bq["Xe-133"] for s in day_specs])
    k = int(np.argmax(xe))
    assert xe[k] > 1e10
    ratio = xe[k + 1] / xe[k]
    assert math.exp(-1 / 1.0) * 0.5 < ratio < 1.0  # fall time 1-3 intervals, plus processing


def test_stax_simulate_writes_a_day(tmp_path, capsys):
    out = tmp_path / "series"
    code = main(
        ["simulate", "--out", str(out), "--days", "1", "--seed", "5", "--start", "2026-11-01"]
    )
    assert code == 0
    assert len(list(out.glob("AUS02_*_PHD_*.TXT"))) == 96
    assert len(list(out.glob("AUS02_*_PHD_*.truth.json"))) == 96
    [summary] = out.glob("*.csv")
    assert len(summary.read_text().splitlines()) == 97
    assert "wrote 96 spectra" in capsys.readouterr().out
    names = sorted(p.name for p in out.glob("*.TXT"))
    assert names[0].endswith("_PHD_2026_11_01T00_00_00.TXT")
    ids = [int(n.split("_")[1]) for n in names]
    assert ids == list(range(ids[0], ids[0] + 96))


def test_stax_simulate_refuses_a_start_off_the_grid(tmp_path, capsys):
    code = main(["simulate", "--out", str(tmp_path), "--start", "2026-11-01T00:07"])
    assert code == 2
    assert "15-minute grid" in capsys.readouterr().err


def test_replace_keeps_specs_usable(day_specs):
    # a spec is plain data: a test or the edge agent may change one field
    spec = replace(day_specs[0], gain_drift=4e-4)
    assert simulate_sample(spec).expected.gain_drift == 4e-4
