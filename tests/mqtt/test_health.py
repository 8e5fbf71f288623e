"""The publisher's health (central/mqtt_health.py), pure: when the `mqtt` alert is
raised, with which reason, and when it clears."""

from datetime import timedelta

from central.mqtt_health import BrokerHealth, refusal

from .conftest import NOW

AFTER = timedelta(seconds=300)


def test_nothing_is_observed_before_the_delay_nor_before_anything_is_known():
    health = BrokerHealth("b:8883", AFTER)
    assert health.observation(NOW) is None
    health.failed("cannot connect to b:8883: connection refused", NOW)
    assert health.observation(NOW + timedelta(seconds=299)) is None
    raised = health.observation(NOW + timedelta(seconds=300))
    assert raised.active and raised.kind == "mqtt" and raised.station == ""
    assert raised.message == (
        "MQTT: nothing published to b:8883 for 5 min: cannot connect to b:8883: connection refused"
    )
    assert raised.value == 5.0


def test_the_delay_counts_from_the_first_failure_of_the_stretch():
    health = BrokerHealth("b:8883", AFTER)
    health.failed("first", NOW)
    health.failed("second", NOW + timedelta(seconds=200))  # still the same stretch
    raised = health.observation(NOW + timedelta(seconds=300))
    assert raised is not None and raised.message.endswith(": second")


def test_a_vague_reason_does_not_hide_a_precise_one():
    health = BrokerHealth("b:8883", AFTER)
    health.failed("not connected yet", NOW, vague=True)
    health.failed("the broker refused the login: Not authorized", NOW)
    health.failed("the broker closed the connection", NOW, vague=True)  # after the refusal
    assert health.reason == "the broker refused the login: Not authorized"


def test_publishing_again_clears_and_a_new_failure_starts_a_new_stretch():
    health = BrokerHealth("b:8883", AFTER)
    health.failed("refused", NOW)
    health.worked()
    cleared = health.observation(NOW + timedelta(hours=1))
    assert not cleared.active and cleared.message == "MQTT: publishing to b:8883 again"
    later = NOW + timedelta(hours=2)
    health.failed("refused", later)
    assert health.observation(later + timedelta(seconds=299)) is None  # the delay again


def test_a_login_refusal_points_at_the_login_settings():
    assert "[mqtt] username, password_file" in refusal("Not authorized")
    assert refusal("Server unavailable") == "the broker refused the connection: Server unavailable"


def test_every_central_alert_kind_is_in_the_mqtt_alert_schema():
    from central.alerts import KINDS
    from central.mqtt import schemas

    kinds = schemas()["alert"]["properties"]["kind"]["enum"]
    assert set(KINDS) <= set(kinds), sorted(set(KINDS) - set(kinds))


def test_refused_publications_are_a_stretch_of_their_own():
    health = BrokerHealth("b:8883", AFTER)
    health.worked()  # connected: the login and the other topics go
    health.refused("stax/USX01/soh", "Not authorized", NOW)
    assert health.observation(NOW + timedelta(seconds=299)) is None  # not cleared either
    health.refused("stax/USX01/soh", "Not authorized", NOW + timedelta(seconds=60))
    raised = health.observation(NOW + timedelta(seconds=300))
    assert raised.active and raised.details["refused"] == 2
    assert raised.message.startswith(
        "MQTT: b:8883 refused 2 publications in 5 min, the last on stax/USX01/soh: "
        "Not authorized (the broker's ACL"
    )
    health.failed("cannot connect to b:8883: connection refused", NOW)  # the worse one wins
    assert "connection refused" in health.observation(NOW + timedelta(seconds=300)).message
    health.worked()
    assert health.observation(NOW + timedelta(seconds=300)).active  # still refusing
    health.refusals_over()
    assert not health.observation(NOW + timedelta(seconds=301)).active
    assert health.refusals == 2 and health.refusal == ""  # the counter stays
