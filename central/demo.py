"""`stax demo`: a whole network on this machine — a CA, the central server with its web UI,
and two or three simulated stations whose agents sign, encrypt and send every spectrum.

Everything lives in one folder and is made only when missing, so a second run goes on
with the same CA, accounts, databases and outboxes. The programs run as child processes
(`stax central serve`, `stax agent run`), exactly as on real machines.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from shared.crypto.pki import NetworkCA
from shared.timeutil import floor_to_cycle

__all__ = ["STATIONS", "Demo", "DemoError", "DemoStation", "prepare_demo", "run_demo"]


class DemoError(RuntimeError):
    """The demo cannot start: the message says why and what to do."""


@dataclass(frozen=True)
class DemoStation:
    code: str
    number: int  # for the sample reference id
    facility: str  # one word, in the agent's configuration
    name: str  # the facility's name in the central server
    site: str | None
    country: str | None
    latitude: float | None
    longitude: float | None


# In the central server a station's code is its facility's code (central/access.py).
STATIONS = (
    DemoStation("AUS02", 2, "ANSTO", "ANSTO", "Lucas Heights", "AUSTRALIA", -34.05087, 150.97886),
    DemoStation("BES01", 1, "IRE", "IRE", "Fleurus", "BELGIUM", 50.45131, 4.53155),
    # a made-up facility: the demo knows no more of USS06 than its code and a made-up place
    # (so that the impact page has three emitters)
    DemoStation("USS06", 6, "DEMO", "Demonstration facility", None, "UNITED STATES", 38.5, -77.0),
)
ADMIN = "admin"
USER = "viewer"  # sees the first station's facility only
HISTORY = timedelta(days=1)  # station clocks start this long before now


@dataclass(frozen=True)
class Demo:
    root: Path
    stations: tuple[DemoStation, ...]
    central_config: Path
    agent_configs: dict[str, Path]
    web_port: int
    intake_port: int
    logins: dict[str, dict[str, str]]  # user name -> {"password": ..., "token": ...}
    hardware: str = "simulated"  # "emulated": real drivers against emulators (below)
    mqtt_port: int | None = None  # a local Mosquitto the central publishes to, when installed

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _toml(value) -> str:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _write_toml(path: Path, tables: dict[str, dict]) -> None:
    lines = ["# written by `stax demo`; rewritten at each run"]
    for table, keys in tables.items():
        lines += ["", f"[{table}]"]
        lines += [f"{k} = {_toml(v)}" for k, v in keys.items() if v is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _previous_ports(path: Path) -> tuple[int | None, int | None]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
        return data["web"]["port"], data["intake"]["port"]
    except (OSError, KeyError, ValueError):
        return None, None


def _choose_port(asked: int | None, previous: int | None) -> int:
    if asked is not None:
        return asked
    if previous is not None and _port_free(previous):
        return previous  # the same URL as last time
    return free_port()


def _pki(root: Path, stations: tuple[DemoStation, ...], now: datetime) -> NetworkCA:
    folder = root / "pki"
    if (folder / "ca" / "ca.key").exists():
        ca = NetworkCA(folder)
        ca.write_crl(now=now)  # a CRL out of date would stop the intake accepting anything
    else:
        ca = NetworkCA.create(folder, now=now, network="stax-monitor demo network")
    for station in stations:
        if not ca.station_key_path(station.code).exists():
            ca.issue_station(station.code, now=now, facility=station.name)
    return ca


def _accounts(
    root: Path, database: Path, stations: tuple[DemoStation, ...], now: datetime
) -> dict[str, dict[str, str]]:
    """Facilities, an administrator and a user of the first facility, each with a password
    and an API token, made once and kept in logins.json (mode 0600) to be shown again on
    the next run: `{"admin": {"password": "...", "token": "..."}, ...}`."""
    from central.accounts import create_user
    from central.store import Store
    from central.tokens import make_token, user_for_token

    path = root / "logins.json"
    logins: dict[str, dict[str, str]] = {}
    if path.exists():
        for name, value in json.loads(path.read_text()).items():
            # a folder from before the API: the password alone
            logins[name] = {"password": value} if isinstance(value, str) else dict(value)
    with Store(database) as store:
        for s in stations:
            store.ensure_facility(
                s.code,
                name=s.name,
                site=s.site,
                country=s.country,
                latitude=s.latitude,
                longitude=s.longitude,
            )
        for name, role, facilities in (
            (ADMIN, "admin", []),
            (USER, "user", [stations[0].code]),
        ):
            if store.db["users"].count_where("username = ?", [name]):
                if "password" not in logins.get(name, {}):
                    raise DemoError(
                        f"{database}: user {name!r} exists but {path} lacks its password; "
                        "remove the demo folder to start afresh"
                    )
                user_id = store.conn.execute(
                    "select id from users where username = ?", [name]
                ).fetchone()[0]
            else:
                logins[name] = {"password": secrets.token_urlsafe(12)}
                user_id = create_user(
                    store, name, logins[name]["password"], role=role, facilities=facilities
                ).id
            token = logins[name].get("token")
            if not token or user_for_token(store, token, now) is None:
                logins[name]["token"], _ = make_token(store, user_id, "stax demo", by=None, now=now)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(logins, f, indent=1)
    return logins


def prepare_demo(
    root: Path,
    *,
    stations: int = 3,
    speed: float = 60.0,
    web_port: int | None = None,
    intake_port: int | None = None,
    now: datetime | None = None,
    hardware: str = "simulated",
) -> Demo:
    """Make (or reuse) the CA, the configurations, the database and the accounts."""
    if not 1 <= stations <= len(STATIONS):
        raise DemoError(f"--stations must be 1-{len(STATIONS)}, got {stations}")
    if speed <= 0:
        raise DemoError(f"--speed must be positive, got {speed}")
    if hardware not in ("simulated", "emulated"):
        raise DemoError(f'--hardware must be "simulated" or "emulated", got {hardware!r}')
    now = now or datetime.now(UTC)
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    chosen = STATIONS[:stations]
    ca = _pki(root, chosen, now)

    central = root / "central" / "central.toml"
    previous_web, previous_intake = _previous_ports(central)
    web = _choose_port(web_port, previous_web)
    intake = _choose_port(intake_port, previous_intake)
    if web == intake:
        raise DemoError(f"the web UI and the intake cannot share port {web}")
    # MQTT (docs/mqtt.md): to a Mosquitto of the demo's own, when it is installed
    mqtt_port = _mosquitto_conf(root) if mosquitto_program() else None
    _write_toml(
        central,
        {
            "intake": {
                "server_cert": ca.central_cert_path,
                "server_key": ca.central_key_path,
                "ca_cert": ca.ca_cert_path,
                "crl": ca.crl_path,
                "host": "127.0.0.1",
                "port": intake,
            },
            "storage": {"data_dir": "data"},
            "impact": {"atm_dir": "atm", "scan_minutes": 1.0},
            "web": {"host": "127.0.0.1", "port": web, "secret_key_file": "web-secret.key"},
            **(
                {
                    "mqtt": {
                        "host": "127.0.0.1",
                        "port": mqtt_port,
                        "prefix": "stax",
                        "client_id": "stax-demo-central",
                    }
                }
                if mqtt_port
                else {}
            ),
        },
    )
    logins = _accounts(root, central.parent / "data" / "central.sqlite", chosen, now)
    write_demo_srs(central.parent / "atm", now)

    # station clocks start a day back, so the charts fill with a day of data at once
    start = floor_to_cycle(now - HISTORY)
    agents = {}
    for i, s in enumerate(chosen):
        folder = root / "stations" / s.code
        agents[s.code] = folder / "agent.toml"
        _write_toml(
            agents[s.code],
            {
                "station": {
                    "code": s.code,
                    "facility": s.facility,
                    "detector": f"{s.code}_001",
                    "number": s.number,
                },
                "mca": {"driver": "simulated", "seed": 100 + i}
                if hardware == "simulated"
                else _emulated_mca_table(folder, i, speed),
                "clock": {
                    "speed": float(speed),
                    "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "catch_up": True,
                },
                "outbox": {"path": "outbox.sqlite"},
                "central": {
                    "url": f"https://127.0.0.1:{intake}",
                    "ca_cert": ca.station_dir(s.code) / "ca.pem",
                    "encryption_cert": ca.station_dir(s.code) / "central.pem",
                    "retry_max_seconds": 30.0,
                },
                "identity": {
                    "cert": ca.station_cert_path(s.code),
                    "key": ca.station_key_path(s.code),
                },
                **(_emulated_calibration(folder, s, i) if hardware == "emulated" else {}),
            },
        )
        if hardware == "emulated":
            _append_emulated_sensors(agents[s.code])
    return Demo(root, chosen, central, agents, web, intake, logins, hardware, mqtt_port)


def mosquitto_program() -> str | None:
    """The Mosquitto broker's program (Debian: /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def _mosquitto_conf(root: Path) -> int:
    """A broker on a free loopback port for the demo, anonymous, no persistence."""
    port = free_port()
    folder = root / "mqtt"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
    )
    return port


# ------------------------------------------------------------------ ATM data
# IMS stations near the demo's emitters and the bearing (degrees from north) from each
# towards its emitter, so that the simulated air of each sample passes over it.
DEMO_RECEPTORS = (("DEX33", "BES01", 318.0), ("AUX04", "AUS02", 52.0), ("USX75", "USS06", 65.0))


def write_demo_srs(folder: Path, now: datetime) -> list[Path]:
    """Simulated SRS files (shared/simulation/srs.py) for the IMS samples from a day before
    `now` to three days after (the demo's clocks run fast), which the worker picks up from
    the `[impact] atm_dir` folder. Files already there are kept."""
    from shared.atm.ims_stations import default_stations, sample_windows
    from shared.simulation.srs import PuffWeather, simulate_srs_text, srs_file_name

    folder.mkdir(parents=True, exist_ok=True)
    ims = {s.code: s for s in default_stations()}
    written = []
    for i, (code, _emitter, bearing) in enumerate(DEMO_RECEPTORS):
        station = ims[code]
        for k, (_start, stop) in enumerate(
            sample_windows(station, now - HISTORY, now + timedelta(days=3))
        ):
            path = folder / (srs_file_name(code, stop, "DEMO") + ".gz")
            if path.exists():
                continue
            text = simulate_srs_text(
                code,
                station.latitude,
                station.longitude,
                stop,
                sample_hours=station.sample_hours,
                simulation_hours=72.0,
                grid_deg=1.0,
                weather=PuffWeather(speed_m_s=6.0 + (k % 3), from_deg=bearing + 10 * (k % 3 - 1)),
                seed=100 * i + k,
                max_cells=20_000,
            )
            path.write_bytes(gzip.compress(text.encode(), mtime=0))
            written.append(path)
    return written


# ------------------------------------------------------------------ running
@dataclass
class _Child:
    name: str
    process: subprocess.Popen
    log: IO


def _start(name: str, argv: list[str], log_path: Path) -> _Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a")
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        # its own session: Ctrl-C reaches the demo only, which stops the children in order
        start_new_session=True,
    )
    return _Child(name, process, log)


def _stop(children: list[_Child], timeout: float = 20.0) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
        child.log.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return ""


def _wait_listening(child: _Child, port: int, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not _listening(port):
        if child.process.poll() is not None:
            raise DemoError(
                f"{child.name} stopped (exit code {child.process.returncode}); "
                f"the end of {log}:\n{_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise DemoError(f"{child.name} does not listen on port {port}; see {log}")
        time.sleep(0.1)


def _banner(demo: Demo, speed: float) -> str:
    user_station = demo.stations[0]
    rows = [
        "",
        "stax-monitor demo",
        f"  web UI      {demo.web_url}",
        f"  administrator   user {ADMIN!r:10} password {demo.logins[ADMIN]['password']}",
        f"  facility user   user {USER!r:10} password {demo.logins[USER]['password']}"
        f"   (sees {user_station.code}, {user_station.name} only)",
        f"  download    STAX_API_TOKEN={demo.logins[USER]['token']} stax fetch "
        f"--url {demo.web_url} -s {user_station.code} -t PHD,SOH -d "
        f"{datetime.now(UTC):%Y_%m} --out demo-files",
        "              (the API: curl -H 'Authorization: Bearer TOKEN' "
        f"{demo.web_url}api/v1/files; tokens in logins.json)",
        f"  intake      https://127.0.0.1:{demo.intake_port}/ (mutual TLS)",
        *(
            [f"  MQTT        mosquitto_sub -h 127.0.0.1 -p {demo.mqtt_port} -t 'stax/#' -v"]
            if demo.mqtt_port
            else []
        ),
        f"  stations    {', '.join(f'{s.code} ({s.name})' for s in demo.stations)}"
        f", a 15-minute spectrum every {900 / speed:g} s",
        f"  folder      {demo.root}  (logs in {demo.logs}, passwords and tokens in logins.json)",
        "",
    ]
    return "\n".join(rows)


def _outbox_summary(demo: Demo) -> str:
    from edge_agent.outbox import Outbox

    parts = []
    for code, config in demo.agent_configs.items():
        path = config.parent / "outbox.sqlite"
        if not path.exists():
            continue
        with Outbox(path) as box:
            counts = box.counts()
        parts.append(f"{code} {counts['sent']} sent, {counts['ready'] + counts['held']} waiting")
    return "; ".join(parts)


def run_demo(
    demo: Demo,
    *,
    speed: float,
    duration: float | None,
    stop: threading.Event,
    say: Callable[[str], None] = print,
    status_every: float = 60.0,
) -> int:
    """Start the central server and the agents, show how to log in, run until `stop` is
    set or `duration` seconds passed, then stop every child. 0 when all went well."""
    stax = [sys.executable, "-m", "stax", "-v"]
    children: list[_Child] = []
    emulators: list = []  # emulated devices (--hardware emulated), stopped after the agents
    failed = False
    try:
        program = mosquitto_program()
        if demo.mqtt_port and program:  # before the central, so it connects at once
            broker_log = demo.logs / "mosquitto.log"
            broker = _start(
                "the MQTT broker",
                [program, "-c", str(demo.root / "mqtt" / "mosquitto.conf")],
                broker_log,
            )
            children.append(broker)  # stopped last
            _wait_listening(broker, demo.mqtt_port, broker_log, 20)
        central_log = demo.logs / "central.log"
        central = _start(
            "the central server",
            [*stax, "central", "serve", "--config", str(demo.central_config)],
            central_log,
        )
        children.insert(0, central)
        _wait_listening(central, demo.intake_port, central_log, 60)
        if demo.hardware == "emulated":
            emulators = start_emulated_hardware(demo)
            say(f"emulated hardware: {len(emulators)} devices (see {demo.root / 'stations'})")
        for code, config in demo.agent_configs.items():
            children.insert(
                0,
                _start(
                    f"agent {code}",
                    [*stax, "agent", "run", "--config", str(config)],
                    demo.logs / f"{code}.log",
                ),
            )
        try:
            _wait_listening(central, demo.web_port, central_log, 60)
        except DemoError as exc:
            say(f"warning: the web UI is not up yet ({exc})")
        say(_banner(demo, speed))
        say("Stop with Ctrl-C." if duration is None else f"Stopping after {duration:g} s.")
        began = time.monotonic()
        next_status = began + status_every
        while not stop.wait(0.5):
            now = time.monotonic()
            if duration is not None and now - began >= duration:
                break
            dead = [c for c in children if c.process.poll() is not None]
            if dead:
                for child in dead:
                    log = Path(child.log.name)
                    say(
                        f"error: {child.name} stopped (exit code {child.process.returncode}); "
                        f"the end of {log}:\n{_tail(log)}"
                    )
                failed = True
                break
            if now >= next_status:
                next_status = now + status_every
                say(_outbox_summary(demo))
    finally:
        say("stopping the agents and the central server...")
        _stop(children)
        for emulator in emulators:
            emulator.stop()
    summary = _outbox_summary(demo)
    if summary:
        say(summary)
    return 1 if failed else 0


# ------------------------------------------------------------------ emulated hardware
# `stax demo --hardware emulated`: each station runs a real MCA driver (one station per
# driver) and the three sensor drivers, against emulators that the demo starts in its own
# process on loopback ports; the emulated MCAs count the station's simulated world.
EMULATED_MCAS = ("ortec-mcb", "amptek-dp5", "vendor-files")
EMULATED_SENSORS = ("alicat", "cryotel", "modbus")
_EMULATED_CHANNELS = {"ortec-mcb": 16384, "amptek-dp5": 8192, "vendor-files": 16384}


def _emulated_ports(folder: Path) -> dict[str, int]:
    """The station's emulator ports, chosen once and kept in `emulators.json`."""
    path = folder / "emulators.json"
    ports = json.loads(path.read_text()) if path.exists() else {}
    for device in ("mca", *EMULATED_SENSORS):
        if device not in ports or not _port_free(ports[device]):
            ports[device] = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports))
    return ports


def _emulated_mca_table(folder: Path, i: int, speed: float) -> dict:
    driver = EMULATED_MCAS[i % len(EMULATED_MCAS)]
    port = _emulated_ports(folder)["mca"]
    if driver == "ortec-mcb":
        return {"driver": driver, "port": f"socket://127.0.0.1:{port}", "timeout_seconds": 2.0}
    if driver == "amptek-dp5":
        return {"driver": driver, "port": f"udp://127.0.0.1:{port}", "timeout_seconds": 2.0}
    from edge_agent.service import boundary_tolerance

    # on a fast clock the engine's tolerance is a second or so of real time: wait less
    wait = min(20.0, 0.5 * boundary_tolerance(speed) / speed)
    return {
        "driver": driver,
        "folder": folder / "vendor-files",
        "channels": _EMULATED_CHANNELS[driver],
        "settle_seconds": wait / 5,
        "wait_seconds": wait,
    }


def _emulated_source(station: DemoStation, i: int):
    from edge_agent.drivers.emulators._mca import RebinnedSource
    from edge_agent.drivers.simulated import SimulatorSource

    driver = EMULATED_MCAS[i % len(EMULATED_MCAS)]
    source = SimulatorSource(station.code, f"{station.code}_001", 100 + i)
    factor = source.channels // _EMULATED_CHANNELS[driver]
    return driver, (RebinnedSource(source, factor) if factor > 1 else source)


def _emulated_calibration(folder: Path, station: DemoStation, i: int) -> dict:
    """A calibration PHD of the emulated detector: real MCAs need `[calibration] file`."""
    from shared.formats import write_message
    from shared.formats.sample_phd import make_sample_phd, sample_message

    _, source = _emulated_source(station, i)
    points = source.calibration()
    when = datetime(2023, 1, 1, tzinfo=UTC)
    phd = make_sample_phd(
        station=station.code,
        detector=f"{station.code}_001",
        counts=[0] * source.channels,
        energy_span_kev=points.energy_span(source.channels),
        collection_start=when,
        collection_stop=when + timedelta(seconds=900),
        sampled_volume_m3=0.0,
        acquisition_start=when,
        real_time_s=900.0,
        live_time_s=900.0,
        calibration_time=when,
        energy_points=points.energy,
        resolution_points=points.resolution,
        efficiency_points=points.efficiency,
    )
    path = folder / "calibration.phd"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(write_message(sample_message(phd, 0)))
    return {"calibration": {"file": path, "time": "2023-01-01T00:00:00Z"}}


def _append_emulated_sensors(config: Path) -> None:
    """`[[sensors]]` tables (arrays of tables, which _write_toml does not write)."""
    ports = _emulated_ports(config.parent)
    config.write_text(
        config.read_text()
        + f"""
[[sensors]]
driver = "alicat"
port = "socket://127.0.0.1:{ports["alicat"]}"

[[sensors]]
driver = "cryotel"
port = "socket://127.0.0.1:{ports["cryotel"]}"

[[sensors]]
driver = "modbus"
port = "tcp://127.0.0.1:{ports["modbus"]}"
[[sensors.registers]]
name = "stack_flow_m3_s"
address = 0
type = "float32"
[[sensors.registers]]
name = "ups_on_battery"
address = 10
table = "input"
[[sensors.registers]]
name = "shield_temperature_c"
address = 11
type = "int16"
table = "input"
scale = 0.1
"""
    )


def start_emulated_hardware(demo: Demo) -> list:
    """Start every station's emulators (MCA and sensors); each has a `stop()`."""
    from edge_agent.config import load_agent_config
    from edge_agent.drivers.emulators import EmulatorServer, make_device
    from edge_agent.drivers.emulators.amptek import AmptekEmulator
    from edge_agent.drivers.emulators.ortec import OrtecEmulator
    from edge_agent.drivers.emulators.vendor_software import VendorSoftwareEmulator
    from edge_agent.drivers.simulated import SimulatedMca
    from edge_agent.outbox import Outbox
    from edge_agent.service import station_clock

    started: list = []
    try:
        for i, station in enumerate(demo.stations):
            config = load_agent_config(demo.agent_configs[station.code])
            with Outbox(config.outbox.path) as outbox:
                until = outbox.acquired_until(station.code)
            # the agent's own clock rule, started just before the agent: a little ahead
            clock = station_clock(config.clock, until)
            driver, source = _emulated_source(station, i)
            mca = SimulatedMca(source, clock, seed=100 + i)
            ports = _emulated_ports(demo.agent_configs[station.code].parent)
            if driver == "vendor-files":
                started.append(VendorSoftwareEmulator(config.mca.folder, mca, clock).start())
            else:
                emulator = OrtecEmulator(mca) if driver == "ortec-mcb" else AmptekEmulator(mca)
                started.append(EmulatorServer(emulator, port=ports["mca"]).start())
            for sensor in EMULATED_SENSORS:
                started.append(EmulatorServer(make_device(sensor), port=ports[sensor]).start())
    except Exception:
        for emulator in started:
            emulator.stop()
        raise
    return started
