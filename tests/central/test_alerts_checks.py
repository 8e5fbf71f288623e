"""Each central alert check on a real store, with the clock moved: raised once, cleared
once, with a message each time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from central.accounts import User
from central.alerts import (
    StationActivity,
    StationDay,
    alert_episodes,
    gap_checks,
    missing_slots,
    run_checks,
    silent_checks,
)
from central.config import AlertsConfig
from central.store import Store
from shared.crypto import certs
from shared.timeutil import iso_z

ADMIN = User(1, "root", "admin", True, frozenset(), frozenset())
DAY = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
CONFIG = AlertsConfig(silent_intervals=8, quarantine_per_hour=3)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as store:
        store.ensure_facility("USX01", publish_delay="immediately")
        yield store


_ids = iter(range(1, 10**6))


def add_phd(store, station, start, received=None):
    n = next(_ids)
    return store.add_message(
        file_name=f"{station}_{n}_PHD.PHD",
        station=station,
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id=str(n),
        content=f"spectrum {n}".encode(),
        start_time=iso_z(start),
        summary={},
        received_at=iso_z(received or start + STEP),
    ).message_id


def spectra(store, station, start, end, received=None):
    t = start
    while t < end:
        add_phd(store, station, t, received)
        t += STEP


def episodes(store, kind):
    return alert_episodes(store, ADMIN, datetime(2030, 1, 1, tzinfo=UTC), kinds=[kind])


def test_silent_raised_once_stays_while_catching_up_cleared_when_caught_up(store):
    spectra(store, "USX01", DAY, DAY + timedelta(hours=6))
    now = DAY + timedelta(hours=6, minutes=30)
    assert run_checks(store, CONFIG, now) == []
    now += timedelta(hours=2)  # newest data end at 06:00: 2 h 30 min quiet > 8 x 15 min
    (raised,) = run_checks(store, CONFIG, now)
    assert raised["kind"] == "silent" and raised["station"] == "USX01"
    assert "no spectrum for 2 h 30 min" in raised["message"]
    assert run_checks(store, CONFIG, now + timedelta(minutes=10)) == []  # once per episode
    # the station comes back and sends its backlog oldest first: received now, data old
    now = DAY + timedelta(hours=10)
    spectra(store, "USX01", DAY + timedelta(hours=6), DAY + timedelta(hours=7), received=now)
    assert run_checks(store, CONFIG, now) == []
    (still,) = episodes(store, "silent")
    assert still["state"] == "open" and "catching up" not in still["message"]
    spectra(store, "USX01", DAY + timedelta(hours=7), DAY + timedelta(hours=9, minutes=45), now)
    (cleared,) = run_checks(store, CONFIG, now)
    assert cleared["state"] == "cleared" and cleared["id"] == raised["id"]
    assert "spectra again" in cleared["clear_message"]
    assert len(episodes(store, "silent")) == 1


def test_a_station_clock_ahead_does_not_hide_a_silence():
    now = DAY + timedelta(hours=5)
    ahead = StationActivity("USX01", DAY + timedelta(hours=1), DAY + timedelta(hours=1))
    (obs,) = silent_checks([ahead], now, 8)
    assert obs.active  # the data time counted is never later than the arrival
    daily = StationActivity(
        "USX01", DAY + timedelta(hours=1), DAY + timedelta(hours=1), realtime=False
    )
    assert not silent_checks([daily], now, 8)[0].active  # a daily sender has a day more


def test_gap_raised_once_the_day_has_passed_and_cleared_by_the_late_files(store):
    missing = [
        DAY + timedelta(hours=3),
        DAY + timedelta(hours=3, minutes=15),
        DAY + timedelta(hours=20),
    ]
    t = DAY + timedelta(hours=2)  # the station's first spectrum: nothing before is a gap
    while t < DAY + timedelta(days=1, hours=1):
        if t not in missing:
            add_phd(store, "USX01", t)
        t += STEP
    # the day is not over: no gap yet
    assert [
        e for e in run_checks(store, CONFIG, DAY + timedelta(hours=23)) if e["kind"] == "gap"
    ] == []
    now = DAY + timedelta(days=1, hours=1)  # a later day's spectra came: the day has passed
    (raised,) = [e for e in run_checks(store, CONFIG, now) if e["kind"] == "gap"]
    assert raised["key"] == "2026-03-01" and raised["value"] == 3.0
    assert "3 of 96 spectra of 2026-03-01 missing (03:00-03:30, 20:00-20:15)" in raised["message"]
    assert raised["data_until"] == "2026-03-02T00:00:00.000Z"
    assert [e for e in run_checks(store, CONFIG, now) if e["kind"] == "gap"] == []
    for t in missing:  # late files
        add_phd(store, "USX01", t, received=now)
    (cleared,) = [e for e in run_checks(store, CONFIG, now) if e["kind"] == "gap"]
    assert cleared["state"] == "cleared" and "arrived" in cleared["clear_message"]
    assert len(episodes(store, "gap")) == 1


def test_missing_slots_on_the_grid_of_the_day_with_jittered_starts():
    starts = [DAY + i * STEP + timedelta(seconds=7) for i in range(96) if i != 5]
    assert missing_slots(StationDay("X", DAY.date(), starts)) == [DAY + 5 * STEP]
    (obs,) = gap_checks([StationDay("X", DAY.date(), starts)], min_missing=2)
    assert not obs.active  # one missing, fewer than the gap size


def _comparison(store, station, start, nuclide, flagged, z):
    phd = add_phd(store, station, start)
    ats = store.add_message(
        file_name=f"{station}_{phd}_ATS.json", station=station, data_type="ATS", product="ATS",
        msg_id=f"ats{phd}", content=f"ats {phd}".encode(), start_time=iso_z(start), summary={},
    ).message_id  # fmt: skip
    store.add_analysis(phd, "central", result={})
    with store.conn:
        sr = store.conn.execute(
            "insert into station_results (ats_message_id, station, file_name, result, created_at) "
            "values (?, ?, ?, '{}', ?)",
            [ats, station, store.message(phd)["file_name"], iso_z(start)],
        ).lastrowid
    analysis = store.analysis(phd, "central")["id"]
    row = dict(
        nuclide=nuclide, quantity="release", station_value=1e9, central_value=2e9, z=z,
        flagged=int(flagged), reason="both detect" if flagged else "neither detects",
    )  # fmt: skip
    store.add_comparison(phd, station_result_id=sr, central_analysis_id=analysis, rows=[row])


def test_disagreement_raised_by_a_flagged_spectrum_cleared_by_a_later_agreeing_one(store):
    now = DAY + timedelta(hours=1)
    _comparison(store, "USX01", DAY, "XE-133", True, 4.5)
    _comparison(store, "USX01", DAY + STEP, "XE-133", True, 5.0)
    changed = [e for e in run_checks(store, CONFIG, now) if e["kind"] == "disagreement"]
    assert [(e["key"], e["state"]) for e in changed] == [("XE-133", "open")]
    assert "disagree (both detect; z 4.5" in changed[0]["message"]
    (episode,) = episodes(store, "disagreement")
    assert episode["value"] == 5.0  # the second flagged spectrum updates it, not re-raises
    assert run_checks(store, CONFIG, now) == []  # the cursor: each comparison seen once
    _comparison(store, "USX01", DAY - STEP, "XE-133", False, None)  # an older late file
    assert [e for e in run_checks(store, CONFIG, now) if e["kind"] == "disagreement"] == []
    _comparison(store, "USX01", DAY + 2 * STEP, "XE-133", False, None)
    (cleared,) = [e for e in run_checks(store, CONFIG, now) if e["kind"] == "disagreement"]
    assert cleared["state"] == "cleared" and "agree again" in cleared["clear_message"]


def _pki(tmp_path, now, cert_days, crl_days):
    key = certs.new_rsa_key()
    ca = certs.ca_certificate(key, "TEST", now - timedelta(days=300), 300 + cert_days, 1)
    issuer = certs.Issuer(ca, key)
    crl = certs.revocation_list(issuer, [], now - timedelta(days=1), 1 + crl_days, 1)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(Encoding.PEM))
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
    return SimpleNamespace(
        server_cert=tmp_path / "ca.pem", ca_cert=tmp_path / "ca.pem", crl=tmp_path / "crl.pem"
    )


def test_certificate_and_crl_near_expiry_raised_and_cleared_by_renewal(store, tmp_path):
    now = datetime(2026, 3, 1, tzinfo=UTC)
    intake = _pki(tmp_path, now, cert_days=10, crl_days=3)
    raised = run_checks(store, CONFIG, now, intake)
    assert sorted((e["kind"], e["key"]) for e in raised) == [
        ("certificate", "CA certificate"), ("certificate", "server certificate"), ("crl", "CRL"),
    ]  # fmt: skip
    crl = next(e for e in raised if e["kind"] == "crl")
    assert "runs out at 2026-03-04" in crl["message"] and "503" in crl["message"]
    assert all(e["station"] == "" for e in raised)  # central-wide: administrators only
    assert run_checks(store, CONFIG, now + timedelta(days=1), intake) == []
    later = now + timedelta(days=5)  # the CRL ran out meanwhile: still the same episode
    assert run_checks(store, CONFIG, later, intake) == []
    renewed = _pki(tmp_path, later, cert_days=400, crl_days=30)
    cleared = run_checks(store, CONFIG, later, renewed)
    assert sorted(e["kind"] for e in cleared) == ["certificate", "certificate", "crl"]
    assert all(e["state"] == "cleared" and "renewed" in e["clear_message"] for e in cleared)


def test_an_unreadable_crl_is_an_alert(store, tmp_path):
    intake = _pki(tmp_path, DAY, 400, 30)
    (tmp_path / "crl.pem").write_text("not a CRL")
    (raised,) = run_checks(store, CONFIG, DAY, intake)
    assert raised["kind"] == "crl" and "cannot be read" in raised["message"]


def test_quarantine_growth_raised_and_cleared_as_the_hour_moves_on(store):
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for _ in range(4):
        store.quarantine(body=b"junk", reason="unreadable", status=400)
    with store.conn:
        store.conn.execute(
            "update quarantine set received_at = ?", [iso_z(now - timedelta(minutes=5))]
        )
    (raised,) = run_checks(store, CONFIG, now)
    assert raised["kind"] == "quarantine" and raised["value"] == 4.0
    assert "4 messages quarantined in the hour" in raised["message"]
    assert run_checks(store, CONFIG, now + timedelta(minutes=30)) == []
    (cleared,) = run_checks(store, CONFIG, now + timedelta(hours=1))
    assert cleared["state"] == "cleared" and "back to 0" in cleared["clear_message"]
