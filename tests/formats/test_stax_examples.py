"""STAX messages as they appear in the field (docs/formats.md of the shared docs, the seeds)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.formats import FormatError, SohBlock, SohRawBlock, read_message, readings, write_message

# /work/shared/docs/formats.md, section 3 (from the STAX presentations)
STAXSOH = """\
BEGIN STX1.0
MSG_TYPE DATA
MSG_ID 053789 STAXX
DATA_TYPE STAXSOH
#Header 3
STAXX NA 2023/04/22 20:00:00 2023/04/22 22:00:00 2023/04/22 22:30:36
#AirSamplerFlow
3.4000 -9999.999 2023/04/22 20:00:00 900
#DetEnv
-9.9 CLOSED -9 4187 -185 ON -9.9 -99.99 2023/04/22 20:00:00 900
#PowerSupply
MAIN ON AUX OFF UPS OFF 2023/04/22 20:00:00 900
#EquipStatus
C: SM01202304222000 P: SM01202304222000 A: SM01202304222000 2023/04/22 20:00:00 900
#ProcessSensors
CoolerPower CP5Power 103.53 2023/04/22 20:00:00 900
Temp Compressor 43.30 2023/04/22 20:00:00 900
STOP
"""

# section 4
ALERT = """\
BEGIN IMS2.0
MSG_TYPE DATA
MSG_ID 856022299609035618
DATA_TYPE ALERT_SYSTEM
AUS02 ALERT_SYSTEM 2023/11/20 17:34:02
Spectra input data missing
STOP
"""
# as one real STAX alert has it
ALERT_DATE_TYPE = ALERT.replace("DATA_TYPE", "DATE_TYPE")

# the start of a STAX SAMPLEPHD from the seeds (001), cut there: a spectrum added
USS06_PHD = """\
BEGIN STX1.0
MSG_TYPE DATA
MSG_ID 080314 USS06
DATA_TYPE SAMPLEPHD
#Header 3
USS06 USS06_001 P Marinelli         FULL
SM06202311201545
USS06_001-2023/11/20-15:45
2023/11/20 17:53:39
#Comment
2023/11/20 17:53:39.8 N42 file last modified
#Collection
2023/11/20 15:45:00.0 2023/11/20 16:00:00.0 0 0.01700 21.2250 -999.99
#Acquisition
2023/11/20 15:45:00.0 900.000 896.436
#Sample
-999 -999
#Calibration
2022/04/20 04:06:46.0
#g_Energy
17.361800	67.000	0.000
46.990400	181.000	0.000
309.229500	1190.000	0.000
#g_Spectrum
8 3000
0     0 0 3 1 0
5     2 0 1
STOP
"""


def t(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_staxsoh():
    message = read_message(STAXSOH, source="soh.txt")
    assert message.warnings == []
    assert (message.format, message.msg_id, message.msg_source) == ("STX1.0", "053789", "STAXX")
    soh = message.soh
    assert (soh.data_type, soh.station, soh.detector) == ("STAXSOH", "STAXX", "NA")
    assert (soh.period_start, soh.period_end, soh.transmit_time) == (
        t(2023, 4, 22, 20),
        t(2023, 4, 22, 22),
        t(2023, 4, 22, 22, 30, 36),
    )
    assert [b.name for b in soh.blocks] == [
        "AirSamplerFlow",
        "DetEnv",
        "PowerSupply",
        "EquipStatus",
        "ProcessSensors",
    ]
    assert soh.block("ProcessSensors").rows[1].values == ("Temp", "Compressor", "43.30")
    values = {r.parameter: r.value for r in readings(soh)}
    assert values == {
        "sample_flow": 3.4,
        "sample_flow_sd": None,  # -9999.999: not measured
        "room_temperature": None,
        "shield": "CLOSED",
        "humidity": None,
        "high_voltage": 4187.0,
        "crystal_temperature": -185.0,
        "cooler": "ON",
        "ln2_fill": None,
        "leakage_current": None,
        "power_main": "ON",
        "power_aux": "OFF",
        "power_ups": "OFF",
        "srid_collection": "SM01202304222000",
        "srid_processing": "SM01202304222000",
        "srid_acquisition": "SM01202304222000",
        "CoolerPower.CP5Power": 103.53,
        "Temp.Compressor": 43.3,
    }
    first = readings(soh)[0]
    assert (first.start, first.stop, first.unit) == (
        t(2023, 4, 22, 20),
        t(2023, 4, 22, 20, 15),
        "m3/h",
    )


def test_a_two_hour_soh_with_eight_intervals_and_an_unknown_block():
    rows = "\n".join(
        f"3.4000 -9999.999 2023/04/22 {20 + q // 4}:{q % 4 * 15:02d}:00 900" for q in range(8)
    )
    text = STAXSOH.replace(
        "3.4000 -9999.999 2023/04/22 20:00:00 900",
        rows + "\n#NIMBIN\n+12 12.1 2023/04/22 20:00:00 900",
    )
    soh = read_message(text).soh
    assert [r.start for r in soh.block("AirSamplerFlow").rows][-1] == t(2023, 4, 22, 21, 45)
    nimbin = soh.blocks[1]
    assert isinstance(nimbin, SohRawBlock)
    assert nimbin.lines == ["+12 12.1 2023/04/22 20:00:00 900"]
    assert isinstance(soh.blocks[2], SohBlock)
    assert read_message(write_message(read_message(text))) == read_message(text)


def test_alert():
    message = read_message(ALERT, source="alert.txt")
    alert = message.alert
    assert message.warnings == []
    assert (alert.data_type, alert.station, alert.detector, alert.alert_type) == (
        "ALERT_SYSTEM",
        "AUS02",
        None,
        "ALERT_SYSTEM",
    )
    assert alert.time == t(2023, 11, 20, 17, 34, 2)
    assert alert.text == "Spectra input data missing"
    assert write_message(message) == ALERT.replace("17:34:02", "17:34:02.0")


def test_alert_with_a_detector():
    text = ALERT.replace("AUS02 ALERT_SYSTEM", "AUS02 AUS02_001 ALERT_SYSTEM")
    alert = read_message(text).alert
    assert (alert.station, alert.detector) == ("AUS02", "AUS02_001")


def test_date_type_typo_is_an_error_in_strict_mode():
    with pytest.raises(FormatError) as exc:
        read_message(ALERT_DATE_TYPE, source="alert.txt")
    assert [str(p) for p in exc.value.problems] == [
        "alert.txt:4: DATE_TYPE is a misspelling of DATA_TYPE (seen in a real STAX alert); "
        "read as DATA_TYPE in lenient mode"
    ]


def test_date_type_typo_is_accepted_with_a_warning_in_lenient_mode():
    message = read_message(ALERT_DATE_TYPE, source="alert.txt", lenient=True)
    assert [str(w) for w in message.warnings] == [
        "alert.txt:4: DATE_TYPE is a misspelling of DATA_TYPE (seen in a real STAX alert); "
        "read as DATA_TYPE in lenient mode"
    ]
    assert message.alert == read_message(ALERT).alert
    assert "DATE_TYPE" not in write_message(message)


def test_stax_samplephd_header_and_collection():
    message = read_message(USS06_PHD, source="uss06.txt")
    assert message.warnings == []
    phd = message.phd
    h = phd.header
    assert (h.station, h.detector, h.system_type, h.geometry, h.qualifier) == (
        "USS06",
        "USS06_001",
        "P",
        "Marinelli",
        "FULL",
    )
    assert h.srid == "SM06202311201545"
    assert (h.measurement_id, h.detector_bk_id, h.gas_bk_id) == (
        "USS06_001-2023/11/20-15:45",
        None,
        None,
    )
    assert h.transmit_time == t(2023, 11, 20, 17, 53, 39)
    assert phd.comment == "2023/11/20 17:53:39.8 N42 file last modified"
    c = phd.collection
    assert (c.start, c.stop, c.air_volume, c.extra) == (
        t(2023, 11, 20, 15, 45),
        t(2023, 11, 20, 16),
        0.0,
        ("0.01700", "21.2250", "-999.99"),
    )
    assert phd.sample == (-999.0, -999.0)
    assert [p.channel for p in phd.g_energy] == [67.0, 181.0, 1190.0]  # tab-separated
    assert phd.g_spectrum.counts.tolist() == [0, 0, 3, 1, 0, 2, 0, 1]
    rewritten = write_message(message)
    assert "\nUSS06 USS06_001 P Marinelli         FULL\n" in rewritten
    assert "\n2023/11/20 15:45:00.0 2023/11/20 16:00:00.0 0 0.01700 21.2250 -999.99\n" in rewritten
