"""The sender against an HTTPS stand-in of the intake (real TLS with client certificates
on 127.0.0.1): what leaves the outbox, what is refused, what is retried and when."""

import socket
import threading
import time

import pytest

from edge_agent.clock import SteppingClock
from edge_agent.outbox import Outbox, ReleasePolicy
from edge_agent.sender import HttpsClient, RetryPolicy, Sender, SenderError

from .conftest import T0


class FakeTime:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def queue(box: Outbox, n: int, policy: ReleasePolicy | None = None):
    ids = []
    for i in range(n):
        msg_id = box.next_msg_id("AUS02")
        ids.append(
            box.add(
                file_name=f"AUS02_{msg_id}_PHD_2023_11_20T00_{15 * i:02d}_00.TXT",
                station="AUS02",
                msg_id=msg_id,
                data_type="SAMPLEPHD",
                content=b"plain",
                payload=f"sealed {msg_id}".encode(),
                created=T0,
                policy=policy or ReleasePolicy(),
            ).id
        )
    return ids


def make_sender(tmp_path, pki, url, ca=None, **kw):
    box = Outbox(tmp_path / "outbox.sqlite")
    client = HttpsClient(url, ca or pki.ca, pki.station_cert, pki.station_key, timeout=5)
    clock = kw.pop("clock", SteppingClock(T0))
    sender = Sender(box, client, clock, RetryPolicy(1.0, 8.0), rnd=lambda: 1.0, **kw)
    return box, sender


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_201_and_200_send_the_exact_payload_with_the_station_certificate(
    tmp_path, pki, intake_factory
):
    intake = intake_factory([201, 200])
    box, sender = make_sender(tmp_path, pki, intake.url)
    a, b = queue(box, 2)
    assert sender.send_due() == 2
    assert [box.get(i).state for i in (a, b)] == ["sent", "sent"]
    assert [box.get(i).last_status for i in (a, b)] == [201, 200]
    path, body, client = intake.received[0]
    assert path == "/api/v1/messages/AUS02_1_PHD_2023_11_20T00_00_00.TXT"
    assert body == b"sealed 1"
    assert client == "AUS02"
    assert sender.send_due() == 0  # nothing left: no request
    assert len(intake.received) == 2


@pytest.mark.parametrize("status", [400, 403, 409, 413])
def test_refusals_are_kept_with_the_reason_and_not_retried(
    tmp_path, pki, intake_factory, status, caplog
):
    intake = intake_factory([status])
    box, sender = make_sender(tmp_path, pki, intake.url)
    refused, after = queue(box, 2)
    sender.send_due()
    item = box.get(refused)
    assert (item.state, item.last_status) == ("refused", status)
    assert item.last_error == f"stand-in says {status}"
    assert item.payload == b"sealed 1"
    assert box.get(after).state == "sent"  # the others go on
    assert "the central refused AUS02_1_PHD" in caplog.text
    sender.send_due()
    assert len(intake.received) == 2


def test_a_500_retries_that_file_later_while_the_others_go_on(tmp_path, pki, intake_factory):
    intake = intake_factory([500, 201, 500])
    now = FakeTime()
    box, sender = make_sender(tmp_path, pki, intake.url, real_time=now)
    a, b = queue(box, 2)
    sender.send_due()
    item = box.get(a)
    assert (item.state, item.attempts, item.last_status) == ("ready", 1, 500)
    assert item.next_attempt_at == 1001.0  # first retry after `initial`
    assert box.get(b).state == "sent"
    now.t = 1001.0
    sender.send_due()
    assert box.get(a).next_attempt_at == 1003.0  # doubled
    now.t = 1003.0
    sender.send_due()
    assert box.get(a).state == "sent" and box.get(a).attempts == 3


def test_central_down_pauses_everything_with_growing_capped_waits(tmp_path, pki):
    now = FakeTime()
    box, sender = make_sender(tmp_path, pki, f"https://127.0.0.1:{free_port()}", real_time=now)
    a, b = queue(box, 2)
    waits = []
    for _ in range(6):
        assert sender.send_due() == 1  # one try, then the whole queue waits
        item = box.get(a)
        waits.append(item.next_attempt_at - now.t)
        now.t = item.next_attempt_at
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    item = box.get(a)
    assert item.state == "ready" and item.attempts == 6
    assert "cannot reach the central" in item.last_error
    assert box.get(b).attempts == 0


def test_a_503_also_pauses_everything(tmp_path, pki, intake_factory):
    intake = intake_factory([503])
    now = FakeTime()
    box, sender = make_sender(tmp_path, pki, intake.url, real_time=now)
    queue(box, 3)
    assert sender.send_due() == 1
    now.t += 1.0
    assert sender.send_due() == 3
    assert box.counts()["sent"] == 3


def test_jitter_spreads_waits_between_half_and_full():
    retry = RetryPolicy(2.0, 60.0)
    assert retry.delay(1, 0.0) == 1.0 and retry.delay(1, 1.0) == 2.0
    assert retry.delay(3, 0.5) == 6.0
    assert retry.delay(30, 1.0) == 60.0


def test_a_server_outside_the_network_ca_is_not_trusted(tmp_path, pki, intake_factory):
    intake = intake_factory(other_ca=True)
    box, sender = make_sender(tmp_path, pki, intake.url)
    (a,) = queue(box, 1)
    sender.send_due()
    item = box.get(a)
    assert item.state == "ready" and "CERTIFICATE_VERIFY_FAILED" in item.last_error
    assert intake.received == []


def test_the_running_sender_delivers_once_the_central_comes_up(tmp_path, pki, intake_factory):
    port = free_port()
    box, sender = make_sender(tmp_path, pki, f"https://localhost:{port}", poll_seconds=0.05)
    sender.retry = RetryPolicy(0.05, 0.2)
    queue(box, 3)
    tries = []  # the deliveries tried while nothing listens
    deliver = sender.client.deliver
    sender.client.deliver = lambda *args: (tries.append(deliver(*args)), tries[-1])[1]
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,))
    thread.start()
    try:
        # tried twice (retried after 0.05-0.2 s) instead of a fixed sleep: unreachable
        # each time, and the files stay ready
        deadline = time.monotonic() + 10
        while len(tries) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(tries) >= 2 and all(t.outcome == "unreachable" for t in tries), tries
        assert box.counts()["ready"] == 3
        intake = None
        for _ in range(20):  # the port may still be taken for a moment
            try:
                from .conftest import start_intake

                intake = start_intake(pki)
                break
            except OSError:
                time.sleep(0.05)
        # point the sender at the new intake (a restart of the central on another port)
        sender.client = HttpsClient(intake.url, pki.ca, pki.station_cert, pki.station_key)
        deadline = time.monotonic() + 10
        while box.counts()["sent"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert box.counts()["sent"] == 3
        intake.server.shutdown()
    finally:
        stop.set()
        sender.wake.set()
        thread.join(5)


def test_held_files_go_when_the_release_time_comes(tmp_path, pki, intake_factory):
    intake = intake_factory()
    clock = SteppingClock(T0)
    from datetime import timedelta

    box, sender = make_sender(tmp_path, pki, intake.url, clock=clock)
    (a,) = queue(box, 1, ReleasePolicy("delay", delay_hours=1))
    assert sender.send_due() == 0
    clock.advance(timedelta(hours=1))
    assert sender.send_due() == 1
    assert box.get(a).state == "sent"


def test_bad_certificate_paths_name_the_file(tmp_path, pki):
    with pytest.raises(SenderError, match=r"nope\.pem: cannot load the network CA"):
        HttpsClient("https://127.0.0.1:1", tmp_path / "nope.pem", pki.station_cert, pki.station_key)
    with pytest.raises(SenderError, match=r"cannot load the station certificate .*\[identity\]"):
        HttpsClient("https://127.0.0.1:1", pki.ca, pki.station_cert, pki.server_key)
