"""make_sample_phd: a STAX-style SAMPLEPHD from domain values, read back in strict mode."""

from datetime import UTC, datetime

import numpy as np
import pytest

from shared.formats import read_message, write_message
from shared.formats.phd import EfficiencyPoint, EnergyPoint, ResolutionPoint, StackConditions
from shared.formats.sample_phd import (
    make_sample_phd,
    measurement_id,
    phd_file_name,
    sample_message,
    stax_srid,
)

T0 = datetime(2026, 11, 1, 15, 45, tzinfo=UTC)
T1 = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)


def values(**changes):
    v = dict(
        station="AUS02",
        detector="AUS02_001",
        counts=np.arange(16384) % 7,
        energy_span_kev=3000.0,
        collection_start=T0,
        collection_stop=T1,
        sampled_volume_m3=0.225,
        acquisition_start=T0,
        real_time_s=900.0,
        live_time_s=897.42,
        calibration_time=datetime(2026, 1, 1, tzinfo=UTC),
        energy_points=[EnergyPoint(59.54, 323.8, 0.05), EnergyPoint(1332.49, 7275.7, 0.05)],
        resolution_points=[ResolutionPoint(122.06, 0.99, 0.01)],
        efficiency_points=[EfficiencyPoint(88.03, 0.0548, 0.0016)],
        transmit_time=datetime(2026, 11, 1, 16, 0, 30, tzinfo=UTC),
        stack=StackConditions(chamber_volume_m3=0.0017, stack_flow_m3_s=19.5),
        comment="simulated",
    )
    v.update(changes)
    return v


def test_stax_names():
    assert stax_srid("AUS02", T0) == "SM02202611011545"
    assert measurement_id("AUS02_001", T0) == "AUS02_001-2026/11/01-15:45"
    assert phd_file_name("AUS02", 42, T0) == "AUS02_42_PHD_2026_11_01T15_45_00.TXT"


def test_a_sample_phd_reads_back_in_strict_mode():
    phd = make_sample_phd(**values())
    text = write_message(sample_message(phd, 941032))
    assert text.startswith(
        "BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID 941032 AUS02\nDATA_TYPE SAMPLEPHD\n"
    )
    assert "\nAUS02 AUS02_001 P Marinelli         FULL\nSM02202611011545\n" in text
    back = read_message(text).phd
    assert back == phd
    assert back.header.measurement_id == "AUS02_001-2026/11/01-15:45"
    assert back.acquisition.live_time == 897.42
    assert back.collection.air_volume == 0.225
    assert back.stack.stack_flow_m3_s == 19.5
    assert back.g_spectrum.channels == 16384 and back.g_spectrum.first_channel == 0


def test_a_gas_system_writes_g():
    phd = make_sample_phd(**values(system_type="G"))
    assert read_message(write_message(sample_message(phd, 1))).phd.header.system_type == "G"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(station="AUSXX"), "station code"),
        (dict(system_type="B"), "system type"),
        (dict(live_time_s=901.0), "live time"),
        (dict(counts=np.array([1, -1, 2])), "negative"),
        (dict(counts=np.array([1.5, 2.0])), "whole numbers"),
        (dict(collection_stop=T0), "collection stop"),
        (dict(efficiency_points=[]), "#g_Efficiency"),
    ],
)
def test_bad_values_are_refused_with_the_reason(change, message):
    with pytest.raises(ValueError, match=message):
        make_sample_phd(**values(**change))


def test_a_station_without_a_number_can_give_its_own_srid():
    phd = make_sample_phd(**values(station="STAXX", srid="SM99202611011545"))
    assert phd.header.srid == "SM99202611011545"
