"""A running central (intake and [mail]) on loopback in a thread, station mails made with
the project's sealing and with the OpenSSL command line, and a real Dovecot."""

from __future__ import annotations

import asyncio
import imaplib
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from central.config import load_central_config
from central.intake import start_intake
from central.mail import MailServices, start_mail
from central.store import Store
from tests.secure.conftest import Network, Party, make_network, phd_message, phd_name
from tests.secure.intake_harness import free_port, write_config

CENTRAL_ADDRESS = "stax@central.test"


@pytest.fixture(scope="session")
def network(tmp_path_factory) -> Network:
    """Stations AUS02 and BES01, and REV01 whose certificate is revoked."""
    return make_network(tmp_path_factory.mktemp("mail-pki"), ["AUS02", "BES01"], revoked=["REV01"])


def smime_mail(
    envelope: bytes,
    subject: str | None,
    *,
    sender: str = "aus02@station.test",
    content_type: str = "application/pkcs7-mime",
    smime_type: str = "enveloped-data",
) -> bytes:
    """An S/MIME mail as the wire contract has it: base64 of the DER, Subject the file name."""
    maintype, subtype = content_type.split("/")
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = CENTRAL_ADDRESS
    if subject is not None:
        mail["Subject"] = subject
    mail["Message-ID"] = f"<{time.monotonic_ns()}@station.test>"
    mail.set_content(
        envelope,
        maintype=maintype,
        subtype=subtype,
        cte="base64",
        disposition="attachment",
        filename="smime.p7m",
        params={"smime-type": smime_type, "name": "smime.p7m"},
    )
    return mail.as_bytes()


def station_mail(network: Network, station: str, msg_id: str, signer: str | None = None) -> bytes:
    """A PHD of `station`, sealed by `signer` (default: the station itself), as a mail."""
    party: Party = network.stations[signer or station]
    envelope = party.seal(phd_message(station, msg_id), network.central.cert)
    return smime_mail(envelope, phd_name(station, msg_id), sender=f"{station.lower()}@station.test")


def openssl_mail(network: Network, station: str, msg_id: str, folder: Path) -> bytes:
    """The same mail made by the OpenSSL command line alone (an independent maker)."""
    party = network.stations[station]
    plain = folder / f"{msg_id}.txt"
    plain.write_bytes(phd_message(station, msg_id))
    signed = subprocess.run(
        [
            "openssl", "cms", "-sign", "-binary", "-nodetach", "-md", "sha256",
            "-outform", "DER", "-in", str(plain),
            "-signer", str(party.folder / "station.pem"),
            "-inkey", str(party.folder / "station.key"),
            "-certfile", str(network.ca.ca_cert_path),
        ],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return subprocess.run(
        [
            "openssl", "cms", "-encrypt", "-binary", "-aes256", "-inform", "DER",
            "-outform", "SMIME", "-subject", phd_name(station, msg_id),
            "-from", f"{station.lower()}@station.test", "-to", CENTRAL_ADDRESS,
            str(network.ca.central_cert_path),
        ],
        input=signed, check=True, capture_output=True,
    ).stdout  # fmt: skip


class MailCentral:
    """`start_intake` and `start_mail` on an event loop of their own thread."""

    def __init__(self, config_path: Path):
        self.config = load_central_config(config_path)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="central", daemon=True)
        self.thread.start()
        self.server = self.run(start_intake(self.config))
        self.mail: MailServices = self.run(start_mail(self.config.mail, self.server.intake))

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.run(self.mail.close())
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)

    @property
    def smtp_port(self) -> int:
        assert self.mail.listener is not None
        return self.mail.listener.port

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.config.storage.database_path)
        conn.row_factory = sqlite3.Row
        return conn

    def messages(self) -> list[dict]:
        with self.db() as conn:
            rows = [dict(r) for r in conn.execute("select * from messages order by id")]
        with Store(self.config.storage.database_path) as store:  # the bytes live in blobs
            return [{**r, "content": store.content(r["id"])} for r in rows]

    def quarantined(self) -> list[sqlite3.Row]:
        with self.db() as conn:
            return list(conn.execute("select * from quarantine order by id"))


def central_config(folder: Path, network: Network, mail: dict[str, object], **imap) -> Path:
    """A central configuration with its own copy of the CRL (a test may take it away)."""
    crl = folder / "crl.pem"
    shutil.copy(network.ca.crl_path, crl)
    path = write_config(folder, network, free_port())
    text = path.read_text().replace(f'crl = "{network.ca.crl_path}"', f'crl = "{crl}"')
    lines = ["[mail]", *(f"{k} = {_toml(v)}" for k, v in mail.items())]
    if imap:
        lines += ["[mail.imap]", *(f"{k} = {_toml(v)}" for k, v in imap.items())]
    path.write_text(text + "\n".join(lines) + "\n")
    return path


def _toml(value: object) -> str:
    if isinstance(value, str | Path):
        return '"' + str(value) + '"'
    return repr(value)


@pytest.fixture
def make_central(tmp_path, network) -> Iterator:
    started: list[MailCentral] = []

    def make(mail: dict[str, object] | None = None, **imap) -> MailCentral:
        mail = {"listen": "smtp", "port": 0, **(mail or {})}
        central = MailCentral(central_config(tmp_path, network, mail, **imap))
        started.append(central)
        return central

    yield make
    for central in started:
        central.stop()


# ------------------------------------------------------------------------ Dovecot
DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "central", "imap-secret"

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
# as root, Dovecot needs these two (system.md); mail itself is kept as the dovecot user
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
"""


class Dovecot:
    def __init__(
        self, root: Path, port: int, process: subprocess.Popen, imaps_port: int = 0, ca=None
    ):
        self.root = root
        self.port = port  # plain IMAP (STARTTLS too when TLS is on)
        self.imaps_port = imaps_port  # IMAPS, when TLS is on
        self.ca_file: Path | None = ca  # the self-signed certificate, when TLS is on
        self.process = process
        self.password_file = root / "password"
        self.password_file.write_text(PASSWORD + "\n")
        self.password_file.chmod(0o600)  # [mail.imap] refuses one others may read

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        conn.login(USER, PASSWORD)
        return conn

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        conn = self.client()
        try:
            status, data = conn.append(mailbox, None, None, raw)
            assert status == "OK", data
        finally:
            conn.logout()

    def uids(self, mailbox: str) -> dict[str, bytes]:
        """UID -> flags of the messages in `mailbox` (empty when it does not exist)."""
        conn = self.client()
        try:
            status, _ = conn.select(f'"{mailbox}"')
            if status != "OK":
                return {}
            _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    words = line.replace(b"(", b" ").replace(b")", b" ").split()
                    uid = words[words.index(b"UID") + 1].decode()
                    out[uid] = line
            return out
        finally:
            conn.logout()

    def imap_settings(self, **overrides) -> dict[str, object]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "user": USER,
            "password_file": self.password_file,
            **overrides,
        }


def _self_signed(root: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (OpenSSL command line), readable by Dovecot as root."""
    cert, key = root / "imap.pem", root / "imap.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held together while chosen, so never the same twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_dovecot(tls: bool) -> Iterator[Dovecot]:
    """A real Dovecot IMAP server on free loopback ports, its mail in a folder of its own."""
    assert os.path.exists(DOVECOT), "Dovecot is missing: scripts/setup.sh test installs it"
    # short path: Dovecot's sockets live in base_dir; owned by the mail user below
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))
    os.chmod(root, 0o755)
    mail_user = pwd.getpwnam("dovecot")
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, mail_user.pw_uid, mail_user.pw_gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port, imaps_port = _free_ports(2)
    ca = None
    ssl = "ssl = no"
    if not tls:
        imaps_port = 0  # no IMAPS listener
    else:
        ca, key = _self_signed(root)
        ssl = f"ssl = yes\nssl_cert = <{ca}\nssl_key = <{key}"
    conf = root / "dovecot.conf"
    conf.write_text(
        _CONF.format(
            root=root,
            port=port,
            imaps_port=imaps_port,
            ssl=ssl,
            uid=mail_user.pw_uid,
            gid=mail_user.pw_gid,
        )
    )
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60  # a loaded shared machine
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    out = process.stdout.read().decode() if process.stdout else ""
                    log_file = root / "dovecot.log"
                    log = log_file.read_text() if log_file.exists() else ""
                    pytest.fail(f"Dovecot did not start: {out}\n{log}")
                time.sleep(0.1)
        yield Dovecot(root, port, process, imaps_port, ca)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """Dovecot without TLS (the tests of what the poller does)."""
    yield from _run_dovecot(tls=False)


@pytest.fixture
def dovecot_tls() -> Iterator[Dovecot]:
    """Dovecot with IMAPS and STARTTLS, its certificate self-signed for 127.0.0.1."""
    yield from _run_dovecot(tls=True)
