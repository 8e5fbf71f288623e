"""A real SQLite store with two facilities and their users, the network's PKI (the
central's certificate signs the mail), and a real SMTP server (aiosmtpd on a loopback
port, STARTTLS with a certificate of the test PKI, AUTH required) that keeps what it
accepted."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from argon2 import PasswordHasher

import central.accounts
from central.accounts import create_user
from central.facilities import update_facility
from central.mail.outgoing import Backoff, MailSigner, SmtpTransport
from central.store import Store
from shared.timeutil import iso_z
from tests.secure.conftest import Network, make_network

# the test's clock: near the real time, so that certificates made now are valid at it
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
SMTP_USER, SMTP_PASSWORD = "stax-central", "smtp-s3cret"
FROM = "noreply@central.test"
PASSWORD = "correct horse battery"
BACKOFF = Backoff(first=60, cap=600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2id with the smallest cost (hashing itself is tested with accounts)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(central.accounts, "_hasher", cheap)
        patch.setattr(central.accounts, "_DUMMY_HASH", cheap.hash("not a real password"))
        yield


@pytest.fixture(scope="session")
def network(tmp_path_factory) -> Network:
    return make_network(tmp_path_factory.mktemp("subscriptions-pki"), [])


@pytest.fixture(scope="session")
def signer(network) -> MailSigner:
    """The central's mail signer: its certificate (emailProtection) and the CA."""
    return MailSigner(network.central.cert, network.central.key, (network.ca_cert,))


@dataclass
class Mailbox:
    """What the SMTP server accepted; `refuse` makes it answer DATA with that reply."""

    raw: list[bytes] = field(default_factory=list)
    rcpt: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.refuse is not None:
            return self.refuse
        with self.lock:
            self.raw.append(bytes(envelope.original_content))
            self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK queued"

    def mails(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(r, policy=email.policy.default) for r in self.raw]

    def subjects(self) -> list[tuple[str, str]]:
        return sorted((str(m["To"]), str(m["Subject"])) for m in self.mails())


class SmtpServer:
    def __init__(self, network: Network, port: int):
        self.network, self.port = network, port
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.network.ca.central_cert_path, self.network.ca.central_key_path)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                auth_data.login.decode() == SMTP_USER
                and auth_data.password.decode() == SMTP_PASSWORD
            )
            if ok:
                self.mailbox.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_require_tls=True,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def transport(self, password: str = SMTP_PASSWORD) -> SmtpTransport:
        return SmtpTransport(
            "127.0.0.1",
            self.port,
            starttls=True,
            ca_file=self.network.ca.ca_cert_path,
            login=(SMTP_USER, password),
            timeout=5,
        )


@pytest.fixture
def smtp(network):
    server = SmtpServer(network, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path) -> Store:
    """AUS02 publishes after 1 day, BES01 at once. Users: olga owns AUS02, alice and
    carl see AUS02, bert sees BES01, root is an administrator (all with addresses)."""
    with Store(tmp_path / "db" / "central.sqlite") as s:
        s.ensure_facility("AUS02", name="ANSTO")
        s.ensure_facility("BES01", name="Stack building")
        update_facility(s, "AUS02", {"publish_delay": "1d"}, changed_by="test", now=T0)
        update_facility(s, "BES01", {"publish_delay": "immediately"}, changed_by="test", now=T0)
        for name, role, assigned, owned in (
            ("root", "admin", [], []),
            ("olga", "owner", [], ["AUS02"]),
            ("alice", "user", ["AUS02"], []),
            ("carl", "user", ["AUS02"], []),
            ("bert", "user", ["BES01"], []),
        ):
            create_user(
                s, name, PASSWORD, role=role, facilities=assigned, owned=owned,
                email=f"{name}@users.test",
            )  # fmt: skip
        yield s


def user_id(store: Store, name: str) -> int:
    return store.conn.execute("select id from users where username = ?", [name]).fetchone()[0]


def add_file(
    store: Store, station: str, n: int, product: str = "PHD", start: datetime | None = None
) -> int:
    """A stored file of `station` whose data start at `start` (default T0 + n x 15 min),
    received 20 minutes after."""
    start = start or T0 + timedelta(minutes=15 * n)
    extension = {"ATS": "TXT", "CSV": "CSV"}.get(product, "TXT")
    content = (
        f"BEGIN IMS2.0\nMSG_TYPE DATA\nMSG_ID {5000 + n} {station}\n{product} file {n}\nSTOP\n"
    ).encode()
    result = store.add_message(
        file_name=f"{station}_{5000 + n}_{product}_{start:%Y_%m_%dT%H_%M_%S}.{extension}",
        station=station,
        data_type={"PHD": "SAMPLEPHD", "SOH": "RMSSOH", "ALERT": "ALERT_SYSTEM"}.get(
            product, product
        ),
        product=product,
        msg_id=f"{5000 + n}",
        content=content,
        start_time=iso_z(start),
        summary={"station": station},
        received_at=iso_z(start + timedelta(minutes=20)),
    )
    assert result.outcome == "created"
    return int(result.message_id)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
