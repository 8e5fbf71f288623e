"""E-mail delivery against a real SMTP server (aiosmtpd on a loopback port, STARTTLS with a
certificate of the test PKI, AUTH LOGIN/PLAIN required): what leaves the outbox and when,
and the OpenSSL command line opens and verifies what arrived."""

import email
import email.policy
import ssl
import subprocess
import threading
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from edge_agent.clock import SteppingClock
from edge_agent.outbox import Outbox, ReleasePolicy
from edge_agent.sealing import Sealer
from edge_agent.sender import RetryPolicy, Sender, SmtpClient

from .conftest import T0
from .test_sender import FakeTime, free_port, queue

USER, PASSWORD = "aus02", "s3cret-password"


@dataclass
class Mailbox:
    """What the SMTP server accepted; `refuse` makes it answer DATA with that reply."""

    messages: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.refuse is not None:
            return self.refuse
        with self.lock:
            self.messages.append(envelope.original_content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK queued"


def start_smtp(pki, mailbox: Mailbox):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        if ok:
            mailbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535

    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    return controller


@pytest.fixture
def smtp(pki):
    mailbox = Mailbox()
    controller = start_smtp(pki, mailbox)
    yield mailbox, controller
    controller.stop()


def client(pki, port, tmp_path, password=PASSWORD):
    secret = tmp_path / "smtp-password"
    secret.write_text(password + "\n")
    return SmtpClient(
        "127.0.0.1",
        port,
        "aus02@station.example.org",
        "intake@central.example.org",
        pki.ca,
        USER,
        secret,
        timeout=5,
    )


def make_sender(tmp_path, pki, port, **kw):
    box = Outbox(tmp_path / "outbox.sqlite")
    sender = Sender(
        box,
        client(pki, port, tmp_path, kw.pop("password", PASSWORD)),
        SteppingClock(T0),
        RetryPolicy(1.0, 8.0),
        rnd=lambda: 1.0,
        **kw,
    )
    return box, sender


def test_each_file_arrives_as_an_smime_message_that_openssl_opens_and_verifies(tmp_path, pki, smtp):
    mailbox, controller = smtp
    box, sender = make_sender(tmp_path, pki, controller.port)
    seal = Sealer("AUS02", pki.station_cert, pki.station_key, None, pki.server_cert, pki.ca)
    plain = b"BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID 1 AUS02\nDATA_TYPE ALERT_SYSTEM\n"
    item = box.add(
        file_name="AUS02_1_ALERT_2023_11_20T00_00_00.TXT",
        station="AUS02",
        msg_id=1,
        data_type="ALERT_SYSTEM",
        content=plain,
        payload=seal(plain),
        created=T0,
        policy=ReleasePolicy(),
    )
    assert sender.send_due() == 1
    sent = box.get(item.id)
    assert sent.state == "sent" and sent.last_status == 250
    assert mailbox.logins == [USER]  # logged in (only possible after STARTTLS)
    (raw,) = mailbox.messages
    assert mailbox.envelopes == [("aus02@station.example.org", ["intake@central.example.org"])]

    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == item.file_name
    assert mail.get_content_type() == "application/pkcs7-mime"
    assert mail.get_param("smime-type") == "enveloped-data"
    assert mail.get_param("name") == "smime.p7m"
    assert mail["Content-Transfer-Encoding"] == "base64"
    assert mail.get_content() == sent.payload  # the same DER as over HTTPS

    path = tmp_path / "mail.eml"
    path.write_bytes(raw)
    decrypted = subprocess.run(
        ["openssl", "smime", "-decrypt", "-in", str(path), "-recip", str(pki.server_cert),
         "-inkey", str(pki.server_key), "-outform", "DER"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    verified = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-CAfile", str(pki.ca),
         "-no-CApath", "-no-CAstore", "-purpose", "any"],
        input=decrypted, capture_output=True,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr.decode()
    assert verified.stdout == plain
    assert b"Verification successful" in verified.stderr


def test_a_wrong_password_holds_the_queue_and_nothing_leaves(tmp_path, pki, smtp, caplog):
    mailbox, controller = smtp
    real = FakeTime()
    box, sender = make_sender(tmp_path, pki, controller.port, password="wrong", real_time=real)
    (a,) = queue(box, 1)
    assert sender.send_due() == 1
    item = box.get(a)
    assert item.state == "ready" and item.last_status == 535
    assert "login as 'aus02' refused" in item.last_error
    assert mailbox.messages == []
    assert sender.send_due() == 0  # the queue waits for the retry
    assert "check [central.email] user and password_file" in caplog.text


def test_no_server_keeps_the_file_and_it_goes_when_the_server_is_back(tmp_path, pki):
    port = free_port()
    real = FakeTime()
    box, sender = make_sender(tmp_path, pki, port, real_time=real)
    (a,) = queue(box, 1)
    assert sender.send_due() == 1
    assert box.get(a).state == "ready"
    assert "cannot reach the SMTP server" in box.get(a).last_error
    mailbox = Mailbox()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=lambda *a: AuthResult(success=True),
        auth_require_tls=True,
    )
    controller.start()
    try:
        real.t += 10
        assert sender.send_due() == 1
    finally:
        controller.stop()
    assert box.get(a).state == "sent"
    assert len(mailbox.messages) == 1


def test_a_permanent_refusal_of_the_message_keeps_it_as_refused(tmp_path, pki, smtp):
    mailbox, controller = smtp
    mailbox.refuse = "552 5.3.4 Message size exceeds fixed limit"
    box, sender = make_sender(tmp_path, pki, controller.port)
    a, b = queue(box, 2)
    assert sender.send_due() == 2  # the next file still goes on
    assert box.get(b).state == "refused"
    item = box.get(a)
    assert item.state == "refused" and item.last_status == 552
    assert "Message size exceeds" in item.last_error
    mailbox.refuse = "451 4.3.0 try later"
    box.release(a)
    assert sender.send_due() == 1  # b was refused too; a is tried again and deferred
    assert box.get(a).state == "ready" and box.get(a).last_status == 451


def test_a_server_without_starttls_gets_nothing(tmp_path, pki):
    mailbox = Mailbox()
    plain = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    plain.start()
    try:
        box, sender = make_sender(tmp_path, pki, plain.port)
        (a,) = queue(box, 1)
        sender.send_due()
    finally:
        plain.stop()
    assert box.get(a).state == "ready"
    assert "does not offer STARTTLS" in box.get(a).last_error
    assert mailbox.messages == []


def test_both_transports_each_keep_their_own_delivery_state(tmp_path, pki, smtp, intake_factory):
    """A file is sent once both delivered; one transport down does not hold the other."""
    from edge_agent.sender import HttpsClient

    mailbox, controller = smtp
    real = FakeTime()
    box = Outbox(tmp_path / "outbox.sqlite")
    both = ("https", "email")
    dead_https = HttpsClient(
        f"https://127.0.0.1:{free_port()}", pki.ca, pki.station_cert, pki.station_key, timeout=2
    )
    https = Sender(
        box, dead_https, SteppingClock(T0), RetryPolicy(1.0, 8.0), real_time=real,
        rnd=lambda: 1.0, transports=both,
    )  # fmt: skip
    mail = Sender(
        box, client(pki, controller.port, tmp_path), SteppingClock(T0), RetryPolicy(1.0, 8.0),
        real_time=real, rnd=lambda: 1.0, transports=both,
    )  # fmt: skip
    a, b = queue(box, 2)
    assert mail.send_due() == 2
    assert https.send_due() == 1  # the central is down: the queue waits
    assert [box.get(i).state for i in (a, b)] == ["ready", "ready"]
    assert box.deliveries(a)["email"]["sent_at"] is not None
    assert box.deliveries(a)["https"]["sent_at"] is None
    assert mail.send_due() == 0  # e-mail does not send them twice
    assert len(mailbox.messages) == 2

    intake = intake_factory()
    https.client = HttpsClient(intake.url, pki.ca, pki.station_cert, pki.station_key)
    real.t += 10
    assert https.send_due() == 2
    assert [box.get(i).state for i in (a, b)] == ["sent", "sent"]
    assert len(intake.received) == 2 and len(mailbox.messages) == 2


def test_the_agent_with_both_transports_sends_spectra_soh_and_alerts_by_each(
    tmp_path, pki, smtp, intake_factory, source
):
    """`stax agent run`'s Agent, transport "both", clock at 900x: every file (spectra, the
    2-hour STAXSOH, the MCA alerts) reaches the HTTPS intake and the SMTP server once."""
    import time

    from edge_agent.clock import AcceleratedClock
    from edge_agent.config import load_agent_config
    from edge_agent.drivers.simulated import SimulatedMca
    from edge_agent.service import Agent, Hardware

    from .conftest import write_agent_config

    mailbox, controller = smtp
    intake = intake_factory()
    (tmp_path / "station").mkdir()
    (tmp_path / "station" / "smtp-password").write_text(PASSWORD)
    path = write_agent_config(
        tmp_path / "station",
        pki,
        intake.url,
        f'[central.email]\nhost = "127.0.0.1"\nport = {controller.port}\n'
        'to_address = "intake@central.example.org"\nfrom_address = "aus02@station.example.org"\n'
        f'user = "{USER}"\npassword_file = "smtp-password"\n',
    )
    path.write_text(path.read_text().replace("[central]\n", '[central]\ntransport = "both"\n'))
    config = load_agent_config(path)
    clock = AcceleratedClock(T0.replace(hour=1, minute=10), speed=900)  # a cycle a second
    mca = SimulatedMca(source, clock, seed=3)
    agent = Agent(
        config, hardware=Hardware(mca, mca.stack_conditions, source.calibration()), clock=clock
    )
    agent.engine.analysis = None  # not under test; keeps the test short
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()

    def subjects():
        with mailbox.lock:
            return [email.message_from_bytes(m)["Subject"] for m in mailbox.messages]

    def wait(condition, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not condition():
            time.sleep(0.05)
        return condition()

    try:
        assert wait(lambda: len(subjects()) >= 2)
        mca.fault = "no_answer"
        assert wait(lambda: sum("_ALERT_" in s for s in subjects()) >= 2)  # MCA, spectra
        mca.fault = None
        assert wait(lambda: any("_SOH_2023_11_20T02_00_00" in s for s in subjects()), 40)
        assert wait(lambda: sum("_ALERT_" in s for s in subjects()) >= 4)  # both ended
    finally:
        stop.set()
        thread.join(20)
    box = Outbox(tmp_path / "station" / "outbox.sqlite")
    files = sorted(box.list(), key=lambda f: f.id)
    sent = [f for f in files if f.state == "sent"]
    mailed = subjects()
    https = [p.rsplit("/", 1)[1] for p, _, _ in intake.received]
    assert len(mailed) == len(set(mailed)) and len(https) == len(set(https))  # once each
    for f in sent:
        assert f.file_name in mailed and f.file_name in https
        assert set(box.deliveries(f.id)) == {"https", "email"}
    kinds = {f.data_type for f in sent}
    assert {"SAMPLEPHD", "STAXSOH", "ALERT_SYSTEM"} <= kinds
