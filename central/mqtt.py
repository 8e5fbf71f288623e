"""Publishing to an MQTT broker: state of health, alerts, releases and the central's status.

Topics under the configured prefix (docs/mqtt.md; payload schemas in shared/formats/mqtt/):

- `<prefix>/<STATION>/soh`: the newest published SOH report's values (QoS 1, retained);
- `<prefix>/<STATION>/release`: the releases of the newest published spectrum that has an
  analysis, by method (QoS 1, retained);
- `<prefix>/<STATION>/alert`: each published ALERT message of the station and each
  central alert episode raised or cleared (QoS 1, not retained);
- `<prefix>/central/status`: `online` while connected, `offline` as the last will
  (QoS 1, retained); `<prefix>/central/alert`: central-wide alerts, only when
  `[mqtt] central_alerts` is on.

Only published data leave (`central.access.published_scope`: the facility's publish
delay has passed; stations that are not registered facilities never). The publisher reads
the database, never the intake's requests: it runs as a thread of the worker, and a broker
that is down only delays it. What was published is recorded durably after the broker's
PUBACK (`mqtt_state` for the latest-state topics, `mqtt_sent` for each alert), so that a
restart or a reconnection carries on where it stopped; after each (re)connection the
retained topics are sent again (a broker without persistence forgets them).

TLS (`ca_file`, a client certificate `cert_file`/`key_file`) and a login (`username`,
`password_file`) as `[mqtt]` says. A broker that cannot be used (down, the login refused,
TLS failed) raises one central alert of kind `mqtt`, with the reason, once nothing could be
published for `alert_after_seconds`; it is cleared when publishing works again
(central/mqtt_health.py keeps the reasons and times).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from shared.formats import FormatError, read_message
from shared.formats.soh import readings
from shared.timeutil import iso_z

from .config import check_secret_file
from .mqtt_health import BrokerHealth, connect_error, refusal

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "shared" / "formats" / "mqtt"
PAYLOAD_VERSION = 1
PUBACK_SECONDS = 10.0  # how long one publication may wait for the broker's PUBACK
BATCH = 200  # alerts taken per pass
# a topic the broker refused (MQTT 5 PUBACK failure, e.g. its ACL) is tried again this
# long after, not on every pass; the others go on meanwhile
REFUSED_RETRY_SECONDS = 60.0


# ------------------------------------------------------------------ schema (durable cursor)
def ensure_schema(db: sqlite_utils.Database) -> None:
    """What was published: idempotent."""
    try:
        if "mqtt_state" not in db.table_names():
            db["mqtt_state"].create(
                {"topic": str, "ref": str, "published_at": str},
                pk="topic",
                not_null={"ref", "published_at"},
            )
        if "mqtt_sent" not in db.table_names():
            db["mqtt_sent"].create(
                {"item": str, "topic": str, "published_at": str},
                pk="item",
                not_null={"topic", "published_at"},
            )
    except sqlite3.OperationalError as exc:
        if "already exists" not in str(exc):
            raise


# ------------------------------------------------------------------ what goes out
@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: dict[str, Any]
    retain: bool
    # how it is recorded once the broker has it: ("state", ref) or ("sent", item)
    record: tuple[str, str]
    qos: int = 1

    def body(self) -> bytes:
        return json.dumps(_clean(self.payload), sort_keys=True, allow_nan=False).encode()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def topic_safe(station: str) -> bool:
    """A station code that is one topic level (no wildcards, separators or NUL)."""
    return bool(station) and not any(c in station for c in "/+#\0") and station != "central"


def status_payload(status: str, client_id: str, now: datetime | None) -> dict[str, Any]:
    return {
        "version": PAYLOAD_VERSION,
        "status": status,
        "client_id": client_id,
        "time": None if now is None else iso_z(now),
    }


def soh_payload(row: dict[str, Any], content: bytes) -> dict[str, Any]:
    """The SOH report's newest value of each parameter (the report's last interval)."""
    message = read_message(content, source=row["file_name"], lenient=True)
    soh = message.soh
    if soh is None:
        raise FormatError(f"{row['file_name']}: no SOH section")
    values: dict[str, dict[str, Any]] = {}
    for r in readings(soh):
        known = values.get(r.parameter)
        if known is None or known["start"] <= iso_z(r.start):
            values[r.parameter] = {
                "value": r.value,
                "unit": r.unit,
                "start": iso_z(r.start),
                "duration_s": r.duration,
            }
    return {
        "version": PAYLOAD_VERSION,
        "station": row["station"],
        "detector": soh.detector,
        "file_name": row["file_name"],
        "period_start": iso_z(soh.period_start),
        "period_end": iso_z(soh.period_end),
        "data_until": row["data_until"],
        "values": values,
    }


NUCLIDE_FIELDS = (
    "detected",
    "release_bq",
    "release_unc_bq",
    "mdr_bq",
    "activity_bq",
    "activity_unc_bq",
    "concentration_bq_m3",
    "concentration_unc_bq_m3",
)


def release_payload(row: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A spectrum's releases by method (`results`: method -> AnalysisResult JSON)."""
    methods = []
    for method in sorted(results):
        result = results[method]
        nuclides = [
            {"nuclide": name, **{f: n.get(f) for f in NUCLIDE_FIELDS}}
            for name, n in sorted(result.get("nuclides", {}).items())
        ]
        methods.append(
            {
                "method": method,
                "method_version": result.get("method_version") or "",
                "interval_s": result.get("interval_s"),
                "nuclides": nuclides,
            }
        )
    return {
        "version": PAYLOAD_VERSION,
        "station": row["station"],
        "file_name": row["file_name"],
        "start_time": row["start_time"],
        "data_until": row["data_until"],
        "results": methods,
    }


def station_alert_payload(row: dict[str, Any], content: bytes) -> dict[str, Any]:
    """An ALERT message the station sent."""
    message = read_message(content, source=row["file_name"], lenient=True)
    alert = message.alert
    if alert is None:
        raise FormatError(f"{row['file_name']}: no alert section")
    return {
        "version": PAYLOAD_VERSION,
        "source": "station",
        "station": row["station"],
        "kind": alert.alert_type,
        "state": "raised",
        "time": iso_z(alert.time),
        "message": alert.text,
        "detector": alert.detector,
        "file_name": row["file_name"],
        "data_until": row["data_until"],
    }


def episode_payload(episode: dict[str, Any], event: str) -> dict[str, Any]:
    """A central alert episode raised (`event` raised) or cleared."""
    cleared = event == "cleared"
    return {
        "version": PAYLOAD_VERSION,
        "source": "central",
        "station": episode["station"] or None,
        "kind": episode["kind"],
        "state": event,
        "time": episode["cleared_at"] if cleared else episode["raised_at"],
        "message": episode["clear_message"] if cleared else episode["message"],
        "episode": episode["id"],
        "key": episode["key"],
        "raised_at": episode["raised_at"],
        "value": episode["value"],
        "data_until": episode["data_until"],
    }


# ------------------------------------------------------------------ reading the store
def _scope(store, now: datetime) -> tuple[str, list[Any]]:
    from .access import published_scope

    return published_scope(store, now)


def _newest_published(store, product: str, now: datetime, limit: int = 1) -> dict[str, list]:
    """Per registered station, its newest published messages of `product`."""
    condition, params = _scope(store, now)
    out: dict[str, list] = {}
    if condition == "0":
        return out
    for (station,) in store.conn.execute("select code from facilities order by code"):
        rows = list(
            store.db.query(
                "select id, station, file_name, start_time, data_until from messages "
                f"where product = ? and station = ? and {condition} "
                "order by data_until desc, id desc limit ?",
                [product, station, *params, limit],
            )
        )
        if rows:
            out[station] = rows
    return out


def latest_state(
    store, prefix: str, now: datetime, known: dict[str, str] | None = None
) -> list[Outgoing]:
    """The retained topics as they should be now: each station's newest published SOH and
    release. `record` carries what they were made of, to tell whether they changed; those
    whose ref is already in `known` (topic -> ref) are left out without being read."""
    known = known or {}
    out: list[Outgoing] = []
    for station, (row,) in _newest_published(store, "SOH", now).items():
        topic = f"{prefix}/{station}/soh"
        if not topic_safe(station) or known.get(topic) == str(row["id"]):
            continue
        try:
            payload = soh_payload(row, store.content(row["id"]))
        except Exception as exc:  # an unreadable report must not stop the others
            log.warning("%s: no SOH on MQTT: %s", row["file_name"], exc)
            continue
        out.append(Outgoing(topic, payload, True, ("state", str(row["id"]))))
    for station, rows in _newest_published(store, "PHD", now, limit=5).items():
        if not topic_safe(station):
            continue
        for row in rows:
            results, ref = _results(store, row)
            if results:
                if known.get(f"{prefix}/{station}/release") == ref:
                    break
                out.append(
                    Outgoing(
                        f"{prefix}/{station}/release",
                        release_payload(row, results),
                        True,
                        ("state", ref),
                    )
                )
                break
    return out


def _results(store, row: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    results: dict[str, dict[str, Any]] = {}
    central = store.conn.execute(
        "select id, result from analyses where message_id = ? and method = 'central' "
        "and result is not null",
        [row["id"]],
    ).fetchone()
    station = store.conn.execute(
        "select id, result from station_results where station = ? and file_name = ?",
        [row["station"], row["file_name"]],
    ).fetchone()
    for method, found in (("central", central), ("station", station)):
        if found is not None:
            try:
                results[method] = json.loads(found[1])
            except ValueError:
                continue
    ref = f"{row['id']}:{central[0] if central else ''}:{station[0] if station else ''}"
    return results, ref


def pending_alerts(
    store, prefix: str, now: datetime, max_age: timedelta, central_alerts: bool = False
) -> list[Outgoing]:
    """Published alerts not sent yet, oldest data first: the stations' ALERT messages and
    the central's episodes (an episode's raise and its clearing are two messages)."""
    condition, params = _scope(store, now)
    oldest = iso_z(now - max_age)
    out: list[Outgoing] = []
    if condition != "0":
        rows = store.db.query(
            "select id, station, file_name, start_time, data_until from messages m "
            f"where product = 'ALERT' and data_until >= ? and {condition} "
            "and not exists (select 1 from mqtt_sent s where s.item = 'message:' || m.id) "
            "order by data_until, id limit ?",
            [oldest, *params, BATCH],
        )
        for row in rows:
            if not topic_safe(row["station"]):
                continue
            try:
                payload = station_alert_payload(row, store.content(row["id"]))
            except Exception as exc:
                log.warning("%s: no alert on MQTT: %s", row["file_name"], exc)
                continue
            out.append(
                Outgoing(
                    f"{prefix}/{row['station']}/alert",
                    payload,
                    False,
                    ("sent", f"message:{row['id']}"),
                )
            )
    where = [f"(station != '' and {condition})"] if condition != "0" else []
    if central_alerts:
        where.append("station = ''")
    if not where:
        return out
    episodes = store.db.query(
        "select * from central_alerts a where data_until >= ? and (" + " or ".join(where) + ") "
        "and not exists (select 1 from mqtt_sent s where s.item = 'episode:' || a.id || ':' || "
        "(case when a.state = 'cleared' then 'cleared' else 'raised' end)) "
        "order by seq limit ?",
        [oldest, *(params if condition != "0" else []), BATCH],
    )
    for episode in episodes:
        station = episode["station"] or "central"
        if station != "central" and not topic_safe(station):
            continue
        events = ["raised"] + (["cleared"] if episode["state"] == "cleared" else [])
        for event in events:
            item = f"episode:{episode['id']}:{event}"
            if event == "raised" and episode["state"] == "cleared" and _sent(store, item):
                continue
            out.append(
                Outgoing(
                    f"{prefix}/{station}/alert",
                    episode_payload(episode, event),
                    False,
                    ("sent", item),
                )
            )
    return out


def _sent(store, item: str) -> bool:
    return (
        store.conn.execute("select 1 from mqtt_sent where item = ?", [item]).fetchone() is not None
    )


def recorded_state(store) -> dict[str, str]:
    return {r[0]: r[1] for r in store.conn.execute("select topic, ref from mqtt_state")}


def record(store, outgoing: Outgoing, now: datetime) -> None:
    """Note durably that the broker has `outgoing` (after its PUBACK)."""
    kind, ref = outgoing.record
    with store.conn:
        if kind == "state":
            store.conn.execute(
                "insert into mqtt_state (topic, ref, published_at) values (?, ?, ?) "
                "on conflict(topic) do update set ref = excluded.ref, "
                "published_at = excluded.published_at",
                [outgoing.topic, ref, iso_z(now)],
            )
        else:
            store.conn.execute(
                "insert or ignore into mqtt_sent (item, topic, published_at) values (?, ?, ?)",
                [ref, outgoing.topic, iso_z(now)],
            )


def due(store, config, now: datetime, everything: bool = False) -> list[Outgoing]:
    """What to publish at `now`: changed latest states (all of them when `everything`,
    after a reconnection) and the alerts not yet sent."""
    state = latest_state(store, config.prefix, now, None if everything else recorded_state(store))
    alerts = pending_alerts(
        store,
        config.prefix,
        now,
        timedelta(hours=config.alert_max_age_hours),
        config.central_alerts,
    )
    return state + alerts


# ------------------------------------------------------------------ the client
def read_password(path: Path | None) -> str | None:
    """The password in [mqtt] password_file (its mode checked again: it may have changed
    since the configuration was read); a ValueError that names the file."""
    if path is None:
        return None
    try:
        check_secret_file(path)
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"[mqtt] password_file {path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"[mqtt] {exc}") from None


class Publisher:
    """One connection to the broker (paho-mqtt 2, its own network thread, reconnecting by
    itself) and a thread that publishes what `due` finds every `poll_seconds`."""

    def __init__(
        self,
        config,
        database_path: str | Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        import paho.mqtt.client as mqtt

        self.config = config
        self.database_path = Path(database_path)
        self.clock = clock
        self.status_topic = f"{config.prefix}/central/status"
        self.connected = threading.Event()
        self._resend = threading.Event()  # a new connection: send the retained topics again
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.passes = 0  # passes made while connected (tests wait for a few more of them)
        self.rounds = 0  # rounds of the publishing thread, connected or not
        broker = f"{config.host}:{config.port}"
        self.health = BrokerHealth(broker, timedelta(seconds=config.alert_after_seconds))
        self._alerting: bool | None = None  # the mqtt alert as last applied (None: not yet)
        self.v5 = config.protocol == "5"
        # MQTT 5 answers a refused publication with a PUBACK reason code; 3.1.1 cannot
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            **({} if self.v5 else {"clean_session": True}),
        )
        client.will_set(
            self.status_topic,
            json.dumps(status_payload("offline", config.client_id, None), sort_keys=True),
            qos=1,
            retain=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client
        self._verdicts: dict[int, Any] = {}  # mid -> the broker's failure reason code
        self._verdicts_lock = threading.Lock()
        self._refused_until: dict[str, datetime] = {}  # topic -> when to try it again
        self._status_mid: int | None = None  # the `online` publication's
        self.connecting = False  # the files were read and paho is connecting
        self._setup_problem = ""  # why the files could not be used, as last logged

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker %s refused the connection: %s", self.config.host, reason_code)
            self.health.failed(refusal(reason_code), self.clock())
            return
        log.info("MQTT: connected to %s:%d", self.config.host, self.config.port)
        self.health.worked()  # the broker took the login (before anyone sees `online`)
        info = client.publish(
            self.status_topic,
            json.dumps(
                status_payload("online", self.config.client_id, self.clock()), sort_keys=True
            ),
            qos=1,
            retain=True,
        )
        # its PUBACK comes on this thread, after this returns: the mid is known by then
        self._status_mid = info.mid
        self._resend.set()
        self.connected.set()

    def _on_connect_fail(self, client, userdata) -> None:
        """paho calls this while it handles the connection's OSError (TLS, refused,
        timed out): the error is the one being handled."""
        reason = connect_error(sys.exc_info()[1], f"{self.config.host}:{self.config.port}")
        log.warning("MQTT: %s", reason)
        self.health.failed(reason, self.clock())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if not self._stop.is_set():
            log.warning(
                "MQTT: disconnected from %s (%s); reconnecting", self.config.host, reason_code
            )
            if was_connected:
                self.health.failed(f"the connection was lost ({reason_code})", self.clock())
            else:  # closed before it was accepted: a refusal said more, if there was one
                self.health.failed(
                    f"the broker closed the connection before accepting it ({reason_code}; "
                    "a client certificate it does not accept?)",
                    self.clock(),
                    vague=True,
                )

    def start(self) -> None:
        """Connect in the background (a broker that is down is retried) and publish. A
        TLS or password file that cannot be used is the health's reason (the `mqtt`
        alert says it) and read again each round until it can."""
        self.health.failed("not connected yet", self.clock(), vague=True)
        self.connect()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()

    def connect(self) -> bool:
        """Read the TLS and password files and start connecting; False (the reason given
        to the health and logged once) while one of them cannot be used."""
        if self.connecting:
            return True
        try:
            if self.config.tls:
                context = tls_context(self.config)
            password = read_password(self.config.password_file)
        except ValueError as exc:
            reason = str(exc)
            if reason != self._setup_problem:
                log.error("MQTT: not connecting: %s", reason)
                self._setup_problem = reason
            self.health.failed(reason, self.clock())
            return False
        if self.config.tls:
            self.client.tls_set_context(context)
        if self.config.username:
            self.client.username_pw_set(self.config.username, password)
        self.client.connect_async(
            self.config.host,
            self.config.port,
            self.config.keepalive_seconds,
            **({"clean_start": True} if self.v5 else {}),
        )
        self.client.loop_start()
        self.connecting = True
        if self._setup_problem:
            log.info("MQTT: the [mqtt] files can be used now; connecting")
            self._setup_problem = ""
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Say `offline` (retained), disconnect, end the threads."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.connected.is_set():
            info = self.client.publish(
                self.status_topic,
                json.dumps(
                    status_payload("offline", self.config.client_id, self.clock()), sort_keys=True
                ),
                qos=1,
                retain=True,
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        if self.connecting:
            self.client.disconnect()
            self.client.loop_stop()

    def _run(self) -> None:
        """Until stopped: never ends on an error (a locked or damaged database is logged
        and tried again), so that MQTT resumes once the cause is gone."""
        from .store import Store

        while not self._stop.is_set():
            try:
                with Store(self.database_path) as store:
                    ensure_schema(store.db)
                    while not self._stop.is_set():
                        self.connect()  # until the [mqtt] files can be used
                        if self.connected.is_set():
                            self.publish_pending(store, self.clock())
                            self.passes += 1
                        self.report_health(store, self.clock())
                        self.rounds += 1
                        self._stop.wait(self.config.poll_seconds)
            except Exception:
                log.exception("MQTT: publishing failed; trying again")
                self._stop.wait(max(self.config.poll_seconds, 1.0))

    def publish_pending(self, store, now: datetime) -> int:
        """Publish what is due; each one recorded once the broker has acknowledged it.
        Stops at the first one the broker does not acknowledge (the next pass tries
        again). One the broker refuses (MQTT 5) is logged, counted in the health and not
        recorded; its topic is held back for REFUSED_RETRY_SECONDS while the others go."""
        everything = self._resend.is_set()
        self._resend.clear()
        sent = 0
        try:
            pending = due(store, self.config, now, everything)
            topics = {o.topic for o in pending}
            for topic in [t for t in self._refused_until if t not in topics]:
                del self._refused_until[topic]  # nothing due there any more (too old)
            for outgoing in pending:
                held = self._refused_until.get(outgoing.topic)
                if held is not None and now < held:
                    continue
                verdict = self._publish(outgoing)
                if verdict is None:
                    if everything:
                        self._resend.set()
                    self.health.failed(
                        f"the broker did not acknowledge {outgoing.topic} within "
                        f"{PUBACK_SECONDS:g} s",
                        now,
                    )
                    break
                if verdict:
                    self._refused(outgoing.topic, verdict, held is not None, now)
                    continue
                self._refused_until.pop(outgoing.topic, None)
                record(store, outgoing, now)
                sent += 1
            else:
                if self.connected.is_set():
                    self.health.worked()
                if not self._refused_until:
                    self.health.refusals_over()
        except BaseException:
            if everything:
                self._resend.set()
            raise
        self.published += sent
        return sent

    def _refused(self, topic: str, reason: str, again: bool, now: datetime) -> None:
        # once per topic at WARNING (a refusing ACL would repeat it every minute)
        log.log(
            logging.DEBUG if again else logging.WARNING,
            "MQTT: the broker refused a publication on %s: %s (its ACL for user %r?); "
            "trying again in %g s",
            topic,
            reason,
            self.config.username or "anonymous",
            REFUSED_RETRY_SECONDS,
        )
        self.health.refused(topic, reason, now)
        self._refused_until[topic] = now + timedelta(seconds=REFUSED_RETRY_SECONDS)

    def report_health(self, store, now: datetime) -> list[dict[str, Any]]:
        """Raise or clear the `mqtt` central alert when it changes (once per episode;
        the first report after a start clears one a previous run left open)."""
        from .alerts import announce_episodes, apply_observations

        observation = self.health.observation(now)
        if observation is None or observation.active == self._alerting:
            return []
        changed = apply_observations(store, [observation], now)
        self._alerting = observation.active
        announce_episodes(store, changed, now)
        return changed

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        """paho's network thread: the broker's PUBACK. With MQTT 5 a failure reason code
        (0x80 and above, e.g. 0x87 Not authorized) is a refusal; 3.1.1 has none."""
        if not reason_code.is_failure:
            return
        if mid == self._status_mid:  # nobody waits for it: told here
            log.warning(
                "MQTT: the broker refused %s: %s (its ACL?)", self.status_topic, reason_code
            )
            self.health.refused(self.status_topic, str(reason_code), self.clock())
            return
        with self._verdicts_lock:
            self._verdicts[mid] = reason_code

    def _publish(self, outgoing: Outgoing) -> str | None:
        """ "" once the broker has it; the broker's reason when it refused it; None
        when it did not acknowledge it in time."""
        info = self.client.publish(
            outgoing.topic, outgoing.body(), qos=outgoing.qos, retain=outgoing.retain
        )
        try:
            info.wait_for_publish(PUBACK_SECONDS)
        except (RuntimeError, ValueError) as exc:
            log.warning("MQTT: %s not published: %s", outgoing.topic, exc)
            return None
        if not info.is_published():
            return None
        with self._verdicts_lock:
            refused = self._verdicts.pop(info.mid, None)
        return "" if refused is None else str(refused)


TLS_FILES = ("ca_file", "cert_file", "key_file")


def tls_context(config) -> ssl.SSLContext:
    """TLS to the broker: its CA (else the system's), and a client certificate when set;
    the broker's name checked. A file that cannot be read or used is a ValueError that
    names it ("[mqtt] key_file /etc/stax/mqtt.key: cannot read: Permission denied")."""
    for name in TLS_FILES:
        path = getattr(config, name)
        if path is not None:
            try:
                with open(path, "rb") as f:
                    f.read(1)
            except OSError as exc:
                raise ValueError(f"[mqtt] {name} {path}: cannot read: {exc.strerror}") from None
    ca = config.ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    except (ssl.SSLError, ValueError) as exc:
        what = f"ca_file {ca}" if ca is not None else "the system's CA certificates"
        raise ValueError(f"[mqtt] {what}: not PEM CA certificates: {_ssl_text(exc)}") from None
    cert, key = config.cert_file, config.key_file
    if cert is not None:
        try:
            context.load_cert_chain(str(cert), str(key) if key is not None else None)
        except (ssl.SSLError, ValueError) as exc:
            raise ValueError(f"[mqtt] {_blamed(cert, key)}: {_ssl_text(exc)}") from None
    return context


def _blamed(cert: Path, key: Path | None) -> str:
    """Which of the client certificate and its key `load_cert_chain` refused."""
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(cert.read_bytes())
    except ValueError:
        return f"cert_file {cert}: not a PEM certificate"
    if key is None:
        return f"cert_file {cert}: no private key of its certificate in it (key_file?)"
    return f"key_file {key}: not the PEM private key of cert_file {cert}"


def _ssl_text(exc: Exception) -> str:
    return getattr(exc, "reason", None) or str(exc)


def check_lines(config) -> tuple[list[str], list[str]]:
    """What `stax central check` prints about [mqtt], and the problems it found."""
    if not config.enabled:
        return ["mqtt        off"], []
    scheme = "mqtts" if config.tls else "mqtt"
    login = f", login {config.username}" if config.username else ""
    lines = [f"mqtt        {scheme}://{config.host}:{config.port}{login}"]
    try:
        if config.tls:
            tls_context(config)
        read_password(config.password_file)
    except ValueError as exc:
        return lines, [str(exc)]
    return lines, []


def schemas() -> dict[str, dict[str, Any]]:
    """The published JSON Schemas of the payloads, by topic name."""
    return {
        name: json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        for name in ("status", "soh", "release", "alert")
    }


def topic_kind(topic: str) -> str:
    """`status`, `soh`, `release` or `alert`: the schema a topic's payloads follow."""
    return topic.rsplit("/", 1)[-1]
