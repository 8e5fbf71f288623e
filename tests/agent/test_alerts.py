"""Alerts as messages: once per episode with the value, a message when it ends, durable
across restarts; limits, MCA faults, missing spectra, the outbox, certificate and CRL."""

from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.alerts import (
    AlertQueue,
    alert_kind,
    check_station,
    crl_warning,
    limit_breach,
)
from edge_agent.clock import SteppingClock
from edge_agent.config import AlertsConfig, LimitConfig, load_agent_config
from edge_agent.outbox import Outbox
from shared.crypto.pki import NetworkCA
from shared.formats import read_message

from .conftest import T0, write_agent_config
from .test_engine import Station, seal
from .test_soh import FakeSensor

FLOW = {"sample_flow_slpm": LimitConfig(min=40.0, max=70.0, hysteresis=2.0)}


def alert_files(box: Outbox):
    files = sorted(box.list(), key=lambda f: f.id)
    return [box.get(f.id) for f in files if f.data_type.startswith("ALERT_")]


def texts(box: Outbox):
    return [
        (f.data_type, read_message(f.content, source=f.file_name).alert.text)
        for f in alert_files(box)
    ]


def queue_for(tmp_path, station, clock=None):
    box = Outbox(tmp_path / "outbox.sqlite")
    alerts = AlertQueue(station=station, outbox=box, clock=clock or SteppingClock(T0), seal=seal)
    return box, alerts


def test_kinds_and_limits():
    assert alert_kind("sample_flow_slpm", LimitConfig(min=1)) == "ALERT_FLOW"
    assert alert_kind("cold_tip_temperature_k", LimitConfig(max=1)) == "ALERT_TEMP"
    assert alert_kind("ups_on_battery", LimitConfig(max=0.5)) == "ALERT_UPS"
    assert alert_kind("hv_volts", LimitConfig(min=1)) == "ALERT_SYSTEM"
    assert alert_kind("hv_volts", LimitConfig(min=1, kind="ALERT_TEMP")) == "ALERT_TEMP"
    limit = FLOW["sample_flow_slpm"]
    assert limit_breach("f", 39.0, limit, is_open=False) == "f = 39, below its limit 40"
    assert limit_breach("f", 41.0, limit, is_open=False) is None
    assert limit_breach("f", 41.0, limit, is_open=True) is not None  # within the hysteresis
    assert limit_breach("f", 42.5, limit, is_open=True) is None


def test_a_limit_episode_is_one_message_then_one_when_it_ends(tmp_path, source, station):
    flow = FakeSensor("Alicat flow meter", {"sample_flow_slpm": 55.0})
    s = Station(
        tmp_path, source, station, sensors=[flow], alert_limits=AlertsConfig(limits=FLOW),
        identity_cert=None,
    )  # fmt: skip
    s.engine.alerts = AlertQueue(station=station, outbox=s.outbox, clock=s.clock, seal=seal)
    s.boundaries(2)
    assert alert_files(s.outbox) == []
    flow.values = {"sample_flow_slpm": 31.5}
    s.boundaries(3)  # low for three samples: one alert
    flow.values = {"sample_flow_slpm": 41.0}  # back above 40 but within the hysteresis
    s.boundaries(1)
    flow.values = {"sample_flow_slpm": 52.0}
    s.boundaries(1)
    assert texts(s.outbox) == [
        ("ALERT_FLOW", "sample_flow_slpm = 31.5, below its limit 40 (40 to 70)"),
        ("ALERT_FLOW", "sample_flow_slpm = 52, back within its limits (40 to 70)"),
    ]
    first = alert_files(s.outbox)[0]
    assert first.file_name == f"AUS02_{first.msg_id}_ALERT_2023_11_20T00_30_00.TXT"
    assert first.payload == b"SEALED:" + first.content
    alert = read_message(first.content).alert
    assert (alert.station, alert.detector, alert.alert_type) == ("AUS02", "AUS02_001", "ALERT_FLOW")


def test_an_open_episode_survives_a_restart_and_is_closed_once(tmp_path, station):
    box, alerts = queue_for(tmp_path, station)
    assert alerts.raise_("limit:x", "ALERT_TEMP", "x = 120, above its limit 110")
    assert not alerts.raise_("limit:x", "ALERT_TEMP", "x = 121, above its limit 110")
    box.close()
    box, again = queue_for(tmp_path, station)  # a restart
    assert again.is_open("limit:x")
    assert not again.raise_("limit:x", "ALERT_TEMP", "x = 122, above its limit 110")
    assert again.clear("limit:x", "x = 90, back within its limits")
    assert not again.clear("limit:x", "x = 90, back within its limits")
    assert [k for k, _ in texts(box)] == ["ALERT_TEMP", "ALERT_TEMP"]
    assert box.open_episodes("AUS02") == {}


def test_mca_not_answering_and_missing_spectra_are_messages(tmp_path, source, station):
    s = Station(tmp_path, source, station)
    s.engine.alerts = AlertQueue(station=station, outbox=s.outbox, clock=s.clock, seal=seal)
    s.boundaries(2)
    s.mca.fault = "no_answer"
    s.boundaries(3)
    s.mca.fault = None
    s.boundaries(2)
    got = texts(s.outbox)
    assert [k for k, _ in got] == ["ALERT_SYSTEM"] * 4
    assert got[0][1].startswith("MCA not answering (end of interval: simulated MCA")
    assert got[1][1].startswith("Spectra input data missing from 2023-11-20 00:15:00")
    assert got[2][1].startswith("MCA answers again: simulated MCA")
    assert got[3][1].startswith("Spectra input data again from 2023-11-20 01:15:00")


def test_outbox_growing_is_raised_and_cleared(tmp_path, station, pki):
    box, alerts = queue_for(tmp_path, station)
    config = AlertsConfig(outbox_max_ready=4)
    now = datetime.now(UTC)
    check_station(alerts, config, now=now, ready=5, cert=pki.station_cert)
    check_station(alerts, config, now=now, ready=9, cert=pki.station_cert)
    check_station(alerts, config, now=now, ready=3, cert=pki.station_cert)  # above half
    check_station(alerts, config, now=now, ready=2, cert=pki.station_cert)
    assert texts(box) == [
        (
            "ALERT_SYSTEM",
            "Outbox growing: 5 files wait to be sent (limit 4); is the central reachable?",
        ),
        ("ALERT_SYSTEM", "Outbox back to normal: 2 files wait to be sent"),
    ]


def test_certificate_and_crl_near_expiry(tmp_path, station):
    now = datetime.now(UTC)
    # a station certificate of 365 days issued 360 days ago; a CRL due in 2 days
    ca = NetworkCA.create(tmp_path / "net", now=now - timedelta(days=360), ca_key_bits=2048)
    record = ca.issue_station("AUS02", now=now - timedelta(days=360), facility="ANSTO", days=365)
    ca.write_crl(now=now - timedelta(days=5), days=7)
    box, alerts = queue_for(tmp_path, station)
    config = AlertsConfig(cert_warning_days=30, crl=ca.crl_path, crl_warning_days=3)
    check_station(alerts, config, now=now, ready=0, cert=ca.station_cert_path("AUS02"))
    check_station(alerts, config, now=now, ready=0, cert=ca.station_cert_path("AUS02"))
    got = texts(box)
    assert len(got) == 2, got
    assert "station certificate" in got[0][1] and "in 5.0 days" in got[0][1]
    assert "renew it" in got[0][1]
    assert got[1][1].startswith(f"CRL {ca.crl_path} runs out on") and "in 2.0 days" in got[1][1]
    # renewed: both episodes end
    ca.renew("AUS02", now=now, days=365)
    ca.write_crl(now=now, days=30)
    check_station(alerts, config, now=now, ready=0, cert=ca.station_cert_path("AUS02"))
    assert [t for _, t in texts(box)[2:]] == ["Station certificate valid again", "CRL valid again"]
    assert record is not None


def test_an_unreadable_crl_is_an_alert_not_a_crash(tmp_path):
    bad = tmp_path / "crl.pem"
    bad.write_text("not a CRL")
    assert "cannot be read" in crl_warning(bad, datetime.now(UTC), 3)


def test_limits_in_the_configuration(tmp_path, pki):
    path = write_agent_config(
        tmp_path,
        pki,
        "https://127.0.0.1:1",
        "[alerts]\noutbox_max_ready = 8\n"
        "[alerts.limits.sample_flow_slpm]\nmin = 40\nmax = 70\n"
        '[alerts.limits.hv_volts]\nmin = 4000\nkind = "ALERT_SYSTEM"\n',
    )
    config = load_agent_config(path).alerts
    assert config.outbox_max_ready == 8
    assert set(config.limits) == {"sample_flow_slpm", "hv_volts"}  # replaces the defaults
    bad = write_agent_config(
        tmp_path / "bad", pki, "https://127.0.0.1:1", "[alerts.limits.x_w]\nmin = 5\nmax = 1\n"
    )
    with pytest.raises(Exception, match=r"min \(5.0\) must be below max \(1.0\)"):
        load_agent_config(bad)


def test_alert_text_from_a_device_is_one_clean_line(tmp_path, station):
    box, alerts = queue_for(tmp_path, station)
    alerts.raise_("mca", "ALERT_SYSTEM", "MCA not answering (reply b'\x8f\xff'\nSTOP\r\n  é)")
    ((_, text),) = texts(box)
    assert text == "MCA not answering (reply b' ' STOP )"
