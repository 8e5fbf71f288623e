"""Fixtures for the agent tests: a small spectrum source, a test PKI, an HTTPS stand-in."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from edge_agent.calibration import CalibrationPoints
from edge_agent.config import StationConfig
from edge_agent.drivers.simulated import SimulatedSample
from shared.crypto.pki import NetworkCA
from shared.formats import EfficiencyPoint, EnergyPoint, ResolutionPoint, StackConditions

T0 = datetime(2023, 11, 20, 0, 0, tzinfo=UTC)


class FlatSource:
    """A flat background and one peak that grows hour by hour: enough to tell spectra apart."""

    channels = 1024

    def sample(self, interval_start: datetime) -> SimulatedSample:
        rates = np.full(self.channels, 0.05)
        hour = interval_start.hour
        rates[400:405] += 0.2 * (1 + hour)
        return SimulatedSample(
            rates=rates,
            dead_fraction=0.01,
            stack=StackConditions(stack_flow_m3_s=50.0, sample_flow_m3_s=1e-4),
        )

    def calibration(self) -> CalibrationPoints:
        return CalibrationPoints(
            energy=(EnergyPoint(100.0, 34.0, 0.1), EnergyPoint(1000.0, 334.0, 0.1)),
            resolution=(ResolutionPoint(100.0, 1.0, 0.01), ResolutionPoint(1000.0, 1.8, 0.02)),
            efficiency=(EfficiencyPoint(100.0, 0.05, 0.002), EfficiencyPoint(1000.0, 0.01, 3e-4)),
            time=datetime(2023, 1, 10, 8, 0, tzinfo=UTC),
        )


@pytest.fixture
def source() -> FlatSource:
    return FlatSource()


@pytest.fixture
def station() -> StationConfig:
    return StationConfig(code="AUS02", facility="ANSTO", detector="AUS02_001", number=2)


# ------------------------------------------------------------------ test PKI
@dataclass
class PkiFiles:
    ca: Path
    server_cert: Path  # the central's certificate: TLS server and CMS recipient
    server_key: Path
    station_cert: Path  # AUS02
    station_key: Path
    other_ca: Path  # another network's CA, which the station does not trust
    other_server_cert: Path
    other_server_key: Path
    network: NetworkCA


def make_pki(folder: Path) -> PkiFiles:
    now = datetime.now(UTC)
    ca = NetworkCA.create(folder / "network", now=now, ca_key_bits=2048)
    ca.issue_station("AUS02", now=now, facility="ANSTO")
    other = NetworkCA.create(folder / "other", now=now, ca_key_bits=2048)
    return PkiFiles(
        ca=ca.ca_cert_path,
        server_cert=ca.central_cert_path,
        server_key=ca.central_key_path,
        station_cert=ca.station_cert_path("AUS02"),
        station_key=ca.station_key_path("AUS02"),
        other_ca=other.ca_cert_path,
        other_server_cert=other.central_cert_path,
        other_server_key=other.central_key_path,
        network=ca,
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> PkiFiles:
    return make_pki(tmp_path_factory.mktemp("pki"))


# ------------------------------------------------------------ HTTPS stand-in
@dataclass
class Intake:
    """A stand-in for the central's intake: answers from `answers` (then 201), records puts."""

    url: str
    answers: list[int] = field(default_factory=list)
    received: list[tuple[str, bytes, str]] = field(default_factory=list)  # path, body, client CN
    server: ThreadingHTTPServer | None = None


def start_intake(pki: PkiFiles, answers: list[int] | None = None, *, other_ca=False) -> Intake:
    intake = Intake(url="", answers=list(answers or []))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_PUT(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            peer = self.connection.getpeercert()
            cn = dict(x[0] for x in peer["subject"])["commonName"]
            intake.received.append((self.path, body, cn))
            status = intake.answers.pop(0) if intake.answers else 201
            reply = json.dumps({"status": status, "reason": f"stand-in says {status}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if other_ca:
        context.load_cert_chain(pki.other_server_cert, pki.other_server_key)
    else:
        context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki.ca)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    intake.server = server
    intake.url = f"https://127.0.0.1:{server.server_address[1]}"
    return intake


@pytest.fixture
def intake_factory(pki):
    started: list[Intake] = []

    def factory(answers=None, **kw) -> Intake:
        intake = start_intake(pki, answers, **kw)
        started.append(intake)
        return intake

    yield factory
    for intake in started:
        intake.server.shutdown()
        intake.server.server_close()


# ------------------------------------------------------------ agent configuration
def write_agent_config(folder: Path, pki: PkiFiles, url: str, extra: str = "") -> Path:
    """An agent configuration for AUS02 in `folder`; `extra` is appended TOML."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "AUS02.toml"
    path.write_text(
        f"""
[station]
code = "AUS02"
facility = "ANSTO"
detector = "AUS02_001"
number = 2

[outbox]
path = "outbox.sqlite"

[central]
url = "{url}"
ca_cert = "{pki.ca}"
encryption_cert = "{pki.server_cert}"
retry_initial_seconds = 0.05
retry_max_seconds = 0.5

[identity]
cert = "{pki.station_cert}"
key = "{pki.station_key}"
{extra}
"""
    )
    return path
