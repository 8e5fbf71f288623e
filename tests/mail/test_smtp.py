"""The SMTP/LMTP listener against the standard library's real SMTP and LMTP clients on
loopback: the answers of system.md as SMTP replies, quarantine with the reason, and a
listener that keeps answering whatever it is sent."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from tests.secure.conftest import phd_message, phd_name

from .conftest import CENTRAL_ADDRESS, openssl_mail, smime_mail, station_mail


def _crlf(raw: bytes) -> bytes:
    """Lines end in CRLF on the wire (smtplib sends bytes as they are)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _send(port: int, raw: bytes, *, lmtp: bool = False, rcpt=(CENTRAL_ADDRESS,)) -> dict:
    cls = smtplib.LMTP if lmtp else smtplib.SMTP
    with cls("127.0.0.1", port, timeout=60) as client:
        return client.sendmail("station@station.test", list(rcpt), _crlf(raw))


def _data(port: int, raw: bytes) -> tuple[int, bytes]:
    """MAIL, RCPT and DATA by hand (no SIZE announced); the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        assert client.mail("station@station.test")[0] == 250
        assert client.rcpt(CENTRAL_ADDRESS)[0] == 250
        return client.data(_crlf(raw))


def test_station_mail_is_stored_then_duplicate_then_conflict(make_central, network):
    central = make_central()
    raw = station_mail(network, "AUS02", "201")
    code, reply = _data(central.smtp_port, raw)
    assert code == 250 and b"created" in reply, reply
    [stored] = central.messages()
    assert stored["file_name"] == phd_name("AUS02", "201")
    assert bytes(stored["content"]) == phd_message("AUS02", "201")
    assert stored["signer"].startswith("CN=AUS02")

    code, reply = _data(central.smtp_port, station_mail(network, "AUS02", "201"))
    assert code == 250 and b"duplicate" in reply
    assert len(central.messages()) == 1

    # same name and MSG_ID, other bytes: a conflict, kept in quarantine
    other = phd_message("AUS02", "201").replace(b"MIX58", b"MIX59", 1)
    envelope = network.stations["AUS02"].seal(other, network.central.cert)
    code, reply = _data(central.smtp_port, smime_mail(envelope, phd_name("AUS02", "201")))
    assert code == 550 and b"conflict" in reply and b"quarantine" in reply
    [row] = central.quarantined()
    assert row["status"] == 409 and row["station"] == "AUS02"
    assert row["peer"].startswith("smtp:127.0.0.1:")


def test_a_mail_made_by_openssl_alone_is_stored(make_central, network, tmp_path):
    central = make_central()
    assert _send(central.smtp_port, openssl_mail(network, "BES01", "202", tmp_path)) == {}
    [stored] = central.messages()
    assert stored["station"] == "BES01"
    assert bytes(stored["content"]) == phd_message("BES01", "202")


def _lmtp(port: int, raw: bytes, recipients: list[str]) -> list[tuple[int, bytes]]:
    """One LMTP delivery by hand: the DATA replies, one per recipient (RFC 2033; smtplib's
    LMTP client reads only the first)."""
    with smtplib.LMTP("127.0.0.1", port, timeout=60) as client:
        assert client.ehlo()[0] == 250  # smtplib's LMTP sends LHLO
        assert client.mail("station@station.test")[0] == 250
        for rcpt in recipients:
            assert client.rcpt(rcpt)[0] == 250
        replies = [client.data(_crlf(raw))]
        replies += [client.getreply() for _ in recipients[1:]]
        return replies


def test_lmtp_answers_each_recipient_and_stores_once(make_central, network):
    central = make_central({"listen": "lmtp"})
    raw = station_mail(network, "AUS02", "203")
    replies = _lmtp(central.smtp_port, raw, ["a@central.test", "b@central.test"])
    assert [code for code, _ in replies] == [250, 250]
    assert b"created" in replies[0][1]
    assert len(central.messages()) == 1


def test_lmtp_refusal_reaches_every_recipient(make_central, network):
    central = make_central({"listen": "lmtp"})
    mail = EmailMessage()
    mail["Subject"] = "hello"
    mail.set_content("plain text")
    replies = _lmtp(central.smtp_port, mail.as_bytes(), ["a@c.test", "b@c.test"])
    assert [code for code, _ in replies] == [554, 554]
    assert len(central.quarantined()) == 1


@pytest.mark.parametrize(
    ("signer", "station", "code", "words"),
    [
        ("REV01", "REV01", 550, b"revoked"),
        ("AUS02", "BES01", 550, b"signed by AUS02 but the file is from BES01"),
    ],
)
def test_refused_signatures_are_answered_and_quarantined(
    make_central, network, signer, station, code, words
):
    central = make_central()
    raw = station_mail(network, station, "204", signer=signer)
    got, reply = _data(central.smtp_port, raw)
    assert got == code and words in reply.replace(b"\r\n", b" "), reply
    assert central.messages() == []
    [row] = central.quarantined()
    assert row["status"] == 403 and row["file_name"] == phd_name(station, "204")


def test_spam_is_quarantined_whole_and_the_listener_goes_on(make_central, network):
    central = make_central()
    spam = EmailMessage()
    spam["From"] = "winner@lottery.example"
    spam["Subject"] = "You have won"
    spam["Message-ID"] = "<spam-1@lottery.example>"
    spam.set_content("Claim your prize")
    code, reply = _data(central.smtp_port, spam.as_bytes())
    assert code == 554 and b"not_station_message" in reply and b"text/plain" in reply
    [row] = central.quarantined()
    assert row["status"] == 415 and row["file_name"] == "You have won"
    assert b"Claim your prize" in bytes(row["body"])  # the whole mail as received
    assert "spam-1@lottery.example" in row["peer"]
    # garbage, then a good mail on the same listener
    assert _data(central.smtp_port, b"\x00\xff\r\n\r\n\x80\x81")[0] in (554, 550)
    assert _data(central.smtp_port, station_mail(network, "AUS02", "205"))[0] == 250
    assert len(central.messages()) == 1 and len(central.quarantined()) == 2


def test_a_huge_mail_is_refused_with_a_reason(make_central, network):
    good = station_mail(network, "AUS02", "207")
    limit = len(_crlf(good)) + 1000
    central = make_central({"max_mail_bytes": limit})
    huge = smime_mail(b"\x30" * limit, phd_name("AUS02", "206"))
    # announced with SIZE (smtplib does): refused at MAIL FROM
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        _send(central.smtp_port, huge)
    assert caught.value.smtp_code == 552 and b"max_mail_bytes" in caught.value.smtp_error
    # not announced: refused at the end of DATA, without holding it
    code, reply = _data(central.smtp_port, huge)
    assert code == 552 and f"larger than the limit of {limit}".encode() in reply
    rows = central.quarantined()
    assert [r["status"] for r in rows] == [413, 413] and all(r["size"] == 0 for r in rows)
    assert _data(central.smtp_port, good)[0] == 250


def test_no_current_crl_means_try_later_and_nothing_quarantined(make_central, network):
    central = make_central()
    central.config.intake.crl.unlink()  # this central's own copy
    code, reply = _data(central.smtp_port, station_mail(network, "AUS02", "208"))
    assert code == 451 and reply.startswith(b"4.3.0")
    assert central.messages() == [] and central.quarantined() == []


def test_an_envelope_over_the_intakes_limit_is_refused_as_over_https(make_central, network):
    central = make_central()
    limit = central.config.intake.max_message_bytes
    object.__setattr__(central.server.intake.config, "max_message_bytes", 1000)
    try:
        code, reply = _data(central.smtp_port, station_mail(network, "AUS02", "209"))
    finally:
        object.__setattr__(central.server.intake.config, "max_message_bytes", limit)
    assert code == 552 and b"[intake] max_message_bytes" in reply
    [row] = central.quarantined()
    assert row["status"] == 413 and row["file_name"] == phd_name("AUS02", "209")
