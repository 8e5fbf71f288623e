"""A real Mosquitto broker on a free loopback port, a subscriber that records what it
receives, and a store with published and unpublished data."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import pytest

from central.mqtt import schemas, topic_kind

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
# the bound of every wait on a condition: generous for a loaded machine (a wait returns as
# soon as its condition holds, so it costs nothing when the machine is idle)
WAIT_SECONDS = 30.0
BARRIER = "test-barrier-"  # topic level of Subscriber.barrier's own messages
_barriers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """`mosquitto -c <conf>` on 127.0.0.1:`port`; stop and start again on the same port.
    `settings`: the listener's lines (anonymous by default; TLS and passwords in
    test_tls_auth.py)."""

    def __init__(self, folder: Path, settings: Sequence[str] = ("allow_anonymous true",)):
        assert Path(MOSQUITTO).exists(), (
            "mosquitto is not installed: scripts/setup.sh installs it (apt-get install -y mosquitto)"
        )
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        # as root mosquitto would drop to the user `mosquitto`, who cannot read tmp files
        user = ["user root"] if os.geteuid() == 0 else []
        self.conf.write_text(
            "\n".join(
                [
                    *user,
                    "per_listener_settings false",
                    f"listener {self.port} 127.0.0.1",
                    *settings,
                    "persistence false",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                ]
            )
            + "\n"
        )
        self.process: subprocess.Popen | None = None

    def reload(self) -> None:
        """SIGHUP: mosquitto reads its password file again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen within {WAIT_SECONDS} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


@dataclass
class Received:
    topic: str
    payload: dict
    qos: int
    retain: bool


class Subscriber:
    """Subscribes to `<prefix>/#` at QoS 1 (again after each reconnection) and keeps what
    arrives; every payload is checked against its published JSON Schema."""

    def __init__(
        self, port: int, prefix: str = "stax", setup: Callable[[mqtt.Client], None] | None = None
    ):
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.schemas = schemas()
        self.errors: list[str] = []
        self.barriers: list[str] = []  # the barrier topics seen (not kept in messages)
        self.prefix = prefix
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{id(self)}")
        client.on_connect = lambda c, *a: c.subscribe(f"{prefix}/#", qos=1)
        client.on_message = self._on_message
        client.reconnect_delay_set(0.2, 1)
        if setup is not None:  # TLS, a login
            setup(client)
        client.connect_async("127.0.0.1", port, keepalive=10)
        client.loop_start()
        self.client = client

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic.startswith(f"{self.prefix}/{BARRIER}"):
            with self.lock:
                self.barriers.append(msg.topic)
            return
        try:
            payload = json.loads(msg.payload)
            jsonschema.validate(payload, self.schemas[topic_kind(msg.topic)])
        except Exception as exc:  # recorded: a test thread cannot raise here
            self.errors.append(f"{msg.topic}: {exc}")
            payload = {}
        with self.lock:
            self.messages.append(Received(msg.topic, payload, msg.qos, bool(msg.retain)))

    def on(self, topic: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def barrier(self, timeout: float = WAIT_SECONDS) -> None:
        """Return once every message the broker had taken before this call has reached
        this subscriber: the broker (one thread) queues a message to its subscribers
        before it acknowledges it, and delivers each subscriber's queue in order, so a
        message of ours published now arrives after them."""
        topic = f"{self.prefix}/{BARRIER}{next(_barriers)}/status"
        self.client.publish(topic, b"{}", qos=1).wait_for_publish(timeout)
        self.wait(lambda ms: topic in self.barriers, timeout)

    def wait(self, predicate, timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.messages)):
                    return
            time.sleep(0.05)
        with self.lock:
            seen = [
                (m.topic, m.payload.get("state") or m.payload.get("status")) for m in self.messages
            ]
        raise AssertionError(f"not seen within {timeout} s; received: {seen}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribers():
    """Subscribers to any broker (`port`, `setup`: see Subscriber), closed at the end,
    where every payload they received must have matched its schema."""
    made: list[Subscriber] = []

    def make(port: int, setup: Callable[[mqtt.Client], None] | None = None) -> Subscriber:
        s = Subscriber(port, setup=setup)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
        assert s.errors == [], s.errors


@pytest.fixture
def subscribe(broker, subscribers):
    return lambda: subscribers(broker.port)


@pytest.fixture
def publishers(clock):
    """Publishers (central.mqtt.Publisher) on the tests' clock, started, stopped at the
    end; `reconnect_delay`: how soon paho tries again (the Publisher's own by default)."""
    from central.mqtt import Publisher

    made: list = []

    def make(config, database, reconnect_delay: float | None = None):
        p = Publisher(config, database, clock)
        if reconnect_delay is not None:
            p.client.reconnect_delay_set(reconnect_delay, reconnect_delay)
        p.start()
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


class Clock:
    def __init__(self, now: datetime):
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def move(self, span: timedelta) -> None:
        with self.lock:
            self.now += span


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return Clock(NOW)


def more_passes(publisher, n: int = 3, what: str = "passes", timeout: float = WAIT_SECONDS):
    """Wait until `publisher` has made `n` more passes while connected (`what`: "rounds",
    connected or not): what it would send twice, it would have sent by then (each pass
    waits for the broker's PUBACKs), what it would report, it has."""
    target = getattr(publisher, what) + n
    deadline = time.monotonic() + timeout
    while getattr(publisher, what) < target:
        assert time.monotonic() < deadline, f"fewer than {n} {what} within {timeout} s"
        time.sleep(0.02)
