"""IMAP polling against a real Dovecot: a message leaves the mailbox only once it is stored
or kept in quarantine; a crash in between ends as a duplicate at the next poll."""

from __future__ import annotations

import dataclasses
import time
from email.message import EmailMessage

import pytest

from central.mail.imap import ImapError, ImapPoller, Mailbox
from central.mail.receiver import MailIntake

from .conftest import openssl_mail, smime_mail, station_mail


def _poller(central, mailbox_factory=Mailbox) -> ImapPoller:
    """A poller of the central's [mail.imap] settings, on the Dovecot, polled by hand."""
    mail = MailIntake(central.server.intake, central.config.mail.max_mail_bytes)
    config = dataclasses.replace(central.config.mail.imap, host="127.0.0.1")
    return ImapPoller(config, mail, mailbox_factory=mailbox_factory)


def _polled(central, poller: ImapPoller):
    try:
        return central.run(poller.poll_once())
    finally:
        poller.close()


def _spam() -> bytes:
    spam = EmailMessage()
    spam["From"] = "winner@lottery.example"
    spam["Subject"] = "You have won"
    spam.set_content("Claim your prize")
    return spam.as_bytes()


@pytest.fixture
def imap_central(make_central, dovecot):
    """A central with the Dovecot's [mail.imap] settings but no host, so that no background
    poller runs: the test polls."""

    def make(mail=None, **imap):
        settings = {**dovecot.imap_settings(**imap), "host": ""}
        return make_central({"listen": "off", **(mail or {})}, **settings)

    return make


def test_each_message_is_taken_then_moved_seen(imap_central, dovecot, network, tmp_path):
    central = imap_central()
    dovecot.append(station_mail(network, "AUS02", "301"))
    dovecot.append(openssl_mail(network, "BES01", "302", tmp_path))
    dovecot.append(_spam())
    polled = _polled(central, _poller(central))
    assert [p.answer.status for p in polled] == ["created", "created", "not_station_message"]
    assert all(p.moved for p in polled)
    assert dovecot.uids("INBOX") == {}
    done = dovecot.uids("stax-done")
    assert len(done) == 3 and all(b"\\Seen" in flags for flags in done.values())
    assert [m["file_name"] for m in central.messages()] == [
        "AUS02_301_PHD_2021_12_02T17_00_54.TXT",
        "BES01_302_PHD_2021_12_02T17_00_54.TXT",
    ]
    [row] = central.quarantined()
    assert row["status"] == 415 and "UID 3" in row["peer"] and row["peer"].startswith("imap:")


def test_a_crash_between_store_and_move_ends_as_a_duplicate(imap_central, dovecot, network):
    central = imap_central()
    dovecot.append(station_mail(network, "AUS02", "303"))

    class CrashAfterStore(Mailbox):
        def done(self, uid: str) -> None:
            raise OSError("the central stopped here")

    with pytest.raises(OSError):
        _polled(central, _poller(central, CrashAfterStore))
    assert len(central.messages()) == 1
    [flags] = dovecot.uids("INBOX").values()
    assert b"\\Seen" not in flags  # not touched: it is read again

    [again] = _polled(central, _poller(central))
    assert (again.answer.status, again.moved) == ("duplicate", True)
    assert dovecot.uids("INBOX") == {} and len(dovecot.uids("stax-done")) == 1
    assert len(central.messages()) == 1 and central.quarantined() == []


def test_without_move_it_copies_and_expunges(imap_central, dovecot, network):
    central = imap_central()
    dovecot.append(station_mail(network, "AUS02", "304"))

    class NoMove(Mailbox):
        def open(self) -> None:
            super().open()
            assert "MOVE" in self.conn.capabilities  # Dovecot has it; pretend it has not
            self.conn.capabilities = tuple(c for c in self.conn.capabilities if c != "MOVE")

    [polled] = _polled(central, _poller(central, NoMove))
    assert polled.moved and dovecot.uids("INBOX") == {} and len(dovecot.uids("stax-done")) == 1


def test_try_later_leaves_the_message_in_the_mailbox(imap_central, dovecot, network):
    central = imap_central()
    central.config.intake.crl.unlink()
    dovecot.append(station_mail(network, "AUS02", "305"))
    [polled] = _polled(central, _poller(central))
    assert (polled.answer.http_status, polled.moved) == (503, False)
    assert len(dovecot.uids("INBOX")) == 1
    assert central.messages() == [] and central.quarantined() == []


def test_a_huge_message_is_not_fetched_but_recorded_and_moved(imap_central, dovecot, network):
    central = imap_central({"max_mail_bytes": 50_000})
    dovecot.append(smime_mail(b"\x30" * 60_000, "AUS02_306_PHD_2021_12_02T17_00_54.TXT"))
    [polled] = _polled(central, _poller(central))
    assert polled.answer.http_status == 413 and polled.moved
    [row] = central.quarantined()
    assert row["size"] == 0 and "max_mail_bytes" in row["reason"]


def test_a_wrong_password_is_a_clear_error(imap_central, dovecot, tmp_path):
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not it\n")
    wrong.chmod(0o600)
    central = imap_central(password_file=wrong)
    with pytest.raises(ImapError, match="login as 'central' refused"):
        _polled(central, _poller(central))


def test_the_configured_poller_runs_in_the_background(make_central, dovecot, network):
    central = make_central({"listen": "off"}, **dovecot.imap_settings(poll_seconds=0.2))
    assert central.mail.poller is not None
    dovecot.append(station_mail(network, "AUS02", "307"))
    deadline = time.monotonic() + 30
    while not (central.messages() and not dovecot.uids("INBOX")):
        assert time.monotonic() < deadline, "the poller did not take the message"
        time.sleep(0.2)
    assert central.messages()[0]["file_name"] == "AUS02_307_PHD_2021_12_02T17_00_54.TXT"


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_over_tls_with_the_servers_ca(make_central, dovecot_tls, network, security):
    port = dovecot_tls.imaps_port if security == "tls" else dovecot_tls.port
    settings = dovecot_tls.imap_settings(
        host="", port=port, security=security, ca_file=dovecot_tls.ca_file
    )
    central = make_central({"listen": "off"}, **settings)
    dovecot_tls.append(station_mail(network, "AUS02", "308"))
    [polled] = _polled(central, _poller(central))
    assert (polled.answer.status, polled.moved) == ("created", True)


def test_a_server_certificate_not_from_the_ca_is_refused(make_central, dovecot_tls, network):
    settings = dovecot_tls.imap_settings(
        host="", port=dovecot_tls.imaps_port, security="tls", ca_file=network.ca.ca_cert_path
    )
    central = make_central({"listen": "off"}, **settings)
    with pytest.raises(ImapError, match="cannot connect"):
        _polled(central, _poller(central))
