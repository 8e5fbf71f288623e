"""Stored messages for the MQTT tests: SOH, ALERT and analysed PHD files, as the intake
would keep them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from central.store import Store
from shared.formats.alert import Alert
from shared.formats.ims import Message, write_message
from shared.formats.soh import Soh, SohBlock, SohRow
from shared.timeutil import iso_z

_ids = itertools.count(1)


def add_soh(store: Store, station: str, start: datetime, room_temperature: float) -> int:
    n = next(_ids)
    end = start + timedelta(minutes=30)
    row = (f"{room_temperature}", "CLOSED", "40", "3000", "-180", "ON", "80", "0.1")
    soh = Soh(
        "STAXSOH",
        station,
        "NA",
        start,
        end,
        end,
        [SohBlock("DetEnv", [SohRow(row, start, 1800.0)])],
    )
    content = write_message(Message([soh], str(n), station)).encode()
    return store.add_message(
        file_name=f"{station}_{n}_SOH.txt", station=station, data_type="STAXSOH", product="SOH",
        msg_id=str(n), content=content, start_time=iso_z(start),
        summary={"period_end": iso_z(end)}, received_at=iso_z(end),
    ).message_id  # fmt: skip


def add_alert(store: Store, station: str, at: datetime, text: str) -> int:
    n = next(_ids)
    alert = Alert("ALERT_FLOW", station, "ALERT_FLOW", at, text)
    content = write_message(Message([alert], str(n), station)).encode()
    return store.add_message(
        file_name=f"{station}_{n}_ALERT.txt", station=station, data_type="ALERT_FLOW",
        product="ALERT", msg_id=str(n), content=content, start_time=iso_z(at), summary={},
        received_at=iso_z(at),
    ).message_id  # fmt: skip


def add_phd(store: Store, station: str, start: datetime, release_bq: float | None) -> int:
    """A spectrum with the central's result (none when `release_bq` is None)."""
    n = next(_ids)
    phd = store.add_message(
        file_name=f"{station}_{n}_PHD.PHD", station=station, data_type="SAMPLEPHD", product="PHD",
        msg_id=str(n), content=f"spectrum {n}".encode(), start_time=iso_z(start), summary={},
        received_at=iso_z(start + timedelta(minutes=15)),
    ).message_id  # fmt: skip
    if release_bq is not None:
        nuclide = {
            "detected": True, "release_bq": release_bq, "release_unc_bq": release_bq / 10,
            "mdr_bq": 1e8, "activity_bq": 5.0, "activity_unc_bq": 0.5,
            "concentration_bq_m3": 2.0, "concentration_unc_bq_m3": float("nan"),
        }  # fmt: skip
        store.add_analysis(
            phd,
            "central",
            method_version="central 1.0",
            result={"method_version": "central 1.0", "interval_s": 900.0,
                    "nuclides": {"XE-133": nuclide}},
        )  # fmt: skip
    return phd


def facility_with_soh(
    path, now: datetime, alert: str | None = None, station: str = "USX01"
) -> None:
    """A central database at `path` with one facility published at once, its SOH of an hour
    ago and, given `alert`, an alert ten minutes after it."""
    with Store(path) as store:
        store.ensure_facility(station, publish_delay="immediately")
        add_soh(store, station, now - timedelta(hours=1), 21.5)
        if alert is not None:
            add_alert(store, station, now - timedelta(minutes=50), alert)
