"""State of health: samples every interval, a STAXSOH every 2 hours in the blocks of the
seed, -9999.999 for what was not measured, and a failing sensor never stops the agent."""

from datetime import timedelta

import pytest

from edge_agent.config import ConfigError, SohConfig, load_agent_config
from edge_agent.drivers.base import DeviceTimeout, Sensor
from edge_agent.soh import MISSING, SohSample, convert, field_value, make_soh, period_start
from shared.formats import read_message, readings

from .conftest import T0, write_agent_config
from .test_engine import Station


class FakeSensor(Sensor):
    """A sensor whose next readings the test sets; `fail` makes it time out."""

    def __init__(self, name: str, values: dict[str, float]):
        self.name = name
        self.values = values
        self.fail = False
        self.reads = 0

    def read(self) -> dict[str, float]:
        self.reads += 1
        if self.fail:
            raise DeviceTimeout(f"{self.name}: no answer within 1.0 s (is it powered?)")
        return dict(self.values)


def test_units_follow_the_quantity_names():
    assert convert("sample_flow_slpm", 56.6667, "m3/h") == pytest.approx(3.4, abs=1e-4)
    assert convert("stack_flow_m3_s", 1.0, "m3/h") == 3600.0
    assert convert("detector_temperature_k", 88.15, "C") == pytest.approx(-185.0)
    assert convert("hv_volts", 4187, "V") == 4187
    with pytest.raises(ValueError, match="convertible to C"):
        convert("cooler_power_w", 100, "C")
    assert field_value("cooler", "cooler_power_w", {"cooler_power_w": 103.5}) == "ON"
    assert field_value("shield", "shield_closed", {"shield_closed": 0}) == "OPEN"
    # the first quantity present is used
    fields = ["detector_temperature_c", "detector_temperature_k"]
    assert field_value("crystal_temperature", fields, {"detector_temperature_k": 88.15}) == "-185"
    assert field_value("humidity", "room_humidity_pct", {}) == MISSING


def test_a_field_fed_by_a_quantity_of_the_wrong_unit_is_a_config_error(tmp_path, pki):
    path = write_agent_config(
        tmp_path, pki, "https://127.0.0.1:1", '[soh]\ncrystal_temperature = "cooler_power_w"\n'
    )
    with pytest.raises(ConfigError, match=r"\[soh\].*crystal_temperature.*cooler_power_w"):
        load_agent_config(path)


def test_the_report_has_the_seed_blocks_and_reads_back():
    samples = [
        SohSample(
            T0 + timedelta(minutes=15 * i),
            900,
            {"sample_flow_slpm": 56.6667, "hv_volts": 4187, "cooler_power_w": 103.53},
            f"SM0220231120{i:04d}",
        )
        for i in (0, 1, 3)  # no sample for 00:30: the agent was not running
    ]
    soh = make_soh(
        station="AUS02",
        detector="AUS02_001",
        start=T0,
        end=T0 + timedelta(hours=1),
        samples=samples,
        config=SohConfig(),
        transmit_time=T0 + timedelta(hours=1, minutes=1),
        cycle=timedelta(minutes=15),
    )
    from shared.formats import Message, write_message

    text = write_message(Message(sections=[soh], msg_id="7", msg_source="AUS02"))
    assert "#AirSamplerFlow\n3.4 -9999.999 2023/11/20 00:00:00" in text
    names = [b.name for b in read_message(text).soh.blocks]
    assert names == ["AirSamplerFlow", "DetEnv", "PowerSupply", "EquipStatus", "ProcessSensors"]
    rows = read_message(text).soh.block("DetEnv").rows
    assert len(rows) == 4  # one per interval, also the one without a sample
    assert rows[0].values[3] == "4187" and rows[0].values[5] == "ON"
    assert set(rows[2].values) == {MISSING}  # 00:30: nothing measured
    hv = [r for r in readings(read_message(text).soh) if r.parameter == "high_voltage"]
    assert [r.value for r in hv] == [4187.0, 4187.0, None, 4187.0]
    # only the process sensors that were seen: the cooler power, as in the seed
    process = read_message(text).soh.block("ProcessSensors").rows
    assert {r.values[:2] for r in process} == {("CoolerPower", "CP5Power")}
    assert process[0].values[2] == "103.53"
    equip = read_message(text).soh.block("EquipStatus").rows
    assert equip[0].values == (
        "C:",
        "SM02202311200000",
        "P:",
        "SM02202311200000",
        "A:",
        "SM02202311200000",
    )


def test_period_start_is_aligned_on_midnight():
    assert period_start(T0 + timedelta(hours=3, minutes=45), 2) == T0 + timedelta(hours=2)
    assert period_start(T0 + timedelta(hours=5), 6) == T0


def soh_files(s):
    return [f for f in s.files() if f.data_type == "STAXSOH"]


def test_every_two_hours_a_signed_staxsoh_is_queued(tmp_path, source, station, caplog):
    flow = FakeSensor("Alicat flow meter on loop://", {"sample_flow_slpm": 56.6667})
    cooler = FakeSensor(
        "CryoTel GT on loop://", {"cooler_power_w": 103.5, "cold_tip_temperature_k": 88.2}
    )
    s = Station(tmp_path, source, station, sensors=[flow, cooler], soh=SohConfig())
    s.boundaries(8)  # armed at 00:00; boundaries up to 01:45
    assert soh_files(s) == []
    cooler.fail = True  # the cryocooler stops answering during the last interval
    s.boundaries(1)  # 02:00: the 01:45 spectrum, the sample of 01:45, then the report
    (item,) = soh_files(s)
    assert item.file_name == f"AUS02_{item.msg_id}_SOH_2023_11_20T00_00_00.TXT"
    assert item.interval_start == T0
    content = s.outbox.get(item.id).content
    assert s.outbox.get(item.id).payload == b"SEALED:" + content  # sealed like the spectra
    soh = read_message(content).soh
    assert soh.data_type == "STAXSOH" and soh.station == "AUS02"
    assert (soh.period_start, soh.period_end) == (T0, T0 + timedelta(hours=2))
    flows = soh.block("AirSamplerFlow").rows
    assert len(flows) == 8 and all(r.values[0] == "3.4" for r in flows)
    detenv = soh.block("DetEnv").rows
    assert detenv[0].values[3] == "4187"  # the MCA's own HV reading
    # the 00:00 interval has its spectrum; its SRID is in #EquipStatus
    assert soh.block("EquipStatus").rows[0].values[1] == "SM0220231120" + "0000"
    process = {
        (r.values[0], r.values[1], r.start): r.values[2] for r in soh.block("ProcessSensors").rows
    }
    assert process[("Temp", "ColdTip", T0)] == "88.2"
    assert process[("Temp", "ColdTip", T0 + timedelta(minutes=105))] == MISSING  # failed
    assert float(process[("MCA", "DeadTime", T0)]) == pytest.approx(1.0, abs=0.1)
    assert float(process[("MCA", "LiveTime", T0)]) == pytest.approx(891, abs=1)
    # the failure is one alert, and the agent goes on
    sensor_alerts = [a for a in s.alerts if "Sensor not answering" in a[1]]
    assert len(sensor_alerts) == 1 and "CryoTel GT" in sensor_alerts[0][1]
    s.boundaries(3)
    assert len([a for a in s.alerts if "Sensor not answering" in a[1]]) == 1
    assert len([f for f in s.files() if f.data_type == "SAMPLEPHD"]) == 11


def test_a_restart_makes_the_missed_report_once(tmp_path, source, station):
    flow = FakeSensor("flow", {"sample_flow_slpm": 50.0})
    s = Station(tmp_path, source, station, sensors=[flow], soh=SohConfig())
    s.boundaries(6)  # up to 01:15
    s.outbox.close()
    # the agent was stopped from 01:15 to 04:20
    again = Station(
        tmp_path, source, station, start=T0 + timedelta(hours=4, minutes=20),
        sensors=[flow], soh=SohConfig(),
    )  # fmt: skip
    again.boundaries(1)  # 04:30: the report of 00:00-02:00 (02:00-04:00 had no sample)
    (item,) = soh_files(again)
    soh = read_message(again.outbox.get(item.id).content).soh
    flows = [r.values[0] for r in soh.block("AirSamplerFlow").rows]
    assert flows == ["3"] * 5 + [MISSING] * 3  # sampled up to the 01:00 interval
    again.boundaries(8)  # up to 06:30: the 04:00-06:00 report, once
    assert [f.interval_start for f in soh_files(again)] == [T0, T0 + timedelta(hours=4)]
