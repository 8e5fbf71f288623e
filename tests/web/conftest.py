"""Fixtures for the web UI: a real SQLite database with two stations and four users, the
app with a clock the tests move, a logged-in test client, and headless Chromium options
for dash[testing]."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from selenium.webdriver.chrome.options import Options as ChromeOptions

import central.accounts
from central.accounts import create_user
from central.config import CentralConfig, IntakeConfig, StorageConfig, WebConfig
from central.store import Store
from central.web import create_app
from shared.timeutil import iso_z

from .helpers import NOW, PASSWORD

CHROMIUM = "/usr/bin/chromium"
FIRST_START = datetime(2024, 5, 1, tzinfo=UTC)


def pytest_setup_options():
    """dash[testing] asks this hook for the browser's options (its plugin's own hook)."""
    options = ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    return options


@dataclass(frozen=True)
class Sample:
    """What the template database holds, for the tests to count on."""

    aus_ids: tuple[int, ...]  # AUS02's files, oldest first
    bes_ids: tuple[int, ...]  # BES01's files
    quarantine_id: int


def _add(store: Store, station: str, n: int, product: str, analysis: str = "STATION") -> int:
    start = FIRST_START + timedelta(minutes=15 * n)
    extension = {"PHD": "PHD", "SOH": "SOH", "ALERT": "ALERT", "ATS": "TXT", "CSV": "CSV"}
    result = store.add_message(
        file_name=f"{station}_{1000 + n}_{product}_{start:%Y_%m_%dT%H_%M_%S}.{extension[product]}",
        station=station,
        data_type={"PHD": "SAMPLEPHD", "SOH": "RMSSOH", "ALERT": "ALERT_SYSTEM"}.get(
            product, product
        ),
        product=product,
        msg_id=f"{1000 + n}",
        content=f"BEGIN IMS2.0\nMSG_ID {1000 + n} {station}\n{product} file {n}\nSTOP\n".encode(),
        start_time=iso_z(start),
        summary={"station": station},
        analysis=analysis,
        received_at=iso_z(start + timedelta(minutes=20)),
    )
    assert result.outcome == "created"
    return int(result.message_id)


def _compared(store: Store, phd_id: int, carrier_id: int, rows: list[dict]) -> None:
    """A spectrum with both results compared (`rows` per nuclide). The station result's
    carrier stands for the station ATS it came in (the page does not look at it)."""
    phd = store.message(phd_id)
    with store.conn:
        cur = store.conn.execute(
            "insert into station_results (ats_message_id, station, file_name, srid, "
            "acquisition_start, method_version, result, created_at) values (?,?,?,?,?,?,?,?)",
            [carrier_id, phd["station"], phd["file_name"], "SM", phd["start_time"], "t", "{}", "t"],
        )
    store.add_analysis(phd_id, "central", result={})
    central = store.analysis(phd_id, "central")["id"]
    store.add_comparison(
        phd_id, station_result_id=cur.lastrowid, central_analysis_id=central, rows=rows
    )


def _comparison(nuclide: str, station: float, central: float, z: float) -> dict:
    flagged = abs(z) > 3
    return {
        "nuclide": nuclide,
        "quantity": "release",
        "station_value": station,
        "station_unc": 0.1 * station,
        "station_detected": 1,
        "station_limit": 1e5,
        "central_value": central,
        "central_unc": 0.1 * central,
        "central_detected": 1,
        "central_limit": 1e5,
        "z": z,
        "flagged": flagged,
        "reason": f"both detect: |z| {'>' if flagged else '<='} 3",
    }


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2id with the smallest cost: the real parameters take ~0.5 s a login here,
    and these tests log in some forty times. Hashing itself is tested with accounts."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(central.accounts, "_hasher", cheap)
        patch.setattr(central.accounts, "_DUMMY_HASH", cheap.hash("not a real password"))
        yield


@pytest.fixture(scope="session")
def template_db(cheap_password_hashing, tmp_path_factory) -> tuple[Path, Sample]:
    """Made once (Argon2 hashing is slow on purpose); each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "central.sqlite"
    with Store(path) as store:
        store.ensure_facility("AUS02", name="ANSTO", site="ANSTO", country="AUSTRALIA")
        store.ensure_facility("BES01", name="IRE", site="Stack building", country="BELGIUM")
        aus = [_add(store, "AUS02", n, "PHD") for n in range(30)]
        aus.append(_add(store, "AUS02", 30, "SOH"))
        aus.append(_add(store, "AUS02", 31, "ATS", analysis="CENTRAL"))
        # BES01's files come in among AUS02's latest: both are on the first page
        bes = [_add(store, "BES01", n, "PHD") for n in range(26, 29)]
        bes.append(_add(store, "BES01", 29, "ALERT"))
        # compared spectra: AUS02's last two PHDs (one Xe-133 disagrees), BES01's first
        _compared(store, aus[28], aus[31], [_comparison("Xe-133", 6.21e6, 6.0e6, 0.24)])
        _compared(
            store,
            aus[29],
            aus[31],
            [_comparison("Xe-133", 9.0e6, 6.0e6, 4.16), _comparison("Xe-135", 2e5, 2.1e5, -0.3)],
        )
        _compared(store, bes[0], bes[3], [_comparison("Xe-133", 3.3e7, 3.2e7, 0.2)])
        quarantined = store.quarantine(
            body=b"\x30\x82not a CMS message",
            reason="signature: the signer is not a station of the network",
            status=403,
            file_name="BES01_9999_PHD.PHD",
            station="BES01",
            peer="192.0.2.7",
        )
        create_user(store, "admin", PASSWORD, role="admin")
        create_user(store, "alice", PASSWORD, facilities=["AUS02"])
        create_user(store, "owen", PASSWORD, role="owner", owned=["BES01"])
        create_user(store, "dave", PASSWORD, facilities=["AUS02"])
        with store.conn:
            store.conn.execute("update users set enabled = 0 where username = 'dave'")
    return path, Sample(tuple(aus), tuple(bes), quarantined)


@pytest.fixture
def sample(template_db) -> Sample:
    return template_db[1]


@pytest.fixture
def config(tmp_path, template_db) -> CentralConfig:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(template_db[0], data / "central.sqlite")
    shutil.copytree(template_db[0].parent / "blobs", data / "blobs")  # the files' bytes
    return CentralConfig(
        intake=IntakeConfig(
            server_cert=tmp_path / "server.pem",
            server_key=tmp_path / "server.key",
            ca_cert=tmp_path / "ca.pem",
        ),
        storage=StorageConfig(data_dir=data),
        web=WebConfig(secret_key_file=tmp_path / "web-secret.key", session_minutes=30),
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(config, clock):
    return create_app(config, clock=clock)


@pytest.fixture
def client(app):
    return app.server.test_client()
