"""C(s, e) = sum_k Q(e, k) TC(e, s, k) exp(-lambda tau_k), checked against sums done by hand."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from shared.atm.impact import (
    Emitter,
    Releases,
    impact_series,
    releases_from_emission_rows,
    releases_per_step,
    sample_impact,
    total_impact,
)
from shared.atm.srs import read_srs
from shared.formats import EmissionRow, NuclideValue

from .synthetic import STOP, srs_text

M = 1e15
DT = 3 * 3600.0
XE133_LAMBDA = math.log(2) / (5.2474 * 86400)  # DDEP half-life, shared/nuclear/library.json
HERE = Emitter("E1", 10.0, 20.0)


def rel(a, b):
    return abs(a - b) / abs(b)


def constant_over(srs, q):
    start, end = srs.step_windows()
    return Releases.constant(q, start.min(), end.max())


@pytest.mark.parametrize("decay", [True, False])
def test_one_cell_one_step(decay):
    # step 6 of 8: released 6-7 steps (18-21 h) before the stop of a 24 h sample
    srs = read_srs(srs_text(["10.00 20.00 6 5.0E+00"], steps=8), "one.txt")
    q = 2.0e7  # Bq/s
    got = sample_impact(srs, HERE, constant_over(srs, q), "XE-133", decay=decay)
    tau = 6.5 * DT - 12 * 3600.0  # mid-step to mid-sample: 7.5 h
    expected = q * DT * (5.0 / M) * (math.exp(-XE133_LAMBDA * tau) if decay else 1.0)
    assert rel(got.concentration_bq_m3, expected) < 1e-9
    assert got.decay is decay
    assert rel(got.dilution_s_m3, DT * 5.0 / M) < 1e-9
    assert got.gap_s == 0 and got.window_s == 8 * DT


def test_a_step_inside_the_sample_has_no_transport_time():
    # step 1 ends 3 h before the stop: its middle is after the sample's middle, tau = 0
    srs = read_srs(srs_text(["10.00 20.00 1 5.0E+00"], steps=8), "in.txt")
    got = sample_impact(srs, HERE, constant_over(srs, 1.0), "XE-135")
    assert rel(got.concentration_bq_m3, DT * 5.0 / M) < 1e-9


def test_an_emitter_between_four_nodes():
    a, b, c, d = 4.0, 8.0, 2.0, 1.0
    srs = read_srs(
        srs_text(
            [
                f"10.00 20.00 2 {a}",
                f"11.00 20.00 2 {b}",
                f"10.00 21.00 2 {c}",
                f"11.00 21.00 2 {d}",
                "10.00 20.00 3 7.0",  # another step, same node
            ]
        ),
        "four.txt",
    )
    e = Emitter("E2", 10.25, 20.6)
    tc2 = (0.75 * 0.4 * a + 0.25 * 0.4 * b + 0.75 * 0.6 * c + 0.25 * 0.6 * d) / M
    tc3 = 0.75 * 0.4 * 7.0 / M
    q = 1.0e6
    got = sample_impact(srs, e, constant_over(srs, q), None)
    assert rel(got.concentration_bq_m3, q * DT * (tc2 + tc3)) < 1e-9
    assert rel(srs.sensitivity(10.25, 20.6)[2], tc2) < 1e-12


def test_longitudes_written_0_to_360_meet_an_emitter_written_minus_180_to_180():
    lines = ["10.00 359.00 0 3.0", "10.00 0.00 0 5.0"]
    head = srs_text(lines).replace("10.00 20.00 2024", "10.00 -0.50 2024")
    srs = read_srs(head, "wrap.txt")
    # halfway between 359 (= -1) and 0
    assert rel(srs.sensitivity(10.0, -0.5)[0], 4.0 / M) < 1e-12


def test_releases_are_prorated_into_steps_and_gaps_reported():
    srs = read_srs(srs_text(["10.00 20.00 0 6.0", "10.00 20.00 1 9.0"]), "gap.txt")
    boundary = (STOP - timedelta(hours=3)).timestamp()  # between step 1 and step 0
    releases = Releases.from_intervals(
        [
            (boundary - 600, boundary + 300, 1500.0, None),  # 10 min in step 1, 5 in step 0
            (boundary + 300, boundary + 1200, None, 900.0),  # below detection, MDR 900
        ]
    )
    got = sample_impact(srs, HERE, releases, None)
    assert rel(got.concentration_bq_m3, (500.0 * 6.0 + 1000.0 * 9.0) / M) < 1e-9
    assert rel(got.upper_bq_m3, (500.0 * 6.0 + 900.0 * 6.0 + 1000.0 * 9.0) / M) < 1e-9
    assert got.gap_s == 4 * DT - 1800
    assert got.below_detection_s == 900
    assert rel(got.gap_fraction, (4 * DT - 1800) / (4 * DT)) < 1e-12
    # the sensitivity sits in steps 0 and 1; of each, all but 20 resp. 10 minutes is gap
    share = (6.0 * (DT - 1200) / DT + 9.0 * (DT - 600) / DT) / 15.0
    assert rel(got.sensitivity_in_gaps, share) < 1e-9


def test_no_release_data_is_all_gap_not_zero_without_saying_so():
    srs = read_srs(srs_text(["10.00 20.00 0 6.0"]), "none.txt")
    got = sample_impact(srs, HERE, Releases.from_intervals([]), "XE-133")
    assert got.concentration_bq_m3 == 0 and got.gap_fraction == 1.0
    assert got.sensitivity_in_gaps == 1.0


def test_overlapping_release_intervals_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        Releases.from_intervals([(0, 900, 1.0, None), (600, 1500, 1.0, None)])


def test_releases_from_emission_rows_take_the_unit_and_leave_unreported_times_as_gaps():
    t0 = STOP - timedelta(hours=1)
    rows = [
        EmissionRow("FAC01", t0, {"XE-133": NuclideValue(val=2.0, unc=0.1)}, "kBq/900s"),
        EmissionRow(
            "FAC01", t0 + timedelta(minutes=15), {"XE-133": NuclideValue(mdr=0.5)}, "kBq/900s"
        ),
        EmissionRow(
            "FAC01", t0 + timedelta(minutes=30), {"XE-135": NuclideValue(val=1.0)}, "MBq/h"
        ),
    ]
    r = releases_from_emission_rows(rows, "XE-133")
    assert r.bq[0] == 2000.0 and math.isnan(r.bq[1]) and r.mdr_bq[1] == 500.0
    q = releases_per_step(r, [t0.timestamp()], [STOP.timestamp()])
    assert q.bq[0] == 2000.0 and q.upper_bq[0] == 2500.0 and q.covered_s[0] == 1800
    assert releases_from_emission_rows(rows, "XE-135").bq[0] == 1e6


def test_series_and_total_sum_the_emitters_per_nuclide():
    srs = read_srs(srs_text(["10.00 20.00 0 6.0", "10.00 21.00 0 2.0"]), "sum.txt")
    e1, e2 = HERE, Emitter("E2", 10.0, 21.0)
    start, end = srs.step_windows()
    releases = {
        ("E1", "XE-133"): Releases.constant(1.0, start.min(), end.max()),
        ("E2", "XE-133"): Releases.constant(3.0, start.min(), end.max()),
    }
    series = impact_series([srs], [e1, e2], releases, ["XE-133", "XE-135"])
    assert [(i.emitter, i.nuclide) for i in series] == [
        ("E1", "XE-133"),
        ("E1", "XE-135"),
        ("E2", "XE-133"),
        ("E2", "XE-135"),
    ]
    totals = {t.nuclide: t for t in total_impact(series)}
    assert rel(totals["XE-133"].concentration_bq_m3, DT * (1.0 * 6.0 + 3.0 * 2.0) / M) < 1e-9
    assert totals["XE-135"].concentration_bq_m3 == 0 and totals["XE-135"].worst_gap_fraction == 1


def _forward_run(conc: float, hours_out: tuple[int, int]):
    from datetime import timedelta

    import numpy as np

    from shared.atm.hysplit import Cdump, Period, StartLocation, read_cdump, write_cdump
    from shared.atm.impact import ForwardRun

    t0 = STOP - timedelta(hours=30)
    g = np.zeros((2, 2))
    g[0, 0] = conc
    period = Period(
        t0 + timedelta(hours=hours_out[0]), t0 + timedelta(hours=hours_out[1]), {("XE33", 0): g}
    )
    c = Cdump(
        "run",
        "GFSQ",
        t0,
        0,
        [StartLocation(t0, 10.0, 20.0, 50.0)],
        2,
        2,
        1.0,
        1.0,
        10.0,
        20.0,
        [0],
        ["XE33"],
        True,
        [period],
    )
    c = read_cdump(write_cdump(c), "run.bin")
    return ForwardRun(c, HERE, t0.timestamp(), 2.0, 1e10, decayed=False), t0


def test_forward_at_ims_sampling_by_hand():
    from shared.atm.impact import forward_raw_values, forward_sample_impact

    # a 2 h release of 1e10 Bq/h gives 4e-6 Bq/m3 at the station for 12 h that cover
    # half of the 24 h sample
    run, t0 = _forward_run(4e-6, (12, 24))
    tc_period = 4e-6 / (1e10 * 2)
    q = 5.0e5  # Bq/s during the release window
    releases = Releases.constant(q, run.release_start, run.release_end)
    got = forward_sample_impact(
        [run], "TSX01", 10.0, 20.0, STOP - timedelta(hours=24), STOP, releases, "XE-133"
    )
    tau = (18 - 1) * 3600.0  # period middle (18 h) to release middle (1 h)
    expected = q * 7200 * tc_period * math.exp(-XE133_LAMBDA * tau) * 12 / 24
    assert rel(got.concentration_bq_m3, expected) < 1e-6  # float32 in the file
    assert got.gap_s == 0
    (raw,) = forward_raw_values([run], 10.0, 20.0, releases, None, decay=False)
    assert raw[0] == t0 + timedelta(hours=12) and rel(raw[2], q * 7200 * tc_period) < 1e-6
