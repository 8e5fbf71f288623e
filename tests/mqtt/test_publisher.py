"""The MQTT publisher against a real Mosquitto: retained SOH and releases, alerts at QoS 1,
the last will, a broker down then up, and nothing unpublished ever on the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from central.alerts import Observation, apply_observations
from central.config import MqttConfig
from central.store import Store

from .conftest import NOW, WAIT_SECONDS, more_passes
from .data import add_alert, add_phd, add_soh

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path):
    """USX01 published at once, AUS02 after a day, ZZZ99 not a registered facility."""
    path = tmp_path / "data" / "central.sqlite"
    with Store(path) as store:
        store.ensure_facility("USX01", publish_delay="immediately")
        store.ensure_facility("AUS02", publish_delay="1d")
        for station in ("USX01", "AUS02", "ZZZ99"):
            add_soh(store, station, NOW - timedelta(hours=2), 20.5)
            add_soh(store, station, NOW - timedelta(hours=1), 21.5)
            add_alert(store, station, NOW - timedelta(minutes=50), f"{station}: flow low")
            add_phd(store, station, NOW - timedelta(minutes=45), 3e9)
            add_phd(store, station, NOW - timedelta(minutes=30), None)  # not analysed yet
        apply_observations(
            store,
            [
                Observation(
                    "silent", s, "", True, f"{s}: silent", data_until="2026-03-02T11:00:00.000Z"
                )
                for s in ("USX01", "AUS02", "ZZZ99")
            ]
            + [Observation("quarantine", "", "", True, "quarantine grows", value=30.0)],
            NOW,
        )
    return path


def config(broker, **kw) -> MqttConfig:
    return MqttConfig(
        host="127.0.0.1", port=broker.port, poll_seconds=0.1, keepalive_seconds=5, **kw
    )


@pytest.fixture
def publisher(broker, db, publishers):
    return lambda **kw: publishers(config(broker, **kw), db)


def stations_seen(sub) -> set[str]:
    return {m.topic.split("/")[1] for m in sub.messages}


def test_published_data_retained_soh_and_release_alerts_at_qos1_nothing_unpublished(
    subscribe, publisher, clock
):
    live = subscribe()
    p = publisher()
    live.wait(lambda ms: {m.topic for m in ms} >= {
        "stax/central/status", "stax/USX01/soh", "stax/USX01/release", "stax/USX01/alert"
    } and len([m for m in ms if m.topic == "stax/USX01/alert"]) == 2)  # fmt: skip
    (soh,) = live.on("stax/USX01/soh")
    assert soh.qos == 1 and soh.payload["values"]["room_temperature"]["value"] == 21.5  # newest
    (release,) = live.on("stax/USX01/release")
    (central,) = release.payload["results"]
    assert central["method"] == "central" and central["nuclides"][0]["release_bq"] == 3e9
    assert central["nuclides"][0]["concentration_unc_bq_m3"] is None  # NaN leaves as null
    alerts = live.on("stax/USX01/alert")
    assert {a.payload["source"] for a in alerts} == {"station", "central"}
    assert all(a.qos == 1 and not a.retain for a in alerts)
    assert stations_seen(live) == {"central", "USX01"}  # AUS02 not yet, ZZZ99 never
    assert live.on("stax/central/alert") == []  # central-wide alerts are off by default

    late = subscribe()  # connects afterwards: the retained state is there
    late.wait(lambda ms: {m.topic for m in ms} >= {"stax/USX01/soh", "stax/USX01/release"})
    assert all(m.retain for m in late.messages)
    assert late.on("stax/USX01/alert") == []  # alerts are events, not retained
    (status,) = late.on("stax/central/status")
    assert status.payload["status"] == "online"

    clock.move(timedelta(days=1))  # AUS02's publish delay has passed
    live.wait(lambda ms: {m.topic for m in ms} >= {"stax/AUS02/soh", "stax/AUS02/release"}
              and len([m for m in ms if m.topic == "stax/AUS02/alert"]) == 2)  # fmt: skip
    more_passes(p)  # a few more passes, all they sent delivered: nothing sent twice
    live.barrier()
    assert len(live.on("stax/USX01/alert")) == 2 and len(live.on("stax/USX01/soh")) == 1
    assert "ZZZ99" not in stations_seen(live) | stations_seen(late)


def test_an_episode_cleared_is_sent_once_more_and_a_restart_resends_no_alert(
    subscribe, publisher, db, clock
):
    live = subscribe()
    first = publisher(central_alerts=True)
    live.wait(lambda ms: len([m for m in ms if m.topic == "stax/USX01/alert"]) == 2)
    live.wait(lambda ms: any(m.topic == "stax/central/alert" for m in ms))
    (wide,) = live.on("stax/central/alert")
    assert wide.payload["kind"] == "quarantine" and wide.payload["station"] is None
    first.stop()
    with Store(db) as store:
        apply_observations(store, [Observation("silent", "USX01", "", False, "USX01: back")], NOW)
    second = publisher(central_alerts=True)  # a new process: the durable record says what was sent
    live.wait(lambda ms: len([m for m in ms if m.topic == "stax/USX01/alert"]) == 3)
    more_passes(second)
    live.barrier()
    alerts = live.on("stax/USX01/alert")
    assert len(alerts) == 3 and len(live.on("stax/central/alert")) == 1
    assert (alerts[-1].payload["state"], alerts[-1].payload["message"]) == (
        "cleared",
        "USX01: back",
    )
    assert alerts[-1].payload["episode"] == next(
        a.payload["episode"] for a in alerts if a.payload["source"] == "central"
    )


PUBLISHER_PROCESS = """
import sys, threading
from central.config import MqttConfig
from central.mqtt import Publisher
p = Publisher(MqttConfig(host="127.0.0.1", port=int(sys.argv[1]), keepalive_seconds=5), sys.argv[2])
p.start()
if not p.connected.wait(60):
    sys.exit("not connected within 60 s")
print("connected", flush=True)
threading.Event().wait()
"""


def test_the_last_will_says_offline_when_the_publisher_dies(broker, subscribe, db):
    watcher = subscribe()
    child = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_PROCESS, str(broker.port), str(db)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "connected"
        watcher.wait(lambda ms: any(m.payload.get("status") == "online" for m in ms))
        os.kill(child.pid, signal.SIGKILL)  # no goodbye: the broker sends the will
        child.wait(WAIT_SECONDS)
        watcher.wait(lambda ms: any(m.payload.get("status") == "offline" for m in ms))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    offline = [m for m in watcher.on("stax/central/status") if m.payload["status"] == "offline"]
    assert offline[-1].payload["time"] is None  # the will, not a clean stop
    late = subscribe()  # retained: who connects later sees offline
    late.wait(lambda ms: any(m.topic == "stax/central/status" for m in ms))
    assert late.on("stax/central/status")[-1].payload["status"] == "offline"


def test_a_clean_stop_says_offline(subscribe, publisher):
    watcher = subscribe()
    p = publisher()
    watcher.wait(lambda ms: any(m.payload.get("status") == "online" for m in ms))
    p.stop()
    watcher.wait(lambda ms: any(m.payload.get("status") == "offline" for m in ms))
    assert watcher.on("stax/central/status")[-1].payload["time"] is not None


def test_broker_down_then_up_the_store_is_not_slowed_and_the_publisher_catches_up(
    broker, subscribe, publisher, db, clock
):
    before = subscribe()
    p = publisher()
    before.wait(lambda ms: len([m for m in ms if m.topic == "stax/USX01/alert"]) == 2)
    before.close()
    broker.stop()
    deadline = time.monotonic() + WAIT_SECONDS
    while p.connected.is_set():  # the publisher's network thread sees the socket close
        assert time.monotonic() < deadline, "the publisher did not notice the broker stop"
        time.sleep(0.02)
    # the intake stores while the broker is down: as fast as ever (the publisher is another
    # thread reading the database, never in the intake's path)
    timings = []
    with Store(db) as store:
        for i in range(20):
            started = time.perf_counter()
            add_alert(store, "USX01", NOW - timedelta(minutes=40 - i), f"USX01: flow low {i}")
            timings.append(time.perf_counter() - started)
        add_soh(store, "USX01", NOW - timedelta(minutes=30), 25.0)
        add_alert(store, "AUS02", NOW, "AUS02: not published for a day")
    print(f"store while the broker is down: max {max(timings) * 1000:.1f} ms, "
          f"median {sorted(timings)[10] * 1000:.1f} ms")  # fmt: skip
    # wall-clock figures on a shared machine: the median, which a load does not move much;
    # waiting on the broker would cost each store a PUBACK_SECONDS wait or a reconnection
    assert sorted(timings)[10] < 0.25
    broker.start()  # same port, no persistence: the retained topics are gone
    after = subscribe()
    after.wait(lambda ms: len([m for m in ms if m.topic == "stax/USX01/alert"]) == 20)
    after.wait(lambda ms: any(m.topic == "stax/USX01/soh" for m in ms))
    assert after.on("stax/USX01/soh")[-1].payload["values"]["room_temperature"]["value"] == 25.0
    texts = [m.payload["message"] for m in after.on("stax/USX01/alert")]
    assert texts == [f"USX01: flow low {i}" for i in range(20)]  # each once, in order
    assert {"AUS02", "ZZZ99"}.isdisjoint(stations_seen(after))
