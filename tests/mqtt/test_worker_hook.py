"""The worker runs the central alerts' checks and the MQTT publisher on schedule."""

from __future__ import annotations

import threading
from datetime import timedelta

from central.accounts import User
from central.alerts import alert_episodes
from central.config import AlertsConfig, CentralConfig, IntakeConfig, MqttConfig, StorageConfig
from central.store import Store
from central.worker import run

from .conftest import NOW, WAIT_SECONDS
from .data import add_phd

ADMIN = User(1, "root", "admin", True, frozenset(), frozenset())


def test_the_worker_raises_a_silent_alert_and_publishes_it(tmp_path, broker, subscribe, clock):
    config = CentralConfig(
        intake=IntakeConfig(server_cert=tmp_path, server_key=tmp_path, ca_cert=tmp_path),
        storage=StorageConfig(data_dir=tmp_path, database="central.sqlite"),
        alerts=AlertsConfig(check_seconds=0.1),
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port, poll_seconds=0.1, keepalive_seconds=5),
    )
    with Store(config.storage.database_path) as store:
        store.ensure_facility("USX01", publish_delay="immediately")
        add_phd(store, "USX01", NOW - timedelta(hours=1), None)
    watcher = subscribe()
    stop = threading.Event()
    worker = threading.Thread(
        target=run, args=(config, stop, 0.05, lambda phd, source: None, clock)
    )  # the spectrum is no PHD: its analysis fails, recorded; the checks go on
    worker.start()
    try:
        watcher.wait(lambda ms: any(m.payload.get("status") == "online" for m in ms))
        clock.move(timedelta(hours=3))  # 2 h 45 min without a spectrum: silent
        watcher.wait(lambda ms: any(m.topic == "stax/USX01/alert" for m in ms))
    finally:
        stop.set()
        worker.join(WAIT_SECONDS)
    assert not worker.is_alive()
    (alert,) = watcher.on("stax/USX01/alert")
    assert alert.payload["kind"] == "silent" and alert.payload["source"] == "central"
    watcher.wait(lambda ms: ms[-1].payload.get("status") == "offline")  # a clean stop
    with Store(config.storage.database_path) as store:
        (episode,) = alert_episodes(store, ADMIN, clock(), kinds=["silent"])
    assert episode["state"] == "open" and episode["id"] == alert.payload["episode"]
