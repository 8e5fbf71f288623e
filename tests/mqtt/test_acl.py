"""A publication the broker's ACL refuses, against a real Mosquitto with an ACL file that
denies `stax/USX01/soh`: with MQTT 5 (the default) the PUBACK says "Not authorized", the
publisher logs it, counts it, goes on with the other topics, raises the `mqtt` alert once
it has lasted `alert_after_seconds` and clears it when the ACL lets the topic through;
MQTT 3.1.1 has no way to say it (the broker drops the publication unseen)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from central.config import MqttConfig
from central.mqtt import REFUSED_RETRY_SECONDS
from central.store import Store

from .conftest import NOW, Broker, more_passes
from .data import facility_with_soh

ALLOWED = ["topic readwrite stax/+/status", "topic readwrite stax/+/alert"]


@pytest.fixture
def acl_broker(tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("\n".join(ALLOWED) + "\n")  # stax/+/soh: denied
    broker = Broker(tmp_path, ["allow_anonymous true", f"acl_file {acl}"])
    broker.acl = acl
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "data" / "central.sqlite"
    facility_with_soh(path, NOW, alert="USX01: flow low")
    return path


def config(broker, protocol: str) -> MqttConfig:
    return MqttConfig(
        host="127.0.0.1",
        port=broker.port,
        protocol=protocol,
        poll_seconds=0.1,
        keepalive_seconds=5,
        alert_after_seconds=300,
    )


def recorded(db) -> set[str]:
    with Store(db) as store:
        return {r[0] for r in store.conn.execute("select topic from mqtt_state")}


def mqtt_episodes(db) -> list[dict]:
    with Store(db) as store:
        return [
            dict(r)
            for r in store.db.query(
                "select state, message from central_alerts where kind = 'mqtt' order by id"
            )
        ]


def test_a_refused_publication_is_seen_counted_alerted_and_tried_again(
    acl_broker, db, publishers, subscribers, clock, caplog
):
    caplog.set_level(logging.WARNING, logger="central.mqtt")
    live = subscribers(acl_broker.port)
    p = publishers(config(acl_broker, "5"), db)
    # the soh before it is refused, the alert after it goes all the same
    live.wait(lambda ms: any(m.topic == "stax/USX01/alert" for m in ms))
    more_passes(p)
    assert p.health.refusals == 1  # tried again only after REFUSED_RETRY_SECONDS
    assert p.health.refusal == "stax/USX01/soh: Not authorized"
    assert "stax/USX01/soh" not in recorded(db)  # not taken for published
    [warning] = [r.getMessage() for r in caplog.records if "refused a publication" in r.message]
    assert "stax/USX01/soh: Not authorized (its ACL for user 'anonymous'?)" in warning

    clock.move(timedelta(seconds=REFUSED_RETRY_SECONDS + 1))  # tried again, refused again
    more_passes(p)
    assert p.health.refusals == 2
    assert mqtt_episodes(db) == []  # not yet: 61 s
    clock.move(timedelta(seconds=300))
    more_passes(p, what="rounds")
    [raised] = mqtt_episodes(db)
    assert raised["state"] == "open"
    # 2, or 3 when the pass that tried it again came before the report at the new time
    assert re.search(r"refused [23] publications in 6 min", raised["message"]), raised
    assert "the last on stax/USX01/soh: Not authorized (the broker's ACL" in raised["message"]

    refusals = p.health.refusals
    # the ACL lets it through (SIGHUP: mosquitto reads it again): published, cleared
    acl_broker.acl.write_text("\n".join([*ALLOWED, "topic readwrite stax/+/soh"]) + "\n")
    acl_broker.reload()
    live.barrier()  # the broker has read the ACL file before it handles what follows
    clock.move(timedelta(seconds=REFUSED_RETRY_SECONDS + 1))
    live.wait(lambda ms: any(m.topic == "stax/USX01/soh" for m in ms))
    more_passes(p)
    assert "stax/USX01/soh" in recorded(db)
    [cleared] = mqtt_episodes(db)
    assert cleared["state"] == "cleared"
    assert p.health.refusal == "" and p.health.refusals == refusals


def test_mqtt_3_1_1_cannot_tell_a_refused_publication(acl_broker, db, publishers, subscribers):
    live = subscribers(acl_broker.port)
    p = publishers(config(acl_broker, "3.1.1"), db)
    live.wait(lambda ms: any(m.topic == "stax/USX01/alert" for m in ms))
    more_passes(p)
    live.barrier()
    assert live.on("stax/USX01/soh") == []  # dropped by the broker
    assert "stax/USX01/soh" in recorded(db)  # yet acknowledged: 3.1.1 has no reason code
    assert p.health.refusals == 0
