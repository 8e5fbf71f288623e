"""Stations' traffic for the storage and intake benchmarks: simulated 16384-channel PHDs
and small SOH reports of several stations, signed and encrypted as the agents send them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.formats import write_message
from shared.formats.sample_phd import sample_message
from shared.simulation.series import interval_spec, simulate_sample

FIRST = datetime(2023, 11, 15, tzinfo=UTC)
SPECTRA_PER_DAY = 96  # one every 15 minutes
SOH_PER_DAY = 12  # one every 2 hours


def station_codes(n: int) -> list[str]:
    return [f"STA{i:02d}" for i in range(1, n + 1)]  # station codes are AAA99


@dataclass(frozen=True)
class Plain:
    station: str
    file_name: str
    content: bytes


def spectrum(station: str, index: int, seed: int = 3) -> Plain:
    """The station's simulated sample of 15-minute interval `index` after FIRST."""
    spec = interval_spec(station, FIRST + timedelta(minutes=15 * index), seed)
    sim = simulate_sample(spec)
    text = write_message(sample_message(sim.phd, spec.msg_id, "STX1.0"))
    return Plain(station, sim.file_name, text.encode("ascii"))


def soh(station: str, index: int) -> Plain:
    """A 2-hour STAXSOH report (one block of rows, as the intake's tests send)."""
    start = FIRST + timedelta(hours=2 * index)
    stop = start + timedelta(hours=2)
    msg_id = f"9{index:06d}"
    rows = "\n".join(
        f"3.4000 -9999.999 {start + timedelta(minutes=15 * k):%Y/%m/%d %H:%M:%S} 900"
        for k in range(8)
    )
    text = (
        f"BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID {msg_id} {station}\nDATA_TYPE STAXSOH\n"
        f"#Header 3\n{station} NA {start:%Y/%m/%d %H:%M:%S} {stop:%Y/%m/%d %H:%M:%S} "
        f"{stop:%Y/%m/%d %H:%M:%S}\n#AirSamplerFlow\n{rows}\nSTOP\n"
    )
    name = f"{station}_{msg_id}_SOH_{start:%Y_%m_%dT%H_%M_%S}.TXT"
    return Plain(station, name, text.encode("ascii"))


def network(root: Path, stations: list[str]):
    """A network CA with these stations (tests/secure's maker: RSA 2048 as in production)."""
    from tests.secure.conftest import make_network

    return make_network(root, stations)
