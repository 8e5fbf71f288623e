"""MQTT over TLS with a password (and a client certificate) against a real Mosquitto, and
the central alert (kind `mqtt`) when the broker refuses: raised once after
`[mqtt] alert_after_seconds`, with the reason, cleared when publishing works again."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.alerts import CENTRAL
from central.config import MqttConfig, load_central_config
from central.mqtt import check_lines, tls_context
from central.store import Store
from shared.config import ConfigError
from shared.crypto.pki import NetworkCA

from .conftest import NOW, Broker, more_passes
from .data import facility_with_soh

PUBLISHER, READER = "stax-central", "reader"
PUBLISHER_PASSWORD, READER_PASSWORD = "a long publisher password", "the reader's password"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the network CA: the broker's certificate and the clients'
    broker_cert: Path
    broker_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that did not sign the broker's certificate


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    """The project's own PKI: the central certificate (localhost, 127.0.0.1) serves as the
    broker's, a station certificate (clientAuth) as the publisher's client certificate."""
    folder = tmp_path_factory.mktemp("mqtt-pki")
    now = datetime.now(UTC)
    ca = NetworkCA.create(folder / "network", now=now, ca_key_bits=2048)
    ca.issue_station("AUS02", now=now)
    other = NetworkCA.create(folder / "other", now=now, ca_key_bits=2048)
    return Pki(
        ca.ca_cert_path,
        ca.central_cert_path,
        ca.central_key_path,
        ca.station_cert_path("AUS02"),
        ca.station_key_path("AUS02"),
        other.ca_cert_path,
    )


def make_tls_broker(folder: Path, pki: Pki, *, client_certificate: bool) -> Broker:
    passwords = folder / "passwords"
    for i, (user, password) in enumerate(
        [(PUBLISHER, PUBLISHER_PASSWORD), (READER, READER_PASSWORD)]
    ):
        create = ["-c"] if i == 0 else []
        subprocess.run(
            ["mosquitto_passwd", "-b", *create, str(passwords), user, password], check=True
        )
    return Broker(
        folder,
        [
            "allow_anonymous false",
            f"password_file {passwords}",
            f"cafile {pki.ca}",
            f"certfile {pki.broker_cert}",
            f"keyfile {pki.broker_key}",
            f"require_certificate {'true' if client_certificate else 'false'}",
        ],
    )


@pytest.fixture
def tls_broker(tmp_path, pki):
    made: list[Broker] = []

    def make(client_certificate: bool = False) -> Broker:
        broker = make_tls_broker(tmp_path, pki, client_certificate=client_certificate)
        broker.start()
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.stop()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "central.sqlite"
    facility_with_soh(path, NOW)
    return path


@pytest.fixture
def publisher(db, publishers):
    # paho tries again each second: the tests' broker is fixed at once
    return lambda config: publishers(config, db, reconnect_delay=1)


@pytest.fixture
def reader(pki, subscribers):
    """A subscriber that logs in over TLS as `reader` (with a client certificate, which a
    broker that does not ask for one ignores)."""

    def setup(client) -> None:
        client.tls_set(
            ca_certs=str(pki.ca), certfile=str(pki.client_cert), keyfile=str(pki.client_key)
        )
        client.username_pw_set(READER, READER_PASSWORD)

    return lambda broker: subscribers(broker.port, setup)


def mqtt_config(broker: Broker, pki: Pki, tmp_path: Path, password: str, **kw) -> MqttConfig:
    password_file = tmp_path / "mqtt-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    fields = dict(
        host="127.0.0.1",
        port=broker.port,
        tls=True,
        ca_file=pki.ca,
        username=PUBLISHER,
        password_file=password_file,
        poll_seconds=0.1,
        keepalive_seconds=5,
        alert_after_seconds=300,
    )
    return MqttConfig(**(fields | kw))


def mqtt_episodes(db: Path) -> list[dict]:
    with Store(db) as store:
        return [
            dict(r)
            for r in store.db.query(
                "select station, state, message, clear_message from central_alerts "
                "where kind = 'mqtt' order by id"
            )
        ]


@pytest.mark.parametrize("client_certificate", [False, True])
def test_publishing_over_tls_with_a_password(
    tls_broker, reader, publisher, pki, tmp_path, db, client_certificate
):
    broker = tls_broker(client_certificate=client_certificate)
    live = reader(broker)
    certificate = {"cert_file": pki.client_cert, "key_file": pki.client_key}
    p = publisher(
        mqtt_config(
            broker, pki, tmp_path, PUBLISHER_PASSWORD, **(certificate if client_certificate else {})
        )
    )
    live.wait(lambda ms: {m.topic for m in ms} >= {"stax/central/status", "stax/USX01/soh"})
    (soh,) = live.on("stax/USX01/soh")
    assert soh.payload["values"]["room_temperature"]["value"] == 21.5
    more_passes(p)
    assert mqtt_episodes(db) == []  # publishing works: no alert


def test_a_wrong_password_raises_one_mqtt_alert_after_the_delay_and_it_clears(
    tls_broker, reader, publisher, pki, tmp_path, db, clock
):
    broker = tls_broker()
    live = reader(broker)
    p = publisher(mqtt_config(broker, pki, tmp_path, "not the password", central_alerts=True))
    more_passes(p, what="rounds")
    assert "refused the login" in p.health.reason, p.health.reason
    clock.move(timedelta(seconds=299))
    more_passes(p, what="rounds")
    assert mqtt_episodes(db) == []  # not yet: a broker may refuse for a moment
    clock.move(timedelta(seconds=2))
    more_passes(p, what="rounds")
    [raised] = mqtt_episodes(db)
    assert raised["station"] == CENTRAL and raised["state"] == "open"
    assert "refused the login" in raised["message"] and "127.0.0.1" in raised["message"]
    clock.move(timedelta(minutes=30))  # still refused: the same episode, no new alert
    more_passes(p, what="rounds")
    assert len(mqtt_episodes(db)) == 1

    # the broker's password file gets the password the publisher has: it publishes again
    subprocess.run(
        ["mosquitto_passwd", "-b", str(tmp_path / "passwords"), PUBLISHER, "not the password"],
        check=True,
    )
    broker.reload()
    live.wait(lambda ms: any(m.topic == "stax/USX01/soh" for m in ms))
    more_passes(p)
    [cleared] = mqtt_episodes(db)
    assert cleared["state"] == "cleared" and "again" in cleared["clear_message"]
    # the episode went out too, once raised and once cleared (central-wide: central/alert)
    live.wait(lambda ms: len([m for m in ms if m.topic == "stax/central/alert"]) == 2)
    events = [(m.payload["kind"], m.payload["state"]) for m in live.on("stax/central/alert")]
    assert events == [("mqtt", "raised"), ("mqtt", "cleared")]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("untrusted broker", "TLS: the broker's certificate is not trusted"),
        ("no client certificate", "closed the connection before accepting it"),
        ("broker down", "connection refused"),
    ],
)
def test_a_broker_that_cannot_be_used_raises_the_alert_with_the_reason(
    tls_broker, publisher, pki, tmp_path, db, clock, case, reason
):
    broker = tls_broker(client_certificate=case == "no client certificate")
    if case == "broker down":
        broker.stop()
    ca = pki.other_ca if case == "untrusted broker" else pki.ca
    p = publisher(mqtt_config(broker, pki, tmp_path, PUBLISHER_PASSWORD, ca_file=ca))
    more_passes(p, what="rounds")
    assert reason in p.health.reason, p.health.reason
    clock.move(timedelta(seconds=301))
    more_passes(p, what="rounds")
    [raised] = mqtt_episodes(db)
    assert raised["state"] == "open" and reason in raised["message"]


def test_a_restart_with_a_working_broker_clears_the_alert_left_open(
    tls_broker, publisher, pki, tmp_path, db, clock
):
    broker = tls_broker()
    wrong = publisher(mqtt_config(broker, pki, tmp_path, "not the password"))
    more_passes(wrong, what="rounds")
    clock.move(timedelta(seconds=301))
    more_passes(wrong, what="rounds")
    wrong.stop()
    assert [e["state"] for e in mqtt_episodes(db)] == ["open"]
    right = publisher(mqtt_config(broker, pki, tmp_path, PUBLISHER_PASSWORD))
    more_passes(right)
    more_passes(right, what="rounds")
    assert [e["state"] for e in mqtt_episodes(db)] == ["cleared"]


# ------------------------------------------------------------ the [mqtt] settings
def test_tls_files_without_tls_and_a_key_without_its_certificate_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cert_file, key_file need tls = true"):
        MqttConfig(host="h", cert_file=tmp_path / "c.pem", key_file=tmp_path / "k.pem")
    with pytest.raises(ValueError, match="key_file needs cert_file"):
        MqttConfig(host="h", tls=True, key_file=tmp_path / "k.pem")
    with pytest.raises(ValueError, match="alert_after_seconds must be positive"):
        MqttConfig(host="h", alert_after_seconds=0)


CENTRAL_TOML = """[intake]
server_cert = "server.pem"
server_key = "server.key"
ca_cert = "ca.pem"
[storage]
data_dir = "data"
[mqtt]
host = "broker.example.org"
"""


def test_the_settings_from_the_configuration_file(tmp_path):
    path = tmp_path / "central.toml"
    path.write_text(
        CENTRAL_TOML + 'tls = true\ncert_file = "mqtt-client.pem"\nkey_file = "mqtt-client.key"\n'
        "alert_after_seconds = 60\n"
    )
    mqtt = load_central_config(path).mqtt
    assert (mqtt.cert_file, mqtt.key_file) == (
        tmp_path / "mqtt-client.pem",
        tmp_path / "mqtt-client.key",
    )
    assert mqtt.alert_after_seconds == 60
    path.write_text(CENTRAL_TOML + 'cert_file = "mqtt-client.pem"\n')
    with pytest.raises(ConfigError, match=r"central.toml: \[mqtt\]: cert_file needs tls = true"):
        load_central_config(path)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"ca_file": "missing.pem"}, "ca_file {d}/missing.pem: cannot read: No such file"),
        ({"ca_file": "folder"}, "ca_file {d}/folder: cannot read: Is a directory"),
        ({"ca_file": "garbage.pem"}, "ca_file {d}/garbage.pem: not PEM CA certificates"),
        ({"cert_file": "missing.pem"}, "cert_file {d}/missing.pem: cannot read"),
        ({"cert_file": "garbage.pem"}, "cert_file {d}/garbage.pem: not a PEM certificate"),
        ({"cert_file": "CLIENT"}, "cert_file {d}/client.pem: no private key of its certificate"),
        (
            {"cert_file": "CLIENT", "key_file": "missing.key"},
            "key_file {d}/missing.key: cannot read: No such file",
        ),
        (
            {"cert_file": "CLIENT", "key_file": "BROKER_KEY"},
            "key_file {d}/broker.key: not the PEM private key of cert_file {d}/client.pem",
        ),
    ],
)
def test_a_tls_file_that_cannot_be_used_is_named(tmp_path, pki, files, error):
    (tmp_path / "folder").mkdir()
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    (tmp_path / "client.pem").write_bytes(pki.client_cert.read_bytes())
    (tmp_path / "broker.key").write_bytes(pki.broker_key.read_bytes())
    names = {"CLIENT": "client.pem", "BROKER_KEY": "broker.key"}
    paths = {k: tmp_path / names.get(v, v) for k, v in files.items()}
    config = MqttConfig(host="h", tls=True, **({"ca_file": pki.ca} | paths))
    with pytest.raises(ValueError) as raised:
        tls_context(config)
    assert str(raised.value).startswith("[mqtt] " + error.format(d=tmp_path)), raised.value
    lines, problems = check_lines(config)  # `stax central check` says it too
    assert lines == ["mqtt        mqtts://h:1883"] and problems == [str(raised.value)]


def test_an_unreadable_tls_file_is_the_alerts_reason_until_it_is_there(
    tls_broker, reader, publisher, pki, tmp_path, db, clock
):
    broker = tls_broker()
    live = reader(broker)
    ca = tmp_path / "broker-ca.pem"  # not there yet (a file copied later, or a typo)
    p = publisher(mqtt_config(broker, pki, tmp_path, PUBLISHER_PASSWORD, ca_file=ca))
    more_passes(p, what="rounds")
    assert p.health.reason == f"[mqtt] ca_file {ca}: cannot read: No such file or directory"
    assert not p.connecting
    clock.move(timedelta(seconds=301))
    more_passes(p, what="rounds")
    [raised] = mqtt_episodes(db)
    assert raised["state"] == "open" and f"ca_file {ca}: cannot read" in raised["message"]
    ca.write_bytes(pki.ca.read_bytes())  # the file is put there: read again, connected
    live.wait(lambda ms: any(m.topic == "stax/USX01/soh" for m in ms))
    more_passes(p)
    [cleared] = mqtt_episodes(db)
    assert cleared["state"] == "cleared"


def test_the_tls_errors_are_put_in_words():
    from central.mqtt_health import connect_error

    broker = "mqtt.example:8883"
    unknown = ssl.SSLCertVerificationError(1, "certificate verify failed")
    unknown.verify_message = "unable to get local issuer certificate"
    assert "not trusted (unable to get local issuer certificate" in connect_error(unknown, broker)
    assert "connection refused" in connect_error(ConnectionRefusedError(111, "x"), broker)
    assert "timed out" in connect_error(TimeoutError(), broker)
    assert connect_error(None, broker) == f"cannot connect to {broker}"
