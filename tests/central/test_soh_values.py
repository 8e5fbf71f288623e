"""central/soh.py: SOH readings as values (filled with the message, backfilled), the access
rule on them, limits from the configuration and a station's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import User
from central.config import SohLimit, default_soh_limits, load_central_config
from central.soh import (
    apply_default_limits,
    backfill,
    latest_soh,
    limits_for,
    outside_limits,
    set_limit,
    soh_quantities,
    soh_series,
)
from central.store import Store
from shared.config import ConfigError
from shared.timeutil import iso_z

START = datetime(2023, 4, 22, 20, tzinfo=UTC)


def soh_text(station: str, msg_id: int, start: datetime, crystal: list[float]) -> str:
    """A STAXSOH of two hours (as seed 001 shows one), one row per 15 minutes; the
    crystal temperature of each interval given, the rest as in the seed."""
    fmt = "%Y/%m/%d %H:%M:%S"
    end = start + timedelta(hours=2)
    lines = [
        "BEGIN STX1.0",
        "MSG_TYPE DATA",
        f"MSG_ID {msg_id:06d} {station}",
        "DATA_TYPE STAXSOH",
        "#Header 3",
        f"{station} NA {start:{fmt}} {end:{fmt}} {end + timedelta(minutes=30):{fmt}}",
        "#AirSamplerFlow",
    ]
    times = [start + timedelta(minutes=15 * i) for i in range(len(crystal))]
    lines += [f"3.4000 -9999.999 {t:{fmt}} 900" for t in times]
    lines.append("#DetEnv")
    lines += [
        f"21.5 CLOSED 40 4187 {c} ON -9.9 -99.99 {t:{fmt}} 900"
        for c, t in zip(crystal, times, strict=True)
    ]
    lines += ["#PowerSupply", f"MAIN ON AUX OFF UPS OFF {start:{fmt}} 900"]
    lines += ["#ProcessSensors"]
    lines += [f"CoolerPower CP5Power {103 + i / 10:.2f} {t:{fmt}} 900" for i, t in enumerate(times)]
    lines.append("STOP")
    return "\n".join(lines) + "\n"


def add_soh(store: Store, station: str, msg_id: int, start: datetime, crystal: list[float]) -> int:
    end = start + timedelta(hours=2)
    result = store.add_message(
        file_name=f"{station}_{msg_id}_SOH_{start:%Y_%m_%dT%H_%M_%S}.TXT",
        station=station,
        data_type="STAXSOH",
        product="SOH",
        msg_id=str(msg_id),
        content=soh_text(station, msg_id, start, crystal).encode(),
        start_time=iso_z(start),
        summary={"station": station, "period_end": iso_z(end)},
        received_at=iso_z(end + timedelta(minutes=31)),
    )
    assert result.outcome == "created"
    return int(result.message_id)


def user(role: str = "user", assigned=(), owned=()) -> User:
    return User(1, "u", role, True, frozenset(assigned), frozenset(owned))


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility("STAXX", publish_delay="1d")
        s.ensure_facility("AUS02")
        yield s


def test_an_soh_message_is_stored_with_its_readings(store):
    message_id = add_soh(store, "STAXX", 53789, START, [-185.0, -184.5, -160.0, -185.2])
    rows = list(store.db.query("select * from soh_values where quantity = 'crystal_temperature'"))
    assert [r["value"] for r in rows] == [-185.0, -184.5, -160.0, -185.2]
    assert [r["time"] for r in rows][:2] == ["2023-04-22T20:00:00.000Z", "2023-04-22T20:15:00.000Z"]
    message = store.message(message_id)
    assert {r["data_until"] for r in rows} == {message["data_until"]}
    assert {(r["block"], r["unit"]) for r in rows} == {("DetEnv", "C")}
    by = {
        r["quantity"]: r
        for r in store.db.query("select * from soh_values where time = ?", [iso_z(START)])
    }
    assert by["sample_flow"]["value"] == 3.4 and by["sample_flow"]["unit"] == "m3/h"
    assert by["sample_flow_sd"]["value"] is None  # -9999.999: not measured, kept as NULL
    assert by["shield"]["state"] == "CLOSED" and by["shield"]["value"] is None
    assert by["power_ups"]["state"] == "OFF"
    assert by["CoolerPower.CP5Power"]["value"] == 103.0
    assert store.db["soh_messages"].get(message_id)["readings"] == store.db[
        "soh_values"
    ].count_where("message_id = ?", [message_id])


def test_an_unreadable_soh_is_stored_and_the_reason_noted(store):
    result = store.add_message(
        file_name="STAXX_1_SOH.TXT",
        station="STAXX",
        data_type="STAXSOH",
        product="SOH",
        msg_id="1",
        content=b"BEGIN IMS2.0\nnot a report\nSTOP\n",
        start_time=iso_z(START),
        summary={},
    )
    assert result.outcome == "created"
    noted = store.db["soh_messages"].get(result.message_id)
    assert noted["readings"] == 0 and noted["error"]
    assert store.db["soh_values"].count == 0


def test_backfill_reads_each_soh_stored_before_the_table_once(tmp_path):
    path = tmp_path / "central.sqlite"
    with Store(path) as store:
        ids = [add_soh(store, "STAXX", 10 + i, START + timedelta(hours=2 * i), [-185.0]) for i in range(3)]  # fmt: skip
        before = store.db["soh_values"].count
        # a database made before the tables
        for table in ("soh_values", "soh_messages", "soh_limits"):
            store.db[table].drop()
    with Store(path) as store:  # opening it makes the tables and reads the three
        assert store.db["soh_values"].count == before
        assert {r["message_id"] for r in store.db.query("select message_id from soh_messages")} == set(ids)  # fmt: skip
        assert backfill(store) == 0  # nothing twice
        assert limits_for(store, "STAXX")["crystal_temperature"] == (None, -163.15)


def test_series_follow_the_access_rule(store):
    old = add_soh(store, "STAXX", 1, START, [-185.0, -184.0])
    add_soh(store, "STAXX", 2, START + timedelta(hours=2), [-183.0, -182.0])
    add_soh(store, "AUS02", 3, START, [-190.0])
    # a day after the first report's end, before the second's: only the first is published
    now = START + timedelta(hours=2, days=1, minutes=30)
    q = ["crystal_temperature"]

    def crystal(u):
        return [r["value"] for r in soh_series(store, u, now, "STAXX", q)]

    assert crystal(user(assigned=["STAXX"])) == [-185.0, -184.0]
    assert crystal(user("owner", owned=["STAXX"])) == [-185.0, -184.0, -183.0, -182.0]
    assert crystal(user("admin")) == [-185.0, -184.0, -183.0, -182.0]
    assert crystal(user(assigned=["AUS02"])) == []  # another facility's station
    rows = soh_series(store, user("admin"), now, "STAXX", q, start=START + timedelta(minutes=15), end=START + timedelta(hours=2, minutes=15))  # fmt: skip
    assert [r["value"] for r in rows] == [-184.0, -183.0]
    assert {r["message_id"] for r in rows} >= {old}
    assert soh_series(store, user("admin"), now, "STAXX", []) == []
    everything = soh_series(store, user("admin"), now, "STAXX")
    assert {r["quantity"] for r in everything} >= {"sample_flow", "CoolerPower.CP5Power"}
    assert "shield" not in soh_quantities(store, user("admin"), now, "STAXX")  # a state
    assert soh_quantities(store, user(assigned=["AUS02"]), now, "STAXX") == []


def test_latest_soh_is_the_last_report_with_its_last_values(store):
    assert latest_soh(store, "STAXX") is None
    add_soh(store, "STAXX", 1, START, [-185.0])
    last = add_soh(store, "STAXX", 2, START + timedelta(hours=2), [-183.0, -150.0])
    latest = latest_soh(store, "STAXX")
    assert latest["message_id"] == last
    assert latest["data_until"] == store.message(last)["data_until"]
    assert latest["values"]["crystal_temperature"] == -150.0
    assert latest["time"] == iso_z(START + timedelta(hours=2, minutes=15))
    assert latest["states"]["cooler"] == "ON" and latest["units"]["humidity"] == "%"
    found = outside_limits(latest["values"], limits_for(store, "STAXX"))
    assert found == [("crystal_temperature", -150.0, None, -163.15)]


def test_limits_defaults_station_overrides_and_the_configuration(store):
    assert limits_for(store, "STAXX") == {
        q: (lim.low, lim.high) for q, lim in default_soh_limits().items()
    }
    set_limit(store, "STAXX", "high_voltage", 4000.0, 4400.0, "V")
    set_limit(store, "STAXX", "crystal_temperature", None, -170.0, "C")
    own = limits_for(store, "STAXX")
    assert own["high_voltage"] == (4000.0, 4400.0) and own["crystal_temperature"] == (None, -170.0)
    assert "high_voltage" not in limits_for(store, "AUS02")
    apply_default_limits(store, {"sample_flow": SohLimit(low=2.0, unit="m3/h")})
    assert limits_for(store, "AUS02") == {"sample_flow": (2.0, None)}
    assert limits_for(store, "STAXX")["high_voltage"] == (4000.0, 4400.0)  # kept
    set_limit(store, "STAXX", "high_voltage", None, None)  # back to the default (none)
    assert "high_voltage" not in limits_for(store, "STAXX")
    with pytest.raises(ValueError, match="below"):
        set_limit(store, "STAXX", "humidity", 80.0, 10.0)


def test_outside_limits_is_strict_and_skips_what_was_not_measured():
    limits = {"a": (1.0, 2.0), "b": (None, 5.0), "c": (0.0, None)}
    values = {"a": 2.0, "b": 5.1, "c": -0.1, "d": 99.0, "e": None}
    assert outside_limits(values, limits) == [("b", 5.1, None, 5.0), ("c", -0.1, 0.0, None)]
    assert outside_limits({"a": None}, limits) == []


def test_the_configuration_gives_the_default_limits(tmp_path):
    base = '[intake]\nserver_cert = "s.pem"\nserver_key = "s.key"\nca_cert = "ca.pem"\n'
    path = tmp_path / "central.toml"
    path.write_text(base + "[soh.limits.high_voltage]\nlow = 3500\nhigh = 4500\nunit = 'V'\n")
    config = load_central_config(path)
    assert config.soh.limits == {"high_voltage": SohLimit(3500.0, 4500.0, "V")}
    path.write_text(base)
    assert load_central_config(path).soh.limits == default_soh_limits()
    path.write_text(base + "[soh.limits.humidity]\nlow = 90\nhigh = 10\n")
    with pytest.raises(ConfigError, match="below"):
        load_central_config(path)
