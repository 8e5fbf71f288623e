"""The outbox: files survive restarts, leave only when confirmed, and wait for release."""

from datetime import timedelta

import pytest

from edge_agent.outbox import Outbox, OutboxError, ReleasePolicy

from .conftest import T0

IMMEDIATE = ReleasePolicy("immediate")


def add(box: Outbox, n: int, policy=IMMEDIATE, created=T0, station="AUS02"):
    msg_id = box.next_msg_id(station)
    return box.add(
        file_name=f"{station}_{msg_id}_PHD_2023_11_20T00_{n:02d}_00.TXT",
        station=station,
        msg_id=msg_id,
        data_type="SAMPLEPHD",
        content=f"plain {n}".encode(),
        payload=f"sealed {n}".encode(),
        created=created,
        policy=policy,
        interval_start=created,
    )


def test_files_msg_ids_and_held_state_survive_reopening(tmp_path):
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as box:
        a = add(box, 1)
        b = add(box, 2, ReleasePolicy("manual"))
        assert (a.msg_id, b.msg_id) == (1, 2)
    with Outbox(path) as box:
        assert box.counts() == {"held": 1, "ready": 1, "sent": 0, "refused": 0}
        held = box.get(b.id)
        assert held.state == "held" and held.content == b"plain 2" and held.payload == b"sealed 2"
        assert box.next_msg_id("AUS02") == 3
        assert box.next_msg_id("BES01") == 1  # one counter per station


def test_wal_and_full_sync(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        assert box._query("pragma journal_mode")[0][0] == "wal"
        assert box._query("pragma synchronous")[0][0] == 2  # FULL


def test_a_file_leaves_only_when_the_central_confirmed_it(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        f = add(box, 1)
        assert f.state == "ready"
        box.mark_failed(f.id, None, "connection refused", next_attempt_at=1000.0, real_now=990.0)
        again = box.get(f.id)
        assert again.state == "ready" and again.attempts == 1
        assert again.last_error == "connection refused"
        assert box.next_to_send(999.0) is None  # not before its next attempt
        assert box.next_to_send(1000.0).id == f.id
        assert box.earliest_attempt() == 1000.0
        box.mark_sent(f.id, 201, real_now=1000.0)
        sent = box.get(f.id)
        assert (sent.state, sent.attempts, sent.last_status, sent.sent_at) == (
            "sent",
            2,
            201,
            1000.0,
        )
        assert box.next_to_send(2000.0) is None
        assert box.earliest_attempt() is None


def test_refused_files_are_kept_with_the_reason(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        f = add(box, 1)
        box.mark_refused(f.id, 409, "same name, other content", real_now=5.0)
        refused = box.get(f.id)
        assert refused.state == "refused" and refused.last_status == 409
        assert refused.last_error == "same name, other content"
        assert refused.payload == b"sealed 1"
        assert box.next_to_send(10.0) is None
        # after the cause is fixed, the operator sends it again
        assert box.release(f.id).state == "ready"


def test_oldest_file_goes_first(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        first, second = add(box, 1), add(box, 2)
        assert box.next_to_send(0.0).id == first.id
        box.mark_sent(first.id, 201, 0.0)
        assert box.next_to_send(0.0).id == second.id


def test_delay_mode_holds_files_for_n_hours_of_station_time(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        f = add(box, 1, ReleasePolicy("delay", delay_hours=3))
        assert f.state == "held" and f.release_at == T0 + timedelta(hours=3)
        assert box.release_due(T0 + timedelta(hours=2, minutes=59)) == 0
        assert box.next_to_send(0.0) is None
        assert box.release_due(T0 + timedelta(hours=3)) == 1
        assert box.get(f.id).state == "ready"


def test_manual_mode_holds_files_until_released(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        f = add(box, 1, ReleasePolicy("manual"))
        assert f.state == "held" and f.release_at is None
        assert box.release_due(T0 + timedelta(days=365)) == 0
        assert box.release(f.id).state == "ready"
        with pytest.raises(OutboxError, match="only held or refused"):
            box.release(f.id)


def test_the_operator_can_withhold_a_file(tmp_path):
    path = tmp_path / "o.sqlite"
    with Outbox(path) as box:
        delayed = add(box, 1, ReleasePolicy("delay", delay_hours=1))
        ready = add(box, 2)
        # the operator's command runs in another process with its own connection
        with Outbox(path) as operator:
            operator.withhold(delayed.id)
            operator.withhold(ready.id)
        assert box.release_due(T0 + timedelta(days=2)) == 0
        assert box.next_to_send(0.0) is None
        assert box.get(ready.id).note == "withheld by the operator"
        box.release(ready.id)
        box.mark_sent(ready.id, 201, 0.0)
        with pytest.raises(OutboxError, match=f"file {ready.id} is sent"):
            box.withhold(ready.id)
        with pytest.raises(OutboxError, match="no file with id 99"):
            box.release(99)


def test_a_file_name_is_queued_once(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        f = add(box, 1)
        with pytest.raises(OutboxError, match="already in the outbox"):
            box.add(
                file_name=f.file_name, station="AUS02", msg_id=9, data_type="SAMPLEPHD",
                content=b"x", payload=b"y", created=T0, policy=IMMEDIATE,
            )  # fmt: skip


def test_gaps_are_recorded_and_continued(tmp_path):
    with Outbox(tmp_path / "o.sqlite") as box:
        assert box.acquired_until("AUS02") is None
        box.mark_acquired_until("AUS02", T0)
        q = timedelta(minutes=15)
        gap, extended = box.record_gap("AUS02", T0, T0 + q, "MCA fault: no answer")
        assert not extended
        gap, extended = box.record_gap("AUS02", T0 + q, T0 + 2 * q, "MCA fault: no answer")
        assert extended and (gap.start, gap.end) == (T0, T0 + 2 * q)
        box.record_gap("AUS02", T0 + 2 * q, T0 + 3 * q, "agent not running")
        assert [(g.start, g.end, g.reason) for g in box.gaps("AUS02")] == [
            (T0, T0 + 2 * q, "MCA fault: no answer"),
            (T0 + 2 * q, T0 + 3 * q, "agent not running"),
        ]
        assert box.acquired_until("AUS02") == T0 + 3 * q
        box.mark_acquired_until("AUS02", T0)  # never backwards
        assert box.acquired_until("AUS02") == T0 + 3 * q


def test_an_unusable_path_says_which(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutboxError, match=r"file/outbox.sqlite: cannot open the outbox database"):
        Outbox(tmp_path / "file" / "outbox.sqlite")


def test_days_with_spectra_but_no_ats_and_the_files_of_a_day(tmp_path):
    def put(box, data_type, start, station="AUS02", policy=IMMEDIATE):
        msg_id = box.next_msg_id(station)
        return box.add(
            file_name=f"{station}_{msg_id}_{data_type}.TXT",
            station=station,
            msg_id=msg_id,
            data_type=data_type,
            content=b"plain",
            payload=b"sealed",
            created=start,
            policy=policy,
            interval_start=start,
        )

    day = timedelta(days=1)
    with Outbox(tmp_path / "o.sqlite") as box:
        put(box, "SAMPLEPHD", T0 - day + timedelta(hours=23, minutes=45))  # 19 Nov
        put(box, "SAMPLEPHD", T0, policy=ReleasePolicy("manual"))  # 20 Nov, held
        put(box, "SAMPLEPHD", T0 + timedelta(hours=6))
        put(box, "SAMPLEPHD", T0 + day)  # 21 Nov: not before the 21st
        put(box, "SAMPLEPHD", T0, station="BES01")  # another station
        assert box.days_without_ats("AUS02", (T0 + day).date()) == [
            (T0 - day).date(),
            T0.date(),
        ]
        assert box.days_without_ats("AUS02", T0.date()) == [(T0 - day).date()]
        put(box, "ATS", T0 - day)
        assert box.days_without_ats("AUS02", (T0 + 2 * day).date()) == [
            T0.date(),
            (T0 + day).date(),
        ]
        assert box.days_without_ats("BES01", (T0 + day).date()) == [T0.date()]

        files = box.interval_files("AUS02", "SAMPLEPHD", T0, T0 + day)
        assert [f.interval_start for f in files] == [T0, T0 + timedelta(hours=6)]
        assert [f.state for f in files] == ["held", "ready"]
        assert all(f.content == b"plain" for f in files)
